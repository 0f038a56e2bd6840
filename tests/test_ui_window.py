"""The main window end to end with the real engine and the tiny model (offscreen): drag runs,
previews, compare view, cancel (button and Esc), history (continue, re-run, undo), bad input,
missing model, bad files and failing jobs shown in the error dialog with the app still usable."""

from __future__ import annotations

import numpy as np
import pytest
from images import textured_image
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from ui_helpers import make_window

from sdedit_desktop.edits.kinds import DragRequest
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.ui.main_window import MainWindow
from sdedit_desktop.ui.qimage import qimage_to_rgb
from sdedit_desktop.ui.settings import AppSettings

W, H = 96, 64


@pytest.fixture
def window(qtbot, engine, tmp_path, monkeypatch, errors):
    return make_window(qtbot, engine, tmp_path, monkeypatch)


@pytest.fixture
def ready(qtbot, window):
    window.load_model(window.model_spec())
    qtbot.waitUntil(lambda: getattr(window.model_state, "status", "") == "ready", timeout=60000)
    window.start_project(textured_image(), "test.png", None)
    return window


def _wait_entries(qtbot, window, errors, n: int) -> None:
    """Wait for n history entries; an error dialog on the way fails at once with its text."""
    qtbot.waitUntil(lambda: len(window.history.entries) >= n or bool(errors), timeout=60000)
    assert not errors, errors
    assert len(window.history.entries) == n


def _drag_setup(window: MainWindow, steps: int = 20) -> None:
    window.doc.set_points([((30, 30), (46, 30))])
    panel = window.panels.select("drag")
    panel.widgets["steps"].setValue(steps)
    window.panels.max_side.setValue(0)


def _render_canvas(window: MainWindow) -> np.ndarray:
    """The canvas scene (image + overlays) rendered at 1:1 image pixels."""
    scene = window.canvas.scene()
    out = QImage(W, H, QImage.Format.Format_RGB888)
    painter = QPainter(out)
    scene.render(painter, QRectF(0, 0, W, H), QRectF(0, 0, W, H))
    painter.end()
    return qimage_to_rgb(out)


def test_run_drag_adds_history_with_previews_and_compare(qtbot, ready, errors):
    w = ready
    _drag_setup(w)
    shown = []  # what the progress box showed at each progress signal (window slot runs first)
    w.engine.progress.connect(
        lambda *_: shown.append((w.run_box.bar.value(), w.run_box.phase.text())))
    job = w.run_edit()
    assert job is not None
    _wait_entries(qtbot, w, errors, 1)
    assert not errors
    assert shown and all("ETA" in text and "step" in text for _, text in shown)
    assert any(text.startswith("drag step") for _, text in shown)
    values = [v for v, _ in shown]
    assert values == sorted(values) and values[-1] > 500
    assert w.preview_count > 0  # the canvas showed live previews during the run
    entry = w.history.entries[0]
    request = entry.request
    assert isinstance(request, DragRequest)
    assert request.points == (((30, 30), (46, 30)),)
    assert request.steps == 20 and request.seed == 1234
    assert entry.result.image.shape == (H, W, 3)
    assert len(entry.result.trajectory) >= 1
    assert w.history_panel.selected_id() == entry.id
    assert "SDE-Drag" in w.history_panel.list.item(1).text()  # row 0: the original

    # After only: the canvas shows the result; with the split at 0.5 the left half is the input.
    w.act_overlays.setChecked(False)
    assert np.array_equal(_render_canvas(w), entry.result.image)
    w.compare.check.setChecked(True)
    w.compare.slider.setValue(500)
    shown = _render_canvas(w)
    assert np.array_equal(shown[:, :47], entry.request.image[:, :47])
    assert np.array_equal(shown[:, 49:], entry.result.image[:, 49:])
    assert not np.array_equal(entry.request.image, entry.result.image)

    # Hold-to-compare: C shows the input alone while held.
    w.compare.check.setChecked(False)
    qtbot.keyPress(w.canvas, Qt.Key.Key_C)
    assert np.array_equal(_render_canvas(w), entry.request.image)
    qtbot.keyRelease(w.canvas, Qt.Key.Key_C)
    assert np.array_equal(_render_canvas(w), entry.result.image)

    # The trajectory player steps through the drag: frame 0 is the input.
    n = len(entry.result.trajectory)
    assert w.player.slider.maximum() == n
    w.player.slider.setValue(0)
    assert np.array_equal(_render_canvas(w), entry.request.image)
    w.player.slider.setValue(1)
    assert np.array_equal(_render_canvas(w), entry.result.trajectory[0])

    # A shown drag shows its own points; painting switches back to the working image.
    w.doc.set_points([((5, 5), (9, 9))])
    assert w.canvas.points_item.points == [((30, 30), (46, 30))]
    qtbot.mouseClick(w.canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=w.canvas.view_pos_of_pixel(80, 10))
    assert w.history_panel.selected_id() is None and w.editor.shown_entry_id is None
    assert w.canvas.points_item.points == [((5, 5), (9, 9))]
    assert w.doc.mask[10, 80] == 255
    w.undo.undo()  # the stroke
    w.history_panel.select(entry.id)

    # Undo removes the history entry, redo brings it back.
    w.undo.undo()
    assert w.history.entries == []
    w.undo.redo()
    assert [e.id for e in w.history.entries] == [entry.id]


