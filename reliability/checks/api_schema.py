"""9. The public API keeps its published contract: schemathesis, driven by the gateway's own
/openapi.json with a fixed seed, runs its coverage, fuzzing and stateful phases with every check
it has (server errors, status codes, content types, response schemas, positive and negative
data, auth ignored, ...) as a signed-up member, and finds no failure."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reliability.check import Check, Outcome, SuiteContext
from reliability.chirp_client import Member, post, send_dm, sign_up

REPO = Path(__file__).resolve().parents[2]
PHASES = "examples,coverage,fuzzing,stateful"
# Beyond its own time budget, the time schemathesis may take to load, finish and report.
OVERRUN_S = 120


@dataclass(frozen=True)
class FuzzRun:
    report: dict[str, Any]
    exit_code: int
    output_tail: str

    @property
    def failures(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.report.get("failures", [])
        return found

    @property
    def failure_count(self) -> int:
        return sum(int(f.get("count", 1)) for f in self.failures)

    @property
    def errors(self) -> list[Any]:
        found: list[Any] = self.report.get("errors", [])
        return found

    @property
    def generated(self) -> int:
        return int(self.report.get("test_cases", {}).get("generated", 0))

    def phase(self, name: str) -> str:
        return str(self.report.get("phases", {}).get(name, {}).get("status", "missing"))


def config_file(folder: Path, handles: list[str], post_ids: list[int]) -> Path:
    """Existing members and posts, drawn for path parameters half of the time, so that follows,
    DMs and reads reach the services' logic instead of stopping at 404. The fuzzer's own handle
    is left out: following or writing to oneself is refused by design."""
    path = folder / "schemathesis.toml"
    path.write_text(
        "[dictionaries.members]\n"
        f"values = {json.dumps(handles)}\n\n"
        "[dictionaries.posts]\n"
        f"values = {json.dumps(post_ids)}\n\n"
        "[parameters]\n"
        '"path.handle" = { dictionary = "members", probability = 0.5 }\n'
        '"path.post_id" = { dictionary = "posts", probability = 0.5 }\n'
    )
    return path


def fuzz(url: str, fuzzer: Member, config: Path, context: SuiteContext) -> FuzzRun:
    folder = config.parent
    report = folder / "schemathesis.json"
    budget_s = context.size(12, 240)
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", f"{url}/openapi.json",
        "--header", f"Authorization: Bearer {fuzzer.token}",
        "--checks", "all", "--phases", PHASES,
        "--seed", str(context.seed), "--max-time", str(budget_s),
        "--workers", "1", "--request-timeout", "10",
        "--generation-database", "none",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    env = os.environ | {
        "SCHEMATHESIS_HOOKS": "reliability.schemathesis_hooks",
        "PYTHONPATH": str(REPO),
    }
    finished = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=budget_s + OVERRUN_S
    )
    (folder / "schemathesis.out").write_text(finished.stdout + finished.stderr)
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report:\n{finished.stdout[-3000:]}")
    return FuzzRun(json.loads(report.read_text()), finished.returncode, finished.stdout[-4000:])


def verdict(run: FuzzRun, seed: int) -> Outcome:
    ran = {name: run.phase(name) for name in PHASES.split(",")}
    passed = (
        run.exit_code == 0
        and run.failure_count == 0
        and not run.errors
        and run.generated > 0
        and ran["stateful"] == "success"
    )
    kinds = "; ".join(
        f"{f['code']} {f['title']} x{f['count']} ({', '.join(f['operations'][:3])})"
        for f in run.failures
    )
    operations = run.report.get("operations", {})
    figure = (
        f"failures {run.failure_count} in {run.generated} test cases "
        f"({operations.get('tested', 0)} operations; phases "
        + ", ".join(f"{name} {status}" for name, status in ran.items())
        + f"; seed {seed}); errors {len(run.errors)}"
        + (f": {kinds}" if kinds else "")
    )
    return Outcome(
        figure,
        passed,
        {
            "failures": run.failures,
            "errors": run.errors[:10],
            "test_cases": run.report.get("test_cases", {}),
            "phases": ran,
            "warnings": {k: v for k, v in run.report.get("warnings", {}).items() if v},
            "exit_code": run.exit_code,
        },
        notes=run.output_tail if not passed else "",
    )


def run(context: SuiteContext) -> Outcome:
    stack = context.local_stack("api-schema")
    stack.up(context.progress)
    try:
        with httpx.Client(base_url=stack.layout.gateway_url, timeout=10) as api:
            fuzzer, peer, other = (sign_up(api, p) for p in ("fuzzer", "peer", "other"))
            post_ids = [
                int(post(api, member, f"seen {member.handle}")["id"]) for member in (peer, other)
            ]
            send_dm(api, peer, fuzzer, "hello fuzzer")
        folder = context.scratch("api-schema/schemathesis")
        config = config_file(folder, [peer.handle, other.handle], post_ids)
        context.progress("9. schemathesis")
        outcome = verdict(fuzz(stack.layout.gateway_url, fuzzer, config, context), context.seed)
    finally:
        stack.down()
    return outcome


CHECKS = [
    Check(
        9,
        "API contract (schemathesis)",
        "schemathesis with every check, stateful phase included, fixed seed: failures 0",
        run,
    )
]
