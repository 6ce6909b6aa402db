"""`python -m reliability [--quick] [--only 1,3] [--json] [--out DIR]`: run the suite, print
each check's figure, exit 0 when every check that ran held, 1 when one failed, 2 on bad usage.
`--require-all` also fails on a skipped check (CI uses it, so nothing is left out silently)."""

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from reliability.check import CheckResult, SuiteContext
from reliability.checks import CATALOGUE
from reliability.runner import run_suite

STATUS_STYLE = {"pass": "green", "fail": "bold red", "error": "bold red", "skipped": "yellow"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m reliability", description="Reliability and security checks, with figures."
    )
    parser.add_argument("--quick", action="store_true", help="the shortened form CI runs")
    parser.add_argument("--only", default="", help="comma-separated check numbers, e.g. 1,3")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("reports/reliability"))
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--require-all", action="store_true", help="a skipped check fails")
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    return parser.parse_args(argv)


def chosen(only: str) -> list[int]:
    try:
        return [int(part) for part in only.split(",") if part.strip()]
    except ValueError:
        raise SystemExit(f"--only takes check numbers, like 1,3: got {only!r}") from None


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        numbers = chosen(args.only)
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(f"error: {exit_.code}", file=sys.stderr)
            return 2
        return 2 if exit_.code else 0
    known = {check.number for check in CATALOGUE}
    if unknown := [n for n in numbers if n not in known]:
        print(f"error: no check numbered {unknown}; known: {sorted(known)}", file=sys.stderr)
        return 2
    checks = [c for c in CATALOGUE if not numbers or c.number in numbers]
    console = Console(stderr=True)
    if args.list:
        for check in CATALOGUE:
            print(f"{check.number:>2}. {check.name}: {check.promise}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="reliability-") as scratch,
        console.status("starting") as status,
    ):
        context = SuiteContext(Path(scratch), args.quick, args.seed, status.update)
        results = run_suite(checks, context, lambda r: console.print(line(r)))
    (args.out / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        Console().print(table(results))
    for result in results:
        if result.status == "error":
            console.print(f"[red]{result.number}. {result.name}[/red]\n{result.notes}")
    bad = {"fail", "error"} | ({"skipped"} if args.require_all else set())
    return 1 if any(r.status in bad for r in results) else 0


def line(result: CheckResult) -> str:
    style = STATUS_STYLE[result.status]
    return (
        f"[{style}]{result.status:>7}[/{style}]  {result.number:>2}. {result.name}: "
        f"{result.figure}  ({result.duration_s:.0f} s)"
    )


def table(results: list[CheckResult]) -> Table:
    grid = Table(title="Reliability and security")
    for column in ("#", "check", "figure", "status", "s"):
        grid.add_column(column)
    for r in results:
        style = STATUS_STYLE[r.status]
        grid.add_row(
            str(r.number),
            r.name,
            r.figure,
            f"[{style}]{r.status}[/{style}]",
            f"{r.duration_s:.0f}",
        )
    return grid


if __name__ == "__main__":
    sys.exit(main())