def test_continue_and_rerun_with_new_seed(qtbot, ready, errors):
    w = ready
    _drag_setup(w, steps=10)
    original = w.doc.image.copy()
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)
    first = w.history.entries[0]

    assert np.array_equal(w.doc.image, first.result.image)  # applied: the working image
    w.continue_from(first.id)  # already is: no step
    assert np.array_equal(w.doc.image, first.result.image)
    assert w.doc.points == []
    w.doc.set_points([((50, 30), (60, 36))])
    w.run_edit()
    _wait_entries(qtbot, w, errors, 2)
    second = w.history.entries[1]
    assert second.parent_id == first.id
    assert np.array_equal(second.request.image, first.result.image)

    w.rerun_with_new_seed(first.id)
    _wait_entries(qtbot, w, errors, 3)
    third = w.history.entries[2]
    assert third.request.seed != first.request.seed
    assert third.request.points == first.request.points
    assert not errors

    # Each finished edit became the working image; continuing an older one is one step.
    assert np.array_equal(w.doc.image, third.result.image)
    w.undo.undo()  # the re-run entry: back to the second drag's result
    assert np.array_equal(w.doc.image, second.result.image)
    w.continue_from(first.id)
    assert np.array_equal(w.doc.image, first.result.image) and w.editor.parent_id == first.id
    w.undo.undo()  # continue-from
    assert np.array_equal(w.doc.image, second.result.image)
    w.undo.undo()  # the second drag's entry
    assert [e.id for e in w.history.entries] == [first.id]
    w.undo.undo()  # the first drag's entry: the original image with its points
    assert w.history.entries == []
    assert np.array_equal(w.doc.image, original)
    assert w.doc.points == [((30, 30), (46, 30))]


def _long_drag(window: MainWindow) -> None:
    window.doc.set_points([((20, 30), (80, 30))])
    panel = window.panels.select("drag")
    panel.widgets["steps"].setValue(1000)  # many UNet calls: still running when we cancel


@pytest.mark.parametrize("how", ["button", "esc"])
def test_cancel_from_button_and_escape(qtbot, ready, errors, how):
    w = ready
    _long_drag(w)
    cancelled = []
    w.engine.jobCancelled.connect(cancelled.append)
    job = w.run_edit()
    qtbot.waitUntil(lambda: w.run_box.cancel_button.isEnabled() and w.preview_count > 0,
                    timeout=60000)
    if how == "button":
        qtbot.mouseClick(w.run_box.cancel_button, Qt.MouseButton.LeftButton)
    else:
        w.activateWindow()
        w.canvas.setFocus()
        qtbot.keyClick(w.canvas, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: cancelled == [job], timeout=30000)
    assert w.history.entries == []
    assert not w.run_box.cancel_button.isEnabled()
    assert w.run_box.bar.format() == "Idle"
    assert not errors
    # The app stays usable: a short drag afterwards succeeds.
    _drag_setup(w, steps=10)
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)


