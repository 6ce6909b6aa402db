"""bench/results.json: each benchmark's headline figure beside its target and the raw figures it
was computed from, and the table of them in docs/performance.md.

Shape (docs/performance.md explains each key):

    {"read_path_ratio": {"value": 0.62, "target": ">= 0.5", "met": true,
                         "gateway_rps": ..., "baseline_rps": ..., ...},
     ... one entry per key of KEYS ...,
     "run": {"started_at": ..., "quick": false, "commit": ..., "cores": 2, ...}}

`value` is null and `met` is null when the benchmark did not run or could not measure it (the
entry then says why in `note`).
"""

import json
import operator
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEYS = (
    "read_path_ratio",
    "breaker_detect_s",
    "outage_p99_ratio",
    "recovery_over_reset_s",
    "on_off_error_ratio",
    "on_off_p99_ratio",
    "stack_memory_mib",
    "fanout_p99_100k_over_1k",
    "fanout_write_cost_100k_over_1k",
    "overload_goodput_2x",
    "overload_accepted_p99_ratio",
    "overload_shed_p99_ms",
    "overload_recovery_s",
    "loadgen_ratio",
)
# Sections of raw figures with no target of their own (kept, merged and ordered like the keys).
SECTIONS = ("growth",)
TARGETS = {
    "read_path_ratio": ">= 0.5",
    "breaker_detect_s": "<= 1",
    "outage_p99_ratio": "<= 1.5",
    "recovery_over_reset_s": "<= 2",
    "on_off_error_ratio": ">= 20",
    "on_off_p99_ratio": ">= 5",
    "stack_memory_mib": "< 1536",
    "fanout_p99_100k_over_1k": "<= 2",
    "fanout_write_cost_100k_over_1k": "<= 2",
    "overload_goodput_2x": ">= 0.8",
    "overload_accepted_p99_ratio": "<= 3",
    "overload_shed_p99_ms": "<= 100",
    "overload_recovery_s": "<= 10",
    "loadgen_ratio": ">= 0.5",
}
WHAT = {
    "read_path_ratio": "home-timeline reads/s through the gateway over a one-hop baseline",
    "breaker_detect_s": "s from SIGKILL of both timeline replicas to their breakers open",
    "outage_p99_ratio": "p99 with both timeline replicas dead over healthy p99",
    "recovery_over_reset_s": "s from the replicas' return to breakers closed and errors "
    "< 0.5 %, minus the reset timeout",
    "on_off_error_ratio": "error rate during the fault, resilience off over on (timeline-outage)",
    "on_off_p99_ratio": "p99 during the fault, resilience off over on (dms-slow)",
    "stack_memory_mib": "peak memory of the compose stack under load (MiB, docker stats sum)",
    "fanout_p99_100k_over_1k": "p99 from a post's acknowledgement to its visibility in "
    "followers' timelines, author with 100k followers over 1k",
    "fanout_write_cost_100k_over_1k": "Redis commands and CPU per post, author with 100k "
    "followers over 1k",
    "overload_goodput_2x": "goodput at 2x the measured capacity over peak goodput",
    "overload_accepted_p99_ratio": "p99 of accepted requests at 2x capacity over p99 at half",
    "overload_shed_p99_ms": "p99 of the answers to shed requests at 2x capacity (ms)",
    "overload_recovery_s": "s from the load dropping back to full goodput",
    "loadgen_ratio": "requests/s of one Locust worker core with Failwhale's personas and "
    "oracles over plain FastHttpUser",
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    ">": operator.gt,
}
MARK_START = "<!-- bench:results:start -->"
MARK_END = "<!-- bench:results:end -->"


def meets(value: float | None, target: str) -> bool | None:
    """Whether `value` meets a target written like ">= 0.5"; None when there is no value."""
    match = re.fullmatch(r"(>=|<=|<|>)\s*([-\d.]+)", target.strip())
    if match is None:
        raise ValueError(f"not a target: {target!r}")
    if value is None:
        return None
    return _OPS[match.group(1)](value, float(match.group(2)))


def figure(key: str, value: float | None, **raw: Any) -> dict[str, Any]:
    """One entry of results.json: the value, its target, whether it is met, then the raw
    figures it comes from."""
    target = TARGETS[key]
    rounded = None if value is None else round(value, 3)
    return {"value": rounded, "target": target, "met": meets(rounded, target), **raw}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def error_ratio(
    off_rate: float, off_requests: int, on_rate: float, on_requests: int
) -> tuple[float | None, bool]:
    """Error rate with resilience off over on. With no error at all with resilience on, the
    ratio has no finite value: the on rate is floored at one error over the requests counted
    (the smallest rate the run could have shown), which makes the ratio a lower bound. Returns
    the ratio and whether the floor was used."""
    if on_requests <= 0 or off_requests <= 0:
        return None, False
    floored = on_rate <= 0
    on = 1 / on_requests if floored else on_rate
    return off_rate / on, floored


def merge(previous: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """New entries over the previous file's (a run with --only keeps the other benchmarks')."""
    merged = {k: previous[k] for k in KEYS + SECTIONS if k in previous}
    merged.update({k: v for k, v in new.items() if k in KEYS + SECTIONS})
    merged = {k: merged[k] for k in KEYS + SECTIONS if k in merged}
    merged["run"] = new.get("run", previous.get("run", {}))
    return merged


def load(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data


def save(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def table(results: dict[str, Any]) -> str:
    """The Markdown table of results.json."""
    rows = ["| figure | what | value | target | met |", "|---|---|---|---|---|"]
    for key in KEYS:
        entry = results.get(key)
        if entry is None:
            continue
        met = {True: "yes", False: "**no**", None: "n/a"}[entry.get("met")]
        rows.append(
            f"| `{key}` | {WHAT[key]} | {_fmt(entry.get('value'))} | {entry['target']} | {met} |"
        )
    run = results.get("run", {})
    stamp = f"Run started {run.get('started_at', '?')}" + (" (--quick)" if run.get("quick") else "")
    return "\n".join([*rows, "", f"{stamp}, commit {run.get('commit', '?')}."])


def write_table(doc: Path, results: dict[str, Any]) -> None:
    """Replaces the table between the markers in `doc` (appends the markers if missing)."""
    text = doc.read_text() if doc.exists() else ""
    block = f"{MARK_START}\n{table(results)}\n{MARK_END}"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + block + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    doc.write_text(text)
