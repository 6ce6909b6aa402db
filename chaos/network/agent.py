"""The agent that runs in a helper container inside a target's network namespace (NET_ADMIN):
it holds a network fault (iptables rules, a netem qdisc, the delay relay) for its duration and
then undoes it by itself, so a fault reverts even if the runner dies; it also shows, probes and
cleans up. Standard library only: the backend sends its source (after delay_proxy.py's) with
`python3 -c SOURCE JSON`, so the daemon needs no path of this host.

Commands (the JSON argument's "command"):
  hold     apply rules/qdisc/relay, print {"applied": ...}, wait for the duration or SIGTERM,
           undo in reverse order, print {"reverted": ...}
  cleanup  remove every iptables rule whose comment starts with the marker prefix, netem/tbf
           root qdiscs, and the fault hook's plan (sweep)
  show     the rules carrying a marker, with packet counters, and the root qdisc
  probe    time N fresh TCP requests to host:port (HTTP GET /healthz, or a Redis PING)
  connect  try to open a TCP connection: connected, refused or timeout
"""

import asyncio
import contextlib
import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

# In the helper, delay_proxy.py's source comes first in the same script.
with contextlib.suppress(ImportError):
    from chaos.network.delay_proxy import DelayRelay

TABLES = ("filter", "nat", "mangle", "raw")


def run(argv: list[str]) -> tuple[int, str]:
    done = subprocess.run(argv, capture_output=True, text=True)
    return done.returncode, (done.stdout + done.stderr).strip()


def interface() -> str:
    """The interface of the default route (eth0 in a compose container)."""
    _, out = run(["ip", "route", "show", "default"])
    match = re.search(r"\bdev (\S+)", out)
    return match.group(1) if match else "eth0"


def qdisc_command(verb: str, args: list[str]) -> list[str]:
    return ["tc", "qdisc", verb, "dev", interface(), "root", *args]


async def hold(spec: dict[str, Any]) -> int:
    undo: list[list[str]] = []
    relay = None
    report: dict[str, Any] = {"marker": spec["marker"]}
    try:
        if spec.get("relay"):
            r = spec["relay"]
            relay = DelayRelay(r["port"], r["upstream_port"], r["delay_ms"], r["jitter_ms"])
            report["relay_port"] = await relay.start()
        for table, op, chain, *args in spec.get("rules", []):
            code, out = run(["iptables", "-t", table, op, chain, *args])
            if code:
                raise RuntimeError(f"iptables -t {table} {op} {chain} {shlex.join(args)}: {out}")
            undo.append(["iptables", "-t", table, "-D", chain, *args])
        if spec.get("qdisc"):
            code, out = run(qdisc_command("add", spec["qdisc"]))
            if code:
                raise RuntimeError(f"tc qdisc add {shlex.join(spec['qdisc'])}: {out}")
            undo.append(qdisc_command("del", []))
        if spec.get("reset_port"):
            report["reset"] = reset_connections(int(spec["reset_port"]))
        print(json.dumps({"applied": report}), flush=True)
        await wait(float(spec["duration_s"]))
        return 0
    except Exception as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 1
    finally:
        # Newest first: the REJECT of old connections goes before the REDIRECT it protects.
        failures = [out for code, out in (run(argv) for argv in reversed(undo)) if code]
        if relay is not None:
            report["connections"] = relay.connections
            report["delayed_chunks"] = relay.delayed_chunks
            await relay.close()
        print(json.dumps({"reverted": report, "failures": failures}), flush=True)


def reset_connections(port: int) -> int:
    """Abort the service's established connections (SOCK_DESTROY), except over lo: a client
    pool sees an idle connection die and opens a new one (through the REDIRECT) before it sends
    anything on it, instead of having its next request reset. Returns how many were aborted;
    the kernel may lack SOCK_DESTROY, and then the REJECT rule does the job, less gently."""
    code, out = run(["ss", "-K", "-tn", "state", "established",
                     f"( sport = :{port} ) and not dst 127.0.0.1"])  # fmt: skip
    return max(0, len(out.splitlines()) - 1) if code == 0 else 0