def test_bad_input_gives_message_and_sends_nothing(qtbot, ready, errors, monkeypatch):
    w = ready
    submitted = []
    monkeypatch.setattr(w.engine, "submit", lambda r: submitted.append(r) or 99)
    w.panels.select("drag")
    assert w.run_edit() is None
    assert "Drag needs points" in errors[-1].message
    w.doc.set_points([((10, 10), None)])
    assert w.run_edit() is None
    assert "no target" in errors[-1].message
    w.panels.select("inpaint")
    assert w.doc.mask_is_empty()
    assert w.run_edit() is None
    assert "Inpainting needs a mask" in errors[-1].message
    w.panels.select("diffedit")
    assert w.run_edit() is None
    assert "target prompt" in errors[-1].message
    assert submitted == []
    # With a mask, inpaint goes through and carries the mask pixels exactly.
    w.doc.mask[10:20, 30:50] = 255
    w.panels.select("inpaint")
    assert w.run_edit() == 99
    assert np.array_equal(submitted[0].mask, w.doc.mask)
    w.doc.mask[40:50, 40:50] = 255  # painting on while the job runs leaves the request alone
    assert not submitted[0].mask[40:50, 40:50].any()


def test_missing_model_then_load_works(qtbot, window, errors):
    w = window
    w.start_project(textured_image(), "x.png", None)
    _drag_setup(w, steps=10)
    assert getattr(w.model_state, "status", "none") == "none"
    assert w.run_edit() is None
    assert errors[-1].title == "No model loaded"
    assert "Model setup" in errors[-1].message
    # While a model loads, the status bar shows how far and Run explains why it waits.
    from sdedit_desktop.engine import ModelState

    w.editor.set_model_state(ModelState("loading", message="Loading UNet…", fraction=0.4))
    assert w.model_label.text() == "Model: loading… 40%"
    assert w.act_stop_load.isEnabled()
    assert w.run_edit() is None
    assert errors[-1].title == "Model still loading"
    w.editor.set_model_state(ModelState("none"))
    assert not w.act_stop_load.isEnabled()
    del errors[1:]
    # A model that cannot be found: error dialog with details, window still works.
    w.load_model(ModelSpec("/nonexistent/model-folder"))
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=30000)
    assert errors[-1].title == "Model could not be loaded"
    assert errors[-1].message
    assert w.model_label.text() == "Model: failed to load"
    w.load_model(ModelSpec("tiny", device="cpu"))
    qtbot.waitUntil(lambda: getattr(w.model_state, "status", "") == "ready", timeout=60000)
    assert "tiny" in w.model_label.text()
    assert w.device_label.text() == "Device: cpu"
    assert w.dtype_label.text().startswith("Precision: float")
    errors.clear()
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)


def test_bad_image_file_shows_error_and_keeps_work(qtbot, window, errors, tmp_path):
    w = window
    w.start_project(textured_image(), "keep.png", None)
    w.doc.mask[5:9, 5:9] = 255
    kept = w.doc.image.copy()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    assert w.open_image(bad) is False
    assert errors[-1].title == "Cannot open image"
    assert "broken.png" in errors[-1].message
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    assert w.open_image(text) is False
    assert "not an image" in errors[-1].message
    assert w.open_image(tmp_path / "missing.png") is False
    assert "does not exist" in errors[-1].message
    assert np.array_equal(w.doc.image, kept)
    assert w.doc.mask[6, 6] == 255
    # A good file still opens.
    from PIL import Image

    good = tmp_path / "good.png"
    Image.fromarray(textured_image(seed=3)).save(good)
    assert w.open_image(good) is True
    assert np.array_equal(w.doc.image, textured_image(seed=3))
    assert str(good.resolve()) == w.settings.recent_files[0]


