"""Means with 95% confidence intervals (Student's t; the samples of a data set are few)."""

from __future__ import annotations

import math
from collections.abc import Sequence

# two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(dof: int) -> float:
    return _T975[dof - 1] if dof <= len(_T975) else 1.96


def mean_ci(values: Sequence[float]) -> dict[str, float | int | None]:
    """{"mean", "ci95" (half-width; None for one value or infinite values), "n"}."""
    n = len(values)
    if n == 0:
        return {"mean": None, "ci95": None, "n": 0}
    mean = math.fsum(values) / n
    if n == 1 or not math.isfinite(mean):
        return {"mean": mean, "ci95": None, "n": n}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return {"mean": mean, "ci95": t_quantile(n - 1) * sd / math.sqrt(n), "n": n}


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    z = 1.959964
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))
