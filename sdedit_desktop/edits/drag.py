"""SDE-Drag and the ODE-Drag baseline (paper Sec. 4.1, Algorithm 1).

Deviations from the reference code, on purpose (docs/algorithms.md, "SDE-Drag"):
* the CFG and LoRA-scale schedules run exactly from their end points (3 / 0.5 at the first
  reverse step, 1 / 1 at the last) instead of overshooting the schedule index;
* with a mask, the region outside it is reset before the first reverse step too, not only after;
* the mask means what the UI says: white = may change;
* copy-and-paste clips patches against W / H, not W - 1 / H - 1 (see `patch_box`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sdedit_desktop.core import phases
from sdedit_desktop.diffusion.cycle_sde import (
    cycle_sde_sample,
    noise_adding_trajectory,
    trajectory_noise_predictions,
)
from sdedit_desktop.diffusion.ddim import ddim_invert, sample
from sdedit_desktop.diffusion.grids import GridError, Step, edit_window
from sdedit_desktop.diffusion.predictor import randn_like
from sdedit_desktop.edits.drag_steps import (
    LatentPair,
    LatentPoint,
    drag_plan,
    drag_step_count,
)
from sdedit_desktop.edits.kinds.drag import DragRequest
from sdedit_desktop.edits.options import ExecutionOptions, LoraProvider
from sdedit_desktop.edits.progress import EditError, StepReporter
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.edits.session import EditSession

__all__ = ["copy_paste", "drag_plan", "drag_step_count", "guidance_schedules", "patch_box",
           "run_drag"]


@dataclass(frozen=True)
class PatchBox:
    left: int
    right: int
    top: int
    bottom: int

    def at(self, x: int, y: int) -> tuple[slice, slice]:
        return slice(y - self.top, y + self.bottom), slice(x - self.left, x + self.right)


def patch_box(src: LatentPoint, tgt: LatentPoint, half: int, width: int, height: int) -> PatchBox:
    """Extents of the square of half-size `half` around both points, clipped so that both
    squares fit the latent (same shape at source and target). The reference code clips against
    W - 1 / H - 1, so its patches never reach the last column or row; the slices here are
    end-exclusive, so W / H is the true bound (docs/algorithms.md, "SDE-Drag")."""
    (sx, sy), (tx, ty) = src, tgt
    return PatchBox(min(half, sx, tx), min(half, width - sx, width - tx),
                    min(half, sy, ty), min(half, height - sy, height - ty))


def copy_paste(latent: torch.Tensor, pairs: Sequence[LatentPair], half: int,
               source_scale: float, target_scale: float,
               generator: torch.Generator | None) -> torch.Tensor:
    """Alg. 1's edit at t0, pair by pair in order: F = source patch; source <- s F + sqrt(1-s^2) n;
    target <- a F."""
    out = latent.clone()
    height, width = out.shape[-2:]
    for src, tgt in pairs:
        box = patch_box(src, tgt, half, width, height)
        rows_s, cols_s = box.at(*src)
        rows_t, cols_t = box.at(*tgt)
        feature = out[..., rows_s, cols_s].clone()
        noise = randn_like(feature, generator)
        out[..., rows_s, cols_s] = source_scale * feature + math.sqrt(1 - source_scale**2) * noise
        out[..., rows_t, cols_t] = target_scale * feature
    return out


def guidance_schedules(req: DragRequest, steps: Sequence[Step]) -> tuple[dict, dict]:
    """CFG rising linearly from cfg_min (last reverse step) to cfg_max (first, at t0); LoRA scale
    falling on a cosine from lora_scale_max (last) to lora_scale_min (first), keyed by level."""
    k = len(steps)
    cfg, lora = {}, {}
    for i, step in enumerate(steps):
        frac = i / (k - 1) if k > 1 else 0.0  # 0 at t0, 1 at the last step
        cfg[step.t] = req.cfg_max - (req.cfg_max - req.cfg_min) * frac
        lora[step.t] = req.lora_scale_min + (req.lora_scale_max - req.lora_scale_min) * \
            (1 - math.cos(math.pi * frac)) / 2
    return cfg, lora


def run_drag(session: EditSession, req: DragRequest, reporter: StepReporter,
             options: ExecutionOptions, lora: LoraProvider | None) -> EditResult:
    # Parameter ranges and points are checked by DragRequest.validate() (run_edit calls it).
    schedule = session.schedule
    try:
        steps = edit_window(req.grid, req.steps, req.t0, schedule.num_train_timesteps)
    except GridError as exc:
        raise EditError(f"bad step settings: {exc}") from None
    cfg, lora_scale = guidance_schedules(req, steps)
    lora_id = session.attach_lora(lora, req.lora, req.prompt, reporter, req.lora_rank)
    if lora_id is None:
        lora_scale = {t: 1.0 for t in lora_scale}  # nothing attached: one group per call
    eps = session.calls.predictor(req.prompt, cfg.__getitem__, lora_scale.__getitem__)
    gen = torch.Generator().manual_seed(req.seed)

    current = session.encode()
    mask = session.latent_mask(current)
    pairs = [tuple(session.point_to_latent(p) for p in pair) for pair in req.points]
    plan = drag_plan(pairs, req.step_size)
    trajectory_images = []
    timings: dict[str, float] = {}
    for i, step_pairs in enumerate(plan):
        t_start = time.perf_counter()
        phase = phases.drag_step(i + 1, len(plan))
        if req.method == "sde":
            traj = noise_adding_trajectory(current, steps, schedule, gen)
            states = traj.states
        else:
            inverting = phases.drag_inverting(i + 1, len(plan))
            reporter.report(inverting, 0, len(steps))
            states = ddim_invert(current, steps, eps, schedule,
                                 hook=session.progress_hook(inverting, len(steps)))
        x = copy_paste(states[0], step_pairs, req.half_size, req.source_scale, req.target_scale,
                       gen)
        x = session.reset_outside(x, states[0], mask)
        hook = session.reverse_hook(phase, states, mask)
        if req.method == "sde":
            traj_eps = None
            if options.trajectory_batch > 1:
                traj_eps = trajectory_noise_predictions(traj, eps, options.trajectory_batch)
            x = cycle_sde_sample(x, traj, eps, schedule, trajectory_eps=traj_eps, hook=hook)
        else:
            x = sample(x, steps, eps, schedule, eta=0.0, hook=hook)
        current = x
        image = session.decode(current)
        trajectory_images.append(image)
        reporter.report(phase, len(steps), len(steps), latent=current, image=image)
        timings[f"drag_step_{i + 1}"] = time.perf_counter() - t_start
    return session.result(req, trajectory_images[-1], trajectory=trajectory_images,
                          timings=timings, lora_id=lora_id)
