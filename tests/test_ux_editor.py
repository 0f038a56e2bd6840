"""The editor as a new user meets it (issue 27): hold C from a number box, the mask colour and
point markers that stay readable, progress and status lines that are never cut off, a panel
that grows with the window, a photo opened off the UI thread, and the original photo in the
history (also after recovery, whose offer names the image)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QRect, QRectF, Qt
from PySide6.QtGui import QFontMetrics, QImage, QKeyEvent, QPainter
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QSpinBox
from ui_helpers import IMAGE, FakeEngine, make_window

from sdedit_desktop.edits.kinds import DragRequest
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.project import autosave, list_recoverable
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.original import ORIGINAL_ID, session_original
from sdedit_desktop.ui.model.project_binding import editor_to_project, project_to_editor
from sdedit_desktop.ui.qimage import qimage_to_rgb
from sdedit_desktop.ui.settings import AppSettings, load_settings, save_settings
from sdedit_desktop.ui.widgets import RunBox


@pytest.fixture
def engine(qapp):
    return FakeEngine()


@pytest.fixture
def window(qtbot, engine, tmp_path, monkeypatch, errors):
    w = make_window(qtbot, engine, tmp_path, monkeypatch)
    w.start_project(IMAGE, "photo.png", None)
    return w


def _key(widget, kind: QEvent.Type) -> None:
    # Through the application, as a real key press reaches the focus widget.
    QApplication.sendEvent(widget, QKeyEvent(kind, Qt.Key.Key_C, Qt.KeyboardModifier.NoModifier,
                                             "c"))


# -- item 4: hold C wherever the focus is -------------------------------------------------------

def test_hold_c_compares_from_a_number_box_but_types_in_a_text_field(window):
    panel = window.panels.select("drag")
    boxes = [w for w in panel.widgets.values() if isinstance(w, QSpinBox | QDoubleSpinBox)]
    assert boxes, "the drag panel has number boxes"
    # Each number box, and a number box's own line edit (where a click puts the cursor).
    for box in (*boxes, window.panels.seed, boxes[0].lineEdit()):
        before = box.text()
        _key(box, QEvent.Type.KeyPress)
        assert window.canvas.image_item.before_only, type(box).__name__
        _key(box, QEvent.Type.KeyRelease)
        assert not window.canvas.image_item.before_only
        assert box.text() == before  # no "c" went into the number
    prompt = panel.widgets["prompt"]
    prompt.setFocus()
    _key(prompt, QEvent.Type.KeyPress)
    assert not window.canvas.image_item.before_only and prompt.text().endswith("c")
    _key(prompt, QEvent.Type.KeyRelease)


def test_a_hexadecimal_number_box_takes_its_c(window):
    from sdedit_desktop.ui.compare_key import _typing_in

    hex_box = QSpinBox()
    hex_box.setDisplayIntegerBase(16)
    assert _typing_in(hex_box) and _typing_in(hex_box.lineEdit())
    assert not _typing_in(QSpinBox()) and not _typing_in(QSpinBox().lineEdit())


# -- item 5: the mask colour and markers on any background --------------------------------------

def test_mask_colour_is_a_persisted_setting_and_a_bad_value_is_reported(tmp_path):
    path = save_settings(AppSettings(mask_colour="#00d2ff"), tmp_path / "settings.json")
    loaded, problems = load_settings(path)
    assert loaded.mask_colour == "#00d2ff" and problems == []
    path.write_text('{"mask_colour": "red"}')
    loaded, problems = load_settings(path)
    assert loaded.mask_colour == AppSettings().mask_colour
    assert problems and "mask_colour" in problems[0]


def _render(window, size: tuple[int, int]) -> np.ndarray:
    scene = window.canvas.scene()
    out = QImage(*size, QImage.Format.Format_RGB888)
    painter = QPainter(out)
    scene.render(painter, QRectF(0, 0, *size), QRectF(0, 0, *size))
    painter.end()
    return qimage_to_rgb(out)


def test_the_overlay_takes_the_chosen_colour_from_settings_and_the_dialog(window, monkeypatch):
    from sdedit_desktop.ui import settings_dialog

    window.doc.set_image(np.zeros((40, 40, 3), np.uint8))
    mask = np.zeros((40, 40), np.uint8)
    mask[10:30, 10:30] = 255
    window.editor.set_mask(mask, "mask")
    window.canvas.set_overlay_opacity(1.0)
    window.act_overlays.setChecked(True)

    def dialog_ok(dialog):
        dialog.mask_colour.set_colour("#00d2ff")
        dialog.accept()
        return True

    monkeypatch.setattr(settings_dialog.SettingsDialog, "exec", dialog_ok)
    window.open_settings()
    assert window.settings.mask_colour == "#00d2ff"
    assert tuple(_render(window, (40, 40))[20, 20]) == (0, 0xD2, 0xFF)
    with pytest.raises(ValueError, match="#rrggbb"):
        settings_dialog.MaskColourButton("#000000").set_colour("blue")


@pytest.mark.parametrize("background", [(230, 60, 60), (255, 255, 255), (0, 0, 0)])
def test_point_markers_stand_out_on_any_background(window, background):
    window.doc.set_image(np.full((80, 80, 3), background, np.uint8))
    window.canvas.set_points_shown(True)
    window.doc.set_points([((20, 40), (60, 40))])
    window.canvas.points_item.set_scale(1.0, QRectF(0, 0, 80, 80))
    image = _render(window, (80, 80)).astype(int)
    # Around the source handle (radius 7 px on screen) both a dark and a light ring show.
    ring = [image[40, 20 + d] for d in range(6, 12)] + [image[40 + d, 20] for d in range(6, 12)]
    luminance = [0.299 * r + 0.587 * g + 0.114 * b for r, g, b in ring]
    assert min(luminance) < 60 and max(luminance) > 200, luminance


# -- item 3: every line readable ----------------------------------------------------------------

def _fits(label) -> bool:
    """The label's whole text, wrapped at its width, fits in its height."""
    metrics = QFontMetrics(label.font())
    needed = metrics.boundingRect(QRect(0, 0, label.width(), 10_000),
                                  int(Qt.TextFlag.TextWordWrap), label.text())
    return needed.width() <= label.width() and needed.height() <= label.height()


