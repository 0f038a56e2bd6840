"""Noise schedules (docs/algorithms.md, "Timestep grids"; the grids are in grids.py).

Everything is float64: `alpha_bar` returns Python floats computed from a float64 table, so a
float64 latent never meets a float32 coefficient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
