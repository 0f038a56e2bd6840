"""The edit region and the canvas items of issues #13 and #17 in the main window with the real
engine and the tiny model: a drag with the user's region on a 640x480 image edits exactly that
region; the status bar tells the working size; points only on the Drag tab; the brush Size is its
diameter; a bad region is refused before anything is queued."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from ui_helpers import make_window

from sdedit_desktop.ui.canvas import Tool

W, H = 640, 480


def _image() -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:H, 0:W]
    base = np.stack([x % 256, y % 256, (x * y) % 256], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def window(qtbot, engine, tmp_path, monkeypatch, errors):
    w = make_window(qtbot, engine, tmp_path, monkeypatch)
    w.start_project(_image(), "big.png", None)
    return w


def test_drag_with_an_explicit_region_edits_only_that_region(qtbot, window, errors):
    w = window
    w.load_model(w.model_spec())
    qtbot.waitUntil(lambda: getattr(w.model_state, "status", "") == "ready", timeout=60000)
    w.doc.set_points([((300, 200), (316, 204))])
    panel = w.panels.select("drag")
    panel.widgets["steps"].setValue(10)
    w.panels.max_side.setValue(768)
    region = (256, 160, 128, 96)
    w.editor.set_region(region)
    assert w.canvas.region_item.region == region and w.canvas.region_item.explicit
    assert w.region_presenter.label.text() == "Region 128x96 at 1:1"

    assert w.run_edit() is not None
    qtbot.waitUntil(lambda: len(w.history.entries) == 1 or bool(errors), timeout=120000)
    assert not errors, errors
    entry = w.history.entries[0]
    assert entry.request.region == region
    assert entry.result.region == region and entry.result.work_scale == 1.0
    image, out = entry.request.image, entry.result.image
    assert out.shape == image.shape
    outside = np.ones((H, W), bool)
    x, y, rw, rh = region
    outside[y:y + rh, x:x + rw] = False
    assert np.array_equal(out[outside], image[outside])  # bit-identical outside the frame
    assert not np.array_equal(out[~outside], image[~outside])  # the edit changed inside it
    w.view_entry(entry.id)
    assert w.region_presenter.label.text() == "Region 128x96 at 1:1 (used)"


def test_status_bar_follows_the_next_edit(qtbot, window):
    w = window
    label = w.region_presenter.label
    w.panels.select("drag")
    w.panels.max_side.setValue(256)
    assert label.text() == "Region 640x480 → 256x192 (0.40x) (auto)"  # no points: whole
    w.doc.set_points([((300, 200), (330, 210))])
    assert label.text() == "Region 512x480 → 256x240 (0.50x) (auto)"
    w.panels.max_side.setValue(768)
    assert label.text() == "Region 512x480 at 1:1 (auto)"
    w.act_whole_region.trigger()
    assert label.text() == "Region 640x480 at 1:1" and w.doc.region == (0, 0, W, H)
    w.act_auto_region.trigger()
    assert w.doc.region is None and label.text().endswith("(auto)")
    w.act_whole_region.trigger()
    w.activateWindow()
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_R)  # the Region tool
    assert w.canvas.tool == Tool.REGION and w.act_region.isChecked()
    qtbot.keyClick(w.canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)  # Auto region
    assert w.doc.region is None
    w.panels.select("reconstruct")
    assert not w.canvas.region_item.isVisible()
    assert label.text() == "Region 640x480 at 1:1"


def test_a_region_that_misses_the_points_is_refused_before_queueing(qtbot, window, errors):
    w = window
    w.load_model(w.model_spec())
    qtbot.waitUntil(lambda: getattr(w.model_state, "status", "") == "ready", timeout=60000)
    w.panels.select("drag")
    w.doc.set_points([((500, 400), (520, 410))])
    w.editor.set_region((0, 0, 128, 128))
    assert "not usable" in w.region_presenter.label.text()
    assert w.run_edit() is None
    assert len(errors) == 1 and "does not contain the source (500, 400)" in errors[0].message
    assert not w.editor.jobs
    # Reconstruct edits the whole image: the frame's region is not sent.
    w.panels.select("reconstruct")
    assert w.editor.next_edit().request.region is None


def test_points_are_drawn_and_placed_only_on_the_drag_tab(qtbot, window):
    w = window
    w.doc.set_points([((100, 100), (140, 120))])
    w.panels.select("drag")
    assert w.canvas.points_item.isVisible()
    for kind in ("inpaint", "diffedit", "reconstruct"):
        w.panels.select(kind)
        assert w.editor.edit_kind == kind
        assert not w.canvas.points_item.isVisible(), kind
    w.set_tool(Tool.POINTS)
    at = w.canvas.view_pos_of_pixel(300, 300)
    qtbot.mouseClick(w.canvas.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert w.doc.points == [((100, 100), (140, 120))]  # no invisible point was added
    w.panels.select("drag")
    assert w.canvas.points_item.isVisible()
    qtbot.mouseClick(w.canvas.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert len(w.doc.points) == 2


def test_brush_size_is_the_diameter(qtbot, window):
    w = window
    assert w.size_slider.value() == round(2 * w.settings.brush_radius)  # saved as a radius
    assert "diameter" in w.size_slider.toolTip()
    w.size_slider.setValue(40)
    assert w.canvas.brush_radius == 20 and w.settings.brush_radius == 20
    assert w.size_label.text().strip() == "40 px"
    w.canvas.brush_hardness = 1.0
    w.set_tool(Tool.BRUSH)
    w.canvas.actual_size()
    at = w.canvas.view_pos_of_pixel(320, 240)
    qtbot.mousePress(w.canvas.viewport(), Qt.MouseButton.LeftButton, pos=at)
    qtbot.mouseRelease(w.canvas.viewport(), Qt.MouseButton.LeftButton, pos=at)
    row = np.flatnonzero(w.doc.mask[240] >= 128)
    assert abs(row.size - 40) <= 1  # paints 40 px wide (not 80)
    assert w.canvas.tool == Tool.BRUSH and w.doc.region is None
