"""How a drag is cut into drag steps (Alg. 1, step 1): pure arithmetic on latent points, shared by
the edit (drag.py), the request's validation and the job plan. No torch."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sdedit_desktop.core.progress import EditError

LatentPoint = tuple[int, int]  # (x, y) in latent pixels
LatentPair = tuple[LatentPoint, LatentPoint]

# A drag of more drag steps is refused: each step is a full noise/denoise round trip (about
# 2·int(t0·N) UNet samples), so a tiny step size would run for hours or exhaust memory.
MAX_DRAG_STEPS = 300


def drag_step_count(dmax: float, step_size: float) -> int:
    """1 if the longest drag fits one step, else the integer m whose step length dmax / m is
    closest to step_size (ties go to the smaller m)."""
    if not step_size > 0 or not math.isfinite(step_size):
        raise EditError(f"the drag step size must be a positive number, got {step_size}")
    if dmax <= step_size:
        return 1
    lo = max(1, math.floor(dmax / step_size))
    hi = lo + 1
    return lo if abs(dmax / lo - step_size) <= abs(dmax / hi - step_size) else hi


def longest_drag(pairs: Sequence[LatentPair]) -> float:
    return max(math.hypot(tx - sx, ty - sy) for (sx, sy), (tx, ty) in pairs)


def drag_plan(pairs: Sequence[LatentPair], step_size: float) -> list[list[LatentPair]]:
    """For every drag step i, the (source_i, target_i) of each pair:
    source_i = src + trunc(i d / m), target_i = src + trunc((i + 1) d / m)."""
    deltas = [(tx - sx, ty - sy) for (sx, sy), (tx, ty) in pairs]
    m = drag_step_count(longest_drag(pairs), step_size)
    if m > MAX_DRAG_STEPS:
        raise EditError(too_many_steps_message(m, step_size))
    plan = []
    for i in range(m):
        step = []
        for ((sx, sy), _), (dx, dy) in zip(pairs, deltas, strict=True):
            step.append(((sx + int(i * dx / m), sy + int(i * dy / m)),
                         (sx + int((i + 1) * dx / m), sy + int((i + 1) * dy / m))))
        plan.append(step)
    return plan


def too_many_steps_message(m: int, step_size: float) -> str:
    return (f"step_size {step_size:g} would cut this drag into {m} drag steps; at most "
            f"{MAX_DRAG_STEPS} are allowed: use a larger step size")