def test_progress_and_estimate_wrap_instead_of_being_cut_off(qtbot):
    box = RunBox()
    qtbot.addWidget(box)
    box.resize(330, 200)
    box.show()
    width = box.sizeHint().width()
    box.show_progress("drag step 12/40", 123, 456, 0.37, 1234.0, 77.0)
    box.estimate.setText("Next edit: ~1 min 17 s (90 evaluations at 512x512, measured here)")
    qtbot.waitUntil(lambda: _fits(box.phase) and _fits(box.estimate), timeout=5000)
    assert "ETA 1 min 17 s" in box.phase.text() and "ETA 1 min 17 s" in box.bar.format()
    assert box.phase.text().startswith("drag step 12/40 · step 123/456")
    assert box.sizeHint().width() == width  # a long text never widens the panel


def test_a_long_status_message_is_shown_whole(window, qtbot):
    window.resize(1280, 800)
    text = ("Finished SDE-Drag (seed 1234) in 151.7 s — the result is the working image now "
            "(Ctrl+Z returns to the previous one; hold C to compare)")
    window.editor.message.emit(text, 0)
    qtbot.waitUntil(lambda: _fits(window.status_line), timeout=5000)
    assert window.status_line.current_message() == text


def test_the_edit_panel_grows_with_the_window_and_keeps_the_users_share(window, qtbot):
    dock = window.edit_dock
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: abs(dock.width() - round(0.28 * window.width())) < 40, timeout=5000)
    narrow = dock.width()
    window.resize(1600, 800)
    qtbot.waitUntil(lambda: dock.width() > narrow + 40, timeout=5000)
    window.resizeDocks([dock], [560], Qt.Orientation.Horizontal)  # the user widens it
    qtbot.waitUntil(lambda: dock.width() >= 540, timeout=5000)
    window.resize(1400, 800)
    qtbot.waitUntil(lambda: abs(dock.width() - 560 * 1400 / 1600) < 40, timeout=5000)


# -- item 11: a photo opened in the background --------------------------------------------------

def test_opening_in_the_background_shows_a_loading_state_then_the_image(window, qtbot, tmp_path,
                                                                        errors):
    path = tmp_path / "big.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8)).save(
        path)
    window.files.open_in_background(path)
    assert window.canvas.busy_text == "Opening big.jpg…"  # at once, before the read is done
    assert "Opening big.jpg" in window.status_line.current_message()
    qtbot.waitUntil(lambda: window.doc.image_label == "big.jpg", timeout=30000)
    assert window.doc.image.shape == (300, 400, 3) and window.canvas.busy_text == ""
    assert not errors
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    window.files.open_in_background(bad)
    qtbot.waitUntil(lambda: bool(errors), timeout=30000)
    assert errors[-1].title == "Cannot open image" and window.doc.image_label == "big.jpg"
    assert window.canvas.busy_text == ""


def test_the_newest_background_open_wins(window, qtbot, tmp_path):
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(first)
    Image.fromarray(np.full((20, 30, 3), 99, np.uint8)).save(second)
    window.files.open_in_background(first)
    window.files.open_in_background(second)
    qtbot.waitUntil(lambda: window.doc.image_label == "second.png", timeout=30000)
    qtbot.wait(200)  # the first read's result, if it comes, is dropped
    assert window.doc.image_label == "second.png"


