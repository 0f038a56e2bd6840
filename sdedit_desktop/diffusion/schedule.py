"""Noise schedules (docs/algorithms.md, "Timestep grids"; the grids are in grids.py).

Everything is float64: `alpha_bar` returns Python floats computed from a float64 table, so a
float64 latent never meets a float32 coefficient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


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
