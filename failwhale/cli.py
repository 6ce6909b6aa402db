"""`failwhale`: bring the Chirp stack up or down, and seed it. Exit codes: 0 success, 1 failure,
2 usage or setup error."""

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import httpx
from rich.console import Console

from chaos.cli import add_commands as add_chaos_commands
from stack.local import LocalStack, StackError
from stack.seed import run_seed

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORKDIR = REPO / ".local"
DEFAULT_GATEWAY = os.environ.get("FAILWHALE_GATEWAY_URL", "http://127.0.0.1:8080")

console = Console(stderr=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except StackError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="failwhale", description="A chaos-engineering testbed of real microservices."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    for name, run, summary in (
        ("up", _up, "start the stack and wait until it is ready"),
        ("down", _down, "stop the stack"),
    ):
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "--backend",
            choices=["docker", "local", "swarm"],
            default="docker",
            help="docker: compose (default); swarm: Docker Swarm (docs/swarm.md); local: processes",
        )
        command.add_argument(
            "--workdir", type=Path, default=DEFAULT_WORKDIR, help="local backend: logs and data"
        )
        command.set_defaults(run=run)

    seed = commands.add_parser(
        "seed",
        help="create accounts and a follow graph in a running stack",
        description="Create N accounts with a repeatable follow graph (a few accounts with many "
        "followers, most with few) through the public API.",
    )
    seed.add_argument("--users", type=int, default=200, help="accounts to create (default 200)")
    seed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    seed.add_argument("--gateway", default=DEFAULT_GATEWAY, help="gateway URL")
    seed.add_argument(
        "--out", type=Path, default=DEFAULT_WORKDIR / "seed-users.json", help="accounts file"
    )
    seed.add_argument("--json", action="store_true", help="print the summary as JSON")
    seed.set_defaults(run=_seed)
    add_chaos_commands(commands)
    return parser


def _up(args: argparse.Namespace) -> int:
    if args.backend in ("docker", "swarm"):
        return subprocess.call(["make", "-C", str(REPO), "up", f"BACKEND={args.backend}"])
    stack = LocalStack(args.workdir)
    with console.status("starting the local stack") as status:
        stack.up(progress=lambda step: status.update(f"starting the local stack: {step}"))
    console.print(f"[green]up[/green]: gateway on {stack.layout.gateway_url}, logs in {stack.logs}")
    return 0


def _down(args: argparse.Namespace) -> int:
    if args.backend in ("docker", "swarm"):
        return subprocess.call(["make", "-C", str(REPO), "down", f"BACKEND={args.backend}"])
    LocalStack(args.workdir).down()
    console.print("[green]down[/green]")
    return 0


def _seed(args: argparse.Namespace) -> int:
    if args.users < 2:
        console.print("[red]error:[/red] --users must be at least 2")
        return 2
    try:
        result = run_seed(args.gateway, args.users, args.seed, args.out)
    except httpx.HTTPError as exc:
        console.print(f"[red]error:[/red] seeding {args.gateway} failed: {exc}")
        return 1
    summary = asdict(result) | {"out": str(result.out)}
    if args.json:
        print(json.dumps(summary))
    else:
        console.print(
            f"seeded {result.users} accounts and {result.follows} follows "
            f"(most followed: {result.max_followers}, median: {result.median_followers:g}); "
            f"accounts in {result.out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
