"""What a reliability check is: a numbered promise, run against a real stack, ending in a figure."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack.local import LocalStack


@dataclass(frozen=True)
class Outcome:
    """The figure a check measured: `figure` is the one line a reader wants ("lost 0 of 412"),
    `measured` the raw numbers behind it, `passed` whether the promise held."""

    figure: str
    passed: bool
    measured: dict[str, Any] = field(default_factory=dict)
    notes: str = ""


@dataclass
class SuiteContext:
    """What every check gets: a scratch folder of its own, the quick (CI) or full size, a fixed
    seed, and a way to report progress. `local_stack` starts a fresh local stack for checks that
    kill or reconfigure processes (each call gives a new one; the caller stops it)."""

    workdir: Path
    quick: bool
    seed: int
    progress: Callable[[str], None]

    def scratch(self, name: str) -> Path:
        folder = self.workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def local_stack(self, name: str, env: dict[str, str] | None = None) -> LocalStack:
        from stack.layout import free_layout

        return LocalStack(self.scratch(name), free_layout(), env=env)

    def size(self, quick: int, full: int) -> int:
        return quick if self.quick else full


@dataclass(frozen=True)
class Check:
    """One numbered check of the suite. `needs_docker` checks are skipped, and said so, where
    no Docker daemon answers."""

    number: int
    name: str
    promise: str
    run: Callable[[SuiteContext], Outcome]
    needs_docker: bool = False


@dataclass(frozen=True)
class CheckResult:
    number: int
    name: str
    status: str  # "pass", "fail", "error", "skipped"
    figure: str
    duration_s: float
    measured: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
