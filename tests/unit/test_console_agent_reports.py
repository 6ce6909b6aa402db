"""Reports through the chaos agent: every run and comparison folder listed newest first, its
files served, nothing outside its folder (.., absolute paths, symlinks out, a folder without a
summary: 404); and compare of two runs: the summary fields and phases with ratios b/a, both
runs' plots, listed as a comparison."""

import json
import os
from pathlib import Path
from typing import Any

import pytest

from chaos.console.reports import Reports
from chaos.report.compare_runs import figures, ratio
from services.common.errors import NotFound
from tests.unit.console_fakes import AUTH, FakeBackend, client, make_app
from tests.unit.problems import assert_problem

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n-fake-plot-"


def phases(p99: float, error_rate: float) -> dict[str, Any]:
    stats = {"requests": 100, "rps": 10.0, "error_rate": error_rate, "degraded_rate": 0.1,
             "p50_ms": 5.0, "p95_ms": 9.0, "p99_ms": p99}  # fmt: skip
    return {"steady": stats, "fault": stats, "recovery": stats}


def write_run(root: Path, name: str, *, p99: float, errors: float, mtime: float) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    summary = {"scenario": "timeline-outage", "backend": "docker", "resilience": "on",
               "verdict": "pass", "fault_applied": True, "phases": phases(p99, errors),
               "oracles": {"lost_writes": 0}, "time_to_detect_s": 2.0,
               "time_to_recover_s": None}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "report.html").write_text("<html>run</html>")
    (folder / "latency.png").write_bytes(PNG + name.encode())
    os.utime(folder / "summary.json", (mtime, mtime))
    return folder


async def test_reports_are_listed_newest_first_and_their_files_served(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_run(reports, "20260101-000000-old", p99=10, errors=0.0, mtime=1000)
    write_run(reports, "20260102-000000-new", p99=20, errors=0.1, mtime=2000)
    (reports / "not-a-report").mkdir()
    (reports / "stray.txt").write_text("x")
    async with client(make_app(tmp_path, FakeBackend(tmp_path))) as http:
        listed = (await http.get("/v1/reports", headers=AUTH)).json()["reports"]
        page = await http.get("/v1/reports/20260102-000000-new/report.html", headers=AUTH)
        plot = await http.get("/v1/reports/20260102-000000-new/latency.png", headers=AUTH)
    assert [r["name"] for r in listed] == ["20260102-000000-new", "20260101-000000-old"]
    newest = listed[0]
    assert (
        newest
        | {
            "kind": "run",
            "scenario": "timeline-outage",
            "verdict": "pass",
            "backend": "docker",
            "resilience": "on",
            "created_at": 2000,
        }
        == newest
    )
    assert newest["files"] == ["latency.png", "report.html", "summary.json"]
    assert page.status_code == 200 and page.text == "<html>run</html>"
    assert page.headers["content-type"].startswith("text/html")
    assert plot.content == PNG + b"20260102-000000-new"


@pytest.mark.parametrize(
    "path",
    [
        "20260101-000000-run/../secret.txt",
        "20260101-000000-run/..%2Fsecret.txt",
        "20260101-000000-run/%2E%2E/%2E%2E/etc/passwd",
        "20260101-000000-run//etc/passwd",
        "20260101-000000-run/outside",
        "20260101-000000-run/missing.png",
        "..%2F20260101-000000-run/report.html",
        "not-a-report/file.txt",
        "%2E%2E/secret.txt",
    ],
)
async def test_nothing_outside_a_report_folder_is_served(tmp_path: Path, path: str) -> None:
    reports = tmp_path / "reports"
    folder = write_run(reports, "20260101-000000-run", p99=1, errors=0, mtime=1)
    (reports / "secret.txt").write_text("secret")
    (reports / "not-a-report").mkdir()
    (reports / "not-a-report" / "file.txt").write_text("secret")
    (folder / "outside").symlink_to(reports / "secret.txt")
    async with client(make_app(tmp_path, FakeBackend(tmp_path))) as http:
        answer = await http.get(f"/v1/reports/{path}", headers=AUTH, follow_redirects=True)
    assert answer.status_code == 404, answer.text
    assert "secret" not in answer.text.replace("secret.txt", "")


@pytest.mark.parametrize(
    ("name", "path"),
    [("run", "../secret.txt"), ("run", "/etc/passwd"), ("run", "outside"), ("run", "."),
     ("..", "secret.txt"), (".", "secret.txt"), ("run/..", "secret.txt"),
     ("linked", "summary.json")],
)  # fmt: skip
def test_the_reports_folder_resolves_nothing_outside_a_report(
    tmp_path: Path, name: str, path: str
) -> None:
    folder = write_run(tmp_path, "run", p99=1, errors=0, mtime=1)
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "outside").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "linked").symlink_to(folder)
    with pytest.raises(NotFound):
        Reports(tmp_path).file(name, path)
    assert Reports(tmp_path).file("run", "report.html") == (folder / "report.html").resolve()


