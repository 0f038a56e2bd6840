"""Working size: images of any size go through the model at multiples of 8 (optionally capped),
with points and masks mapped consistently, and results come back at the input's size.

An image that fits the cap is never resampled: it is padded (reflected) on the right and bottom
to the next multiple of 8 and the result is cropped back, so its pixels and aspect ratio stay
exactly as they were. A larger one is resampled to the scaled size (its aspect ratio kept to the
nearest pixel), then padded the same way. The cap is an upper bound: a shape so narrow that its
short side would have to be scaled up to MIN_SIDE past the cap is refused, not run larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from sdedit_desktop.core.progress import EditError
from sdedit_desktop.core.types import PointPair

LATENT_FACTOR = 8  # image pixels per latent pixel (every SD family's VAE downsamples 3 times)
MULTIPLE = LATENT_FACTOR  # working sizes are whole latents
MIN_SIDE = 64  # smaller inputs are scaled up: SD's VAE and UNet need some room
MAX_SIDE_LIMIT = 4096  # the largest working size (px) one may ask for, and the bound without one


def _padded(n: int) -> int:
    return -(-n // MULTIPLE) * MULTIPLE


@dataclass(frozen=True)
class WorkingSize:
    original: tuple[int, int]  # (width, height) of the input
    content: tuple[int, int]  # (width, height) of the input as the model sees it, unpadded
    work: tuple[int, int]  # (width, height) the model sees: content padded to multiples of 8

    @property
    def identity(self) -> bool:
        """Nothing to do at all: the input already has the working size."""
        return self.original == self.work

    @property
    def resampled(self) -> bool:
        """The input is scaled (not only padded) on its way to the model."""
        return self.original != self.content

    @property
    def scale(self) -> float:
        """Model pixels per image pixel (1.0 = not resampled)."""
        return self.content[0] / self.original[0]

    def _pad(self, array: np.ndarray, mode: str) -> np.ndarray:
        (cw, ch), (ww, wh) = self.content, self.work
        if (cw, ch) == (ww, wh):
            return array
        pad = [(0, wh - ch), (0, ww - cw)] + [(0, 0)] * (array.ndim - 2)
        if mode == "reflect" and min(ch, cw) < MULTIPLE:
            mode = "edge"  # reflecting needs more pixels than the pad is wide
        return np.pad(array, pad, mode=mode)  # type: ignore[call-overload]

    def _crop(self, array: np.ndarray) -> np.ndarray:
        cw, ch = self.content
        return np.ascontiguousarray(array[:ch, :cw])

    def to_work(self, image: np.ndarray) -> np.ndarray:
        if self.identity:
            return image
        if self.resampled:
            image = np.asarray(Image.fromarray(image).resize(self.content,
                                                             Image.Resampling.LANCZOS))
        return self._pad(image, "reflect")

    def mask_to_work(self, mask: np.ndarray) -> np.ndarray:
        """The painted area (any value above 0) at the working size, as 0/255 where it is
        resampled; the padding is "keep" (0): nothing there may change."""
        if self.identity:
            return mask
        if self.resampled:
            painted = np.where(mask > 0, 255, 0).astype(np.uint8)
            resized = Image.fromarray(painted).resize(self.content, Image.Resampling.BILINEAR)
            mask = np.where(np.asarray(resized) >= 128, 255, 0).astype(np.uint8)
        return self._pad(mask, "constant")

    def point_to_work(self, point: tuple[int, int]) -> tuple[int, int]:
        (w0, h0), (w1, h1) = self.original, self.content
        if (w0, h0) == (w1, h1):
            return int(point[0]), int(point[1])
        x = min(int((point[0] + 0.5) * w1 / w0), w1 - 1)
        y = min(int((point[1] + 0.5) * h1 / h0), h1 - 1)
        return x, y

    def point_to_latent(self, point: tuple[int, int], factor: int = LATENT_FACTOR
                        ) -> tuple[int, int]:
        """Image pixel -> latent pixel of the working-size latent (`factor` image pixels per
        latent pixel): the one mapping the edit and the request's checks share."""
        x, y = self.point_to_work(point)
        return x // factor, y // factor

    def to_original(self, image: np.ndarray) -> np.ndarray:
        if self.identity:
            return image
        image = self._crop(image)
        if not self.resampled:
            return image
        return np.asarray(Image.fromarray(image).resize(self.original, Image.Resampling.LANCZOS))

    def mask_to_original(self, mask: np.ndarray) -> np.ndarray:
        if self.identity:
            return mask
        mask = self._crop(mask)
        if not self.resampled:
            return mask
        resized = Image.fromarray(mask).resize(self.original, Image.Resampling.NEAREST)
        return np.asarray(resized)


def working_size(width: int, height: int, max_side: int | None) -> WorkingSize:
    """Scale so the longer side is at most the cap (max_side rounded down to a multiple of 8;
    without one the larger of MAX_SIDE_LIMIT and the image's own longer side) and the shorter
    at least MIN_SIDE, then pad each side to a multiple of 8. EditError for a shape the cap
    cannot hold (its aspect ratio above cap / MIN_SIDE): refused, never run past the cap."""
    if width < 1 or height < 1:
        raise EditError(f"the image is empty ({width}x{height} pixels)")
    if max_side is not None and max_side < MIN_SIDE:
        raise EditError(f"the maximum working size must be at least {MIN_SIDE} pixels")
    long, short = max(width, height), min(width, height)
    cap = max_side - max_side % MULTIPLE if max_side is not None \
        else max(MAX_SIDE_LIMIT, _padded(long))
    scale = min(1.0, cap / long)
    if short * scale < MIN_SIDE:
        scale = MIN_SIDE / short
        if long * scale > cap:
            setting = f"the maximum side of {max_side} px" if max_side is not None else \
                f"{cap} px"
            raise EditError(
                f"a {width}x{height} image (or region) is too narrow to edit: its short side "
                f"must be scaled to at least {MIN_SIDE} px, which makes its long side "
                f"{round(long * scale)} px, more than {setting}. Edit a region whose sides "
                f"are at most {cap / MIN_SIDE:g}:1 (long:short)" +
                (", or raise the maximum side" if max_side is not None and cap < MAX_SIDE_LIMIT
                 else ""))

    def side(n: int) -> int:
        return n if scale == 1.0 else min(max(1, round(n * scale)), cap)

    content = (side(width), side(height))
    return WorkingSize((width, height), content, (_padded(content[0]), _padded(content[1])))


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
    if required and not mask.any():
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
