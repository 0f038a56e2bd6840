"""DPM-Solver++ (data prediction, multistep), first and second order, in ODE and SDE form.

With alpha_t = sqrt(ab_t), sigma_t = sqrt(1 - ab_t), lambda_t = log(alpha_t / sigma_t) and
h = lambda_s - lambda_t for a step t -> s (Lu et al. 2022; the SDE form is the paper's
SDE-DPM-Solver++, whose first order equals the DDPM step):
  ODE:  x_s = sigma_s/sigma_t x_t + alpha_s (1 - e^-h) D
  SDE:  x_s = sigma_s/sigma_t e^-h x_t + alpha_s (1 - e^-2h) D + sigma_s sqrt(1 - e^-2h) z
with D = m0 for order 1 and D = m0 + (m0 - m1) / (2 r), r = h_prev / h, for order 2 (the
midpoint form), m0 and m1 the current and previous data predictions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch

from sdedit_desktop.diffusion.ddim import StepHook, predict_x0
from sdedit_desktop.diffusion.grids import Step
from sdedit_desktop.diffusion.predictor import NoisePredictor, randn_like
from sdedit_desktop.diffusion.schedule import NoiseSchedule

SolverForm = Literal["ode", "sde"]


def _lambda(ab: float) -> float:
    return 0.5 * math.log(ab / (1.0 - ab))


def dpm_solver_step(x: torch.Tensor, m0: torch.Tensor, step: Step, schedule: NoiseSchedule,
                    form: SolverForm, m1: torch.Tensor | None = None,
                    prev_t: int | None = None, noise: torch.Tensor | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """One step t -> s. Second order when the previous data prediction m1 (made at level
    prev_t) is given, else first order."""
    ab_t, ab_s = schedule.alpha_bar(step.t), schedule.alpha_bar(step.s)
    alpha_s, sigma_s, sigma_t = math.sqrt(ab_s), math.sqrt(1 - ab_s), math.sqrt(1 - ab_t)
    h = _lambda(ab_s) - _lambda(ab_t)
    d = m0
    if m1 is not None and prev_t is not None:
        r = (_lambda(ab_t) - _lambda(schedule.alpha_bar(prev_t))) / h
        d = m0 + (m0 - m1) / (2.0 * r)
    if form == "ode":
        return (sigma_s / sigma_t) * x + alpha_s * (-math.expm1(-h)) * d
    if form == "sde":
        z = noise if noise is not None else randn_like(x, generator)
        return ((sigma_s / sigma_t) * math.exp(-h) * x + alpha_s * (-math.expm1(-2 * h)) * d
                + sigma_s * math.sqrt(-math.expm1(-2 * h)) * z)
    raise ValueError(f"unknown solver form {form!r} (expected 'ode' or 'sde')")


def dpm_solver_sample(x: torch.Tensor, steps: Sequence[Step], eps_fn: NoisePredictor,
                      schedule: NoiseSchedule, form: SolverForm = "sde", order: int = 2,
                      generator: torch.Generator | None = None,
                      hook: StepHook | None = None) -> torch.Tensor:
    """Multistep DPM-Solver++ over `steps`; the first step (no history yet) is first order."""
    if order not in (1, 2):
        raise ValueError(f"DPM-Solver++ order must be 1 or 2, got {order}")
    prev: tuple[torch.Tensor, int] | None = None
    for i, step in enumerate(steps):
        m0 = predict_x0(x, eps_fn(x, step.t), schedule.alpha_bar(step.t))
        m1, prev_t = prev if (order == 2 and prev is not None) else (None, None)
        x = dpm_solver_step(x, m0, step, schedule, form, m1, prev_t, generator=generator)
        prev = (m0, step.t)
        if hook is not None:
            x = hook(i, step, x)
    return x
