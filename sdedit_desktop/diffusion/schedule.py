"""Noise schedules and timestep grids (docs/algorithms.md, "Timestep grids").

Everything is float64: `alpha_bar` returns Python floats computed from a float64 table, so a
float64 latent never meets a float32 coefficient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from sdedit_desktop.core.types import GridKind

CLEAN = -1  # level of the clean latent; its alpha_bar is `final_alpha_cumprod`


@dataclass(frozen=True)
class NoiseSchedule:
    alphas_cumprod: torch.Tensor  # float64 [T]
    # alpha_bar of the clean latent. SD 1.5 ships `set_alpha_to_one=False`, i.e. ab[0]: the clean
    # latent is treated as sitting at the first training level, which keeps sigma > 0 on the last
    # step so Cycle-SDE can land exactly on it.
    final_alpha_cumprod: float

    @property
    def num_train_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    def alpha_bar(self, level: int) -> float:
        if level < 0:
            return self.final_alpha_cumprod
        return float(self.alphas_cumprod[level])

    def alpha_bars(self, levels: torch.Tensor) -> torch.Tensor:
        """Vectorised alpha_bar for a tensor of levels (float64)."""
        table = self.alphas_cumprod
        clipped = levels.clamp(min=0).to(torch.long).cpu()
        out = table[clipped].clone()
        out[levels.cpu() < 0] = self.final_alpha_cumprod
        return out


class ScheduleConfigError(ValueError):
    """A scheduler config whose noise schedule this app cannot reproduce."""


def schedule_from_config(config: Mapping[str, Any]) -> NoiseSchedule:
    """The training noise schedule a diffusers scheduler config describes (float64), as
    diffusers' DDPM/DDIM/Euler schedulers build it: "linear", "scaled_linear" or
    "squaredcos_cap_v2" betas (or `trained_betas`), optionally rescaled to zero terminal SNR.

    The clean latent always sits at ab[0] (`set_alpha_to_one=False`), whatever the config says:
    with ab = 1 the step that reaches it would have sigma = 0 and Cycle-SDE could not solve it
    (docs/algorithms.md, "Notation and the noise schedule")."""
    n = int(config.get("num_train_timesteps", 1000))
    if n < 2:
        raise ScheduleConfigError(f"num_train_timesteps must be at least 2, got {n}")
    start, end = float(config.get("beta_start", 0.0001)), float(config.get("beta_end", 0.02))
    kind = config.get("beta_schedule", "linear")
    trained = config.get("trained_betas")
    if trained is not None:
        betas = torch.tensor(list(trained), dtype=torch.float64)
        if betas.shape[0] != n:
            raise ScheduleConfigError(f"trained_betas has {betas.shape[0]} values for "
                                      f"{n} training timesteps")
    elif kind == "linear":
        betas = torch.linspace(start, end, n, dtype=torch.float64)
    elif kind == "scaled_linear":
        betas = torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float64) ** 2
    elif kind == "squaredcos_cap_v2":
        betas = _cosine_betas(n, 0.008, max_beta=0.999)
    else:
        raise ScheduleConfigError(f"unknown beta_schedule {kind!r} (known: linear, "
                                  "scaled_linear, squaredcos_cap_v2)")
    if config.get("rescale_betas_zero_snr", False):
        betas = _zero_terminal_snr(betas)
    ab = torch.cumprod(1.0 - betas, dim=0)
    if config.get("rescale_betas_zero_snr", False):
        # ab = 0 at the top would divide by zero in x0(x_t); diffusers' Euler does the same.
        ab[-1] = 2.0 ** -24
    if not bool(((ab > 0) & (ab < 1)).all()):
        raise ScheduleConfigError("the scheduler config gives a noise schedule outside (0, 1)")
    return NoiseSchedule(ab, float(ab[0]))


def _cosine_betas(n: int, s: float, max_beta: float) -> torch.Tensor:
    def f(t: float) -> float:
        return math.cos((t / n + s) / (1 + s) * math.pi / 2) ** 2

    return torch.tensor([min(1 - f(t + 1) / f(t), max_beta) for t in range(n)],
                        dtype=torch.float64)


def _zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Lin et al. 2024, Algorithm 1 (diffusers' `rescale_zero_terminal_snr`)."""
    root = torch.cumprod(1.0 - betas, dim=0).sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    ab = root ** 2
    alphas = torch.cat([ab[:1], ab[1:] / ab[:-1]])
    return 1.0 - alphas


# SD 1.x's training schedule (every SD 1.x, SD 2.x and SDXL checkpoint ships the same one; the
# models read theirs from their scheduler config). The theory check and tests use it directly.
SD15_SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}


def sd15_schedule() -> NoiseSchedule:
    """SD 1.5: 1000 steps, "scaled_linear" betas from 0.00085 to 0.012."""
    return schedule_from_config(SD15_SCHEDULER_CONFIG)


def cosine_schedule(num_train_timesteps: int = 1000, s: float = 0.008) -> NoiseSchedule:
    """The cosine schedule of improved DDPM (used by the paper's toy experiment)."""
    ab = torch.cumprod(1.0 - _cosine_betas(num_train_timesteps, s, max_beta=0.999), dim=0)
    return NoiseSchedule(ab, float(ab[0]))


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
    values = torch.round(torch.linspace(0, num_train_timesteps - 1, num_steps + 1,
                                        dtype=torch.float64)).long().tolist()
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
