"""Timestep grids (docs/algorithms.md, "Timestep grids"): which levels a sampler visits and the
window of an edit that starts at t0. Pure integer arithmetic (numpy for the reference code's
rounding), no torch, so the editor can plan a job without loading torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdedit_desktop.core.types import GridKind

CLEAN = -1  # level of the clean latent; its alpha_bar is the schedule's `final_alpha_cumprod`


@dataclass(frozen=True)
class Step:
    """One reverse step from level `t` (where the model is evaluated) down to level `s`."""

    t: int
    s: int


class GridError(ValueError):
    """A step setting no grid can serve (the edits turn it into an EditError)."""


def uniform_levels(num_steps: int, num_train_timesteps: int = 1000) -> list[int]:
    """The uniform grid's levels, lowest first: t_k = round(k T / N) + offset, k = 0 … N-1
    (rounding half up, in integers). The offset is 1 (SD 1.5's `steps_offset`) unless the top
    level would then leave the table (N >= 667 for T = 1000): then it is 0 and t_0 = 0."""
    _check_steps(num_steps, num_train_timesteps)
    n, big_t = num_steps, num_train_timesteps
    rounded = [(2 * k * big_t + n) // (2 * n) for k in range(n)]
    offset = 1 if rounded[-1] + 1 <= big_t - 1 else 0
    return [r + offset for r in rounded]


def uniform_grid(num_steps: int, num_train_timesteps: int = 1000) -> list[Step]:
    """Steps between neighbouring uniform levels, from the top down; the last one goes to the
    clean level. For N dividing T this is diffusers' DDIM "leading" spacing with offset 1 (996,
    991, …, 1 for N = 200). With offset 0 the lowest level 0 *is* the clean latent (its
    alpha_bar is ab[0], `set_alpha_to_one=False`): the step 0 -> clean would be the identity
    with sigma = 0, so the grid ends with t_1 -> clean and has N - 1 steps."""
    levels = uniform_levels(num_steps, num_train_timesteps)
    if levels[0] == 0:
        levels = levels[1:]
    ts = list(reversed(levels))
    return _checked([Step(t, ts[i + 1] if i + 1 < len(ts) else CLEAN) for i, t in enumerate(ts)])


def reference_timesteps(num_steps: int, num_train_timesteps: int = 1000) -> list[int]:
    """The SDE-Drag reference code's timesteps (diffusers' "linspace" spacing):
    round(linspace(0, T-1, N+1)) reversed without its last element (999, 994, …, 5 for N = 200)."""
    _check_steps(num_steps, num_train_timesteps)
    # numpy, as the reference code computes it (through diffusers): torch.linspace's values
    # differ in the last bit, which at a .5 tie (499.5 for even N) moves one timestep by one.
    values = [int(v) for v in np.round(np.linspace(0, num_train_timesteps - 1, num_steps + 1))]
    return list(reversed(values))[:-1]


def reference_grid(num_steps: int, num_train_timesteps: int = 1000) -> list[Step]:
    """The reference code's reverse steps: every timestep but the last, each taken to
    t - T // N (not to the next timestep). It never steps from the last timestep: the clean
    latent sits there (at N = 200: steps 999->994 … 10->5, clean latent at ab[5])."""
    ts = reference_timesteps(num_steps, num_train_timesteps)
    if len(ts) < 2:
        raise GridError("the reference grid needs at least 2 steps")
    spacing = num_train_timesteps // num_steps
    return _checked([Step(t, t - spacing) for t in ts[:-1]])


def make_grid(kind: GridKind, num_steps: int, num_train_timesteps: int = 1000) -> list[Step]:
    if kind == "uniform":
        return uniform_grid(num_steps, num_train_timesteps)
    if kind == "reference":
        return reference_grid(num_steps, num_train_timesteps)
    raise GridError(f"unknown timestep grid {kind!r} (expected 'uniform' or 'reference')")


def edit_window(kind: GridKind, num_steps: int, t0: float,
                num_train_timesteps: int = 1000) -> list[Step]:
    """The reverse steps of an edit that starts at time t0 (a fraction of T) and ends clean.

    uniform: from the highest level not above t0 T (at least the lowest level), so t0 keeps
    its meaning within one grid spacing for every N (596 for N = 200, t0 = 0.6).
    reference: exactly the reference code's window timesteps[N - int(t0 N) - 1 : -1], i.e. the
    last int(t0 N) steps (at most the whole grid), float rounding of t0 N included.
    """
    if not 0.0 < t0 <= 1.0:
        raise GridError(f"t0 must be in (0, 1], got {t0}")
    grid = make_grid(kind, num_steps, num_train_timesteps)
    if kind == "reference":
        count = min(max(int(t0 * num_steps), 1), len(grid))
        return grid[len(grid) - count:]
    limit = t0 * num_train_timesteps + 1e-6  # a decimal t0 meant to hit a level exactly does
    start = next((i for i, step in enumerate(grid) if step.t <= limit), len(grid) - 1)
    return grid[start:]


def lowest_steps(grid: list[Step], count: int) -> list[Step]:
    """The last `count` steps of a grid."""
    if not 1 <= count <= len(grid):
        raise GridError(f"need between 1 and {len(grid)} steps, got {count}")
    return grid[len(grid) - count:]


def _checked(grid: list[Step]) -> list[Step]:
    """Every step must go strictly down in noise (else sigma = 0: Cycle-SDE cannot solve z)."""
    for step in grid:
        if not (step.s < step.t and (step.s >= 0 or step.t > 0)):
            raise GridError(f"degenerate step {step.t} -> {step.s} in the timestep grid")
    return grid


def _check_steps(num_steps: int, num_train_timesteps: int) -> None:
    if not 1 <= num_steps <= num_train_timesteps:
        raise GridError(
            f"the number of steps must be between 1 and {num_train_timesteps}, got {num_steps}")
