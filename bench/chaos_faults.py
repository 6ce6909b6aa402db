"""What each fault costs: seconds to apply, to verify and to revert, and what verify measured,
for every fault a backend can do, a few rounds each.

    .venv/bin/python -m bench.chaos_faults --backend docker --project failwhale [--rounds 3]
    .venv/bin/python -m bench.chaos_faults --backend local            # a local stack of its own

The docker backend needs the stack up (`make up`); nothing is left applied (each fault is
reverted at once, and a sweep runs at the end).
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from chaos.backends import backend_for
from chaos.backends.base import Backend
from chaos.scenario import FaultSpec
from stack.layout import free_layout
from stack.local import LocalStack

FAULTS: list[dict[str, Any]] = [
    {"fault": "kill", "target": "trends"},
    {"fault": "stop", "target": "trends"},
    {"fault": "pause", "target": "dms"},
    {"fault": "restart", "target": "users"},
    {"fault": "latency", "target": "posts", "delay_ms": 200},
    {"fault": "latency", "target": "redis", "delay_ms": 50},
    {"fault": "loss", "target": "posts", "percent": 10},
    {"fault": "partition", "target": "gateway", "peer": "timeline-1"},
    {"fault": "http-errors", "target": "dms", "rate": 0.5},
    {"fault": "cpu", "target": "trends", "workers": 2},
]


def measure(backend: Backend, rounds: int) -> list[dict[str, Any]]:
    specs = TypeAdapter(FaultSpec)
    rows: list[dict[str, Any]] = []
    for fault in FAULTS:
        spec = specs.validate_python({**fault, "at_s": 0, "duration_s": 120})
        if reason := backend.check(spec):
            rows.append({"fault": fault, "refused": reason})
            continue
        apply, verify, revert, evidence = [], [], [], ""
        for _ in range(rounds):
            applied = backend.apply(spec)
            apply.append(applied.apply_s)
            began = time.monotonic()
            ok, evidence = applied.verify()
            verify.append(time.monotonic() - began)
            applied.revert()
            revert.append(applied.revert_s or 0.0)
            if not ok:
                break
        rows.append(
            {
                "fault": fault,
                "mechanism": applied.mechanism,
                "took_effect": ok,
                "apply_s": round(statistics.median(apply), 2),
                "verify_s": round(statistics.median(verify), 2),
                "revert_s": round(statistics.median(revert), 2),
                "evidence": evidence,
                "revert_evidence": applied.revert_evidence,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["docker", "local"], default="docker")
    parser.add_argument("--project", default=None, help="compose project (docker)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = None
        if args.backend == "local":
            stack = LocalStack(Path(tmp), free_layout())
            stack.up()
        try:
            backend = backend_for(
                args.backend, project=args.project, stack=stack, journal_dir=Path(tmp)
            )
            rows = measure(backend, args.rounds)
            backend.sweep()
        finally:
            if stack is not None:
                stack.down()
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
