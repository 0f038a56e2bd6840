"""DDIM / DDPM steps (paper Eq. 6), DDIM inversion, and the plain sampling loop
(docs/algorithms.md, "DDIM / DDPM step (Eq. 6)").

eta = 0 is DDIM (the probability-flow ODE), eta = 1 is DDPM (the SDE).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from sdedit_desktop.diffusion.grids import Step
from sdedit_desktop.diffusion.predictor import NoisePredictor, randn_like
from sdedit_desktop.diffusion.schedule import NoiseSchedule

# Called after every step with (step index, step, new latent); returns the latent to continue
# with (e.g. with the region outside a mask reset). Used for masks, progress and cancel.
StepHook = Callable[[int, Step, torch.Tensor], torch.Tensor]


def predict_x0(x: torch.Tensor, eps: torch.Tensor, ab_t: float) -> torch.Tensor:
    return (x - math.sqrt(1.0 - ab_t) * eps) / math.sqrt(ab_t)


def step_sigma(ab_t: float, ab_s: float, eta: float) -> float:
    """sigma of Eq. 6 for a step from level t to the less noisy level s."""
    return eta * math.sqrt((1.0 - ab_s) / (1.0 - ab_t)) * math.sqrt(max(1.0 - ab_t / ab_s, 0.0))


def step_mean(x: torch.Tensor, eps: torch.Tensor, ab_t: float, ab_s: float,
              sigma: float) -> torch.Tensor:
    """The deterministic part of Eq. 6: sqrt(ab_s) x0 + sqrt(1 - ab_s - sigma^2) eps."""
    c = math.sqrt(max(1.0 - ab_s - sigma * sigma, 0.0))
    return math.sqrt(ab_s) * predict_x0(x, eps, ab_t) + c * eps


def ddim_step(x: torch.Tensor, eps: torch.Tensor, step: Step, schedule: NoiseSchedule,
              eta: float = 0.0, noise: torch.Tensor | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """One step of Eq. 6 from step.t to step.s. With eta > 0 the noise z is `noise` if given,
    else drawn from `generator`."""
    ab_t, ab_s = schedule.alpha_bar(step.t), schedule.alpha_bar(step.s)
    sigma = step_sigma(ab_t, ab_s, eta)
    out = step_mean(x, eps, ab_t, ab_s, sigma)
    if sigma > 0.0:
        z = noise if noise is not None else randn_like(x, generator)
        out = out + sigma * z
    return out


def ddim_inversion_step(x: torch.Tensor, eps: torch.Tensor, step: Step,
                        schedule: NoiseSchedule) -> torch.Tensor:
    """The ODE run backwards, from level step.s up to step.t:
    x_t = sqrt(ab_t) x0(x_s) + sqrt(1 - ab_t) eps."""
    ab_t, ab_s = schedule.alpha_bar(step.t), schedule.alpha_bar(step.s)
    return math.sqrt(ab_t) * predict_x0(x, eps, ab_s) + math.sqrt(1.0 - ab_t) * eps


def ddim_invert(x0: torch.Tensor, steps: Sequence[Step], eps_fn: NoisePredictor,
                schedule: NoiseSchedule, hook: StepHook | None = None) -> list[torch.Tensor]:
    """DDIM inversion over `steps` (given in reverse order, as sampled) from the clean latent up.

    The noise is predicted at the step's upper level t on the current (lower) latent, as
    diffusers' DDIMInverseScheduler and null-text inversion do: the clean level has no UNet
    timestep of its own on the uniform grid. Returns the states aligned with `steps`:
    states[i] is the latent at steps[i].t, states[len] the input.
    """
    states = [x0]
    x = x0
    for i, step in enumerate(reversed(steps)):
        x = ddim_inversion_step(x, eps_fn(x, step.t), step, schedule)
        if hook is not None:
            x = hook(i, step, x)
        states.append(x)
    return list(reversed(states))


def sample(x: torch.Tensor, steps: Sequence[Step], eps_fn: NoisePredictor,
           schedule: NoiseSchedule, eta: float = 0.0, generator: torch.Generator | None = None,
           hook: StepHook | None = None) -> torch.Tensor:
    """Run DDIM (eta=0) or DDPM (eta=1) from x at steps[0].t to steps[-1].s."""
    for i, step in enumerate(steps):
        x = ddim_step(x, eps_fn(x, step.t), step, schedule, eta, generator=generator)
        if hook is not None:
            x = hook(i, step, x)
    return x
