"""A latent preview of an edit that runs on a region shows that region in place: the original
photo at the preview's scale with the region's preview pasted where it belongs, so the canvas
never shows the crop stretched over the whole photo. No Qt: numpy in, numpy out."""

from __future__ import annotations

import numpy as np
from PIL import Image


class RegionPreviewPlacer:
    """For one job: `place(rgb, region)` puts a preview of `region` (x, y, w, h in image
    pixels) into the job's image scaled like the preview. The scaled photo is made once per
    scale (previews of one job share it)."""

    def __init__(self, image: np.ndarray):
        self._image = image
        self._base: np.ndarray | None = None
        self._base_factor = 0.0

    def place(self, rgb: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
        height, width = self._image.shape[:2]
        x, y, w, h = region
        if (x, y, w, h) == (0, 0, width, height):
            return rgb  # the whole image: nothing around it to show
        factor = rgb.shape[1] / max(1, w)  # preview pixels per image pixel
        base = self._scaled(factor)
        out = base.copy()
        x0, y0 = round(x * factor), round(y * factor)
        x1 = min(out.shape[1], max(x0 + 1, round((x + w) * factor)))
        y1 = min(out.shape[0], max(y0 + 1, round((y + h) * factor)))
        if (x1 - x0, y1 - y0) != rgb.shape[1::-1]:
            rgb = np.asarray(Image.fromarray(rgb).resize((x1 - x0, y1 - y0),
                                                         Image.Resampling.BILINEAR))
        out[y0:y1, x0:x1] = rgb
        return out

    def _scaled(self, factor: float) -> np.ndarray:
        if self._base is None or abs(factor - self._base_factor) > 1e-9:
            height, width = self._image.shape[:2]
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            self._base = np.asarray(Image.fromarray(self._image).resize(
                size, Image.Resampling.BILINEAR))
            self._base_factor = factor
        return self._base