def test_failing_job_shows_error_and_engine_keeps_working(qtbot, ready, errors):
    w = ready
    # Points outside the image pass the panel (it checks presence) but the edit refuses them.
    bad = DragRequest(image=w.doc.image, points=(((5, 5), (500, 400)),), steps=10,
                      max_side=None)
    w.submit(bad, None)
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=60000)
    assert errors[0].title == "Edit failed"
    assert errors[0].message
    assert w.history.entries == []
    assert not w.run_box.cancel_button.isEnabled()
    errors.clear()
    _drag_setup(w, steps=10)
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)


def test_reconstruct_shows_psnr(qtbot, ready, errors):
    w = ready
    panel = w.panels.select("reconstruct")
    panel.widgets["steps"].setValue(10)
    w.panels.max_side.setValue(0)
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)
    psnr = w.history.entries[0].result.metrics["psnr"]
    assert f"PSNR {psnr:.2f} dB" in w.metrics_label.text()
    assert f"PSNR {psnr:.2f} dB" in w.history_panel.list.item(1).text()


def test_diffedit_auto_mask_lands_on_canvas_and_is_editable(qtbot, ready, errors):
    w = ready
    panel = w.panels.select("diffedit")
    panel.widgets["source_prompt"].setText("a photo")
    panel.widgets["target_prompt"].setText("a painting")
    panel.widgets["steps"].setValue(10)
    panel.widgets["mask_samples"].setValue(2)
    w.panels.max_side.setValue(0)
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)
    result = w.history.entries[0].result
    assert result.mask is not None
    assert np.array_equal(w.doc.mask, result.mask)
    assert panel.widgets["mask_mode"].currentData() == "user"
    w.undo.undo()  # the auto mask is one undo step
    assert not w.doc.mask.any()


def test_project_save_open_autosave_and_recovery(qtbot, ready, errors, engine, tmp_path,
                                                 monkeypatch):
    w = ready
    _drag_setup(w, steps=10)
    w.doc.mask[20:40, 20:60] = 255
    w.panels.panels["drag"].widgets["prompt"].setText("a test prompt")
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)
    assert w.has_unsaved_work() and w.windowTitle().startswith("test.png*")

    # Autosave writes a recovery copy while there are unsaved edits.
    auto = w.files.autosave_now()
    assert auto is not None and auto.exists()

    path = w.files.save_project(path=tmp_path / "work.sdeproj")
    assert path == tmp_path / "work.sdeproj" and path.exists()
    assert not w.has_unsaved_work() and "*" not in w.windowTitle()
    assert not auto.exists()  # saving clears the project's autosave

    other = make_window(qtbot, engine, tmp_path, monkeypatch)
    assert other.open_image(path) is True  # .sdeproj through the same Open path
    assert [e.id for e in other.history.entries] == [e.id for e in w.history.entries]
    assert np.array_equal(other.doc.image, w.doc.image)
    assert np.array_equal(other.doc.mask, w.doc.mask)
    assert other.doc.points == w.doc.points
    assert other.panels.panels["drag"].widgets["prompt"].text() == "a test prompt"
    assert np.array_equal(other.history.entries[0].result.image,
                          w.history.entries[0].result.image)
    assert other.project.path == path

    # Unsaved change + autosave, then a "crash": a new window offers recovery.
    other.canvas.clear_mask()
    other.continue_from(other.history.entries[0].id)
    assert other.has_unsaved_work()
    assert other.files.autosave_now() is not None
    third = make_window(qtbot, engine, tmp_path, monkeypatch)
    assert third.files.offer_recovery() is True
    assert not third.doc.mask.any()
    assert np.array_equal(third.doc.image, other.doc.image)
    assert third.has_unsaved_work()

    # Discarding unsaved work removes its autosave; "cancel" keeps everything as it is.
    third.ask_unsaved = lambda: "cancel"
    assert third.open_image(path) is False
    assert not third.doc.mask.any()
    assert third.files.autosave_now() is not None
    third.ask_unsaved = lambda: "discard"
    assert third.open_image(path) is True
    from sdedit_desktop.project import list_recoverable

    assert [i for i in list_recoverable(third.autosave_dir)
            if i.project_id == third.project.id] == []

    # A damaged project shows the error and keeps the current work.
    bad = tmp_path / "bad.sdeproj"
    bad.write_bytes(b"PK\x03\x04 broken")
    kept = third.doc.image.copy()
    assert third.open_image(bad) is False
    assert errors[-1].title == "Cannot open project"
    assert np.array_equal(third.doc.image, kept)


