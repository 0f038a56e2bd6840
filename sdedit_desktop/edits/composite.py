"""Putting an edited region back into the untouched original photo (docs/edit-region.md).

The model only ever sees the region (edits/region.py), and even there it changes pixels it was
told to keep (the VAE round trip). So the result is the original with the edit pasted back,
weighted per pixel: by the mask's value where there is a mask (0 = untouched, 255 = the edit, a
soft edge in between blends), else over the whole region, with a seam of `feather` pixels that
fades from the edit to the original. Where the seam lies is the edit kind's to say (`SeamSide`):
inside the mask for a mask that says what *may* change (drag), outside it, in the known region,
for a mask that marks what is *replaced* (inpainting, DiffEdit). Every pixel of weight 0 is
bit-identical to the input. Region sides on the image border get no seam (nothing lies beyond
them to blend with); at the region's other sides the weight always fades to the original.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import numpy as np

from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.edits.region import Region, crop

OpenSides = tuple[bool, bool, bool, bool]  # left, top, right, bottom lie on the image border


class SeamSide(Enum):
    """Where the seam between the edit and the original lies, relative to the mask."""

    # The mask says what may change: nothing outside it does (drag's mask).
    INSIDE = "inside"
    # The mask marks what is replaced: the hole is all edit, the seam blends the known region
    # around it, whose edit is the VAE decode of known content (inpainting, DiffEdit).
    OUTSIDE = "outside"


def _neighbourhood(values: np.ndarray, reduce: Callable, pad: str | float) -> np.ndarray:
    """3x3 min or max filter (separable); `pad`: "edge" or a constant beyond the array."""
    if pad == "edge":
        padded = np.pad(values, 1, mode="edge")
    else:
        padded = np.pad(values, 1, mode="constant", constant_values=pad)
    rows = reduce(reduce(padded[:-2], padded[1:-1]), padded[2:])
    return reduce(reduce(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _ramp(count: np.ndarray, feather: int) -> np.ndarray:
    return count.astype(np.float32) / np.float32(feather)


def _inner_seam(weight: np.ndarray, feather: int, open_sides: OpenSides) -> np.ndarray:
    """min over k of (weight eroded k times + k / feather): 0 where the weight is 0, rising by
    1/feather per pixel of (chessboard) distance from it, never above the weight. Beyond a
    closed side the weight counts as 0; an open side continues the array's own edge."""
    f = feather
    level = np.pad(weight, f, mode="edge")
    left, top, right, bottom = open_sides
    if not left:
        level[:, :f] = 0
    if not top:
        level[:f, :] = 0
    if not right:
        level[:, -f:] = 0
    if not bottom:
        level[-f:, :] = 0
    if level.dtype == bool:  # a hard mask: the distance to the nearest 0, counted, up to f
        depth = np.zeros(level.shape, np.int32)
        for _ in range(f):
            depth += level
            level = _neighbourhood(level, np.minimum, "edge")
        return _ramp(depth[f:-f, f:-f], f)
    alpha = level.copy()
    for k in range(1, f + 1):
        level = _neighbourhood(level, np.minimum, "edge")
        np.minimum(alpha, level + np.float32(k) / np.float32(f), out=alpha)
    return np.minimum(alpha[f:-f, f:-f], 1)


def _outer_seam(weight: np.ndarray, feather: int) -> np.ndarray:
    """max over k < feather of (weight dilated k times - k / feather): the weight itself, then
    falling by 1/feather per pixel of distance outside it, 0 from `feather` pixels out."""
    if weight.dtype == bool:  # a hard mask: f minus the distance to it, counted
        count = np.zeros(weight.shape, np.int32)
        level = weight
        for _ in range(feather):
            count += level
            level = _neighbourhood(level, np.maximum, False)
        return _ramp(count, feather)
    level, alpha = weight, weight.copy()
    for k in range(1, feather):
        level = _neighbourhood(level, np.maximum, 0.0)
        np.maximum(alpha, level - np.float32(k) / np.float32(feather), out=alpha)
    return alpha


def _frame_seam(height: int, width: int, feather: int, open_sides: OpenSides) -> np.ndarray:
    """The inner seam of a weight of 1 everywhere: rising from 1/feather at each closed side."""
    left, top, right, bottom = open_sides

    def distances(n: int, low_open: bool, high_open: bool) -> np.ndarray:
        index = np.arange(n)
        out = np.full(n, feather)
        if not low_open:
            out = np.minimum(out, index + 1)
        if not high_open:
            out = np.minimum(out, n - index)
        return out

    depth = np.minimum.outer(distances(height, top, bottom), distances(width, left, right))
    return _ramp(depth, feather)


