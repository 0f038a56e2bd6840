"""The canvas: a QGraphicsView over the image in image-pixel scene coordinates.

Zoom (wheel, fit, 100 %), pan (space-drag, middle button), the mask brush / eraser (strokes go
straight into the document's numpy mask; one undo entry per stroke), drag points (click source
then target, drag a handle to move it, Delete removes the selected pair; shown on the Drag tab
only), the edit region's frame (its handles resize it with any tool; with the Region tool a drag
inside moves it, its edges resize it and a drag outside draws a new one; one undo entry per
drag), the before/after split (drag
the line) and a hold-to-compare key (C).

Every change of the document goes through the editor model's commands (strokes, points, region,
mask operations), so the undo stack sees exactly what the app does.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

from sdedit_desktop.ui.brush import BrushSpec, union_box
from sdedit_desktop.ui.canvas_items import ImageItem, MaskOverlayItem, PointsItem
from sdedit_desktop.ui.mask_colour import mask_rgb
from sdedit_desktop.ui.model.document import PointPair, Region
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.region import Grip, drag_region, region_between
from sdedit_desktop.ui.region_frame import EDGE_PX, HANDLE_PX, RegionFrameItem, grip_at, grip_cursor

MIN_ZOOM, MAX_ZOOM = 0.05, 32.0
COMPARE_KEY = Qt.Key.Key_C


class Tool(Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    POINTS = "points"
    REGION = "region"


class CanvasView(QGraphicsView):
    zoomChanged = Signal(float)
    cursorMoved = Signal(int, int)  # image pixel under the cursor (-1, -1 outside)
    filesDropped = Signal(list)  # list[Path]
    imageDropped = Signal(QImage)
    splitChanged = Signal(float)
    message = Signal(str)  # short hints for the status bar
    editStarting = Signal()  # a stroke or point edit begins (the window shows the working image)

    def __init__(self, editor: EditorModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.editor = editor
        self.doc, self.undo = editor.doc, editor.undo  # read here; changed through `editor`
        self.setScene(QGraphicsScene(self))
        self.image_item = ImageItem()
        self.mask_item = MaskOverlayItem()
        self.points_item = PointsItem()
        self.region_item = RegionFrameItem()
        for z, item in enumerate((self.image_item, self.mask_item, self.region_item,
                                  self.points_item)):
            item.setZValue(z)
            self.scene().addItem(item)
        self.setBackgroundBrush(QColor(38, 40, 44))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)

        self.tool = Tool.BRUSH
        self.brush_radius = 16.0
        self.brush_hardness = 0.8
        self.selected_pair: int | None = None
        self.overlays_visible = True
        self.busy_text = ""  # what is being opened in the background, drawn over the canvas
        self.points_shown = True  # drag points are drawn and placed (the Drag tab)
        self.region_shown = False  # the edit region's frame is drawn (a kind that uses one)
        self._space = False
        self._pan_last: QPoint | None = None
        self._stroke_last: tuple[float, float] | None = None
        self._stroke_box = None
        self._drag_point: tuple[int, int] | None = None  # (pair index, 0 source / 1 target)
        self._drag_before: list[PointPair] | None = None
        self._split_drag = False
        self._cursor_view: QPointF | None = None
        self._fit_pending = True
        self._points_override: list[PointPair] | None = None  # points of a shown history entry
        # A frame drag: (grip, frame when it began, scene point where it began, the user's
        # region then); grip and frame None: a new frame is drawn from that point.
        self._frame_drag: tuple[Grip | None, Region | None, QPointF, Region | None] | None = None
        self._hover_grip: Grip | None = None  # the frame grip under the cursor (no brush ring)

        self.doc.imageChanged.connect(self._on_image_changed)
        self.doc.maskChanged.connect(self._on_mask_changed)
        self.doc.pointsChanged.connect(self._on_points_changed)

    # -- display ----------------------------------------------------------------------------
    def show_images(self, before: QImage | None, after: QImage | None) -> None:
        """Show `before` (the input) and optionally `after` (a result / live preview)."""
        old = self.image_item.size
        self.image_item.set_images(before, after)
        self._sync_overlays()
        if self.image_item.size != old:
            self.scene().setSceneRect(self.image_item.boundingRect())
            self._sync_points_scale()
            self.fit_to_window()

    def set_split(self, split: float | None) -> None:
        self.image_item.split = split
        self.image_item.update()

    def set_overlay_opacity(self, opacity: float) -> None:
        self.mask_item.opacity_value = float(min(max(opacity, 0.0), 1.0))
        self.mask_item.update()

    def set_busy_text(self, text: str) -> None:
        """A line over the canvas while a file is being opened ("" = none)."""
        self.busy_text = text
        self.viewport().update()

    def set_mask_colour(self, colour: str) -> None:
        """The overlay's colour, "#rrggbb" (the default colour for anything else)."""
        self.mask_item.set_colour(mask_rgb(colour))

    def set_overlays_visible(self, visible: bool) -> None:
        self.overlays_visible = visible
        self._sync_overlays()

    def _sync_overlays(self) -> None:
        # The mask belongs to the working image: over a result it would hide what changed.
        working = not self.image_item.showing_after()
        self.mask_item.setVisible(self.overlays_visible and working)
        self.points_item.setVisible(self.overlays_visible and (
            self.points_shown or self._points_override is not None))
        self.region_item.setVisible(self.overlays_visible and working and self.region_shown
                                    and self.region_item.region is not None)

    def set_points_shown(self, shown: bool) -> None:
        """Drag points exist only for the Drag tab: elsewhere they are neither drawn nor
        placed (a shown history entry's points are still drawn)."""
        self.points_shown = shown
        self._sync_overlays()

    def set_region_frame(self, region: Region | None, explicit: bool, shown: bool,
                         error: str = "") -> None:
        """The frame of the next edit's region: the user's (explicit) or the one auto would
        pick; `shown` False hides it (a kind that edits the whole image)."""
        self.region_shown = shown
        self.region_item.set_frame(region, explicit, error)
        self._sync_overlays()

    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        self._update_cursor()
        self.viewport().update()

    # -- zoom -------------------------------------------------------------------------------
    def zoom(self) -> float:
        return float(self.transform().m11())

    def set_zoom(self, zoom: float, anchor_view: QPointF | None = None) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        factor = zoom / self.zoom()
        if abs(factor - 1.0) < 1e-9:
            return
        if anchor_view is None:
            anchor_view = QPointF(self.viewport().width() / 2, self.viewport().height() / 2)
        # Keep the image point under the anchor fixed (Qt's AnchorUnderMouse reads the global
        # cursor, which is wrong for synthetic events and for keyboard zoom).
        inverse, _ = self.viewportTransform().inverted()
        fixed = inverse.map(anchor_view)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        moved = self.viewportTransform().map(fixed)
        self.horizontalScrollBar().setValue(
            self.horizontalScrollBar().value() + round(moved.x() - anchor_view.x()))
        self.verticalScrollBar().setValue(
            self.verticalScrollBar().value() + round(moved.y() - anchor_view.y()))
        self._zoomed()

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / 1.25)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit_to_window(self) -> None:
        rect = self.image_item.boundingRect()
        if rect.isEmpty() or self.viewport().width() < 2:
            self._fit_pending = True
            return
        self._fit_pending = False
        self.resetTransform()
        margin = 16
        sx = (self.viewport().width() - margin) / rect.width()
        sy = (self.viewport().height() - margin) / rect.height()
        zoom = min(max(min(sx, sy), MIN_ZOOM), MAX_ZOOM)
        self.scale(zoom, zoom)
        self.centerOn(rect.center())
        self._zoomed()

    def _zoomed(self) -> None:
        self._sync_points_scale()
        self.zoomChanged.emit(self.zoom())

    def _sync_points_scale(self) -> None:
        self.points_item.set_scale(self.zoom(), self.image_item.boundingRect())
        self.region_item.set_scale(self.zoom())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_pending:
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            return
        self.set_zoom(self.zoom() * (1.25 ** steps), event.position())
        event.accept()

    # -- coordinates --------------------------------------------------------------------------
    def image_pos(self, view_pos: QPointF | QPoint) -> QPointF:
        """View (viewport) position -> image pixel coordinates (float). A mouse position names
        a screen pixel; its centre (+0.5) is what is under the cursor."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(QPointF(view_pos.x() + 0.5, view_pos.y() + 0.5))

    def view_pos_of_pixel(self, x: int, y: int) -> QPoint:
        """The screen pixel (viewport position) over the centre of image pixel (x, y)."""
        p = self.viewportTransform().map(QPointF(x + 0.5, y + 0.5))
        return QPoint(math.floor(p.x()), math.floor(p.y()))

    def _pixel(self, scene: QPointF) -> tuple[int, int] | None:
        w, h = self.doc.size
        x, y = math.floor(scene.x()), math.floor(scene.y())
        if 0 <= x < w and 0 <= y < h:
            return x, y
        return None

    # -- document signals ----------------------------------------------------------------------
    def _on_image_changed(self) -> None:
        self.selected_pair = None
        self.mask_item.reset(self.doc.mask)
        self._update_cursor()

    def _on_mask_changed(self, box) -> None:
        if self.doc.mask is not None:
            self.mask_item.refresh(self.doc.mask, box)

    def _on_points_changed(self) -> None:
        if self.selected_pair is not None and self.selected_pair >= len(self.doc.points):
            self.selected_pair = None
        if self._points_override is None:
            self.points_item.set_points(self.doc.points, self.selected_pair)

    def set_points_override(self, points: list[PointPair] | None) -> None:
        """Show `points` (a history entry's drag) instead of the working points; None goes
        back to the working points."""
        self._points_override = None if points is None else list(points)
        # A history entry's points are drawn faint: they are not what the next Run uses.
        self.points_item.setOpacity(1.0 if points is None else 0.45)
        self._sync_overlays()
        if points is None:
            self.points_item.set_points(self.doc.points, self.selected_pair)
        else:
            self.points_item.set_points(self._points_override, None)

    # -- mouse --------------------------------------------------------------------------------
    def _split_line_x(self) -> float | None:
        item = self.image_item
        if item.split is None or not item.showing_after():
            return None
        return float(self.mapFromScene(QPointF(item.size[0] * item.split, 0)).x())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus()
        pos = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space):
            self._pan_last = pos.toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() == Qt.MouseButton.LeftButton:
            line = self._split_line_x()
            if line is not None and abs(pos.x() - line) <= 6:
                self._split_drag = True
                return
        if not self.doc.has_image:
            return
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self.editStarting.emit()  # edits apply to the working image: show it first
        scene = self.image_pos(pos)
        on_point = self.tool == Tool.POINTS and self.points_shown and self.hit_point(pos)
        if event.button() == Qt.MouseButton.LeftButton and not on_point and \
                self._begin_frame_drag(scene):
            return
        if self.tool in (Tool.BRUSH, Tool.ERASER) and event.button() == Qt.MouseButton.LeftButton:
            self._begin_stroke(scene)
        elif self.tool == Tool.POINTS and not self.points_shown:
            self.message.emit("Drag points belong to the Drag tab: switch to it to set them.")
        elif self.tool == Tool.POINTS:
            if event.button() == Qt.MouseButton.LeftButton:
                self._points_press(pos, scene)
            elif event.button() == Qt.MouseButton.RightButton:
                hit = self.hit_point(pos)
                if hit is not None:
                    self.delete_pair(hit[0])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._cursor_view = pos
        if self._pan_last is not None:
            delta = pos.toPoint() - self._pan_last
            self._pan_last = pos.toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            return
        scene = self.image_pos(pos)
        pixel = self._pixel(scene)
        self.cursorMoved.emit(*(pixel if pixel else (-1, -1)))
        if self._split_drag:
            w = max(self.image_item.size[0], 1)
            split = min(max(scene.x() / w, 0.0), 1.0)
            self.set_split(split)
            self.splitChanged.emit(split)
            return
        if self._frame_drag is not None:
            self._move_frame(scene)
            return
        if self._stroke_last is not None:
            self._continue_stroke(scene)
        elif self._drag_point is not None:
            self._move_dragged_point(scene)
        elif not event.buttons():
            self._hover_cursor(scene)
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self.viewport().update()  # the brush outline follows the cursor

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_last is not None and event.button() in (Qt.MouseButton.MiddleButton,
                                                             Qt.MouseButton.LeftButton):
            self._pan_last = None
            self._update_cursor()
            return
        if self._split_drag:
            self._split_drag = False
            return
        if self._frame_drag is not None:
            self._end_frame_drag()
        elif self._stroke_last is not None:
            self._end_stroke()
        elif self._drag_point is not None:
            self._end_point_drag()

    def leaveEvent(self, event) -> None:
        self._cursor_view = None
        self.viewport().update()
        self.cursorMoved.emit(-1, -1)
        super().leaveEvent(event)

    # -- brush --------------------------------------------------------------------------------
    def brush(self) -> BrushSpec:
        return BrushSpec(self.brush_radius, self.brush_hardness, erase=self.tool == Tool.ERASER)

    def _begin_stroke(self, scene: QPointF) -> None:
        p = (scene.x(), scene.y())
        self._stroke_last = p
        self.editor.begin_stroke()
        self._stroke_box = self.editor.stroke(p, p, self.brush())

    def _continue_stroke(self, scene: QPointF) -> None:
        assert self._stroke_last is not None
        p = (scene.x(), scene.y())
        box = self.editor.stroke(self._stroke_last, p, self.brush())
        self._stroke_box = union_box(self._stroke_box, box)
        self._stroke_last = p

    def _end_stroke(self) -> None:
        self._stroke_last = None
        self.editor.end_stroke("Erase mask" if self.tool == Tool.ERASER else "Paint mask")

    # -- points ---------------------------------------------------------------------------------
    def hit_point(self, view_pos: QPointF) -> tuple[int, int] | None:
        """(pair index, 0 source / 1 target) of the handle under `view_pos`, topmost first."""
        best, best_d = None, PointsItem.HANDLE_PX + 2
        for index, (source, target) in enumerate(self.doc.points):
            for end, point in ((0, source), (1, target)):
                if point is None:
                    continue
                v = self.view_pos_of_pixel(*point)
                d = math.hypot(v.x() - view_pos.x(), v.y() - view_pos.y())
                if d <= best_d:
                    best, best_d = (index, end), d
        return best

    def _points_press(self, view_pos: QPointF, scene: QPointF) -> None:
        hit = self.hit_point(view_pos)
        if hit is not None:
            self.selected_pair = hit[0]
            self._drag_point = hit
            self._drag_before = list(self.doc.points)
            self.points_item.set_points(self.doc.points, self.selected_pair)
            return
        pixel = self._pixel(scene)
        if pixel is None:
            self.message.emit("Points must be inside the image.")
            return
        before = list(self.doc.points)
        after = list(before)
        if after and after[-1][1] is None:
            after[-1] = (after[-1][0], pixel)
            text = "Add target point"
        else:
            after.append((pixel, None))
            text = "Add source point"
        self.selected_pair = len(after) - 1
        self.editor.set_points(after, text)

    def _move_dragged_point(self, scene: QPointF) -> None:
        assert self._drag_point is not None
        w, h = self.doc.size
        x = min(max(math.floor(scene.x()), 0), w - 1)
        y = min(max(math.floor(scene.y()), 0), h - 1)
        index, end = self._drag_point
        points = list(self.doc.points)
        source, target = points[index]
        points[index] = ((x, y), target) if end == 0 else (source, (x, y))
        self.doc.set_points(points)

    def _end_point_drag(self) -> None:
        before, self._drag_before, self._drag_point = self._drag_before, None, None
        if before is not None:
            self.editor.set_points(list(self.doc.points), "Move point", before=before)

    def delete_pair(self, index: int | None = None) -> bool:
        """Delete the pair `index` (default: the selected one, else the last one)."""
        if not self.doc.points:
            return False
        if index is None:
            index = self.selected_pair if self.selected_pair is not None else len(
                self.doc.points) - 1
        before = list(self.doc.points)
        after = before[:index] + before[index + 1:]
        self.selected_pair = None
        self.editor.set_points(after, f"Delete point pair {index + 1}")
        return True

    def clear_points(self) -> None:
        if self.doc.points:
            self.selected_pair = None
            self.editor.set_points([], "Clear points")

    # -- edit region frame -------------------------------------------------------------------------
    def frame_grip(self, scene: QPointF) -> Grip | None:
        """The sides of the shown frame a press at `scene` grabs. With the Region tool: an edge
        or corner, or the inside (move); with the other tools only the handles, so painting
        and placing points inside the frame keep working."""
        region = self.region_item.region
        if region is None or not self.region_item.isVisible():
            return None
        zoom = self.zoom()
        if self.tool == Tool.REGION:
            return grip_at(region, scene.x(), scene.y(), EDGE_PX / zoom, inside_moves=True)
        reach = (HANDLE_PX + 2) / zoom
        if not any(abs(p.x() - scene.x()) <= reach and abs(p.y() - scene.y()) <= reach
                   for p in self.region_item.handle_points()):
            return None
        return grip_at(region, scene.x(), scene.y(), reach, inside_moves=False)

    def _begin_frame_drag(self, scene: QPointF) -> bool:
        """Grab the frame (a grip), or with the Region tool outside it draw a new one."""
        grip = self.frame_grip(scene)
        region = self.region_item.region
        if grip is None:
            if self.tool != Tool.REGION or not self.region_item.isVisible() or \
                    self._pixel(scene) is None:
                return False
            region = None  # a new frame from this corner
        assert grip is None or region is not None
        self._frame_drag = (grip, region, QPointF(scene), self.doc.region)
        return True

    def _move_frame(self, scene: QPointF) -> None:
        assert self._frame_drag is not None
        grip, start, origin, before = self._frame_drag
        w, h = self.doc.size
        if grip is None or start is None:
            region = region_between((origin.x(), origin.y()), (scene.x(), scene.y()), w, h)
        else:
            region = drag_region(start, grip, scene.x() - origin.x(), scene.y() - origin.y(),
                                 w, h)
            if region == start and before is None:
                return  # not moved yet: the frame stays "auto"
        # Moved, resized or drawn, the frame is the user's choice (solid) from now on.
        self.region_item.set_frame(region, True)
        self.doc.set_region(region)

    def _end_frame_drag(self) -> None:
        assert self._frame_drag is not None
        _, start, _, before = self._frame_drag
        self._frame_drag = None
        after = self.doc.region
        if after is not None and after != before:
            if start is None:
                text = "Draw edit region"
            else:
                text = "Move edit region" if after[2:] == start[2:] else "Resize edit region"
            self.editor.set_region(after, text, before=before)
        self._update_cursor()

    def _hover_cursor(self, scene: QPointF) -> None:
        self._hover_grip = self.frame_grip(scene) if self.doc.has_image else None
        shape = grip_cursor(self._hover_grip)
        if shape is None:
            self._update_cursor()
        else:
            self.viewport().setCursor(shape)

    # -- mask operations --------------------------------------------------------------------------
    def set_mask(self, mask: np.ndarray, text: str) -> None:
        """Replace the whole mask as one undoable step."""
        self.editor.set_mask(mask, text)

    def clear_mask(self) -> None:
        if self.doc.mask is not None:
            self.set_mask(np.zeros_like(self.doc.mask), "Clear mask")

    def invert_mask(self) -> None:
        if self.doc.mask is not None:
            self.set_mask(255 - self.doc.mask, "Invert mask")

    # -- keys -----------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self._update_cursor()
            return
        if event.key() == COMPARE_KEY and not event.modifiers():
            if not event.isAutoRepeat():
                self.image_item.before_only = True
                self.image_item.update()
                self._sync_overlays()
            return
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.points_shown and \
                self.delete_pair():
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.isAutoRepeat():
            return
        if event.key() == Qt.Key.Key_Space:
            self._space = False
            self._update_cursor()
            return
        if event.key() == COMPARE_KEY:
            self.image_item.before_only = False
            self.image_item.update()
            self._sync_overlays()
            return
        super().keyReleaseEvent(event)

    def _update_cursor(self) -> None:
        if self._space:
            shape = Qt.CursorShape.OpenHandCursor
        elif self.tool == Tool.POINTS:
            shape = Qt.CursorShape.CrossCursor
        elif self.tool == Tool.REGION:
            shape = Qt.CursorShape.ArrowCursor
        else:
            shape = Qt.CursorShape.BlankCursor if self.doc.has_image else Qt.CursorShape.ArrowCursor
        self.viewport().setCursor(shape)

    # -- drawing ----------------------------------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        item = self.image_item
        if item.split is not None and item.showing_after():
            x = self._split_line_x()
            if x is not None:
                self._badge(painter, QPointF(x - 8, 8), "Before", right_align=True)
                self._badge(painter, QPointF(x + 8, 8), "After")
        elif item.before_only and item.after is not None:
            self._badge(painter, QPointF(8, 8), "Before (release C)")
        if (self._cursor_view is not None and self.tool in (Tool.BRUSH, Tool.ERASER)
                and not self._space and self.doc.has_image and self._hover_grip is None
                and self._frame_drag is None):
            r = self.brush_radius * self.zoom()
            c = self._cursor_view
            for color, width in ((QColor(0, 0, 0, 180), 3), (QColor(255, 255, 255), 1)):
                pen = QPen(color, width)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(c, r, r)
            if self.brush_hardness < 1.0:
                pen = QPen(QColor(255, 255, 255, 160), 1, Qt.PenStyle.DashLine)
                painter.setPen(pen)
                painter.drawEllipse(c, r * self.brush_hardness, r * self.brush_hardness)
        if self.busy_text:  # a file being opened in the background
            metrics = painter.fontMetrics()
            w, h = metrics.horizontalAdvance(self.busy_text) + 12, metrics.height() + 6
            centre = QPointF(self.viewport().rect().center())
            self._badge(painter, QPointF(centre.x() + w / 2, centre.y() - h / 2),
                        self.busy_text, right_align=True)
        elif not self.doc.has_image and item.before is None:
            painter.setPen(QColor(170, 175, 185))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             "Open an image (Ctrl+O), drop one here, paste it (Ctrl+V)\n"
                             "or pick a sample from File > Samples.")
        painter.restore()

    def _badge(self, painter: QPainter, at: QPointF, text: str, right_align: bool = False) -> None:
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 12, metrics.height() + 6
        x = at.x() - w if right_align else at.x()
        box = QRectF(x, at.y(), w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # -- drag and drop --------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if paths:
            self.filesDropped.emit(paths)
        elif mime.hasImage():
            self.imageDropped.emit(QImage(mime.imageData()))
        event.acceptProposedAction()