def test_every_way_to_open_an_image_and_export(qtbot, window, errors, tmp_path):
    from PIL import Image
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QApplication

    from sdedit_desktop.engine.qimage import rgb_to_qimage
    from sdedit_desktop.resources import sample_images

    w = window
    # Paste from the clipboard.
    QApplication.clipboard().setImage(rgb_to_qimage(textured_image(seed=1)))
    w.paste_image()
    assert np.array_equal(w.doc.image, textured_image(seed=1))
    QApplication.clipboard().clear()
    w.paste_image()
    assert errors[-1].title == "Nothing to paste"
    assert np.array_equal(w.doc.image, textured_image(seed=1))

    # Drop a file on the canvas.
    path = tmp_path / "dropped.png"
    Image.fromarray(textured_image(seed=2)).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    w.canvas.dropEvent(drop)  # read in the background (ui/background_read.py)
    qtbot.waitUntil(lambda: w.doc.image_label == "dropped.png", timeout=20000)
    assert np.array_equal(w.doc.image, textured_image(seed=2))

    # The bundled samples are in File > Samples, and opened files land in File > Recent.
    sample_actions = w.samples_menu.actions()
    assert [a.text().lower() for a in sample_actions] == [p.stem for p in sample_images()]
    sample_actions[0].trigger()
    qtbot.waitUntil(lambda: w.doc.image_label == sample_images()[0].name, timeout=20000)
    recent = w.recent_menu.actions()
    assert [a.toolTip() for a in recent][:2] == [str(sample_images()[0].resolve()),
                                                 str(path.resolve())]
    recent[1].trigger()
    qtbot.waitUntil(lambda: w.doc.image_label == "dropped.png", timeout=20000)
    assert np.array_equal(w.doc.image, textured_image(seed=2))

    # Export the working image as PNG with no edit parameters.
    out = w.export_result(tmp_path / "export")
    assert out == tmp_path / "export.png"
    with Image.open(out) as png:
        assert np.array_equal(np.asarray(png.convert("RGB")), textured_image(seed=2))


def test_tool_and_brush_shortcuts(qtbot, window):
    from sdedit_desktop.ui.canvas import Tool

    w = window
    w.start_project(textured_image(), "x.png", None)
    w.activateWindow()
    w.canvas.setFocus()
    for key, tool in ((Qt.Key.Key_P, Tool.POINTS), (Qt.Key.Key_E, Tool.ERASER),
                      (Qt.Key.Key_B, Tool.BRUSH)):
        qtbot.keyClick(w.canvas, key)
        assert w.canvas.tool == tool
    radius = w.canvas.brush_radius
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketRight)
    assert w.canvas.brush_radius == pytest.approx(radius * 1.25)
    # The Size control shows the diameter (issue #17: photo editors' convention).
    assert w.size_label.text().strip() == f"{2 * radius * 1.25:.0f} px"
    assert w.size_slider.value() == round(2 * radius * 1.25)
    w.hardness_slider.setValue(30)
    assert w.canvas.brush_hardness == pytest.approx(0.3)
    w.opacity_slider.setValue(80)
    assert w.canvas.mask_item.opacity_value == pytest.approx(0.8)
    assert w.settings.overlay_opacity == pytest.approx(0.8)


