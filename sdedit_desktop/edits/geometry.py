"""Working size: images of any size go through the model at multiples of 8 (optionally capped),
with points and masks mapped consistently, and results come back at the input's size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from sdedit_desktop.core.progress import EditError
from sdedit_desktop.core.types import PointPair

LATENT_FACTOR = 8  # image pixels per latent pixel (every SD family's VAE downsamples 3 times)
MULTIPLE = LATENT_FACTOR  # working sizes are whole latents
MIN_SIDE = 64  # smaller inputs are scaled up: SD's VAE and UNet need some room


@dataclass(frozen=True)
class WorkingSize:
    original: tuple[int, int]  # (width, height) of the input
    work: tuple[int, int]  # (width, height) the model sees, multiples of 8

    @property
    def identity(self) -> bool:
        return self.original == self.work

    def to_work(self, image: np.ndarray) -> np.ndarray:
        if self.identity:
            return image
        return np.asarray(Image.fromarray(image).resize(self.work, Image.Resampling.LANCZOS))

    def mask_to_work(self, mask: np.ndarray) -> np.ndarray:
        if self.identity:
            return mask
        resized = Image.fromarray(mask).resize(self.work, Image.Resampling.BILINEAR)
        return np.where(np.asarray(resized) >= 128, 255, 0).astype(np.uint8)

    def point_to_work(self, point: tuple[int, int]) -> tuple[int, int]:
        (w0, h0), (w1, h1) = self.original, self.work
        x = min(int((point[0] + 0.5) * w1 / w0), w1 - 1)
        y = min(int((point[1] + 0.5) * h1 / h0), h1 - 1)
        return x, y

    def to_original(self, image: np.ndarray) -> np.ndarray:
        if self.identity:
            return image
        return np.asarray(Image.fromarray(image).resize(self.original, Image.Resampling.LANCZOS))

    def mask_to_original(self, mask: np.ndarray) -> np.ndarray:
        if self.identity:
            return mask
        resized = Image.fromarray(mask).resize(self.original, Image.Resampling.NEAREST)
        return np.asarray(resized)


def working_size(width: int, height: int, max_side: int | None) -> WorkingSize:
    """Scale so the longer side is at most max_side (and the shorter at least 64), then round
    each side to the nearest multiple of 8."""
    if width < 1 or height < 1:
        raise EditError(f"the image is empty ({width}x{height} pixels)")
    if max_side is not None and max_side < MIN_SIDE:
        raise EditError(f"the maximum working size must be at least {MIN_SIDE} pixels")
    scale = 1.0
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
    if min(width, height) * scale < MIN_SIDE:
        scale = MIN_SIDE / min(width, height)

    def side(n: int) -> int:
        return max(MULTIPLE, round(n * scale / MULTIPLE) * MULTIPLE)

    return WorkingSize((width, height), (side(width), side(height)))


def validate_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise EditError(f"the image must be an RGB uint8 array of shape HxWx3, got {shape}")


def validate_mask(mask: np.ndarray | None, image: np.ndarray, required: bool = False) -> None:
    if mask is None:
        if required:
            raise EditError("this edit needs a mask: paint the region that may change")
        return
    if mask.ndim != 2 or mask.shape != image.shape[:2]:
        raise EditError(f"the mask is {mask.shape[1::-1] if mask.ndim == 2 else mask.shape} but "
                        f"the image is {image.shape[1]}x{image.shape[0]}: they must match")
    if required and not (mask >= 128).any():
        raise EditError("the mask is empty: paint the region that may change")


def validate_points(points: tuple[PointPair, ...], width: int, height: int) -> None:
    if not points:
        raise EditError("no drag points: click a source point, then its target")
    for n, pair in enumerate(points, start=1):
        try:
            (sx, sy), (tx, ty) = pair
            coords = [int(v) for v in (sx, sy, tx, ty)]
        except (TypeError, ValueError):
            raise EditError(f"point pair {n} is malformed: expected ((x, y), (x, y))") from None
        if coords != [sx, sy, tx, ty]:
            raise EditError(f"point pair {n} must use whole pixel coordinates")
        for name, (x, y) in (("source", (sx, sy)), ("target", (tx, ty))):
            if not (0 <= x < width and 0 <= y < height):
                raise EditError(f"the {name} of point pair {n} ({x}, {y}) lies outside the "
                                f"{width}x{height} image")
        if (sx, sy) == (tx, ty):
            raise EditError(f"point pair {n} has the same source and target ({sx}, {sy})")
