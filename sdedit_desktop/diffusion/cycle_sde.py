"""The noise-adding trajectory (Eq. 7) and Cycle-SDE (Eq. 8) (docs/algorithms.md,
"Cycle-SDE (Eq. 8)").

Cycle-SDE runs the DDPM step (eta = 1) but, instead of fresh noise, uses for each step the z that
makes the step taken from the *recorded* state land exactly on the next recorded state. Without
an edit the sample therefore reproduces the trajectory, i.e. reconstructs the input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sdedit_desktop.diffusion.ddim import StepHook, step_mean, step_sigma
from sdedit_desktop.diffusion.grids import GridError, Step
from sdedit_desktop.diffusion.predictor import NoisePredictor, randn_like
from sdedit_desktop.diffusion.schedule import NoiseSchedule


@dataclass
class Trajectory:
    """steps in reverse (sampling) order; states[i] is the state at steps[i].t and states[-1]
    the clean latent, so reverse step i goes from states[i] to states[i + 1]."""

    steps: list[Step]
    states: list[torch.Tensor]

    @property
    def start(self) -> torch.Tensor:
        return self.states[0]


def noise_adding_trajectory(x0: torch.Tensor, steps: Sequence[Step], schedule: NoiseSchedule,
                            generator: torch.Generator | None = None) -> Trajectory:
    """Eq. 7: a Markov chain from the clean latent up, y_t = sqrt(ab_t/ab_s) y_s +
    sqrt(1 - ab_t/ab_s) n with fresh n, over each step's own (s, t) pair. Keeps every state."""
    states = [x0]
    y = x0
    for step in reversed(steps):
        ratio = schedule.alpha_bar(step.t) / schedule.alpha_bar(step.s)
        y = math.sqrt(ratio) * y + math.sqrt(1.0 - ratio) * randn_like(y, generator)
        states.append(y)
    return Trajectory(list(steps), list(reversed(states)))


def cycle_noise(y_t: torch.Tensor, y_s: torch.Tensor, eps_y: torch.Tensor, step: Step,
                schedule: NoiseSchedule) -> torch.Tensor:
    """Eq. 8: z = (y_s - sqrt(ab_s) x0(y_t) - c eps(y_t)) / sigma for the DDPM step t -> s."""
    ab_t, ab_s = schedule.alpha_bar(step.t), schedule.alpha_bar(step.s)
    sigma = step_sigma(ab_t, ab_s, 1.0)
    if sigma <= 0.0:
        raise GridError(f"Cycle-SDE needs sigma > 0 on every step (step {step.t}->{step.s})")
    return (y_s - step_mean(y_t, eps_y, ab_t, ab_s, sigma)) / sigma


def cycle_sde_step(x: torch.Tensor, eps_x: torch.Tensor, z: torch.Tensor, step: Step,
                   schedule: NoiseSchedule) -> torch.Tensor:
    ab_t, ab_s = schedule.alpha_bar(step.t), schedule.alpha_bar(step.s)
    sigma = step_sigma(ab_t, ab_s, 1.0)
    return step_mean(x, eps_x, ab_t, ab_s, sigma) + sigma * z


def trajectory_noise_predictions(traj: Trajectory, eps_fn: NoisePredictor,
                                 batch_size: int = 1) -> list[torch.Tensor]:
    """eps(y_t, t) for every recorded state. They do not depend on the edit, so they can be
    computed ahead, `batch_size` steps per model call (t varies within a batch)."""
    out: list[torch.Tensor] = []
    n = len(traj.steps)
    for lo in range(0, n, max(batch_size, 1)):
        hi = min(lo + batch_size, n)
        if hi - lo == 1:
            out.append(eps_fn(traj.states[lo], traj.steps[lo].t))
            continue
        ys = torch.cat(traj.states[lo:hi])
        # levels stay on the CPU: guidance reads them per sample without a device sync
        ts = torch.tensor([traj.steps[i].t for i in range(lo, hi)])
        ts = ts.repeat_interleave(traj.states[lo].shape[0])
        out.extend(eps_fn(ys, ts).split(traj.states[lo].shape[0]))
    return out


def cycle_sde_sample(x: torch.Tensor, traj: Trajectory, eps_fn: NoisePredictor,
                     schedule: NoiseSchedule, trajectory_eps: Sequence[torch.Tensor] | None = None,
                     hook: StepHook | None = None,
                     trajectory_eps_fn: NoisePredictor | None = None) -> torch.Tensor:
    """Cycle-SDE from x (at traj.steps[0].t) down to the clean level.

    `eps_fn` predicts on the sample; `trajectory_eps_fn` (default: the same) on the recorded
    states, e.g. with the source prompt in DiffEdit. Precomputed `trajectory_eps` skip those
    calls. Without them, both predictions of a step share one model call (batch 2).
    """
    traj_fn = trajectory_eps_fn or eps_fn
    for i, step in enumerate(traj.steps):
        y_t, y_s = traj.states[i], traj.states[i + 1]
        if trajectory_eps is not None:
            eps_y, eps_x = trajectory_eps[i], eps_fn(x, step.t)
        elif traj_fn is eps_fn:
            eps_x, eps_y = eps_fn(torch.cat([x, y_t]), step.t).chunk(2)
        else:
            eps_x, eps_y = eps_fn(x, step.t), traj_fn(y_t, step.t)
        z = cycle_noise(y_t, y_s, eps_y, step, schedule)
        x = cycle_sde_step(x, eps_x, z, step, schedule)
        if hook is not None:
            x = hook(i, step, x)
    return x
