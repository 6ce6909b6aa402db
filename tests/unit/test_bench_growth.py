"""The growth benchmark's arithmetic: the straight-line fits, the key families memory is put
down to, and the Markdown rendered from results.json's `growth` section into the doc."""

import math
from pathlib import Path
from typing import Any

import pytest

from bench import growth, growth_doc
from bench.growth_costs import drain_figures
from bench.growth_fit import fit_entry, linear_fit
from bench.growth_memory import family


def test_a_fit_through_points_on_a_line_finds_the_line_with_no_residual() -> None:
    fit = linear_fit([0, 1000, 2000, 3000], [500, 3500, 6500, 9500])
    assert fit.slope == pytest.approx(3.0)
    assert fit.intercept == pytest.approx(500.0)
    assert fit.residual == pytest.approx(0.0, abs=1e-9)
    assert fit.at(1_000_000) == pytest.approx(3_000_500.0)


def test_the_residual_is_the_root_mean_square_distance_from_the_line() -> None:
    # Least squares through (0,0) (1,2) (2,1): y = 0.5x + 0.5, off by -0.5, +1, -0.5.
    fit = linear_fit([0, 1, 2], [0, 2, 1])
    assert fit.slope == pytest.approx(0.5)
    assert fit.intercept == pytest.approx(0.5)
    assert fit.residual == pytest.approx(math.sqrt(0.5))


def test_a_fit_entry_keeps_its_points_and_the_residual_over_the_spread() -> None:
    entry = fit_entry([0, 1, 2], [0, 2, 1])
    assert entry["x"] == [0, 1, 2] and entry["y"] == [0, 2, 1]
    assert entry["points"] == 3
    assert entry["relative_residual"] == pytest.approx(math.sqrt(0.5) / 2, abs=1e-4)
    assert fit_entry([0, 1], [5, 5])["relative_residual"] is None  # nothing moved


@pytest.mark.parametrize(
    ("xs", "ys"),
    [([1, 1, 1], [1, 2, 3]), ([1, 2], [1]), ([], [])],
    ids=["one x", "lengths", "none"],
)
def test_a_line_needs_two_different_x_and_as_many_y(xs: list[float], ys: list[float]) -> None:
    with pytest.raises(ValueError):
        linear_fit(xs, ys)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("users:42", "users:{n}"),
        ("users:42:followers", "users:{n}:followers"),
        ("users:by_handle", "users:by_handle"),
        ("tl:home:7", "tl:home:{n}"),
        ("dms:conv:3-19:msgs", "dms:conv:{n}-{n}:msgs"),
        ("posts:idem:5:" + "ab" * 32, "posts:idem:{n}:{h}"),
        ("trends:minute:29547", "trends:minute:{n}"),
    ],
)
def test_keys_are_grouped_into_families_by_their_shape(key: str, expected: str) -> None:
    assert family(key) == expected


def _phase(
    bytes_each: float, families: dict[str, tuple[float, bool]], **extra: Any
) -> dict[str, Any]:
    return {
        "bytes_each": bytes_each,
        "fit": {"slope": bytes_each, "intercept": 1000.0, "residual": 2000.0,
                "x": [0.0, 1000.0, 2000.0], "y": [0.0, bytes_each * 1000, bytes_each * 2000]},
        "families": {n: {"bytes_each": b, "expires": e} for n, (b, e) in families.items()},
        **extra,
    }  # fmt: skip


def sample() -> dict[str, Any]:
    members = _phase(
        1000.0,
        {"users:{n}": (430.0, False), "users:by_handle": (70.0, False),
         "users:{n}:following": (100.0, False), "users:{n}:followers": (90.0, False)},
        follows_each=5,
    )  # fmt: skip
    posts = _phase(
        2600.0,
        {"gw:idem:posts:{n}:{h}": (450.0, True), "posts:{n}": (260.0, False),
         "tl:home:{n}": (180.0, False), "tl:post:{n}": (260.0, True),
         "chirp:posts:events": (200.0, False)},
        homes_per_post=6.0, home_entry_bytes=30.0,
    )  # fmt: skip
    dms = _phase(
        1200.0, {"dms:conv:{n}-{n}:msgs": (400.0, False), "dms:idem:{n}:{h}": (700.0, True)},
        messages_per_conversation=10,
    )  # fmt: skip
    large = {
        "full_home_entry_bytes": 120.0, "full_home_bytes": 96_000, "home_cap": 800,
        "large_follower_set_entry_bytes": 60.0, "set_max_intset_entries": 512,
        "encodings": ["skiplist", "hashtable"],
    }  # fmt: skip
    reads = {
        "cpu_ms_per_read": {"slope": 0.006, "intercept": 1.5, "residual": 0.04},
        "gateway_cpu_ms_per_read": {"slope": 0.002, "intercept": 0.8, "residual": 0.03},
        "pages": {"1": {}, "20": {}, "50": {}, "100": {}},
    }
    outbox = {
        "entries_per_s": 200.0,
        "wait_s": 4.1,
        "residual_s": 0.05,
        "first_delivery_s": 4.0,
        "cpu_ms_per_entry": 3.0,
        "runs": [{"depth": 200}, {"depth": 1000}],
    }
    memory = {"members": members, "posts": posts, "dms": dms, "large": large}
    return {"memory": memory, "reads": reads, "outbox": outbox, "quick": False}


