"""The checks, one module per promise; each module lists its checks in `CHECKS`, and
`CATALOGUE` gathers them from every module here in number order."""

import importlib
import pkgutil

from reliability.check import Check


def _gather() -> list[Check]:
    found: list[Check] = []
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        found.extend(getattr(loaded, "CHECKS", []))
    numbers = [check.number for check in found]
    duplicated = {n for n in numbers if numbers.count(n) > 1}
    if duplicated:
        raise RuntimeError(f"reliability checks numbered twice: {sorted(duplicated)}")
    return sorted(found, key=lambda check: check.number)


CATALOGUE: list[Check] = _gather()