async def wait(duration_s: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # When the duration runs out, the fault reverts by itself (the runner may be gone).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration_s)


def marked_rules(prefix: str, counters: bool = False) -> list[tuple[str, str]]:
    found = []
    for table in TABLES:
        code, out = run(["iptables", "-t", table, "-S", *(["-v"] if counters else [])])
        if code:
            continue
        marks = (f"--comment {prefix}", f'--comment "{prefix}')
        found += [(table, line) for line in out.splitlines() if any(m in line for m in marks)]
    return found


def root_qdisc() -> str:
    _, out = run(["tc", "qdisc", "show", "dev", interface(), "root"])
    return out.splitlines()[0] if out else ""


def cleanup(spec: dict[str, Any]) -> dict[str, Any]:
    removed: list[str] = []
    failures: list[str] = []
    for table, line in marked_rules(spec["marker_prefix"]):
        if not line.startswith("-A "):
            continue
        code, out = run(["iptables", "-t", table, "-D", *shlex.split(line)[1:]])
        (failures if code else removed).append(f"{table}: {line}" + (f": {out}" if code else ""))
    qdisc = root_qdisc()
    if any(f"qdisc {kind} " in qdisc for kind in spec.get("qdisc_kinds", [])):
        code, out = run(qdisc_command("del", []))
        (failures if code else removed).append(qdisc + (f": {out}" if code else ""))
    hook = spec.get("hook")
    if hook and (cleared := clear_hook(hook["port"], hook["header"], hook["token"])):
        removed.append(cleared)
    return {"removed": removed, "failures": failures}


def clear_hook(port: int, header: str, token: str) -> str | None:
    """Clear the fault hook's plan if one is active (it would revert by itself when its
    duration runs out); None when there was none, or no hook (redis, a service with it off)."""
    url = f"http://127.0.0.1:{port}/internal/faults"
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers={header: token}), timeout=3
        ) as answer:
            active = json.loads(answer.read())
        if active.get("remaining_s", 0) <= 0:
            return None
        request = urllib.request.Request(url, method="DELETE", headers={header: token})
        with urllib.request.urlopen(request, timeout=3):
            return f"fault hook plan cleared: {active}"
    except Exception:  # off (404), not an HTTP service, not answering: nothing to clear
        return None


def show(spec: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for table, line in marked_rules(spec["marker"], counters=True):
        match = re.search(r" -c (\d+) (\d+)", line)
        packets = int(match.group(1)) if match else 0
        rules.append({"table": table, "rule": re.sub(r" -c \d+ \d+", "", line), "packets": packets})
    return {"rules": rules, "qdisc": root_qdisc()}


def probe(spec: dict[str, Any]) -> list[float | None]:
    """Milliseconds per request on a new connection each (a pooled one would skip a NAT rule
    added after it opened); None for a request that failed or timed out."""
    if spec.get("kind") == "redis":
        payload = b"PING\r\n"
    else:
        payload = b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"
    times: list[float | None] = []
    for _ in range(int(spec.get("count", 5))):
        began = time.perf_counter()
        try:
            with socket.create_connection((spec["host"], spec["port"]), spec["timeout_s"]) as s:
                s.sendall(payload)
                if not s.recv(65536):
                    raise ConnectionError("closed before answering")
            times.append((time.perf_counter() - began) * 1000)
        except OSError:
            times.append(None)
    return times


def connect(spec: dict[str, Any]) -> dict[str, Any]:
    began = time.perf_counter()
    try:
        with socket.create_connection((spec["host"], spec["port"]), spec["timeout_s"]):
            outcome = "connected"
    except TimeoutError:
        outcome = "timeout"
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as exc:
        outcome = f"error: {exc}"
    return {"outcome": outcome, "ms": round((time.perf_counter() - began) * 1000, 1)}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    command = spec["command"]
    if command == "hold":
        return asyncio.run(hold(spec))
    answers = {"cleanup": cleanup, "show": show, "probe": probe, "connect": connect}
    print(json.dumps(answers[command](spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
