"""The graphics items of the canvas: the image (with before/after split), the mask overlay and
the numbered drag arrows. Scene coordinates are image pixels: the image spans (0,0)-(w,h)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from sdedit_desktop.ui.mask_colour import DEFAULT_MASK_COLOUR, mask_rgb
from sdedit_desktop.ui.model.document import Box, PointPair

SOURCE_COLOR = QColor(230, 60, 60)
TARGET_COLOR = QColor(50, 120, 240)
# A point handle's rings, outside in: dark then light, so a handle stands out on any colour
# (a red source over a red object or the red mask, a white target on snow).
RING_DARK = QColor(0, 0, 0, 200)
RING_LIGHT = QColor(255, 255, 255)
RING_SELECTED = QColor(255, 230, 0)


class ImageItem(QGraphicsItem):
    """Draws `before` (the input) and, when set, `after` (result or live preview) stretched to the
    image rect; with `split` in [0, 1] the left part shows before and the right part after."""

    def __init__(self) -> None:
        super().__init__()
        self.size = (0, 0)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.split: float | None = None
        self.before_only = False  # the hold-to-compare key

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.size[0], self.size[1])

    def set_images(self, before: QImage | None, after: QImage | None) -> None:
        self.prepareGeometryChange()
        self.before, self.after = before, after
        src = before if before is not None else after
        self.size = (src.width(), src.height()) if src is not None else (0, 0)
        self.update()

    def showing_after(self) -> bool:
        return self.after is not None and not self.before_only

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        rect = self.boundingRect()
        if rect.isEmpty():
            return
        # Smooth when shrinking, or when a small preview (latent size) is stretched over the
        # image; pixel-exact when zoomed into a full-size image.
        smooth = painter.transform().m11() < 1.0 or (
            self.after is not None and self.after.width() != self.size[0])
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        if not self.showing_after():
            if self.before is not None:
                painter.drawImage(rect, self.before)
            return
        assert self.after is not None
        painter.drawImage(rect, self.after)
        if self.split is None or self.before is None:
            return
        x = rect.width() * min(max(self.split, 0.0), 1.0)
        left = QRectF(0, 0, x, rect.height())
        sx = self.before.width() * x / rect.width()
        painter.drawImage(left, self.before, QRectF(0, 0, sx, self.before.height()))
        pen = QPen(QColor(255, 255, 255), 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLine(QPointF(x, 0), QPointF(x, rect.height()))


class MaskOverlayItem(QGraphicsItem):
    """The mask as a tinted overlay. Its RGBA buffer mirrors the mask (alpha = mask value);
    only the changed box is refreshed after a stroke, and opacity is applied when painting."""

    def __init__(self) -> None:
        super().__init__()
        self._rgba = np.zeros((0, 0, 4), np.uint8)
        self._qimage: QImage | None = None
        self.opacity_value = 0.45
        self.colour = mask_rgb(DEFAULT_MASK_COLOUR)

    def set_colour(self, rgb: tuple[int, int, int]) -> None:
        self.colour = tuple(int(c) for c in rgb)
        if self._rgba.size:
            _fill(self._rgba, self.colour, self._rgba[..., 3].copy())
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._rgba.shape[1], self._rgba.shape[0])

    def reset(self, mask: np.ndarray | None) -> None:
        self.prepareGeometryChange()
        if mask is None:
            self._rgba = np.zeros((0, 0, 4), np.uint8)
            self._qimage = None
        else:
            h, w = mask.shape
            self._rgba = np.empty((h, w, 4), np.uint8)
            _fill(self._rgba, self.colour, mask)
            # The QImage shares the numpy buffer: updates of the box are visible at once.
            self._qimage = QImage(self._rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
        self.update()

    def refresh(self, mask: np.ndarray, box: Box | None) -> None:
        if mask.shape != self._rgba.shape[:2]:
            self.reset(mask)
            return
        if box is None:
            self._rgba[..., 3] = mask
            self.update()
            return
        x0, y0, x1, y1 = box
        self._rgba[y0:y1, x0:x1, 3] = mask[y0:y1, x0:x1]
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._qimage is None:
            return
        painter.setOpacity(self.opacity_value)
        painter.drawImage(self.boundingRect(), self._qimage)


def _fill(rgba: np.ndarray, colour: tuple[int, int, int], alpha: np.ndarray) -> None:
    """Every pixel of the contiguous HxWx4 `rgba` to `colour` with `alpha`. Written as one
    32-bit word per pixel: numpy's per-channel broadcast took 0.4 s for a 12 MP photo."""
    word = np.array([*colour, 0], np.uint8).view(np.uint32)[0]
    rgba.view(np.uint32)[...] = word
    rgba[..., 3] = alpha


