"""The paper's theory, measured (Thm 3.1/3.2, App. E).

Start the sampler from a prior that does not match the model's marginal, run the very same DDPM
(SDE) and DDIM (ODE) code with the analytic Gaussian-mixture predictor, and estimate along t
KL(p_t || q_t), where p_t is the law of the samples started from the prior and q_t the model's
true marginal. The SDE contracts it towards 0; the ODE, a bijection applied to both, keeps it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sdedit_desktop.diffusion.ddim import sample
from sdedit_desktop.diffusion.grids import Step, edit_window
from sdedit_desktop.diffusion.schedule import NoiseSchedule
from sdedit_desktop.diffusion.toy import GaussianMixture1D, mixture_noise_predictor


@dataclass(frozen=True)
class Prior:
    """"normal:MEAN,STD" or "uniform:LOW,HIGH"."""

    kind: str
    a: float
    b: float

    @classmethod
    def parse(cls, spec: str) -> Prior:
        kind, _, args = spec.partition(":")
        try:
            a, b = (float(v) for v in args.split(","))
        except ValueError:
            raise ValueError(f"bad prior {spec!r}: expected normal:MEAN,STD or uniform:LOW,HIGH")\
                from None
        if (kind == "normal" and b > 0) or (kind == "uniform" and b > a):
            return cls(kind, a, b)
        raise ValueError(f"bad prior {spec!r}: expected normal:MEAN,STD (STD > 0) "
                         "or uniform:LOW,HIGH (LOW < HIGH)")

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        if self.kind == "normal":
            return self.a + self.b * torch.randn(n, generator=generator, dtype=torch.float64)
        return self.a + (self.b - self.a) * torch.rand(n, generator=generator, dtype=torch.float64)


def kl_samples_to_mixture(samples: torch.Tensor, target: GaussianMixture1D,
                          bins: int = 200) -> float:
    """KL(p || q) with p the law of `samples` (histogram on a grid fitted to q, plus two tail
    bins) and q the analytic mixture (exact bin masses from its CDF). Empty bins of p add 0, so
    no smoothing is needed; the plug-in bias is about (bins - 1) / (2 n)."""
    lo = min(m - 6 * s for m, s in zip(target.means, target.stds, strict=True))
    hi = max(m + 6 * s for m, s in zip(target.means, target.stds, strict=True))
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    cdf = target.cdf(edges)
    q = torch.cat([cdf[:1], cdf[1:] - cdf[:-1], 1.0 - cdf[-1:]])
    x = samples.double().cpu()
    inner = torch.histc(x.clamp(lo, hi), bins=bins, min=lo, max=hi)
    inner[0] -= (x < lo).sum()
    inner[-1] -= (x > hi).sum()
    counts = torch.cat([(x < lo).sum().view(1).double(), inner, (x > hi).sum().view(1).double()])
    p = counts / counts.sum()
    keep = p > 0
    q = q.clamp(min=1e-300)
    return float((p[keep] * (p[keep].log() - q[keep].log())).sum())


@dataclass
class KLCurve:
    t: list[float]  # normalised time in [0, 1], from the start time down to 0
    kl_sde: list[float]
    kl_ode: list[float]


def kl_along_sampling(data: GaussianMixture1D, prior: Prior, schedule: NoiseSchedule,
                      steps: int = 100, samples: int = 200_000, seed: int = 0,
                      start: float = 1.0) -> KLCurve:
    """Sample from `prior` at the start time (a fraction of the `steps`-step grid: 1.0 = its top)
    down to the clean level with the SDE and the ODE, recording KL at every level."""
    if not 0.0 < start <= 1.0:
        raise ValueError(f"start time must be in (0, 1], got {start}")
    if samples < 1000:
        raise ValueError(f"need at least 1000 samples for a usable KL estimate, got {samples}")
    grid = edit_window("uniform", steps, start, schedule.num_train_timesteps)
    eps = mixture_noise_predictor(data, schedule)
    T = schedule.num_train_timesteps
    levels = [grid[0].t] + [s.s for s in grid]
    times = [max(lv, 0) / T for lv in levels]
    curves = {}
    for name, eta in (("sde", 1.0), ("ode", 0.0)):
        gen = torch.Generator().manual_seed(seed)
        x = prior.sample(samples, gen)
        kls = [kl_samples_to_mixture(x, data.marginal(schedule.alpha_bar(grid[0].t)))]

        def record(_i: int, step: Step, x_s: torch.Tensor, kls: list[float] = kls) -> torch.Tensor:
            kls.append(kl_samples_to_mixture(x_s, data.marginal(schedule.alpha_bar(step.s))))
            return x_s

        sample(x, grid, eps, schedule, eta=eta, generator=gen, hook=record)
        curves[name] = kls
    if any(not math.isfinite(v) for v in curves["sde"] + curves["ode"]):
        raise FloatingPointError("KL estimate is not finite: prior too far from the data?")
    return KLCurve(times, curves["sde"], curves["ode"])
