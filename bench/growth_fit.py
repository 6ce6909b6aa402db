"""Straight-line fits of the growth benchmark: how a cost grows with the work (bytes per member,
CPU per read against page size, seconds to drain an outbox against its depth).

A fit is ordinary least squares, y = slope * x + intercept, with its residual (the root mean
square of the points' distances from the line) so a reader sees how straight the growth was.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Fit:
    slope: float
    intercept: float
    residual: float  # root mean square of y - (slope * x + intercept), in y's unit
    points: int

    def at(self, x: float) -> float:
        return self.slope * x + self.intercept

    def relative_residual(self, xs: Sequence[float], ys: Sequence[float]) -> float | None:
        """The residual over the spread of y the fit explains (None when y does not move)."""
        spread = max(ys) - min(ys) if ys else 0.0
        return self.residual / spread if spread > 0 else None

    def as_dict(self, digits: int = 4) -> dict[str, Any]:
        return {k: round(v, digits) if isinstance(v, float) else v for k, v in asdict(self).items()}


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Fit:
    """The least-squares line through the points; at least two distinct x are needed."""
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} x values for {len(ys)} y values")
    if len(set(xs)) < 2:
        raise ValueError("a line needs points at two different x at least")
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    squares = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    return Fit(slope, intercept, math.sqrt(squares / n), n)


def fit_entry(xs: Sequence[float], ys: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """A fit as results.json keeps it: the line, its residual (absolute and over the spread of
    y) and the points it was drawn through."""
    fit = linear_fit(xs, ys)
    relative = fit.relative_residual(xs, ys)
    return fit.as_dict(digits) | {
        "relative_residual": None if relative is None else round(relative, 4),
        "x": [round(x, digits) for x in xs],
        "y": [round(y, digits) for y in ys],
    }
