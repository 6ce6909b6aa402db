"""Closed-loop saturation load with wrk (a C load generator: it leaves the two cores to the
servers under test, where a Python client would take one of them for itself).

Requests go round a list of (path, headers), so each connection reads many users' pages."""

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WRK_MISSING = "wrk is not installed: apt-get install wrk (make bench installs it as root)"


@dataclass(frozen=True)
class WrkRequest:
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class WrkResult:
    rps: float
    requests: int
    errors: int  # non-2xx answers and socket errors
    p50_ms: float
    p99_ms: float


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def lua_script(requests: Sequence[WrkRequest]) -> str:
    """A wrk script that sends the requests in turn (each wrk thread starts at its own offset)."""
    lines = ["local reqs = {}", "init = function(args)"]
    for n, request in enumerate(requests, start=1):
        headers = ", ".join(f'["{k}"] = "{v}"' for k, v in request.headers.items())
        lines.append(f'  reqs[{n}] = wrk.format("GET", "{request.path}", {{{headers}}})')
    lines += [
        "end",
        "local i = math.random(0, 1000)",
        "request = function()",
        "  i = i + 1",
        "  return reqs[(i % #reqs) + 1]",
        "end",
    ]
    return "\n".join(lines) + "\n"


def run_wrk(
    url: str,
    requests: Sequence[WrkRequest],
    duration_s: float,
    connections: int = 32,
    threads: int = 1,
) -> WrkResult:
    if not wrk_available():
        raise RuntimeError(WRK_MISSING)
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        script = Path(tmp) / "requests.lua"
        script.write_text(lua_script(requests))
        command = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s", "--latency",
            "--timeout", "5s", "-s", str(script), url,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rps is None or total is None:
        raise RuntimeError(f"wrk said nothing usable:\n{output}")
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if sockets:
        errors += sum(int(g) for g in sockets.groups())
    return WrkResult(
        rps=float(rps.group(1)),
        requests=int(total.group(1)),
        errors=errors,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
    )
