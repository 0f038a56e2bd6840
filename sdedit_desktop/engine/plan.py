"""What phases an edit will report and what their steps cost, estimated from the request.

Only used for the whole-job progress bar and the ETA (see progress_tracker.py): a wrong guess
costs accuracy, never correctness - the tracker trusts the totals the edit reports and drops or
adds phases as they show up. Phase names are the ones edits/ reports; costs are in UNet samples
per step (classifier-free guidance doubles a batch; Cycle-SDE also predicts on the recorded
trajectory).
"""

from __future__ import annotations

from sdedit_desktop.edits.drag import drag_plan
from sdedit_desktop.edits.geometry import working_size
from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.edits.requests import (
    DiffEditRequest,
    DragRequest,
    EditRequest,
    InpaintRequest,
    ReconstructRequest,
)
from sdedit_desktop.engine.progress_tracker import JobPlan, PlannedPhase

# Per-image LoRA training: 100 steps, each a forward + backward pass of one sample (~3 samples).
LORA_STEPS = 100
LORA_STEP_COST = 3.0
LATENT_FACTOR = 8  # image pixels per latent pixel (SD 1.5)


def drag_step_count(request: DragRequest) -> int:
    """The number of drag steps m the edit will make (Alg. 1, step 1), computed the way the
    edit does it: points mapped to the working size, then to latent pixels. 1 if the request
    is invalid (the edit then fails before any step)."""
    if not request.points:
        return 1
    height, width = request.image.shape[:2]
    try:
        size = working_size(width, height, request.max_side)
        pairs = [tuple(_latent(size.point_to_work(p)) for p in pair) for pair in request.points]
        return len(drag_plan(pairs, request.step_size))
    except (EditError, ValueError, ZeroDivisionError):
        return 1


def _latent(point: tuple[int, int]) -> tuple[int, int]:
    return point[0] // LATENT_FACTOR, point[1] // LATENT_FACTOR


def _drag_plan(request: DragRequest) -> JobPlan:
    phases: list[PlannedPhase] = []
    if request.lora != "off":
        phases.append(PlannedPhase("LoRA", LORA_STEPS, LORA_STEP_COST))
    k = max(1, int(request.t0 * request.steps))
    m = drag_step_count(request)
    # Guidance rises from 1 to 3 along the reverse pass: about 1.5 samples per prediction.
    for i in range(1, m + 1):
        if request.method == "sde":
            # Noise-adding makes no model call (no phase); each reverse step predicts on the
            # sample and on the recorded trajectory.
            phases.append(PlannedPhase(f"drag step {i}/", k, 3.0))
        else:
            phases.append(PlannedPhase(f"inverting {i}/", k, 1.5))
            phases.append(PlannedPhase(f"drag step {i}/", k, 1.5))
    return tuple(phases)


def _guided(scale: float) -> float:
    return 1.0 if scale == 1.0 else 2.0


def _inpaint_plan(request: InpaintRequest) -> JobPlan:
    return (PlannedPhase("inpainting", request.steps, _guided(request.guidance)),)


def _diffedit_plan(request: DiffEditRequest) -> JobPlan:
    phases: list[PlannedPhase] = []
    if request.mask_mode == "auto":
        # Reported as one step; it predicts under both prompts for every noise sample.
        phases.append(PlannedPhase("computing mask", 1, 2.0 * max(1, request.mask_samples)))
    k = max(1, int(request.encode_ratio * request.steps))
    guided = _guided(request.guidance)
    if request.method == "sde":
        phases.append(PlannedPhase("editing", k, 2 * guided))
    else:
        phases += [PlannedPhase("inverting", k, 1.0), PlannedPhase("editing", k, guided)]
    return tuple(phases)


def _reconstruct_plan(request: ReconstructRequest) -> JobPlan:
    k = max(1, round(request.t0 * request.steps))
    guided = _guided(request.guidance)
    if request.method == "sde":
        return (PlannedPhase("reconstructing", k, 2 * guided),)
    return (PlannedPhase("inverting", k, guided), PlannedPhase("reconstructing", k, guided))


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
