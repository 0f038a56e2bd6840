"""The editor's working state: the input image of the next edit, its mask and the drag points.

Everything is kept at image resolution in image pixels; the canvas only displays it. Changes go
through the undo commands in `commands.py`, which call the setters here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from sdedit_desktop.ui.brush import BrushSpec, stroke_segment, union_box

PointXY = tuple[int, int]
# A pair is (source, target); target None while the user has clicked only the source.
PointPair = tuple[PointXY, PointXY | None]
Box = tuple[int, int, int, int]
Region = tuple[int, int, int, int]  # x, y, w, h in image pixels (edits.region.Region)
_KEEP: object = object()  # set_image: keep the region choice when it still fits


class EditorDocument(QObject):
    imageChanged = Signal()  # new image (size may change): mask and points were reset
    maskChanged = Signal(object)  # Box or None (= everything)
    pointsChanged = Signal()
    regionChanged = Signal()  # the user's edit region choice (None = auto)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.image: np.ndarray | None = None
        self.mask: np.ndarray | None = None
        self.points: list[PointPair] = []
        self.source_path: Path | None = None
        self.image_label = ""  # what the image is ("chelsea.png", "result #3", ...)
        # The edit region the user chose (x, y, w, h), or None for "auto" (the edit decides).
        self.region: Region | None = None

    # -- image ----------------------------------------------------------------------------
    @property
    def has_image(self) -> bool:
        return self.image is not None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), (0, 0) without an image."""
        if self.image is None:
            return 0, 0
        return int(self.image.shape[1]), int(self.image.shape[0])

    def set_image(self, image: np.ndarray, label: str = "", path: Path | None = None,
                  mask: np.ndarray | None = None,
                  points: list[PointPair] | None = None,
                  region: Region | object | None = _KEEP) -> None:
        """Set the working image. The region choice is kept while it lies inside the new image
        (an applied edit of the same size), else reset to auto; `region` sets it."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 image, got {image.shape} {image.dtype}")
        self.image = np.ascontiguousarray(image)
        h, w = image.shape[:2]
        if mask is not None and mask.shape != (h, w):
            raise ValueError(f"mask {mask.shape} does not match the image {(h, w)}")
        self.mask = np.zeros((h, w), np.uint8) if mask is None else mask.copy()
        self.points = list(points or [])
        self.source_path = path
        self.image_label = label
        if region is _KEEP:
            region = self.region if self.region is not None and _inside(self.region, w, h) \
                else None
        self.region = region  # type: ignore[assignment]
        self.imageChanged.emit()
        self.maskChanged.emit(None)
        self.pointsChanged.emit()
        self.regionChanged.emit()

    # -- mask -----------------------------------------------------------------------------
    def mask_is_empty(self) -> bool:
        return self.mask is None or not bool(self.mask.any())

    def stroke(self, p0: tuple[float, float], p1: tuple[float, float],
               brush: BrushSpec) -> Box | None:
        """Paint one stroke segment (no undo entry: the canvas groups a whole stroke)."""
        if self.mask is None:
            return None
        box = stroke_segment(self.mask, p0, p1, brush)
        if box is not None:
            self.maskChanged.emit(box)
        return box

    def put_mask_patch(self, box: Box, patch: np.ndarray) -> None:
        x0, y0, x1, y1 = box
        assert self.mask is not None
        self.mask[y0:y1, x0:x1] = patch
        self.maskChanged.emit(box)

    # -- points ---------------------------------------------------------------------------
    def set_points(self, points: list[PointPair]) -> None:
        self.points = list(points)
        self.pointsChanged.emit()

    # -- edit region ----------------------------------------------------------------------
    def set_region(self, region: Region | None) -> None:
        """The user's region (None = auto); the undo command calls this."""
        if region is not None:
            region = tuple(int(v) for v in region)  # type: ignore[assignment]
        if region != self.region:
            self.region = region
            self.regionChanged.emit()


def _inside(region: Region, width: int, height: int) -> bool:
    x, y, w, h = region
    return w >= 1 and h >= 1 and x >= 0 and y >= 0 and x + w <= width and y + h <= height


__all__ = ["Box", "EditorDocument", "PointPair", "PointXY", "Region", "union_box"]
