"""What phases an edit will report and what their steps cost, estimated from the request.

Only used for the whole-job progress bar and the ETA (see progress_tracker.py): a wrong guess
costs accuracy, never correctness - the tracker trusts the totals the edit reports and drops or
adds phases as they show up. Costs are in UNet samples per step (CFG doubles a batch).
"""

from __future__ import annotations

import math

from sdedit_desktop.edits.requests import (
    DiffEditRequest,
    DragRequest,
    EditRequest,
    InpaintRequest,
    ReconstructRequest,
)
from sdedit_desktop.engine.progress_tracker import JobPlan, PlannedPhase

# Per-image LoRA training step: forward + backward of one sample ~ 3 forward passes.
LORA_STEPS = 100
LORA_STEP_COST = 3.0
# Noise-adding (Eq. 7) makes no model call: its steps are almost free.
NOISING_STEP_COST = 0.02


def _drag_steps(request: DragRequest) -> int:
    """Number of drag steps m (Alg. 1, step 1), in latent pixels as the edit computes it."""
    if not request.points:
        return 1
    longest = max(math.hypot(t[0] // 8 - s[0] // 8, t[1] // 8 - s[1] // 8)
                  for s, t in request.points)
    if longest <= request.step_size:
        return 1
    low = max(1, int(longest // request.step_size))
    return min((low, low + 1), key=lambda m: abs(longest / m - request.step_size))


def _drag_plan(request: DragRequest) -> JobPlan:
    phases: list[PlannedPhase] = []
    if request.lora != "off":
        phases.append(PlannedPhase("LoRA", LORA_STEPS, LORA_STEP_COST))
    k = max(1, int(request.t0 * request.steps))
    m = _drag_steps(request)
    # SDE: noising is free, each reverse step predicts on the sample and on the recorded
    # trajectory, with and without the prompt (4 samples). ODE: K inversion steps (2 samples)
    # then K sampling steps (2 samples).
    up_cost = NOISING_STEP_COST if request.method == "sde" else 2.0
    down_cost = 4.0 if request.method == "sde" else 2.0
    for i in range(1, m + 1):
        phases.append(PlannedPhase("noising" if request.method == "sde" else "inverting", k,
                                   up_cost))
        phases.append(PlannedPhase(f"drag step {i}/", k, down_cost))
    return tuple(phases)


def _inpaint_plan(request: InpaintRequest) -> JobPlan:
    return (PlannedPhase("sampling", request.steps, 2.0),)


def _diffedit_plan(request: DiffEditRequest) -> JobPlan:
    phases: list[PlannedPhase] = []
    if request.mask_mode == "auto":
        # Two prompts per noised sample.
        phases.append(PlannedPhase("mask", request.mask_samples, 4.0))
    k = max(1, int(request.encode_ratio * request.steps))
    if request.method == "sde":
        phases += [PlannedPhase("noising", k, NOISING_STEP_COST), PlannedPhase("sampling", k, 4.0)]
    else:
        phases += [PlannedPhase("inverting", k, 2.0), PlannedPhase("sampling", k, 2.0)]
    return tuple(phases)


def _reconstruct_plan(request: ReconstructRequest) -> JobPlan:
    k = max(1, int(request.t0 * request.steps))
    if request.method == "sde":
        return (PlannedPhase("noising", k, NOISING_STEP_COST), PlannedPhase("sampling", k, 4.0))
    return (PlannedPhase("inverting", k, 2.0), PlannedPhase("sampling", k, 2.0))


def plan_for(request: EditRequest) -> JobPlan:
    """The expected phases of `request`; an empty plan for an unknown kind (then the tracker
    follows the phases as they come)."""
    if isinstance(request, DragRequest):
        return _drag_plan(request)
    if isinstance(request, InpaintRequest):
        return _inpaint_plan(request)
    if isinstance(request, DiffEditRequest):
        return _diffedit_plan(request)
    if isinstance(request, ReconstructRequest):
        return _reconstruct_plan(request)
    return ()