def test_a_project_opens_in_the_background_too(window, qtbot, tmp_path):
    path = window.files.save_project(path=tmp_path / "p.sdeproj")
    assert path is not None
    window.start_project(np.zeros((16, 16, 3), np.uint8), "other.png", None)
    window.files.open_in_background(path)
    qtbot.waitUntil(lambda: window.editor.project is not None and
                    window.editor.project.path == path, timeout=30000)
    assert np.array_equal(window.doc.image, IMAGE)


# -- item 9: the original photo in the history; recovery names the image ------------------------

def _applied_edit(editor: EditorModel, value: int) -> EditResult:
    request = DragRequest(image=editor.doc.image.copy(), points=(((4, 4), (12, 8)),),
                          max_side=None)
    result = EditResult(request=request, image=np.full_like(editor.doc.image, value))
    editor.add_result(result, editor.parent_id, 1.0)
    return result


def test_the_history_lists_the_original_and_continues_from_it(window):
    editor, panel = window.editor, window.history_panel
    assert panel.list.item(0).data(Qt.ItemDataRole.UserRole) == ORIGINAL_ID
    assert "Original — photo.png" in panel.list.item(0).text()
    _applied_edit(editor, 9)
    _applied_edit(editor, 17)
    panel.select(ORIGINAL_ID)
    assert editor.shown_entry_id == ORIGINAL_ID and panel.continue_button.isEnabled()
    assert not panel.rerun_button.isEnabled() and not panel.params_button.isEnabled()
    assert np.array_equal(window.files.shown_image()[0], IMAGE)  # export: what is shown
    panel.continue_button.click()
    assert np.array_equal(editor.doc.image, IMAGE) and editor.parent_id is None
    assert editor.doc.image_label == "photo.png" and editor.shown_entry_id is None
    editor.undo.undo()
    assert (editor.doc.image == 17).all()


def test_the_original_survives_saving_reopening_and_recovery(window, tmp_path):
    editor = window.editor
    editor.continue_from(ORIGINAL_ID)  # already the working image: nothing changes
    assert editor.undo.count() == 0
    _applied_edit(editor, 9)
    editor.continue_from(editor.history.entries[0].id)  # the label becomes "result #1"
    _applied_edit(editor, 21)
    project = editor_to_project(editor)
    other = EditorModel(FakeEngine())
    project_to_editor(other, project, "p.sdeproj")
    assert np.array_equal(other.original.image, IMAGE) and other.original.label == "photo.png"
    # Recovery: the offer names the image of work never saved as a project.
    window.files.autosave_dir = tmp_path / "auto"
    assert window.files.autosave_now() is not None
    (item,) = list_recoverable(tmp_path / "auto")
    assert item.title == "photo.png, never saved as a project"
    asked = []
    window.confirm = lambda title, question: asked.append(question) or True
    fresh_window = window  # the same window recovers it (a restart, as far as state goes)
    fresh_window.start_project(np.zeros((16, 16, 3), np.uint8), "x.png", None)
    assert fresh_window.files.offer_recovery()
    assert "photo.png" in asked[0]
    assert np.array_equal(fresh_window.editor.original.image, IMAGE)
    assert fresh_window.history_panel.list.item(0).data(Qt.ItemDataRole.UserRole) == ORIGINAL_ID


def test_an_old_autosave_index_without_a_name_is_still_offered(tmp_path):
    from project_helpers import make_project

    autosave(make_project(), tmp_path)
    index = next(tmp_path.glob("*.json"))
    data = json.loads(index.read_text())
    del data["name"]  # as written before the name was recorded
    index.write_text(json.dumps(data))
    (item,) = list_recoverable(tmp_path)
    assert item.title == "Untitled project"
    autosave(make_project(), tmp_path / "named", name="a\u202ename.png")
    (named,) = list_recoverable(tmp_path / "named")
    assert "\\u202e" in named.title  # shown safely: no bidi override reaches the dialog


def test_the_original_is_the_input_of_the_first_root_edit():
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 5, np.uint8)
    request = DragRequest(image=a, points=(((1, 1), (2, 2)),), max_side=None)
    from sdedit_desktop.project.model import HistoryEntry

    first = HistoryEntry(result=EditResult(request=request, image=b))
    child = HistoryEntry(result=EditResult(request=request.with_changes(image=b), image=a),
                         parent_id=first.id)
    assert session_original(b, "w", [first, child]).image is a
    assert session_original(b, "w", [child]).image is b  # its parent is gone: a root
    assert session_original(b, "w", []).image is b
