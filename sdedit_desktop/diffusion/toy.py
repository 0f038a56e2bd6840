"""An analytic noise predictor for a one-dimensional Gaussian mixture (paper App. E).

With data x0 ~ sum_i w_i N(mu_i, s_i^2), the marginal at level t is the mixture of
N(sqrt(ab) mu_i, ab s_i^2 + 1 - ab), so the score, and eps = -sqrt(1 - ab) * score, are exact.
It plugs into the very same solvers as the UNet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sdedit_desktop.diffusion.predictor import NoisePredictor, Timestep
from sdedit_desktop.diffusion.schedule import NoiseSchedule


@dataclass(frozen=True)
class GaussianMixture1D:
    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.means)
        if n == 0 or len(self.stds) != n or len(self.weights) != n:
            raise ValueError("means, stds and weights need the same, non-zero number of entries")
        if any(s <= 0 for s in self.stds):
            raise ValueError("every standard deviation must be positive")
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError("weights must be non-negative and not all zero")

    @classmethod
    def create(cls, means: Sequence[float], stds: Sequence[float],
               weights: Sequence[float]) -> GaussianMixture1D:
        total = float(sum(weights))
        return cls(tuple(map(float, means)), tuple(map(float, stds)),
                   tuple(float(w) / total if total > 0 else float(w) for w in weights))

    def marginal(self, ab: float) -> GaussianMixture1D:
        """The distribution of sqrt(ab) x0 + sqrt(1 - ab) n."""
        return GaussianMixture1D(
            tuple(math.sqrt(ab) * m for m in self.means),
            tuple(math.sqrt(ab * s * s + 1.0 - ab) for s in self.stds),
            self.weights,
        )

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(x, dtype=torch.float64)
        for m, s, w in zip(self.means, self.stds, self.weights, strict=True):
            out = out + w * 0.5 * (1.0 + torch.erf((x.double() - m) / (s * math.sqrt(2.0))))
        return out

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """d/dx log density, computed stably with log-sum-exp over components."""
        xs = x.double().unsqueeze(-1)
        m = torch.tensor(self.means, dtype=torch.float64, device=x.device)
        s = torch.tensor(self.stds, dtype=torch.float64, device=x.device)
        w = torch.tensor(self.weights, dtype=torch.float64, device=x.device)
        logp = torch.log(w) - torch.log(s) - 0.5 * ((xs - m) / s) ** 2
        resp = torch.softmax(logp, dim=-1)
        return (resp * (-(xs - m) / (s * s))).sum(-1).to(x.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        idx = torch.multinomial(torch.tensor(self.weights, dtype=torch.float64), n, True,
                                generator=generator)
        m = torch.tensor(self.means, dtype=torch.float64)[idx]
        s = torch.tensor(self.stds, dtype=torch.float64)[idx]
        return m + s * torch.randn(n, generator=generator, dtype=torch.float64)


def mixture_noise_predictor(data: GaussianMixture1D, schedule: NoiseSchedule) -> NoisePredictor:
    """eps(x, t) of the exact model of `data` under `schedule`."""

    def eps(x: torch.Tensor, t: Timestep) -> torch.Tensor:
        if isinstance(t, torch.Tensor) and t.ndim > 0:
            abs_ = schedule.alpha_bars(t).to(x.device, x.dtype)
            return torch.stack([
                _eps_at(data, float(ab), xi) for ab, xi in zip(abs_.tolist(), x, strict=True)
            ])
        return _eps_at(data, schedule.alpha_bar(int(t)), x)

    return eps


def _eps_at(data: GaussianMixture1D, ab: float, x: torch.Tensor) -> torch.Tensor:
    return -math.sqrt(1.0 - ab) * data.marginal(ab).score(x)
