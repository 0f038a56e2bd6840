"""DiffEdit-SDE / DiffEdit-ODE (paper Sec. 5.2), with DiffEdit's automatic mask
(docs/algorithms.md, "DiffEdit")."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from sdedit_desktop.core import phases
from sdedit_desktop.diffusion.cycle_sde import cycle_sde_sample, noise_adding_trajectory
from sdedit_desktop.diffusion.ddim import ddim_invert, sample
from sdedit_desktop.diffusion.grids import (
    GridError,
)
from sdedit_desktop.diffusion.predictor import NoisePredictor, randn_like
from sdedit_desktop.edits.kinds.diffedit import DiffEditRequest, auto_mask_level, diffedit_window
from sdedit_desktop.edits.progress import EditError, StepReporter
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.edits.session import EditSession


def diffedit_mask(x0: torch.Tensor, level: int, ab: float, eps_target: NoisePredictor,
                  eps_source: NoisePredictor, samples: int, threshold: float,
                  generator: torch.Generator) -> torch.Tensor:
    """Noise the latent to `level` `samples` times; |eps_target - eps_source| averaged over
    samples and channels, clamped to [0, 3 mean] and divided by 3 mean (DiffEdit and diffusers'
    `generate_mask`; not by the maximum, so a flat map, i.e. a global edit, gives an empty
    mask), thresholded. Returns a [1,1,h,w] 0/1 mask."""
    noisy = torch.cat([
        math.sqrt(ab) * x0 + math.sqrt(1 - ab) * randn_like(x0, generator) for _ in range(samples)
    ])
    diff = (eps_target(noisy, level) - eps_source(noisy, level)).abs().mean(dim=(0, 1))
    return (normalised_difference(diff) > threshold).to(x0.dtype)[None, None]


def normalised_difference(diff: torch.Tensor, ratio: float = 3.0) -> torch.Tensor:
    """diff clamped to [0, ratio * mean] and divided by ratio * mean (all zero if diff is)."""
    bound = ratio * float(diff.mean())
    if bound <= 0:
        return torch.zeros_like(diff)
    return diff.clamp(0, bound) / bound


def mask_to_pixels(mask: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """[1,1,h,w] latent mask -> HxW uint8 at (width, height) `size`, nearest."""
    up = F.interpolate(mask.float().cpu(), size=(size[1], size[0]), mode="nearest")
    return (up[0, 0].numpy() * 255).astype(np.uint8)


def run_diffedit(session: EditSession, req: DiffEditRequest, reporter: StepReporter
                 ) -> EditResult:
    # Parameter ranges are checked by DiffEditRequest.validate() (run_edit calls it).
    auto = req.mask_mode == "auto"
    schedule = session.schedule
    levels = schedule.num_train_timesteps
    try:
        steps = diffedit_window(req, levels)
        mask_level = auto_mask_level(req, levels) if auto else 0
    except GridError as exc:
        raise EditError(f"bad step settings: {exc}") from None
    gen = torch.Generator().manual_seed(req.seed)
    x0 = session.encode()

    mask_pixels = None
    if auto:
        reporter.report(phases.COMPUTING_MASK, 0, 1)
        mask = diffedit_mask(x0, mask_level, schedule.alpha_bar(mask_level),
                             session.calls.predictor(req.target_prompt),
                             session.calls.predictor(req.source_prompt),
                             req.mask_samples, req.mask_threshold, gen)
        reporter.report(phases.COMPUTING_MASK, 1, 1)
        mask_pixels = session.size.mask_to_original(mask_to_pixels(mask, session.size.work))
    elif req.mask_mode == "user":
        mask = session.latent_mask(x0)
        mask_pixels = req.mask
    else:
        mask = None  # the whole image: DDIB-style prompt-to-prompt translation

    eps_source = session.calls.predictor(req.source_prompt, req.guidance)
    if req.method == "sde":
        # the sample under the target prompt, z solved from the trajectory under the source one
        eps_target = session.calls.predictor(req.target_prompt, req.guidance)
        traj = noise_adding_trajectory(x0, steps, schedule, gen)
        x = cycle_sde_sample(traj.start, traj, eps_target, schedule, trajectory_eps_fn=eps_source,
                             hook=session.reverse_hook(phases.EDITING, traj.states, mask))
    else:
        # The paper's baseline (App. F.3, the official code = diffusers' DiffEdit): DDIM
        # inversion with the source prompt at the request's CFG, then DDIM sampling with the
        # target prompt against the source prompt as the negative one, at the same CFG.
        states = ddim_invert(x0, steps, eps_source, schedule,
                             hook=session.progress_hook(phases.INVERTING, len(steps)))
        eps_edit = session.calls.predictor(req.target_prompt, req.guidance,
                                           negative_prompt=req.source_prompt)
        if req.grid == "reference":
            # diffusers' DiffEdit resets outside the mask after step i with the inversion's
            # state *before* the step (one level too noisy), ending on the level-1 latent there.
            states = [states[0], *states[:-1]]
        x = sample(states[0], steps, eps_edit, schedule, eta=0.0,
                   hook=session.reverse_hook(phases.EDITING, states, mask))
    return session.result(req, session.decode(x), mask=mask_pixels)
