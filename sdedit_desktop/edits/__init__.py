"""The editing methods as plain functions of (model, request, progress, cancel) -> result.

`run_edit` is the one entry point the GUI engine, the CLI, the tests and the benchmark share.
"""

from __future__ import annotations

import torch

from sdedit_desktop.edits.diffedit import run_diffedit
from sdedit_desktop.edits.drag import run_drag
from sdedit_desktop.edits.inpaint import run_inpaint
from sdedit_desktop.edits.options import ExecutionOptions, LoraProvider
from sdedit_desktop.edits.progress import (
    CancelFn,
    EditCancelled,
    EditError,
    Progress,
    ProgressFn,
    StepReporter,
)
from sdedit_desktop.edits.reconstruct import run_reconstruct
from sdedit_desktop.edits.regional import edit_in_region
from sdedit_desktop.edits.requests import (
    DiffEditRequest,
    DragRequest,
    EditRequest,
    EditResult,
    InpaintRequest,
    ReconstructRequest,
)
from sdedit_desktop.edits.session import EditSession
from sdedit_desktop.models.interface import LatentDiffusionModel

__all__ = [
    "DiffEditRequest", "DragRequest", "EditCancelled", "EditError", "EditRequest", "EditResult",
    "ExecutionOptions", "InpaintRequest", "Progress", "ReconstructRequest", "run_edit",
]


def run_edit(model: LatentDiffusionModel, request: EditRequest,
             progress: ProgressFn | None = None, cancel: CancelFn | None = None,
             lora: LoraProvider | None = None,
             options: ExecutionOptions | None = None) -> EditResult:
    """Run one edit. Raises EditError for a request that cannot run (message for users) and
    EditCancelled when `cancel()` returned True (checked before every UNet call). The method
    runs on the request's region; the result is the full-size original with the region's edit
    pasted back (edits/regional.py)."""
    return edit_in_region(request, lambda cropped, report: _run_on_image(
        model, cropped, report, cancel, lora, options), progress)


def _run_on_image(model: LatentDiffusionModel, request: EditRequest,
                  progress: ProgressFn | None, cancel: CancelFn | None,
                  lora: LoraProvider | None, options: ExecutionOptions | None) -> EditResult:
    if request.method not in ("sde", "ode"):
        raise EditError(f"unknown method {request.method!r}: expected 'sde' or 'ode'")
    reporter = StepReporter(progress, cancel)
    if options is None:
        # On a GPU the trajectory side of Cycle-SDE is cheapest batched ahead (the UNet call
        # costs about the same at batch 1 and 16); on a CPU batching buys nothing.
        on_gpu = getattr(model, "device", torch.device("cpu")).type == "cuda"
        options = ExecutionOptions(trajectory_batch=16 if on_gpu else 0)
    reporter.check_cancel()
    latent_dtype = None
    if isinstance(request, ReconstructRequest):
        latent_dtype = torch.float64 if request.dtype == "float64" else torch.float32
    session = EditSession(model, request, reporter, isinstance(request, InpaintRequest),
                          latent_dtype, options.always_batch_uncond)
    try:
        if isinstance(request, DragRequest):
            return run_drag(session, request, reporter, options, lora)
        if isinstance(request, InpaintRequest):
            return run_inpaint(session, request, reporter)
        if isinstance(request, DiffEditRequest):
            return run_diffedit(session, request, reporter)
        if isinstance(request, ReconstructRequest):
            return run_reconstruct(session, request, reporter)
    finally:
        session.close()
    raise EditError(f"unknown edit type {type(request).__name__}")
