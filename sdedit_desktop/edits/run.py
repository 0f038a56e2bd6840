"""`run_edit`: validate a request, run its kind's algorithm, and refuse a result that is not
finite."""

from __future__ import annotations

import math

import torch

from sdedit_desktop.core.progress import CancelFn, EditError, ProgressFn, StepReporter
from sdedit_desktop.edits.kind import EditKind
from sdedit_desktop.edits.kinds import kind_of
from sdedit_desktop.edits.options import ExecutionOptions, LoraProvider
from sdedit_desktop.edits.regional import edit_in_region
from sdedit_desktop.edits.requests import EditRequest, EditResult
from sdedit_desktop.edits.session import EditSession
from sdedit_desktop.models.interface import LatentDiffusionModel

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def run_edit(model: LatentDiffusionModel, request: EditRequest,
             progress: ProgressFn | None = None, cancel: CancelFn | None = None,
             lora: LoraProvider | None = None,
             options: ExecutionOptions | None = None) -> EditResult:
    """Run one edit. Raises EditError for a request that cannot run (message for users) or a
    result that is not finite, and EditCancelled when `cancel()` returned True (checked before
    every UNet call). The method runs on the request's region; the result is the full-size
    original with the region's edit pasted back (edits/regional.py)."""
    try:
        kind = kind_of(request)
    except KeyError:
        raise EditError(f"unknown edit type {type(request).__name__}") from None
    # edit_in_region checks the request (plan_region -> request.validate()) before any work.
    return edit_in_region(request, lambda cropped, report: _run_on_image(
        model, kind, cropped, report, cancel, lora, options), progress, kind.seam)


def _run_on_image(model: LatentDiffusionModel, kind: EditKind, request: EditRequest,
                  progress: ProgressFn | None, cancel: CancelFn | None,
                  lora: LoraProvider | None, options: ExecutionOptions | None) -> EditResult:
    reporter = StepReporter(progress, cancel)
    if options is None:
        # On a GPU the trajectory side of Cycle-SDE is cheapest batched ahead (the UNet call
        # costs about the same at batch 1 and 16); on a CPU batching buys nothing.
        on_gpu = getattr(model, "device", torch.device("cpu")).type == "cuda"
        options = ExecutionOptions(trajectory_batch=16 if on_gpu else 0)
    reporter.check_cancel()
    dtype_name = kind.latent_dtype(request)
    session = EditSession(model, request, reporter,
                          None if dtype_name is None else _DTYPES[dtype_name],
                          options.always_batch_uncond)
    try:
        result = kind.run(session, request, reporter, options, lora)
    finally:
        session.close()
    check_finite(result, session.non_finite_decodes)
    return result


def check_finite(result: EditResult, non_finite_decodes: int = 0) -> None:
    """A NaN/inf latent decodes to a black (uint8) image, and a NaN metric is no measurement:
    either is an error, never a success. An infinite PSNR is fine (identical images)."""
    if non_finite_decodes:
        raise EditError("the edit produced non-finite values (NaN or infinity) in the image: "
                        "the model or its precision failed on this input; try float32, other "
                        "parameters or another model")
    for name, value in result.metrics.items():
        if math.isnan(value) or (math.isinf(value) and not name.startswith("psnr")):
            raise EditError(f"the edit produced a non-finite {name} ({value}): the model or "
                            "its precision failed on this input")
