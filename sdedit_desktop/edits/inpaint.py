"""Inpaint-SDE / Inpaint-ODE (paper Sec. 5.1): start from noise and, after every
(SDE-)DPM-Solver++ step, replace the known region (outside the mask) with the input latent noised
to the next level (docs/algorithms.md, "Inpainting")."""

from __future__ import annotations

import math

import torch

from sdedit_desktop.core import phases
from sdedit_desktop.diffusion.dpm_solver import dpm_solver_sample
from sdedit_desktop.diffusion.grids import GridError, Step, uniform_grid
from sdedit_desktop.diffusion.predictor import randn_like
from sdedit_desktop.diffusion.schedule import NoiseSchedule
from sdedit_desktop.edits.kinds.inpaint import InpaintRequest
from sdedit_desktop.edits.progress import EditError, StepReporter
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.edits.session import EditSession
from sdedit_desktop.edits.tensors import blend


def noised_known(x0: torch.Tensor, level: int, schedule: NoiseSchedule,
                 generator: torch.Generator, final: bool) -> torch.Tensor:
    """The input latent at `level`; at the end of sampling, the input itself, so the known
    region of the result is the input latent exactly. Fresh noise at every call, where
    diffusers' inpainting pipeline reuses its starting noise (docs/algorithms.md,
    "Inpainting")."""
    if final:
        return x0
    ab = schedule.alpha_bar(level)
    return math.sqrt(ab) * x0 + math.sqrt(1 - ab) * randn_like(x0, generator)


def run_inpaint(session: EditSession, req: InpaintRequest, reporter: StepReporter) -> EditResult:
    schedule = session.schedule
    try:
        # from noise: the top level is within a spacing of T-1
        grid = uniform_grid(req.steps, schedule.num_train_timesteps)
    except GridError as exc:
        raise EditError(f"bad step settings: {exc}") from None
    gen = torch.Generator().manual_seed(req.seed)
    x0 = session.encode()
    mask = session.latent_mask(x0)
    if mask is None or not bool(mask.any()):
        raise EditError("the mask does not cover a whole 8x8 block anywhere: paint a larger region")
    eps = session.calls.predictor(req.prompt, req.guidance, negative_prompt=req.negative_prompt)
    x = blend(randn_like(x0, gen), noised_known(x0, grid[0].t, schedule, gen, False), mask)

    def hook(i: int, step: Step, x_s: torch.Tensor) -> torch.Tensor:
        x_s = blend(x_s, noised_known(x0, step.s, schedule, gen, i == len(grid) - 1), mask)
        reporter.report(phases.INPAINTING, i + 1, len(grid), latent=x_s)
        return x_s

    x = dpm_solver_sample(x, grid, eps, schedule, req.method, req.order, gen, hook)
    # The user's pixels go back outside the mask, with the seam in the known region, when the
    # region is pasted into the original (edits/composite.py, SeamSide.OUTSIDE).
    return session.result(req, session.decode(x))
