"""Runs the checks in number order, each in its own scratch folder, and turns what each one
raised or returned into a `CheckResult`; nothing a check does stops the next one."""

import subprocess
import time
import traceback
from collections.abc import Callable, Iterable

from reliability.check import Check, CheckResult, SuiteContext


def docker_available() -> bool:
    try:
        answered = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answered.returncode == 0


def run_check(check: Check, context: SuiteContext, has_docker: bool) -> CheckResult:
    started = time.monotonic()
    if check.needs_docker and not has_docker:
        return CheckResult(check.number, check.name, "skipped", "no Docker daemon answers", 0.0)
    try:
        outcome = check.run(context)
    except Exception as error:
        return CheckResult(
            check.number,
            check.name,
            "error",
            f"{type(error).__name__}: {error}",
            time.monotonic() - started,
            notes=traceback.format_exc(),
        )
    return CheckResult(
        check.number,
        check.name,
        "pass" if outcome.passed else "fail",
        outcome.figure,
        time.monotonic() - started,
        outcome.measured,
        outcome.notes,
    )


def run_suite(
    checks: Iterable[Check],
    context: SuiteContext,
    on_result: Callable[[CheckResult], None] = lambda _: None,
) -> list[CheckResult]:
    has_docker = docker_available()
    results = []
    for check in checks:
        context.progress(f"{check.number}. {check.name}")
        result = run_check(check, context, has_docker)
        on_result(result)
        results.append(result)
    return results