def test_a_ratio_is_b_over_a_and_null_where_it_cannot_be() -> None:
    assert ratio(10, 25).b_over_a == 2.5
    assert ratio(0, 0).b_over_a is None and "zero in both" in ratio(0, 0).note
    assert ratio(0, 3).b_over_a is None and "zero in a" in ratio(0, 3).note
    assert ratio(None, 3).note == "not measured in a"
    assert ratio(True, 3).b_over_a is None  # a flag is no figure


async def test_compare_of_two_runs_side_by_side(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    a = write_run(reports, "20260101-000000-a", p99=10, errors=0.02, mtime=1000)
    b = write_run(reports, "20260102-000000-b", p99=40, errors=0.01, mtime=2000)
    async with client(make_app(tmp_path, FakeBackend(tmp_path))) as http:
        made = await http.post("/v1/compare", json={"a": a.name, "b": b.name}, headers=AUTH)
        assert made.status_code == 201, made.text
        name = made.json()["name"]
        assert made.json()["report"] == "report.html"
        page = (await http.get(f"/v1/reports/{name}/report.html", headers=AUTH)).text
        listed = (await http.get("/v1/reports", headers=AUTH)).json()["reports"]
        same = await http.post("/v1/compare", json={"a": a.name, "b": a.name}, headers=AUTH)
        missing = await http.post("/v1/compare", json={"a": a.name, "b": "nope"}, headers=AUTH)
        escape = await http.post("/v1/compare", json={"a": a.name, "b": "../x"}, headers=AUTH)
        of_compare = await http.post("/v1/compare", json={"a": a.name, "b": name}, headers=AUTH)
    assert name.endswith("-compare-timeline-outage")
    data = json.loads((reports / name / "compare.json").read_text())
    assert data["a"] == a.name and data["b"] == b.name
    assert data["phases"]["fault"]["p99_ms"]["b_over_a"] == 4.0
    assert data["phases"]["fault"]["error_rate"]["b_over_a"] == 0.5
    assert data["fields"]["time_to_recover_s"]["b_over_a"] is None
    assert "x4" in page and "x0.5" in page
    assert page.count("data:image/png;base64,") == 2  # both runs' latency plots, inline
    assert listed[0]["name"] == name and listed[0]["kind"] == "compare"
    assert_problem(same, 422)
    assert_problem(missing, 404)
    assert_problem(escape, 422)
    assert_problem(of_compare, 422)


def test_figures_hold_each_runs_own_fields() -> None:
    a = {"scenario": "x", "verdict": "pass", "phases": phases(1, 0), "oracles": {"lost_writes": 0}}
    b = {"scenario": "y", "verdict": "fail", "phases": {}, "oracles": {"lost_writes": 2}}
    data = figures(a, b)
    assert data["runs"]["a"]["verdict"] == "pass" and data["runs"]["b"]["verdict"] == "fail"
    assert data["fields"]["lost_writes"]["note"] == "zero in a: no finite ratio"
    assert data["phases"]["steady"]["p99_ms"]["note"] == "not measured in b"
