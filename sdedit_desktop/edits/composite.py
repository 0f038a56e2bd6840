"""Putting an edited region back into the untouched original photo.

The model only ever sees the region (edits/region.py), and even there it changes pixels it was
told to keep (the VAE round trip). So the result is the original with the edit pasted back:
inside the mask when there is one, else inside the region, with a seam of `feather` pixels that
fades from the original to the edit. The seam lies INSIDE the allowed area, so every pixel outside
it is bit-identical to the input. Region sides on the image border get no seam (nothing lies
beyond them to blend with).
"""

from __future__ import annotations

import numpy as np

from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.edits.region import Region, crop


def _erode(allowed: np.ndarray) -> np.ndarray:
    """3x3 binary erosion (the border pixels of the array repeat outward)."""
    padded = np.pad(allowed, 1, mode="edge")
    h, w = allowed.shape
    out = allowed.copy()
    for dy in range(3):
        for dx in range(3):
            out &= padded[dy:dy + h, dx:dx + w]
    return out


def seam_alpha(allowed: np.ndarray, feather: int,
               open_sides: tuple[bool, bool, bool, bool] = (False, False, False, False)
               ) -> np.ndarray:
    """Blend weight of the edit per pixel, float32 in [0, 1]: 0 wherever `allowed` is False,
    rising by 1/feather per pixel of (chessboard) distance from the nearest not-allowed pixel,
    1 from `feather` pixels in. `open_sides` (left, top, right, bottom): sides of the array that
    lie on the image border, beyond which nothing counts as not allowed."""
    if feather < 0:
        raise EditError(f"the feather width must be 0 or more pixels, got {feather}")
    allowed = allowed.astype(bool)
    if feather == 0 or not allowed.any():
        return allowed.astype(np.float32)
    # Pad so the sides are decided by the rule above: closed sides count as not allowed, open
    # ones continue the array's own edge.
    f = feather
    level = np.pad(allowed, f, mode="edge")
    left, top, right, bottom = open_sides
    if not left:
        level[:, :f] = False
    if not top:
        level[:f, :] = False
    if not right:
        level[:, -f:] = False
    if not bottom:
        level[-f:, :] = False
    depth = np.zeros(level.shape, np.float32)
    for _ in range(f):
        depth += level
        level = _erode(level)
        if not level.any():
            break
    return depth[f:-f, f:-f] / f


def region_alpha(region: Region, image_size: tuple[int, int], mask: np.ndarray | None,
                 feather: int) -> np.ndarray:
    """Blend weight of the edit over the region (h x w): the mask (full image, HxW uint8,
    >= 128 = may change) cropped to the region, or the whole region, with the seam inside."""
    x, y, w, h = region
    width, height = image_size
    allowed = np.ones((h, w), bool) if mask is None else crop(mask, region) >= 128
    open_sides = (x == 0, y == 0, x + w == width, y + h == height)
    return seam_alpha(allowed, feather, open_sides)


class Compositor:
    """Pastes edited crops of one region back into one original image (the final result and
    every drag trajectory image share the same weights)."""

    def __init__(self, original: np.ndarray, region: Region, mask: np.ndarray | None,
                 feather: int):
        height, width = original.shape[:2]
        self.original = original
        self.region = region
        self.alpha = region_alpha(region, (width, height), mask, feather)
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
