"""`failwhale chaos list|run|compare|sweep`: thin: parse, call the engine, print, choose the exit
code (0 pass, 1 fail or invalid, 2 usage or setup error)."""

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from chaos.backends import BACKENDS, backend_for, backend_from_journal
from chaos.backends.base import Backend, FaultError
from chaos.journal import Journal, JournalFormatError
from chaos.report.compare import report_compare
from chaos.report.folder import default_out_dir
from chaos.runner import ChaosRun, Progress, SetupError
from chaos.scenario import Scenario, ScenarioError, catalogue, load_scenario, resolve
from chaos.stack_mode import ModeError, current_mode, switch_mode
from chaos.verdict import exit_code

console = Console(stderr=True, soft_wrap=True)


def add_commands(commands: Any) -> None:
    chaos = commands.add_parser("chaos", help="chaos scenarios: list, run, compare, sweep")
    sub = chaos.add_subparsers(required=True, metavar="ACTION")

    listing = sub.add_parser("list", help="the scenario catalogue, one line each")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_list)

    run = sub.add_parser("run", help="run a scenario and write its report")
    run.add_argument("scenario", metavar="NAME_OR_PATH")
    _common(run)
    run.add_argument("--resilience", choices=["on", "off"], default="on")
    run.add_argument(
        "--join",
        action="store_true",
        help="where the stack's Locust master already runs a load (e.g. started from its web "
        "UI), act on it instead of refusing (no final audit: that load goes on)",
    )
    run.set_defaults(run=_run)

    compare = sub.add_parser(
        "compare", help="run a scenario with resilience on, then off, and report side by side"
    )
    compare.add_argument("scenario", metavar="NAME_OR_PATH")
    _common(compare)
    compare.set_defaults(run=_compare)

    sweep = sub.add_parser("sweep", help="undo anything a killed run left behind")
    sweep.add_argument("--backend", choices=list(BACKENDS), default="docker")
    _workdir(sweep)
    sweep.add_argument(
        "--journal",
        type=Path,
        default=None,
        help="a run's journal file: its own backend and stack (instead of --backend, --workdir)",
    )
    sweep.set_defaults(run=_sweep)


def _workdir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir", type=Path, default=None, help="local backend: the stack's folder (.local)"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=list(BACKENDS), default="docker")
    _workdir(parser)
    parser.add_argument("--out", type=Path, default=None, help="report folder")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _list(args: argparse.Namespace) -> int:
    entries = []
    for name, path in catalogue().items():
        try:
            entries.append((name, load_scenario(path).summary_line()))
        except ScenarioError as exc:
            entries.append((name, f"(invalid: {exc})"))
    if args.json:
        print(json.dumps([{"name": n, "description": d} for n, d in entries]))
        return 0
    width = max((len(n) for n, _ in entries), default=0)
    for name, line in entries:
        print(f"{name:<{width}}  {line}")
    return 0


def _scenario_and_backend(args: argparse.Namespace) -> tuple[Scenario, Backend] | None:
    """The scenario named on the command line and the backend to run it on; None (said why)
    when either cannot be had."""
    try:
        scenario = load_scenario(resolve(args.scenario))
        return scenario, backend_for(args.backend, workdir=args.workdir)
    except (ScenarioError, FaultError) as exc:
        _error(exc)
        return None


def _run(args: argparse.Namespace) -> int:
    if (chosen := _scenario_and_backend(args)) is None:
        return 2
    scenario, backend = chosen
    out = args.out or default_out_dir(scenario.name)
    try:
        with Live(console=console, refresh_per_second=2, transient=True) as live:
            run = ChaosRun(
                scenario, backend, args.resilience, out, lambda p: live.update(_view(p)), args.join
            )
            result = run.run()
    except SetupError as exc:
        _error(exc)
        return 2
    finally:
        backend.close()
    summary = result.summary
    if args.json:
        print(summary.model_dump_json())
    colour = {"pass": "green", "fail": "red", "invalid": "yellow"}[summary.verdict]
    console.print(f"[{colour}]{summary.verdict}[/{colour}]: {scenario.name}; report in {out}")
    return exit_code(summary.verdict)


def _compare(args: argparse.Namespace) -> int:
    if (chosen := _scenario_and_backend(args)) is None:
        return 2
    scenario, backend = chosen
    out = args.out or default_out_dir(f"{scenario.name}-compare")
    results = {}
    try:
        started_in = current_mode(backend)
        try:
            for mode in ("on", "off"):
                console.print(f"resilience {mode}: preparing the stack")
                switch_mode(backend, mode)
                with Live(console=console, refresh_per_second=2, transient=True) as live:
                    run = ChaosRun(
                        scenario, backend, mode, out / mode, lambda p: live.update(_view(p))
                    )
                    results[mode] = run.run()
                console.print(f"resilience {mode}: {results[mode].summary.verdict}")
        finally:
            switch_mode(backend, started_in)
    except (SetupError, ModeError, FaultError) as exc:
        _error(exc)  # FaultError: no stack to compare on (its gateway container is missing)
        return 2
    finally:
        backend.close()
    comparison = report_compare(scenario, results["on"].obs, results["off"].obs, out)
    if args.json:
        print(json.dumps(comparison.to_json()))
    fault = comparison.ratios.get("fault", {})
    for metric in ("error_rate", "p99_ms"):
        r = fault.get(metric)
        if r is not None:
            ratio = "n/a" if r.off_over_on is None else f"x{r.off_over_on:.3g}"
            console.print(f"fault {metric}: on {r.on}, off {r.off}, off/on {ratio}", markup=False)
    console.print(f"verdicts: {comparison.verdicts}; report in {out}", markup=False)
    return comparison.exit_code


def _sweep(args: argparse.Namespace) -> int:
    try:
        if args.journal is not None:
            backend = backend_from_journal(Journal.open(args.journal))
        else:
            backend = backend_for(args.backend, workdir=args.workdir)
    except (FaultError, OSError, ValueError, KeyError) as exc:  # no engine, file or scope
        _error(exc)
        return 2
    try:
        undone = backend.sweep()
    except JournalFormatError as exc:
        _error(exc)
        return 2
    finally:
        with contextlib.suppress(JournalFormatError):
            backend.close()
    for line in undone:
        print(line)
    console.print(f"swept: {len(undone)} thing(s) undone")
    return 0


def _error(problem: object) -> None:
    console.print("[red]error:[/red] ", end="")
    console.print(str(problem), markup=False, highlight=False)


def _view(progress: Progress) -> Table:
    table = Table(show_header=False, box=None)
    table.add_row("phase", progress.phase)
    table.add_row("time", f"{progress.elapsed_s:.0f} s, {progress.left_s:.0f} s left")
    table.add_row("faults", ", ".join(progress.active) or "none active")
    sample = progress.sample
    if sample is not None:
        table.add_row("requests", f"{sample.rps:.0f}/s")
        table.add_row("errors", f"{sample.error_rate:.1%}")
        table.add_row("degraded", f"{sample.degraded_rate:.1%}")
        opened = [
            f"{svc}->{dep} {state}"
            for svc, deps in sample.breakers.items()
            for dep, state in deps.items()
            if state != "closed"
        ]
        table.add_row("breakers", ", ".join(opened) or "all closed")
    return table
