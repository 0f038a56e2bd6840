"""The edit region in the editor (issue #13, UI part), without the window: the user's choice in
the document (undo, projects, new sessions), the region the next edit would use, the frame's
snapped move/resize geometry, and the frame on a real canvas driven by the mouse."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from ui_helpers import FakeEngine

from sdedit_desktop.edits.kinds import DragRequest, InpaintRequest
from sdedit_desktop.edits.region import auto_region
from sdedit_desktop.project import load_project, save_project
from sdedit_desktop.ui.canvas import CanvasView, Tool
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.next_edit import build_next_edit
from sdedit_desktop.ui.model.project_binding import editor_to_project, project_to_editor
from sdedit_desktop.ui.model.region import (
    MOVE,
    drag_region,
    region_between,
    scale_text,
)
from sdedit_desktop.ui.region_frame import grip_at
from sdedit_desktop.ui.region_presenter import RegionPresenter

W, H = 1000, 700  # larger than SD's native 512: auto regions are crops


def _image(w: int = W, h: int = H) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)


@pytest.fixture
def editor(qapp):
    model = EditorModel(FakeEngine())
    model.start_project(_image(), "big.png")
    return model


# -- the choice in the model ----------------------------------------------------------------------
def test_region_choice_is_undoable_and_signals(editor):
    seen = []
    editor.doc.regionChanged.connect(lambda: seen.append(editor.doc.region))
    assert editor.doc.region is None  # auto by default
    editor.set_region((8, 16, 256, 128))
    assert editor.doc.region == (8, 16, 256, 128)
    editor.set_region(None)
    assert editor.doc.region is None
    editor.undo.undo()
    assert editor.doc.region == (8, 16, 256, 128)
    editor.undo.undo()
    assert editor.doc.region is None
    editor.undo.redo()
    assert editor.doc.region == (8, 16, 256, 128)
    assert seen == [(8, 16, 256, 128), None, (8, 16, 256, 128), None, (8, 16, 256, 128)]
    assert editor.undo.undoText() == "Set edit region"


def test_new_session_resets_the_region_and_a_same_size_image_keeps_it(editor):
    editor.set_region((0, 0, 512, 512))
    editor.doc.set_image(_image(), "result #1")  # e.g. an applied edit: same size, kept
    assert editor.doc.region == (0, 0, 512, 512)
    editor.doc.set_image(_image(400, 300), "small")  # it no longer fits: auto
    assert editor.doc.region is None
    editor.set_region((0, 0, 64, 64))
    editor.start_project(_image(), "other.png")  # a new session: auto again
    assert editor.doc.region is None


def test_project_round_trip_keeps_the_region_and_old_projects_are_auto(editor, tmp_path):
    editor.set_region((104, 96, 512, 384))
    path = tmp_path / "p.sdeproj"
    save_project(editor_to_project(editor), path)
    other = EditorModel(FakeEngine())
    project_to_editor(other, load_project(path), "p")
    assert other.doc.region == (104, 96, 512, 384)
    assert not other.undo.canUndo()  # loading is not an edit

    for saved in (None, "bogus", [0, 0, W + 8, H], [1, 2, 3]):
        project = load_project(path)
        project.ui = dict(project.ui, region=saved)
        other.doc.set_region((0, 0, 64, 64))
        project_to_editor(other, project, "p")
        assert other.doc.region is None, saved
    project = load_project(path)
    project.ui.pop("region")  # a project from before the region existed
    project_to_editor(other, project, "p")
    assert other.doc.region is None


# -- the region the next edit would use -----------------------------------------------------------
def next_region(doc, params, kind):
    return build_next_edit(doc, params, kind, None)


def test_next_region_follows_points_kind_mask_and_choice(editor):
    doc, params = editor.doc, editor.params
    doc.set_points([((600, 400), (640, 420))])
    state = next_region(doc, params, "drag")
    expected = auto_region(DragRequest(image=doc.image, points=(((600, 400), (640, 420)),)))
    assert state.region == expected and not state.explicit and state.shown
    assert not state.region_error
    doc.set_points([((100, 100), (140, 120))])
    moved = next_region(doc, params, "drag").region
    assert moved != expected and moved[0] == 0 and moved[1] == 0  # it followed the points

    mask = np.zeros((H, W), np.uint8)
    mask[500:560, 800:900] = 255
    doc.set_image(doc.image, "big.png", mask=mask)
    assert next_region(doc, params, "inpaint").region == auto_region(
        InpaintRequest(image=doc.image, mask=mask))
    assert next_region(doc, params, "diffedit").region == (0, 0, W, H)  # auto mask: whole
    params.set("diffedit", "mask_mode", "user")
    assert next_region(doc, params, "diffedit").region == auto_region(
        InpaintRequest(image=doc.image, mask=mask))
    rec = next_region(doc, params, "reconstruct")
    assert not rec.shown and rec.region == (0, 0, W, H)

    doc.set_region((0, 0, 256, 256))  # the mask lies outside this one
    state = next_region(doc, params, "inpaint")
    assert state.explicit and state.region == (0, 0, 256, 256) and "outside" in state.region_error
    params.set("drag", "max_side", 128)
    assert next_region(doc, params, "drag").max_side == 128


def test_scale_text():
    assert scale_text((0, 0, 512, 384), 768) == "Region 512x384 at 1:1"
    assert scale_text((0, 0, 2000, 1500), 768) == "Region 2000x1500 → 768x576 (0.38x)"
    assert scale_text((0, 0, 2000, 1500), 768, 0.384) == "Region 2000x1500 → 768x576 (0.38x)"
    assert scale_text((8, 8, 512, 384), None) == "Region 512x384 at 1:1"


# -- frame geometry -------------------------------------------------------------------------------
def test_moving_snaps_to_8_and_stays_inside():
    region = (64, 64, 256, 128)
    assert drag_region(region, MOVE, 13, -5, W, H) == (80, 56, 256, 128)
    assert drag_region(region, MOVE, 3, 3, W, H) == (64, 64, 256, 128)
    assert drag_region(region, MOVE, -500, -500, W, H) == (0, 0, 256, 128)
    # Past the far border: flush with it (1000 - 256 = 744; 700 - 128 = 572).
    assert drag_region(region, MOVE, 5000, 5000, W, H) == (744, 572, 256, 128)
    assert drag_region(region, MOVE, 5000, 5000, 1001, 701) == (745, 573, 256, 128)


def test_resizing_snaps_keeps_a_minimum_and_the_image():
    region = (64, 64, 256, 128)
    right_bottom = (False, False, True, True)
    assert drag_region(region, right_bottom, 21, 2, W, H) == (64, 64, 280, 128)
    assert drag_region(region, right_bottom, -1000, -1000, W, H) == (64, 64, 64, 64)
    # Sizes stay multiples of 8 (an edit at scale 1 is never resampled) unless the whole side.
    assert drag_region(region, right_bottom, 5000, 5000, W, H) == (64, 64, 936, 632)
    assert drag_region(region, right_bottom, 5000, 5000, 1001, 701) == (64, 64, 936, 632)
    assert drag_region((0, 0, 256, 128), right_bottom, 5000, 5000, 1001, 701) == (
        0, 0, 1001, 701)
    left_top = (True, True, False, False)
    assert drag_region(region, left_top, -30, 17, W, H) == (32, 80, 288, 112)
    assert drag_region(region, left_top, -1000, -1000, W, H) == (0, 0, 320, 192)
    assert drag_region(region, left_top, 1000, 1000, W, H) == (256, 128, 64, 64)
    left = (True, False, False, False)
    assert drag_region(region, left, 16, 999, W, H) == (80, 64, 240, 128)
    # An image smaller than the minimum: the whole side.
    assert drag_region((0, 0, 48, 40), right_bottom, -40, -40, 48, 40) == (0, 0, 48, 40)


def test_drawing_a_region_between_two_corners():
    assert region_between((103, 250), (30, 170), W, H) == (24, 168, 80, 80)
    assert region_between((10, 10), (12, 11), W, H) == (8, 8, 64, 64)  # the minimum
    assert region_between((990, 690), (995, 699), W, H) == (W - 64, H - 64, 64, 64)
    assert region_between((-50, -50), (5000, 5000), W, H) == (0, 0, W, H)


def test_grips():
    region = (100, 100, 200, 100)
    assert grip_at(region, 100, 100, 4, False) == (True, True, False, False)
    assert grip_at(region, 301, 150, 4, False) == (False, False, True, False)
    assert grip_at(region, 200, 198, 4, False) == (False, False, False, True)
    assert grip_at(region, 200, 150, 4, True) == MOVE
    assert grip_at(region, 200, 150, 4, False) is None
    assert grip_at(region, 50, 150, 4, True) is None


# -- the frame on the canvas ----------------------------------------------------------------------
@pytest.fixture
def framed(qtbot, editor):
    canvas = CanvasView(editor)
    canvas.resize(500, 400)
    qtbot.addWidget(canvas)
    canvas.show()
    qtbot.waitExposed(canvas)
    from sdedit_desktop.engine.qimage import rgb_to_qimage

    canvas.show_images(rgb_to_qimage(editor.doc.image), None)
    presenter = RegionPresenter(editor, canvas)
    canvas.presenter_ref = presenter  # keep it alive with the canvas
    return canvas


def _view(canvas: CanvasView, x: float, y: float) -> QPoint:
    p = canvas.viewportTransform().map(QPointF(x, y))
    return QPoint(round(p.x()), round(p.y()))


def _drag(qtbot, canvas: CanvasView, a: QPoint, b: QPoint) -> None:
    vp = canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    for i in range(1, 5):
        qtbot.mouseMove(vp, a + (b - a) * (i / 4))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)


def test_auto_frame_shows_the_would_be_region_and_follows_the_points(qtbot, editor, framed):
    item = framed.region_item
    assert item.isVisible() and not item.explicit
    assert item.region == (0, 0, W, H)  # no points yet: the whole image
    editor.set_points([((600, 400), (640, 420))])
    expected = auto_region(DragRequest(image=editor.doc.image, points=(((600, 400), (640, 420)),)))
    assert item.region == expected and not item.explicit
    editor.set_points([((700, 500), (740, 520))])
    assert item.region != expected and item.region[0] > expected[0]

    editor.set_edit_kind("reconstruct")
    assert not item.isVisible()
    editor.set_edit_kind("inpaint")
    assert item.isVisible() and item.region == (0, 0, W, H)  # no mask: whole image
    editor.doc.stroke((900.0, 650.0), (950.0, 660.0), _brush())
    qtbot.waitUntil(lambda: item.region != (0, 0, W, H), timeout=2000)  # strokes coalesce
    assert item.region[0] + item.region[2] == W and not item.explicit


def _brush():
    from sdedit_desktop.ui.brush import BrushSpec

    return BrushSpec(10.0, 1.0)


def test_dragging_the_frame_moves_it_in_snapped_steps_inside_the_image(qtbot, editor, framed):
    editor.set_region((200, 200, 256, 128))
    framed.set_tool(Tool.REGION)
    zoom = framed.zoom()
    assert zoom < 1  # the 1000 px image fits a 500 px view
    a = _view(framed, 300, 250)
    b = a + QPoint(40, 25)
    _drag(qtbot, framed, a, b)
    dx, dy = 40 / zoom, 25 / zoom
    x, y, w, h = editor.doc.region
    assert (w, h) == (256, 128) and x % 8 == 0 and y % 8 == 0
    assert abs(x - (200 + dx)) <= 4 + 1 / zoom and abs(y - (200 + dy)) <= 4 + 1 / zoom
    assert framed.region_item.region == editor.doc.region and framed.region_item.explicit
    assert editor.undo.undoText() == "Move edit region"
    editor.undo.undo()
    assert editor.doc.region == (200, 200, 256, 128)

    # Far past the corner: it stops at the image border.
    _drag(qtbot, framed, _view(framed, 300, 250), _view(framed, 300, 250) + QPoint(900, 900))
    assert editor.doc.region == (W - 256, H - 128, 256, 128)


def test_handles_resize_with_any_tool_and_auto_becomes_explicit(qtbot, editor, framed):
    editor.set_points([((600, 400), (640, 420))])
    auto = framed.region_item.region
    framed.set_tool(Tool.BRUSH)
    x, y, w, h = auto
    corner = _view(framed, x + w, y + h)
    _drag(qtbot, framed, corner, corner - QPoint(30, 20))
    nx, ny, nw, nh = editor.doc.region
    assert (nx, ny) == (x, y) and nw % 8 == 0 and nh % 8 == 0
    assert abs(nw - (w - 30 / framed.zoom())) <= 4 + 1 / framed.zoom()
    assert abs(nh - (h - 20 / framed.zoom())) <= 4 + 1 / framed.zoom()
    assert framed.region_item.explicit
    assert not editor.doc.mask.any()  # the handle grabbed the press: nothing was painted
    editor.undo.undo()  # back to auto, dashed again
    assert editor.doc.region is None and framed.region_item.region == auto
    assert not framed.region_item.explicit

    # Inside the frame the brush still paints.
    _drag(qtbot, framed, _view(framed, x + w / 2, y + h / 2), _view(framed, x + w / 2 + 20,
                                                                    y + h / 2))
    assert editor.doc.mask.any() and editor.doc.region is None


def test_auto_and_whole_actions(editor, framed):
    presenter = framed.presenter_ref
    presenter.whole()
    assert editor.doc.region == (0, 0, W, H) and framed.region_item.explicit
    presenter.auto()
    assert editor.doc.region is None and not framed.region_item.explicit
    editor.undo.undo()
    assert editor.doc.region == (0, 0, W, H)
    assert presenter.label.text() == "Region 1000x700 → 768x538 (0.77x)"  # aspect kept
    editor.params.set("drag", "max_side", None)  # 700 is no multiple of 8: padded, not resized
    assert presenter.label.text() == "Region 1000x700 at 1:1"
    editor.set_region((0, 0, 512, 384))
    assert presenter.label.text() == "Region 512x384 at 1:1"
    editor.set_region(None)
    assert presenter.label.text() == "Region 1000x700 at 1:1 (auto)"


def test_points_win_over_frame_handles_and_hidden_points_are_not_deleted(qtbot, editor,
                                                                         framed):
    editor.set_region((200, 200, 256, 128))
    editor.set_points([((200, 200), (240, 230))])  # the source sits on the frame's corner
    framed.set_tool(Tool.POINTS)
    a = framed.view_pos_of_pixel(200, 200)
    _drag(qtbot, framed, a, a + QPoint(30, 30))
    assert editor.doc.region == (200, 200, 256, 128)  # the point moved, not the frame
    assert editor.doc.points[0][0] != (200, 200)

    framed.set_points_shown(False)  # another tab than Drag
    framed.setFocus()
    qtbot.keyClick(framed, Qt.Key.Key_Delete)
    assert len(editor.doc.points) == 1
    framed.set_points_shown(True)
    qtbot.keyClick(framed, Qt.Key.Key_Delete)
    assert editor.doc.points == []


def test_region_tool_draws_a_new_frame_outside_the_old_one(qtbot, editor, framed):
    editor.set_region((0, 0, 128, 128))
    framed.set_tool(Tool.REGION)
    _drag(qtbot, framed, _view(framed, 500, 300), _view(framed, 800, 600))
    x, y, w, h = editor.doc.region
    assert x % 8 == 0 and y % 8 == 0 and w % 8 == 0 and h % 8 == 0
    assert abs(x - 500) <= 8 and abs(y - 300) <= 8
    assert abs(x + w - 800) <= 8 and abs(y + h - 600) <= 8
    assert editor.undo.undoText() == "Draw edit region"
    editor.undo.undo()
    assert editor.doc.region == (0, 0, 128, 128)
    # A handle pressed and released without moving leaves "auto" as it is.
    editor.set_region(None)
    rx, ry, rw, rh = framed.region_item.region
    corner = _view(framed, rx + rw, ry + rh)
    qtbot.mousePress(framed.viewport(), Qt.MouseButton.LeftButton, pos=corner)
    qtbot.mouseRelease(framed.viewport(), Qt.MouseButton.LeftButton, pos=corner)
    assert editor.doc.region is None and not framed.region_item.explicit