def seam_alpha(weight: np.ndarray, feather: int, open_sides: OpenSides = (False,) * 4,
               side: SeamSide = SeamSide.INSIDE) -> np.ndarray:
    """Blend weight of the edit per pixel, float32 in [0, 1], from the edit's own weight
    (bool, or float in [0, 1]: 1 = the edit, 0 = the original).

    INSIDE: 0 wherever the weight is 0, rising by 1/feather per pixel of (chessboard) distance
    from such a pixel, never above the weight (a hard mask: 1 from `feather` pixels in).
    OUTSIDE: the weight itself, spreading outward by 1 - d/feather at distance d < feather;
    also capped by the INSIDE seam of the whole array, so closed sides still fade.
    `open_sides` (left, top, right, bottom): sides of the array on the image border, beyond
    which nothing counts as original."""
    if feather < 0:
        raise EditError(f"the feather width must be 0 or more pixels, got {feather}")
    weight = np.clip(np.asarray(weight, np.float32), 0, 1)
    rows, cols = np.flatnonzero(weight.any(axis=1)), np.flatnonzero(weight.any(axis=0))
    if feather == 0 or rows.size == 0:
        return weight
    # Only the painted box (and, outside, the seam's reach around it) can be non-zero: work on
    # that part. Its sides inside the array border pixels of weight 0, i.e. closed sides.
    height, width = weight.shape
    reach = feather - 1 if side is SeamSide.OUTSIDE else 0
    y0, y1 = max(rows[0] - reach, 0), min(rows[-1] + 1 + reach, height)
    x0, x1 = max(cols[0] - reach, 0), min(cols[-1] + 1 + reach, width)
    part = weight[y0:y1, x0:x1]
    if np.isin(part, (0, 1)).all():
        part = part > 0  # a hard mask (or none): counted in integers, exactly k / feather
    full = part.dtype == bool and bool(part.all())  # no mask, or all of it painted
    if side is SeamSide.INSIDE:
        left, top, right, bottom = open_sides
        sides = (left and x0 == 0, top and y0 == 0, right and x1 == width,
                 bottom and y1 == height)
        inner = _frame_seam(y1 - y0, x1 - x0, feather, sides) if full else \
            _inner_seam(part, feather, sides)
    else:
        frame = _frame_seam(height, width, feather, open_sides)[y0:y1, x0:x1]
        inner = frame if full else np.minimum(_outer_seam(part, feather), frame)
    out = np.zeros((height, width), np.float32)
    out[y0:y1, x0:x1] = inner
    return out


def region_alpha(region: Region, image_size: tuple[int, int], mask: np.ndarray | None,
                 feather: int, side: SeamSide = SeamSide.INSIDE) -> np.ndarray:
    """Blend weight of the edit over the region (h x w): the mask (full image, HxW uint8,
    0 = keep, 255 = edit, soft values blend) cropped to the region, or the whole region, with
    the seam on `side`."""
    x, y, w, h = region
    width, height = image_size
    weight = np.ones((h, w), np.float32) if mask is None else \
        crop(mask, region).astype(np.float32) / np.float32(255)
    open_sides = (x == 0, y == 0, x + w == width, y + h == height)
    return seam_alpha(weight, feather, open_sides, side)


class Compositor:
    """Pastes edited crops of one region back into one original image (the final result and
    every drag trajectory image share the same weights)."""

    def __init__(self, original: np.ndarray, region: Region, mask: np.ndarray | None,
                 feather: int, side: SeamSide = SeamSide.INSIDE):
        height, width = original.shape[:2]
        self.original = original
        self.region = region
        self.alpha = region_alpha(region, (width, height), mask, feather, side)
        self.touched = self.alpha > 0

    def apply(self, edited: np.ndarray) -> np.ndarray:
        """`edited`: the region's result (h x w x 3 uint8) -> the full image."""
        x, y, w, h = self.region
        if edited.shape[:2] != (h, w):
            raise EditError(f"internal: the edited region is {edited.shape[1]}x{edited.shape[0]}"
                            f" but the region is {w}x{h}")
        out = self.original.copy()
        if not self.touched.any():
            return out
        before = out[y:y + h, x:x + w]
        a = self.alpha[..., None]
        mixed = before.astype(np.float32) * (1 - a) + edited.astype(np.float32) * a
        mixed = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        # where the weight is 0 the original stays, bit for bit (no float round trip at all)
        out[y:y + h, x:x + w] = np.where(self.touched[..., None], mixed, before)
        return out
