"""Running an edit on its region: crop the request, run the method on the crop, paste the result
back into the original (edits/region.py, edits/composite.py). The per-method code never knows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from sdedit_desktop.edits.composite import Compositor, SeamSide
from sdedit_desktop.edits.geometry import (
    working_size,
)
from sdedit_desktop.edits.progress import Progress, ProgressFn
from sdedit_desktop.edits.region import Region, paste, resolve_region
from sdedit_desktop.edits.requests import EditRequest, EditResult


def edit_in_region(request: EditRequest,
                   run: Callable[[EditRequest, ProgressFn | None], EditResult],
                   progress: ProgressFn | None = None,
                   seam: SeamSide = SeamSide.INSIDE) -> EditResult:
    """`run(cropped, progress)` edits a whole (cropped) request; this returns the full-size
    result of `request`: pixels outside the mask and its seam (or, without a mask, outside the
    region) are the input's, bit for bit. `seam`: which side of the mask the seam lies on (the
    edit kind's to say). Progress previews come back placed in the whole image."""
    region = plan_region(request)
    return put_back(request, region, run(request.in_region(region),
                                         _placed_progress(request, region, progress, seam)),
                    seam)


def _placed_progress(request: EditRequest, region: Region, progress: ProgressFn | None,
                     seam: SeamSide = SeamSide.INSIDE) -> ProgressFn | None:
    """Progress with decoded previews pasted into the original and latents tagged with their
    region, so a preview never shows the crop as if it were the whole photo."""
    if progress is None:
        return None
    preview_mask = request.limiting_mask()
    compositor: list[Compositor] = []  # built on the first decoded preview (most have none)

    def report(p: Progress) -> None:
        image = p.image
        if isinstance(image, np.ndarray):
            if not compositor:
                compositor.append(Compositor(request.image, region, preview_mask,
                                             request.feather, seam))
            image = compositor[0].apply(image)
        progress(replace(p, image=image, region=region))
    return report


def plan_region(request: EditRequest) -> Region:
    """The region `request` will edit, after `request.validate()` (image, mask, points, every
    parameter). Raises EditError; cheap, so callers check a request with it before loading a
    model."""
    request.validate()
    return resolve_region(request)


def put_back(request: EditRequest, region: Region, result: EditResult,
             seam: SeamSide = SeamSide.INSIDE) -> EditResult:
    height, width = request.image.shape[:2]
    # A method that reports the mask it used (DiffEdit's auto mask) is composited with that
    # mask; otherwise the request's own mask bounds what may change.
    used_mask = request.limiting_mask() if result.mask is None else \
        paste(np.zeros((height, width), np.uint8), result.mask, region)
    compositor = Compositor(request.image, region, used_mask, request.feather, seam)
    w, h = region[2:]
    scale = working_size(w, h, request.max_side).scale
    return replace(
        result, request=request, image=compositor.apply(result.image),
        trajectory=[compositor.apply(image) for image in result.trajectory],
        mask=None if result.mask is None else used_mask,
        region=region, work_scale=scale)
