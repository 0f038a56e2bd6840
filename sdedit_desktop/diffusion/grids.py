"""Timestep grids (docs/algorithms.md, "Timestep grids"): which levels a sampler visits and the
window of an edit that starts at t0, including the official code's tables. Pure integer
arithmetic (numpy for the official rounding), no torch, so the editor can plan a job without
loading torch."""

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
    """The SDE-Drag reference code's timesteps (diffusers' DPMSolverMultistepScheduler,
    "linspace" spacing): round(linspace(0, T-1, N+1)) reversed without its last element (999,
    994, …, 5 for N = 200). numpy's linspace and rounding, as diffusers: torch.linspace computes
    the 499.5 of an even N as 499.4999… and rounds it to 499, numpy gets 500 (docs/algorithms.md,
    "Timestep grids")."""
    _check_steps(num_steps, num_train_timesteps)
    values = np.linspace(0, num_train_timesteps - 1, num_steps + 1).round().astype(np.int64)
    return [int(v) for v in values[::-1][:-1]]


def ddim_timesteps(num_steps: int, num_train_timesteps: int = 1000) -> list[int]:
    """diffusers' DDIMScheduler timesteps for SD 1.5's config ("leading" spacing, steps_offset
    1): k·(T // N) + 1 for k = N-1 … 0 (981, 961, …, 1 for N = 50). The official DiffEdit code
    runs on these."""
    _check_steps(num_steps, num_train_timesteps)
    spacing = num_train_timesteps // num_steps
    values = [k * spacing + 1 for k in reversed(range(num_steps))]
    if values[0] >= num_train_timesteps:
        raise GridError(f"diffusers' DDIM timesteps for {num_steps} steps reach level "
                        f"{values[0]}, beyond the {num_train_timesteps}-level table")
    return values


def reference_grid(num_steps: int, num_train_timesteps: int = 1000,
                   timesteps: list[int] | None = None) -> list[Step]:
    """The reference code's reverse steps: every timestep but the last, each taken to
    t - T // N (not to the next timestep). It never steps from the last timestep: the clean
    latent sits there (at N = 200: steps 999->994 … 10->5, clean latent at ab[5]). `timesteps`:
    the table it runs on (default: `reference_timesteps`, the drag code's)."""
    if timesteps is None:
        timesteps = reference_timesteps(num_steps, num_train_timesteps)
    if len(timesteps) < 2:
        raise GridError("the reference grid needs at least 2 steps")
    spacing = num_train_timesteps // num_steps
    return _checked([Step(t, t - spacing) for t in timesteps[:-1]])


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
    _check_t0(t0)
    grid = make_grid(kind, num_steps, num_train_timesteps)
    if kind == "reference":
        return reference_window(grid, num_steps, t0)
    limit = t0 * num_train_timesteps + 1e-6  # a decimal t0 meant to hit a level exactly does
    start = next((i for i, step in enumerate(grid) if step.t <= limit), len(grid) - 1)
    return grid[start:]


def reference_window(grid: list[Step], num_steps: int, t0: float) -> list[Step]:
    """The official scripts' window on a reference grid: timesteps[t_begin - 1 : -1] with
    t_begin = N - int(t0 N), i.e. the last int(t0 N) steps (at least 1, at most the grid)."""
    _check_t0(t0)
    count = min(max(int(t0 * num_steps), 1), len(grid))
    return grid[len(grid) - count:]


def official_diffedit_sde_window(num_steps: int, encode_ratio: float,
                                 num_train_timesteps: int = 1000) -> list[Step]:
    """The official DiffEdit-SDE's steps: its Cycle-SDE sampler on diffusers' DDIM timesteps,
    window timesteps[t_begin - 1 : -1] with t_begin = N - int(ratio N), each step to t - T // N,
    the clean latent at the last timestep: 701 -> 681 … 21 -> 1 for N = 50, ratio 0.7
    (docs/algorithms.md, "DiffEdit")."""
    grid = reference_grid(num_steps, num_train_timesteps,
                          ddim_timesteps(num_steps, num_train_timesteps))
    return reference_window(grid, num_steps, encode_ratio)


def diffusers_ddim_window(num_steps: int, strength: float,
                          num_train_timesteps: int = 1000) -> list[Step]:
    """The steps of diffusers' DiffEdit pipeline (DDIMScheduler / DDIMInverseScheduler, SD 1.5's
    config) at `inpaint_strength`: the lowest min(int(strength N), N) DDIM timesteps, each step
    to t - T // N, below level 0 to the clean latent (ab[0], `set_alpha_to_one=False`): 681 ->
    661 … 1 -> clean for N = 50, strength 0.7. Its `generate_mask` noises to the first of them."""
    _check_t0(strength)
    timesteps = ddim_timesteps(num_steps, num_train_timesteps)
    count = min(int(num_steps * strength), num_steps)
    if count < 1:
        raise GridError(f"strength {strength:g} x {num_steps} steps leaves no DDIM step")
    spacing = num_train_timesteps // num_steps
    return _checked([Step(t, t - spacing if t - spacing >= 0 else CLEAN)
                     for t in timesteps[num_steps - count:]])


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


def _check_t0(t0: float) -> None:
    if not 0.0 < t0 <= 1.0:
        raise GridError(f"t0 must be in (0, 1], got {t0}")


def _check_steps(num_steps: int, num_train_timesteps: int) -> None:
    if not 1 <= num_steps <= num_train_timesteps:
        raise GridError(
            f"the number of steps must be between 1 and {num_train_timesteps}, got {num_steps}")