class PointsItem(QGraphicsItem):
    """Numbered arrows from each source (red) to its target (blue). Handles keep a constant size
    on screen whatever the zoom (their radius is divided by the view scale)."""

    HANDLE_PX = 7.0

    def __init__(self) -> None:
        super().__init__()
        self.points: list[PointPair] = []
        self.selected: int | None = None
        self.scale = 1.0  # view scale, set by the canvas on zoom
        self.bounds = QRectF()

    def set_points(self, points: list[PointPair], selected: int | None) -> None:
        self.prepareGeometryChange()
        self.points, self.selected = list(points), selected
        self.update()

    def set_scale(self, scale: float, bounds: QRectF) -> None:
        self.prepareGeometryChange()
        self.scale, self.bounds = max(scale, 1e-6), QRectF(bounds)

    def boundingRect(self) -> QRectF:
        margin = 40.0 / self.scale
        return self.bounds.adjusted(-margin, -margin, margin, margin)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.HANDLE_PX / self.scale
        font = QFont()
        font.setBold(True)
        font.setPixelSize(12)
        for index, (source, target) in enumerate(self.points):
            s = QPointF(source[0] + 0.5, source[1] + 0.5)
            highlight = index == self.selected
            if target is not None:
                t = QPointF(target[0] + 0.5, target[1] + 0.5)
                self._arrow(painter, s, t, r)
                self._handle(painter, t, r, TARGET_COLOR, highlight)
            self._handle(painter, s, r, SOURCE_COLOR, highlight)
            self._label(painter, s, r, str(index + 1), font)

    def _handle(self, painter: QPainter, at: QPointF, r: float, color: QColor,
                highlight: bool) -> None:
        # A dark outer ring, then a light one (yellow when selected), then the fill: one of
        # them contrasts with any background.
        px = 1.0 / self.scale  # one screen pixel in scene units
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(RING_DARK)
        painter.drawEllipse(at, r + 3.5 * px, r + 3.5 * px)
        painter.setBrush(RING_SELECTED if highlight else RING_LIGHT)
        painter.drawEllipse(at, r + (2.5 if highlight else 1.5) * px,
                            r + (2.5 if highlight else 1.5) * px)
        painter.setBrush(QBrush(color))
        painter.drawEllipse(at, r - 0.5 * px, r - 0.5 * px)

    def _arrow(self, painter: QPainter, s: QPointF, t: QPointF, r: float) -> None:
        dx, dy = t.x() - s.x(), t.y() - s.y()
        length = math.hypot(dx, dy)
        if length < 1e-6:
            return
        ux, uy = dx / length, dy / length
        tip = QPointF(t.x() - ux * r, t.y() - uy * r)
        for width, color in ((4.0, QColor(0, 0, 0, 140)), (2.0, QColor(255, 255, 255))):
            pen = QPen(color, width)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(s, tip)
        head = 2.2 * r
        base = QPointF(tip.x() - ux * head, tip.y() - uy * head)
        left = QPointF(base.x() - uy * head * 0.5, base.y() + ux * head * 0.5)
        right = QPointF(base.x() + uy * head * 0.5, base.y() - ux * head * 0.5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255))
        painter.drawPolygon(QPolygonF([tip, left, right]))

    def _label(self, painter: QPainter, at: QPointF, r: float, text: str, font: QFont) -> None:
        # Text is drawn unscaled at a view-independent size next to the source handle.
        painter.save()
        painter.translate(at.x() + r, at.y() - r)
        painter.scale(1.0 / self.scale, 1.0 / self.scale)
        path = QPainterPath()
        path.addText(QPointF(2, -2), font, text)
        outline = QPen(QColor(0, 0, 0), 3)
        painter.strokePath(path, outline)
        painter.fillPath(path, QColor(255, 255, 255))
        painter.restore()
