"""The edit region's frame on the canvas: a rectangle in image pixels, dashed while it shows the
region "auto" would pick, solid once the user chose it, orange when the edit would refuse it;
eight square handles to resize it. Its lines and handles keep their size on screen whatever the
zoom. `grip_at` says which sides a press at a scene point grabs."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from sdedit_desktop.ui.model.document import Region
from sdedit_desktop.ui.model.region import MOVE, Grip

FRAME_COLOR = QColor(255, 214, 64)
ERROR_COLOR = QColor(255, 120, 40)
HANDLE_PX = 4.0  # half the handle's side, screen pixels
EDGE_PX = 5.0  # how near (screen pixels) an edge must be to grab it


def grip_at(region: Region, x: float, y: float, tolerance: float, inside_moves: bool
            ) -> Grip | None:
    """The sides of `region` a press at scene point (x, y) grabs: a corner (two sides), an edge
    (one) within `tolerance` scene pixels, the inside (all four = move) when `inside_moves`,
    else None."""
    rx, ry, rw, rh = region
    right, bottom = rx + rw, ry + rh
    if not (rx - tolerance <= x <= right + tolerance and ry - tolerance <= y <= bottom + tolerance):
        return None
    near_l, near_r = abs(x - rx) <= tolerance, abs(x - right) <= tolerance
    near_t, near_b = abs(y - ry) <= tolerance, abs(y - bottom) <= tolerance
    if near_l and near_r:  # a frame narrower than the tolerance: the nearer side
        near_l, near_r = abs(x - rx) < abs(x - right), abs(x - rx) >= abs(x - right)
    if near_t and near_b:
        near_t, near_b = abs(y - ry) < abs(y - bottom), abs(y - ry) >= abs(y - bottom)
    if near_l or near_r or near_t or near_b:
        return (near_l, near_t, near_r, near_b)
    return MOVE if inside_moves else None


def grip_cursor(grip: Grip | None) -> Qt.CursorShape | None:
    """The resize or move cursor of a grip (None: not on the frame)."""
    if grip is None:
        return None
    if grip == MOVE:
        return Qt.CursorShape.SizeAllCursor
    left, top, right, bottom = grip
    if (left and top) or (right and bottom):
        return Qt.CursorShape.SizeFDiagCursor
    if (right and top) or (left and bottom):
        return Qt.CursorShape.SizeBDiagCursor
    return Qt.CursorShape.SizeHorCursor if left or right else Qt.CursorShape.SizeVerCursor


class RegionFrameItem(QGraphicsItem):
    def __init__(self) -> None:
        super().__init__()
        self.region: Region | None = None
        self.explicit = False
        self.error = ""
        self.scale = 1.0  # view scale, set by the canvas on zoom

    def set_frame(self, region: Region | None, explicit: bool, error: str = "") -> None:
        self.prepareGeometryChange()
        self.region, self.explicit, self.error = region, explicit, error
        self.update()

    def set_scale(self, scale: float) -> None:
        self.prepareGeometryChange()
        self.scale = max(scale, 1e-6)

    def rect(self) -> QRectF:
        if self.region is None:
            return QRectF()
        x, y, w, h = self.region
        return QRectF(x, y, w, h)

    def boundingRect(self) -> QRectF:
        margin = (HANDLE_PX + 3) / self.scale
        return self.rect().adjusted(-margin, -margin, margin, margin)

    def handle_points(self) -> list[QPointF]:
        r = self.rect()
        xs, ys = (r.left(), r.center().x(), r.right()), (r.top(), r.center().y(), r.bottom())
        return [QPointF(x, y) for x in xs for y in ys if (x, y) != (xs[1], ys[1])]

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self.region is None:
            return
        color = ERROR_COLOR if self.error else FRAME_COLOR
        rect = self.rect()
        shadow = QPen(QColor(0, 0, 0, 160), 3)
        shadow.setCosmetic(True)
        painter.setPen(shadow)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        pen = QPen(color, 1.5, Qt.PenStyle.SolidLine if self.explicit else Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawRect(rect)
        side = HANDLE_PX / self.scale
        outline = QPen(QColor(0, 0, 0), 1)
        outline.setCosmetic(True)
        painter.setPen(outline)
        painter.setBrush(color if self.explicit else QColor(255, 255, 255))
        for p in self.handle_points():
            painter.drawRect(QRectF(p.x() - side, p.y() - side, 2 * side, 2 * side))
