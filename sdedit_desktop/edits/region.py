"""The edit region: the rectangle of the image that goes through the model.

A photo is never edited as a whole downscaled picture: the edit runs on a crop around what the
user wants to change (at scale 1 when the crop fits the request's `max_side`) and the result is
pasted back into the untouched original (edits/composite.py). This module resolves the region
("auto" or the user's rectangle), validates it, and maps images, masks and points into the crop.
All functions are pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sdedit_desktop.core.families import native_side as model_native_side
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.core.types import PointPair
from sdedit_desktop.edits.geometry import working_size
from sdedit_desktop.edits.schema import check_value, schema_field
from sdedit_desktop.textsafe import shown

if TYPE_CHECKING:  # requests.py builds on this module
    from sdedit_desktop.edits.requests import EditRequest

Region = tuple[int, int, int, int]  # x, y, w, h in image pixels

CONTEXT = 64  # image pixels of surroundings around what changes, so the model sees the scene
ALIGN = 8  # the VAE's downsampling: regions start and span multiples of 8 where the image allows
LATENT_PIXELS = 8  # image pixels per latent pixel at scale 1 (every SD family's VAE)


@dataclass(frozen=True)
class Box:
    """Half-open pixel box [x0, x1) x [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int


def whole_image(width: int, height: int) -> Region:
    return (0, 0, width, height)


def region_choice(choice: str | tuple[int, int, int, int] | None, width: int, height: int
                  ) -> Region | None:
    """What a user picked ("auto", "whole" or x, y, w, h) as a request's `region` field:
    None (auto, resolved when the edit runs) or a concrete region."""
    if choice is None or choice == "auto":
        return None
    if choice == "whole":
        return whole_image(width, height)
    return tuple(choice)  # type: ignore[return-value]  # checked when the edit runs


def mask_bounds(mask: np.ndarray) -> Box | None:
    """Bounding box of the mask's painted pixels (any value above 0: a soft edge counts), or
    None when there are none."""
    on = mask > 0
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if rows.size == 0:
        return None
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def points_bounds(points: tuple[PointPair, ...]) -> Box:
    xs = [p[0] for pair in points for p in pair]
    ys = [p[1] for pair in points for p in pair]
    return Box(min(xs), min(ys), max(xs) + 1, max(ys) + 1)


def _span(lo: int, hi: int, size: int, minimum: int) -> tuple[int, int]:
    """One axis of `expand_to_region`: the shortest multiple of ALIGN, at least `minimum`, that
    covers [lo, hi) clipped to [0, size), centred on it with an aligned start, shifted to lie
    inside; the whole axis when it would not fit. Returns (start, length)."""
    lo, hi = max(lo, 0), min(hi, size)
    length = -(-max(hi - lo, minimum) // ALIGN) * ALIGN
    if length >= size:
        return 0, size
    start = (lo + hi - length) // 2
    start -= start % ALIGN
    if start + length < hi:  # the alignment moved it too far left
        if start + ALIGN <= lo:
            start += ALIGN
        else:
            length += ALIGN
            if length >= size:
                return 0, size
    start = max(start, 0)
    if start + length > size:
        start = size - length  # at the far border: keep the length, give up start alignment
    return start, length


def expand_to_region(box: Box, width: int, height: int, pad: int, native_side: int) -> Region:
    """`box` plus `pad` on every side, grown to at least native_side (or the whole axis when the
    image is smaller), aligned to multiples of 8, inside the image."""
    x, w = _span(box.x0 - pad, box.x1 + pad, width, min(native_side, width))
    y, h = _span(box.y0 - pad, box.y1 + pad, height, min(native_side, height))
    return (x, y, w, h)


def auto_region(request: EditRequest, native_side: int | None = None) -> Region:
    """The default region of a request: what it focuses on (its kind says: drag points, a
    mask) plus context, at least `native_side` (default: the native side of the request's model,
    whose training resolution the model composes best at) where the image allows; else the
    whole image."""
    height, width = request.image.shape[:2]
    if native_side is None:
        native_side = model_native_side(request.model)
    focus = request.focus()
    if focus is None:
        return whole_image(width, height)
    box, pad = focus
    return expand_to_region(box, width, height, pad, native_side)


def _whole(value: object) -> bool:
    # true/false are numbers to Python, not to a user; 8.0 and Infinity are not whole pixels.
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_region(region: object, width: int, height: int) -> Region:
    """A region (the user's, a request's, a project's) as four whole numbers inside the image,
    or EditError: the one check of a region value, for every reader."""
    if not isinstance(region, tuple | list) or len(region) != 4 \
            or not all(_whole(v) for v in region):
        raise EditError(f"the edit region must be four whole numbers x, y, width, height; got "
                        f"{shown(region, 80)}")
    x, y, w, h = (int(v) for v in region)
    if w < 1 or h < 1:
        raise EditError(f"the edit region {shown(w, 20)}x{shown(h, 20)} is empty: it needs a "
                        "width and height of at least 1 pixel")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        where = ", ".join(shown(v, 20) for v in (x, y)) + f", {shown(w, 20)}x{shown(h, 20)}"
        raise EditError(f"the edit region ({where}) reaches outside the {width}x{height} image")
    return (x, y, w, h)


def resolve_region(request: EditRequest, native_side: int | None = None) -> Region:
    """The region the edit will use: the request's own (validated) or the auto region. Expects a
    valid image, mask and points (the session's checks)."""
    height, width = request.image.shape[:2]
    check_value(schema_field(type(request), "feather"), request.feather)
    if request.region is None:
        region = auto_region(request, native_side)
    else:
        region = check_region(request.region, width, height)
    problem = request.region_problem(region)
    if problem:
        raise EditError(problem)
    working_size(region[2], region[3], request.max_side)  # refuses what the size cap cannot hold
    return region


def crop(array: np.ndarray, region: Region) -> np.ndarray:
    x, y, w, h = region
    return np.ascontiguousarray(array[y:y + h, x:x + w])


def point_to_crop(point: tuple[int, int], region: Region) -> tuple[int, int]:
    """Image pixel -> crop pixel (a point inside the region stays inside the crop)."""
    x, y, w, h = region
    return (min(max(point[0] - x, 0), w - 1), min(max(point[1] - y, 0), h - 1))


def point_from_crop(point: tuple[int, int], region: Region) -> tuple[int, int]:
    return (point[0] + region[0], point[1] + region[1])


def points_to_crop(points: tuple[PointPair, ...], region: Region) -> tuple[PointPair, ...]:
    return tuple((point_to_crop(a, region), point_to_crop(b, region)) for a, b in points)


def paste(full: np.ndarray, part: np.ndarray, region: Region) -> np.ndarray:
    """A copy of `full` with `part` (the region's size) written at the region."""
    x, y, w, h = region
    out = full.copy()
    out[y:y + h, x:x + w] = part
    return out
