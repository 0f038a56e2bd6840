"""Reconstruction without an edit: Cycle-SDE vs DDIM inversion (the paper's Table 3)."""

from __future__ import annotations

import torch

from sdedit_desktop.core import phases
from sdedit_desktop.diffusion.cycle_sde import cycle_sde_sample, noise_adding_trajectory
from sdedit_desktop.diffusion.ddim import ddim_invert, sample
from sdedit_desktop.diffusion.grids import GridError, edit_window
from sdedit_desktop.edits.kinds.reconstruct import ReconstructRequest
from sdedit_desktop.edits.progress import EditError, StepReporter
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.edits.session import EditSession
from sdedit_desktop.edits.tensors import psnr


def run_reconstruct(session: EditSession, req: ReconstructRequest, reporter: StepReporter
                    ) -> EditResult:
    schedule = session.schedule
    try:
        steps = edit_window(req.grid, req.steps, req.t0, schedule.num_train_timesteps)
    except GridError as exc:
        raise EditError(f"bad step settings: {exc}") from None
    gen = torch.Generator().manual_seed(req.seed)
    x0 = session.encode()
    eps = session.calls.predictor(req.prompt, req.guidance)
    if req.method == "sde":
        traj = noise_adding_trajectory(x0, steps, schedule, gen)
        x = cycle_sde_sample(traj.start, traj, eps, schedule,
                             hook=session.progress_hook(phases.RECONSTRUCTING, len(steps)))
    else:
        states = ddim_invert(x0, steps, eps, schedule,
                             hook=session.progress_hook(phases.INVERTING, len(steps)))
        x = sample(states[0], steps, eps, schedule, eta=0.0,
                   hook=session.progress_hook(phases.RECONSTRUCTING, len(steps)))
    err = (x - x0).double()
    decoded = session.decode_work(x)
    reference = session.decode_work(x0)
    metrics = {
        "latent_max_abs_err": float(err.abs().max()),
        "latent_rmse": float(err.pow(2).mean().sqrt()),
        "psnr": psnr(decoded, reference),  # vs the decoded input latent: the diffusion's error
        "psnr_input": psnr(decoded, session.image),  # vs the input pixels: + the VAE's error
    }
    return session.result(req, session.size.to_original(decoded), metrics=metrics)