def test_opening_an_image_cancels_edits_of_the_previous_one(qtbot, ready, errors):
    w = ready
    _long_drag(w)
    cancelled = []
    w.engine.jobCancelled.connect(cancelled.append)
    job = w.run_edit()
    qtbot.waitUntil(lambda: w.preview_count > 0, timeout=60000)
    w.start_project(textured_image(seed=5), "other.png", None)
    qtbot.waitUntil(lambda: cancelled == [job], timeout=30000)
    # jobCancelled is the job's last signal, and the engine is idle: nothing can land later.
    assert w.engine.running_job is None and w.engine.waiting_jobs() == 0
    assert w.history.entries == [] and not errors
    assert not w.run_box.cancel_button.isEnabled()
    assert np.array_equal(w.doc.image, textured_image(seed=5))


def test_projects_carry_the_loras_their_edits_used_when_asked(qtbot, window, errors, tmp_path,
                                                             monkeypatch):
    """Settings > 'Save projects with the LoRA weights…': saving embeds the cached LoRAs the
    history used; opening the project elsewhere installs them into that machine's cache."""
    import hashlib

    from project_helpers import lora_bytes, make_result, rgb

    from sdedit_desktop.models.lora import LoraCache
    from sdedit_desktop.project import HistoryEntry, load_project

    key = hashlib.sha256(b"a trained lora").hexdigest()
    monkeypatch.setenv("SDEDIT_CACHE_DIR", str(tmp_path / "here"))
    here = LoraCache()
    here.dir.mkdir(parents=True)
    weights = lora_bytes(5)
    here.weights_path(key).write_bytes(weights)
    here.metadata_path(key).write_text('{"steps": 100}')
    request = DragRequest(image=rgb(1), points=(((1, 1), (4, 1)),), lora="auto")
    entry = HistoryEntry(result=make_result(request, 3, key), id="with-lora")
    w = window
    w.start_project(rgb(1), "x.png", None, entries=[entry])

    plain = w.files.save_project(path=tmp_path / "plain.sdeproj")
    assert load_project(plain).loras == {}
    w.settings.embed_loras = True
    carried = w.files.save_project(path=tmp_path / "carried.sdeproj")
    assert load_project(carried).loras[key].weights == weights

    monkeypatch.setenv("SDEDIT_CACHE_DIR", str(tmp_path / "there"))
    assert w.open_image(carried) is True
    there = LoraCache()
    assert there.dir == tmp_path / "there" / "lora"
    assert there.weights_path(key).read_bytes() == weights
    assert there.read_metadata(key) == {"steps": 100}
    assert not errors


# -- editing as in photo editors (issue 17) ------------------------------------------------------

def test_finished_edit_is_the_working_image_and_compare_works_without_focus(qtbot, ready,
                                                                            errors):
    from PySide6.QtWidgets import QApplication

    w = ready
    _drag_setup(w, steps=10)
    original = w.doc.image.copy()
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)
    entry = w.history.entries[0]
    w.act_overlays.setChecked(False)
    assert np.array_equal(w.doc.image, entry.result.image)
    # A click on the canvas (a brush stroke) edits the result: it never returns to the original.
    qtbot.mouseClick(w.canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=w.canvas.view_pos_of_pixel(80, 10))
    assert w.editor.shown_entry_id is None
    assert np.array_equal(_render_canvas(w), entry.result.image)
    # Hold C with the keyboard focus elsewhere (the history list): the input of the edit.
    w.history_panel.list.setFocus()
    QApplication.processEvents()
    canvas_size = w.canvas.size()
    qtbot.keyPress(w.history_panel.list, Qt.Key.Key_C)
    assert np.array_equal(_render_canvas(w), entry.request.image)
    QApplication.processEvents()  # layout requests: the canvas would shrink here
    assert w.player.isHidden() and w.canvas.size() == canvas_size  # the image does not jump
    qtbot.keyRelease(w.history_panel.list, Qt.Key.Key_C)
    assert np.array_equal(_render_canvas(w), entry.result.image)
    assert w.editor.shown_entry_id is None  # back on the working image
    # Typing a C into a prompt is typing, not comparing.
    prompt = w.panels.select("drag").widgets["prompt"]
    qtbot.keyClick(prompt, Qt.Key.Key_C)
    assert prompt.text().endswith("c")
    # The split compares the working image's edit too.
    w.compare.check.setChecked(True)
    assert w.editor.shown_entry_id == entry.id
    w.compare.check.setChecked(False)
    # Undo (the stroke, then the edit) returns to the original; the history keeps nothing.
    w.undo.undo()
    w.undo.undo()
    assert np.array_equal(w.doc.image, original) and w.history.entries == []
    w.undo.redo()
    assert np.array_equal(w.doc.image, entry.result.image)


