"""Noise schedules and timestep grids (DESIGN.md §1).

Everything is float64: `alpha_bar` returns Python floats computed from a float64 table, so a
float64 latent never meets a float32 coefficient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def sd15_schedule() -> NoiseSchedule:
    """SD 1.5: 1000 steps, "scaled_linear" betas from 0.00085 to 0.012."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    ab = torch.cumprod(1.0 - betas, dim=0)
    return NoiseSchedule(ab, float(ab[0]))


def cosine_schedule(num_train_timesteps: int = 1000, s: float = 0.008) -> NoiseSchedule:
    """The cosine schedule of improved DDPM (used by the paper's toy experiment)."""
    def f(t: float) -> float:
        return math.cos((t / num_train_timesteps + s) / (1 + s) * math.pi / 2) ** 2

    betas = torch.tensor(
        [min(1 - f(t + 1) / f(t), 0.999) for t in range(num_train_timesteps)], dtype=torch.float64
    )
    ab = torch.cumprod(1.0 - betas, dim=0)
    return NoiseSchedule(ab, float(ab[0]))


@dataclass(frozen=True)
class Step:
    """One reverse step from level `t` (where the model is evaluated) down to level `s`."""

    t: int
    s: int


def uniform_grid(num_steps: int, num_train_timesteps: int = 1000) -> list[Step]:
    """t_k = k*D + 1, k = N-1 … 0 (diffusers' DDIM "leading" spacing, offset 1); each step goes to
    its neighbour, the last one to the clean level."""
    _check_steps(num_steps, num_train_timesteps)
    spacing = num_train_timesteps // num_steps
    # Offset 1 as SD 1.5's scheduler config; dropped only where it would leave the table (N = T).
    offset = 1 if (num_steps - 1) * spacing + 1 < num_train_timesteps else 0
    ts = [k * spacing + offset for k in range(num_steps - 1, -1, -1)]
    return [Step(t, ts[i + 1] if i + 1 < len(ts) else CLEAN) for i, t in enumerate(ts)]


def reference_grid(num_steps: int, num_train_timesteps: int = 1000) -> list[Step]:
    """The SDE-Drag reference code's grid: round(linspace(0, T-1, N+1)) reversed without its last
    element, each step taken to t - D (not to the next grid element); the clean latent sits at
    the smallest value of the linspace, 0."""
    _check_steps(num_steps, num_train_timesteps)
    spacing = num_train_timesteps // num_steps
    values = torch.round(torch.linspace(0, num_train_timesteps - 1, num_steps + 1,
                                        dtype=torch.float64)).long().tolist()
    ts = list(reversed(values))[:-1]
    return [Step(t, max(t - spacing, 0)) for t in ts]


def make_grid(kind: GridKind, num_steps: int, num_train_timesteps: int = 1000) -> list[Step]:
    if kind == "uniform":
        return uniform_grid(num_steps, num_train_timesteps)
    if kind == "reference":
        return reference_grid(num_steps, num_train_timesteps)
    raise ValueError(f"unknown timestep grid {kind!r} (expected 'uniform' or 'reference')")


def lowest_steps(grid: list[Step], count: int) -> list[Step]:
    """The last `count` steps of a grid: what an edit starting at t0 = count/N runs."""
    if not 1 <= count <= len(grid):
        raise ValueError(f"need between 1 and {len(grid)} steps, got {count}")
    return grid[len(grid) - count:]


def _check_steps(num_steps: int, num_train_timesteps: int) -> None:
    if not 1 <= num_steps <= num_train_timesteps:
        raise ValueError(
            f"number of steps must be between 1 and {num_train_timesteps}, got {num_steps}")
