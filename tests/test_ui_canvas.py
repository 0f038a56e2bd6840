"""Canvas: mask strokes land on exactly the right image pixels at any zoom, eraser and undo
restore them, points land on the right image coordinates at several zooms and can be moved and
deleted."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from ui_helpers import FakeEngine

from sdedit_desktop.engine.qimage import rgb_to_qimage
from sdedit_desktop.ui.brush import BrushSpec, stroke_segment
from sdedit_desktop.ui.canvas import CanvasView, Tool
from sdedit_desktop.ui.model.editor import EditorModel


def _image(w: int = 96, h: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 2, y * 3, (x + y) % 256], axis=-1).astype(np.uint8)


@pytest.fixture
def canvas(qtbot):
    editor = EditorModel(FakeEngine())
    doc = editor.doc
    view = CanvasView(editor)
    view.resize(400, 300)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    image = _image()
    doc.set_image(image)
    view.show_images(rgb_to_qimage(image), None)
    view.editor_ref = editor  # keep the editor model alive with the view
    return view


def _expected_capsule(shape, p0, p1, radius):
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(float)
    cx, cy = xs + 0.5, ys + 0.5
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((cx - x0) * dx + (cy - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0, 1)
    return np.hypot(cx - (x0 + t * dx), cy - (y0 + t * dy)) <= radius


def _drag(qtbot, view, a: QPoint, b: QPoint, steps: int = 6) -> list[QPoint]:
    vp = view.viewport()
    sent = [a]
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        qtbot.mouseMove(vp, p)
        sent.append(p)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    return sent


def _to_image(view, p: QPoint) -> tuple[float, float]:
    """Independent of the canvas code: undo the view's scale and scroll by hand. The centre of
    the screen pixel under the cursor is what the user points at."""
    t = view.viewportTransform()
    return (p.x() + 0.5 - t.dx()) / t.m11(), (p.y() + 0.5 - t.dy()) / t.m22()


def test_stroke_segment_is_exact_capsule():
    mask = np.zeros((40, 50), np.uint8)
    stroke_segment(mask, (10.0, 10.0), (30.0, 25.0), BrushSpec(radius=4.0, hardness=1.0))
    expected = _expected_capsule(mask.shape, (10, 10), (30, 25), 4.0)
    assert np.array_equal(mask == 255, expected)
    assert set(np.unique(mask)) <= {0, 255}


def test_soft_brush_feathers_and_eraser_reverses():
    mask = np.zeros((40, 40), np.uint8)
    stroke_segment(mask, (20.0, 20.0), (20.0, 20.0), BrushSpec(radius=10.0, hardness=0.3))
    assert mask[20, 20] == 255  # centre pixel, within the hard core
    ring = mask[20, 27]  # 7.5 px from the centre: in the feathered ramp
    assert 0 < ring < 255
    assert mask[20, 31] == 0  # beyond the radius
    painted = mask.copy()
    stroke_segment(mask, (20.0, 20.0), (20.0, 20.0),
                   BrushSpec(radius=10.0, hardness=0.3, erase=True))
    assert mask[20, 20] == 0  # the soft eraser clears the core ...
    assert mask[20, 27] == min(ring, 255 - ring)  # ... and fades the ring as much as it covers
    assert np.all(mask <= painted)
    stroke_segment(mask, (20.0, 20.0), (20.0, 20.0),
                   BrushSpec(radius=10.0, hardness=1.0, erase=True))
    assert not mask.any()


@pytest.mark.parametrize("zoom", [0.5, 1.0, 3.0])
def test_brush_stroke_changes_exactly_pixels_under_it(qtbot, canvas, zoom):
    canvas.set_zoom(zoom)
    canvas.centerOn(48, 32)
    canvas.set_tool(Tool.BRUSH)
    canvas.brush_radius, canvas.brush_hardness = 5.0, 1.0
    a, b = canvas.view_pos_of_pixel(20, 20), canvas.view_pos_of_pixel(60, 40)
    sent = _drag(qtbot, canvas, a, b)
    # Expected: the union of capsules along the mouse path, mapped to image pixels by hand.
    path = [_to_image(canvas, p) for p in sent]
    expected = np.zeros(canvas.doc.mask.shape, bool)
    for p0, p1 in itertools.pairwise(path):
        expected |= _expected_capsule(expected.shape, p0, p1, 5.0)
    got = canvas.doc.mask == 255
    assert got.sum() > 0
    assert np.array_equal(got, expected)
    assert set(np.unique(canvas.doc.mask)) <= {0, 255}
    painted = canvas.doc.mask.copy()

    canvas.set_tool(Tool.ERASER)
    _drag(qtbot, canvas, a, b)
    assert not canvas.doc.mask.any()

    undo = canvas.undo
    assert undo.count() == 2
    undo.undo()
    assert np.array_equal(canvas.doc.mask, painted)
    undo.undo()
    assert not canvas.doc.mask.any()
    undo.redo()
    assert np.array_equal(canvas.doc.mask, painted)
    undo.redo()
    assert not canvas.doc.mask.any()


def test_clear_and_invert_mask_are_undoable(canvas):
    canvas.doc.mask[10:20, 10:30] = 255
    original = canvas.doc.mask.copy()
    canvas.invert_mask()
    assert np.array_equal(canvas.doc.mask, 255 - original)
    canvas.clear_mask()
    assert not canvas.doc.mask.any()
    canvas.undo.undo()
    assert np.array_equal(canvas.doc.mask, 255 - original)
    canvas.undo.undo()
    assert np.array_equal(canvas.doc.mask, original)


@pytest.mark.parametrize("zoom", [0.5, 1.0, 4.0])
def test_clicks_make_points_at_image_coordinates(qtbot, canvas, zoom):
    canvas.set_zoom(zoom)
    canvas.centerOn(40, 30)
    canvas.set_tool(Tool.POINTS)
    vp = canvas.viewport()
    # Known view positions -> image pixels computed by hand from the zoom and scroll offset.
    clicks = [canvas.view_pos_of_pixel(*px) for px in ((20, 12), (50, 20), (80, 50), (30, 52))]
    pixels = []
    for p in clicks:
        x, y = _to_image(canvas, p)
        pixels.append((int(np.floor(x)), int(np.floor(y))))
    if zoom >= 1.0:  # a screen pixel is no larger than an image pixel: every pixel is reachable
        assert pixels == [(20, 12), (50, 20), (80, 50), (30, 52)]
    for p in clicks:
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=p)
    wanted = [(pixels[0], pixels[1]), (pixels[2], pixels[3])]
    assert canvas.doc.points == wanted
    # The view position of a pixel's centre and the pixel under a click agree both ways.
    for source, _ in wanted:
        p = canvas.image_pos(canvas.view_pos_of_pixel(*source))
        assert (int(p.x()), int(p.y())) == source

    # Drag the first target to a new pixel.
    start = clicks[1]
    end = canvas.view_pos_of_pixel(66, 10)
    _drag(qtbot, canvas, start, end)
    ex, ey = _to_image(canvas, end)
    moved = (int(np.floor(ex)), int(np.floor(ey)))
    assert moved != pixels[1]
    assert canvas.doc.points[0] == (pixels[0], moved)
    assert canvas.doc.points[1] == wanted[1]

    # Select pair 2 by clicking its source and delete it with the Delete key.
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=clicks[2])
    assert canvas.doc.points[1] == wanted[1]  # a click on a handle selects, it adds nothing
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert canvas.doc.points == [(pixels[0], moved)]

    canvas.undo.undo()  # delete
    assert canvas.doc.points[1] == wanted[1]
    canvas.undo.undo()  # move
    assert canvas.doc.points == wanted
    canvas.clear_points()
    assert canvas.doc.points == []
    canvas.undo.undo()
    assert canvas.doc.points == wanted


def test_wheel_zoom_keeps_pixel_under_cursor(qtbot, canvas):
    canvas.set_zoom(6.0)  # the image is larger than the view: there is room to keep the anchor
    canvas.centerOn(40, 30)
    pos = canvas.view_pos_of_pixel(36, 28)
    before = canvas.image_pos(pos)
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    event = QWheelEvent(QPointF(pos), QPointF(canvas.mapToGlobal(pos)), P(0, 0), P(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(event)
    assert canvas.zoom() == pytest.approx(6.0 * 1.25 ** 2)
    after = canvas.image_pos(pos)
    assert abs(after.x() - before.x()) < 0.2 and abs(after.y() - before.y()) < 0.2


def test_middle_button_pans(qtbot, canvas):
    canvas.set_zoom(8.0)
    h0 = canvas.horizontalScrollBar().value()
    vp = canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, pos=QPoint(200, 150))
    qtbot.mouseMove(vp, QPoint(150, 150))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton, pos=QPoint(150, 150))
    assert canvas.horizontalScrollBar().value() == h0 + 50
    assert not canvas.doc.mask.any()  # panning never paints