def test_double_click_on_run_queues_one_edit(qtbot, ready, errors):
    w = ready
    _drag_setup(w, steps=10)
    added = []
    w.editor.jobs.added.connect(added.append)
    # A double click is two clicks in quick succession (Run may have become Queue already).
    qtbot.mouseClick(w.run_box.run_button, Qt.MouseButton.LeftButton)
    assert len(added) == 1
    qtbot.mouseClick(w.run_box.run_button, Qt.MouseButton.LeftButton)
    qtbot.mouseDClick(w.run_box.run_button, Qt.MouseButton.LeftButton)
    assert len(added) == 1
    _wait_entries(qtbot, w, errors, 1)


def test_export_writes_the_format_the_extension_names(qtbot, ready, errors, tmp_path):
    from PIL import Image

    from sdedit_desktop.imaging import read_metadata

    w = ready
    _drag_setup(w, steps=10)
    w.run_edit()
    _wait_entries(qtbot, w, errors, 1)
    entry = w.history.entries[0]
    w.settings.export_quality = 80
    for name, fmt in (("export1.jpg", "JPEG"), ("export2.webp", "WEBP"),
                      ("export3.png", "PNG"), ("export4", "PNG")):
        written = w.export_result(tmp_path / name)
        assert not errors, errors
        with Image.open(written) as img:
            assert img.format == fmt and img.size == (W, H)
        meta = read_metadata(written)
        assert '"seed": 1234' in meta["sdedit:request"], (name, meta)
    assert (tmp_path / "export4.png").exists()
    with Image.open(tmp_path / "export3.png") as img:
        assert np.array_equal(np.asarray(img.convert("RGB")), entry.result.image)


def test_title_names_the_saved_project_and_dialogs_avoid_the_installation(qtbot, window,
                                                                          errors, tmp_path):
    from sdedit_desktop.resources import resources_dir, sample_images

    w = window
    sample = sample_images()[0]
    assert w.open_image(sample)
    assert w.settings.last_dir != str(sample.parent)  # not remembered: it is the installation
    suggestion = w.files.save_suggestion(".sdeproj")
    assert suggestion.name == f"{sample.stem}.sdeproj"
    assert resources_dir().resolve() not in suggestion.resolve().parents
    assert w.files.save_suggestion(".png", "-edit").name == f"{sample.stem}-edit.png"
    saved = w.files.save_project(path=tmp_path / "myproject.sdeproj")
    assert saved is not None and not errors
    assert w.windowTitle().startswith("myproject.sdeproj")
    assert w.files.save_suggestion(".sdeproj") == tmp_path / "myproject.sdeproj"


def test_autosave_is_on_by_default_and_follows_the_settings(qtbot, engine, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("SDEDIT_CONFIG_DIR", str(tmp_path / "config"))
    w = MainWindow(engine, AppSettings(), settings_file=tmp_path / "config" / "settings.json")
    qtbot.addWidget(w)
    assert w._autosave_timer.isActive() and w._autosave_timer.interval() == 2 * 60_000
    w.settings.autosave_minutes = 0
    w.apply_autosave_interval()
    assert not w._autosave_timer.isActive()
