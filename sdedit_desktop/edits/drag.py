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

from sdedit_desktop.diffusion.cycle_sde import (
    cycle_sde_sample,
    noise_adding_trajectory,
    trajectory_noise_predictions,
)
from sdedit_desktop.diffusion.ddim import ddim_invert, sample
from sdedit_desktop.diffusion.predictor import randn_like
from sdedit_desktop.diffusion.schedule import GridError, Step, edit_window, sd15_schedule
from sdedit_desktop.edits.options import ExecutionOptions, LoraProvider
from sdedit_desktop.edits.progress import EditError, StepReporter
from sdedit_desktop.edits.requests import DragRequest, EditResult
from sdedit_desktop.edits.session import EditSession

LatentPoint = tuple[int, int]  # (x, y) in latent pixels
LatentPair = tuple[LatentPoint, LatentPoint]


def drag_step_count(dmax: float, step_size: float) -> int:
    """1 if the longest drag fits one step, else the integer m whose step length dmax / m is
    closest to step_size (ties go to the smaller m)."""
    if step_size <= 0:
        raise EditError(f"the drag step size must be positive, got {step_size}")
    if dmax <= step_size:
        return 1
    lo = max(1, math.floor(dmax / step_size))
    hi = lo + 1
    return lo if abs(dmax / lo - step_size) <= abs(dmax / hi - step_size) else hi


def drag_plan(pairs: Sequence[LatentPair], step_size: float) -> list[list[LatentPair]]:
    """For every drag step i, the (source_i, target_i) of each pair:
    source_i = src + trunc(i d / m), target_i = src + trunc((i + 1) d / m)."""
    deltas = [(tx - sx, ty - sy) for (sx, sy), (tx, ty) in pairs]
    m = drag_step_count(max(math.hypot(dx, dy) for dx, dy in deltas), step_size)
    plan = []
    for i in range(m):
        step = []
        for ((sx, sy), _), (dx, dy) in zip(pairs, deltas, strict=True):
            step.append(((sx + int(i * dx / m), sy + int(i * dy / m)),
                         (sx + int((i + 1) * dx / m), sy + int((i + 1) * dy / m))))
        plan.append(step)
    return plan


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
    if not 0 < req.t0 <= 1:
        raise EditError(f"t0 must be in (0, 1], got {req.t0}")
    if req.half_size < 1:
        raise EditError(f"the patch half-size must be at least 1 latent pixel, got {req.half_size}")
    if not 0 <= req.source_scale <= 1:
        raise EditError(f"the source feature scale must be in [0, 1], got {req.source_scale}")
    session.check_points(req.points)
    schedule = sd15_schedule()
    try:
        steps = edit_window(req.grid, req.steps, req.t0)
    except GridError as exc:
        raise EditError(f"bad step settings: {exc}") from None
    cfg, lora_scale = guidance_schedules(req, steps)
    lora_id = session.attach_lora(lora, req.lora, req.prompt, reporter)
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
        phase = f"drag step {i + 1}/{len(plan)}"
        if req.method == "sde":
            traj = noise_adding_trajectory(current, steps, schedule, gen)
            states = traj.states
        else:
            reporter.report(f"inverting {i + 1}/{len(plan)}", 0, len(steps))
            states = ddim_invert(current, steps, eps, schedule,
                                 hook=session.progress_hook(f"inverting {i + 1}/{len(plan)}",
                                                            len(steps)))
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
