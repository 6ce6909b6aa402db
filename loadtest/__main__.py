"""`python -m loadtest` (what `make load` runs): a short headless Locust run against the stack
that is up, docker or local (both answer on :8080), with the summary and the oracles' results at
the end. Exit codes: 0 no failure and no violation, 1 a failed request or an oracle violation,
2 no stack answers."""

import argparse
import os
import sys
from pathlib import Path

import httpx

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    parser.add_argument("--host", default="http://127.0.0.1:8080", help="the gateway")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", default="30s", help="Locust's run time: 30s, 2m, ...")
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: actions per second")
    parser.add_argument("--think-time", type=float, default=1.0, help="closed loop: seconds")
    parser.add_argument("--accounts", default="", help="seed file of `failwhale seed`")
    parser.add_argument("--out", type=Path, default=Path("reports/load"), help="report folder")
    args = parser.parse_args(argv)
    host = args.host.rstrip("/")
    try:
        httpx.get(f"{host}/readyz", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        print(f"no stack answers at {host} ({exc}): `make up` or `make up-local` first",
              file=sys.stderr)  # fmt: skip
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host, "--headless",
        "--only-summary", "--users", str(args.users),
        "--spawn-rate", str(min(args.users, 10)), "--run-time", args.duration,
        "--stop-timeout", "5",  # users finish the action in hand: fewer unknown outcomes
        "--rate", str(args.rate), "--think-time", str(args.think_time),
        "--history-file", str(args.out / "history.jsonl"),
        "--oracle-report", str(args.out / "report.json"),
        "--csv", str(args.out / "locust"), "--html", str(args.out / "locust.html"),
    ]  # fmt: skip
    if args.accounts:
        command += ["--accounts", args.accounts]
    print(f"load: {' '.join(command[3:])}", file=sys.stderr, flush=True)
    os.execv(sys.executable, command)


if __name__ == "__main__":
    sys.exit(main())