def test_the_table_gives_each_cost_its_formula_and_the_fan_out_it_assumes() -> None:
    text = growth_doc.table(sample())
    assert "| Redis memory per member (5 follows each) | bytes = 1000 x members + 1000 |" in text
    assert "fan-out on write to 6.0 homes: the author's and 5.0 followers'" in text
    assert "bytes = 2600 x posts" in text and "2.6 MB" in text  # per 1k posts
    assert "10 messages per conversation" in text
    assert "ms = 0.0060 x page + 1.500" in text
    assert (
        "| s = 4.1 + depth / 200 | 5.0 s to deliver 1k entries | 0.05 s | depths 200-1,000 |"
        in text
    )
    assert "1.62 CPU-s per 1k reads of 20" in text
    assert "| the gateway's share of it | ms = 0.0020 x page + 0.800 | 0.84 CPU-s" in text


def test_the_worked_example_is_the_arithmetic_of_the_figures() -> None:
    text = growth_doc.example(sample())
    assert "1,000,000 x 1000 B = 1.0 GB" in text  # members
    # 2600 B a post: 180 in homes, 200 in the stream, 710 expiring, 1510 kept.
    assert "20,000,000 x (1510 B kept + 710 B that expire) = 44.4 GB" in text
    assert "200,000 entries of 200 B = 40.0 MB" in text  # the stream stops at its cap
    assert "1,000,000 x 96.0 KB = 96.0 GB" in text  # full home timelines replace home entries
    assert "20,000,000 x 1200 B = 24.0 GB (700 B of each expire)" in text  # DMs
    assert "**165.4 GB** of data, of which 28.2 GB are keys that expire" in text
    assert "1.62 ms each = **16.2 cores**" in text  # 10,000 reads/s x (0.006 x 20 + 1.5) ms
    assert "6,000 entries in the outbox, delivered 34 s after" in text  # 4.1 + 6000 / 200


def test_where_the_bytes_go_is_read_from_the_key_families() -> None:
    text = growth_doc.breakdown(sample())
    assert "- A member: 500 B for the account and its handle, 190 B for its two follow sets" in text
    assert "30 B per home it reaches (180 B in all), 710 B in keys that expire" in text
    assert "- A DM: 400 B kept, 700 B expiring" in text
    assert "3.00 ms of CPU (gateway, posts, Redis) to deliver" in text
    assert "The first went 4.0 s after posts was ready" in text
    assert "holds 120 B per post, 96.0 KB per member" in text


def test_the_drain_rate_comes_from_the_steady_part_and_the_wait_from_what_is_left() -> None:
    # Each run: delivered at 200 entries/s after a wait of its own (1, 3 and 2 s).
    runs = [
        {"depth": d, "drain_s": w + d / 200, "steady_from_s": w + 0.1 * d / 200,
         "steady_entries": 0.9 * d, "first_delivery_s": w, "cpu_ms_per_entry": 3.0}
        for d, w in ((200, 1.0), (400, 3.0), (800, 2.0))
    ]  # fmt: skip
    figures = drain_figures(runs)
    assert figures["entries_per_s"] == pytest.approx(200.0)
    assert figures["wait_s"] == pytest.approx(2.0)
    assert figures["residual_s"] == pytest.approx(math.sqrt(2 / 3), abs=1e-3)
    assert figures["first_delivery_s"] == 2.0


def test_negative_intercepts_are_written_as_a_subtraction() -> None:
    figures = sample()
    figures["memory"]["dms"]["fit"]["intercept"] = -5548.0
    assert "bytes = 1200 x DMs - 5548 |" in growth_doc.table(figures)


def test_render_writes_its_section_once_and_then_replaces_only_its_own_block(
    tmp_path: Path,
) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\n## Someone else's section\n\nTheir words.\n")
    growth.render(sample(), doc)
    first = doc.read_text()
    assert first.startswith("# Performance\n\n## Someone else's section\n\nTheir words.\n")
    assert first.count(growth.HEADING) == 1 and first.count(growth.MARK_START) == 1
    assert "bytes = 1000 x members" in first

    # Text written around the block since, by hand or by another section, stays as it is.
    doc.write_text(first.replace(growth.MARK_START, "How it was measured.\n\n" + growth.MARK_START)
                   + "\n## A later section\n\nMore words.\n")  # fmt: skip
    changed = sample()
    changed["memory"]["members"]["fit"]["slope"] = 1234.0
    growth.render(changed, doc)
    second = doc.read_text()
    assert second.count(growth.HEADING) == 1 and second.count(growth.MARK_START) == 1
    assert "bytes = 1234 x members" in second and "bytes = 1000 x members" not in second
    assert "How it was measured.\n\n" + growth.MARK_START in second
    assert second.endswith("\n## A later section\n\nMore words.\n")
    assert "Their words." in second
