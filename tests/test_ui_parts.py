"""UI building blocks: settings persistence, method panels (paper defaults, tooltips, request
building and refusals), numpy<->QImage, image files, model setup choices, help dialog, the
trajectory player and the split line on the canvas."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from ui_helpers import FakeEngine, Refused, next_request

from sdedit_desktop.edits.kinds import (
    DiffEditRequest,
    DragRequest,
    InpaintRequest,
    ReconstructRequest,
    all_kinds,
)
from sdedit_desktop.engine.qimage import rgb_to_qimage
from sdedit_desktop.ui import imageio
from sdedit_desktop.ui.canvas import CanvasView
from sdedit_desktop.ui.help_dialog import ShortcutsDialog
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model_setup import ModelSetupDialog
from sdedit_desktop.ui.panels import PanelStack
from sdedit_desktop.ui.params import panel_specs
from sdedit_desktop.ui.qimage import gray_to_qimage, qimage_to_rgb
from sdedit_desktop.ui.settings import MAX_RECENT, AppSettings, load_settings, save_settings
from sdedit_desktop.ui.widgets import TrajectoryPlayer

IMG = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)


# -- settings ------------------------------------------------------------------------------

def test_settings_round_trip_and_recent(tmp_path):
    path = tmp_path / "cfg" / "settings.json"
    s = AppSettings(model_source="tiny", device="cpu", dtype="float32", overlay_opacity=0.3)
    for i in range(MAX_RECENT + 3):
        s.add_recent(tmp_path / f"img{i}.png")
    s.add_recent(tmp_path / "img5.png")  # re-opening moves it to the front, no duplicate
    save_settings(s, path)
    loaded, problems = load_settings(path)
    assert problems == []
    assert loaded == s
    assert len(loaded.recent_files) == MAX_RECENT
    assert loaded.recent_files[0].endswith("img5.png")
    assert len(set(loaded.recent_files)) == MAX_RECENT


def test_damaged_settings_fall_back_with_reasons(tmp_path):
    path = tmp_path / "settings.json"
    assert load_settings(path) == (AppSettings(), [])  # first run: no file, no problem
    path.write_text("{not json")
    settings, problems = load_settings(path)
    assert settings == AppSettings() and "not valid JSON" in problems[0]
    path.write_text(json.dumps({"model_source": 5, "device": "cuda", "max_side": "big",
                                "recent_files": ["a", 3], "overlay_opacity": 1}))
    settings, problems = load_settings(path)
    assert settings.device == "cuda"
    assert settings.overlay_opacity == 1.0
    assert settings.model_source is None and settings.max_side == 768
    assert settings.recent_files == []
    assert len(problems) == 3 and all("ignored" in p for p in problems)


# -- panels --------------------------------------------------------------------------------

def _panel_specs():
    return [(k.name, k.request_type, panel_specs(k.request_type)) for k in all_kinds()]


def _build(panels, image, mask, points, model):
    return next_request(panels.params, panels.current_kind(), image, mask, points, model)


@pytest.fixture
def panels(qtbot):
    stack = PanelStack()
    qtbot.addWidget(stack)
    return stack


def test_panels_show_every_paper_default_with_tooltips(panels):
    for kind, cls, specs in _panel_specs():
        panel = panels.panels[kind]
        values = panel.values()
        for spec in specs:
            default = next(f.default for f in fields(cls) if f.name == spec.name)
            assert values[spec.name] == default, (kind, spec.name)
            assert len(panel.widgets[spec.name].toolTip()) > 20, (kind, spec.name)
        assert values["method"] == "sde"
    # Every tunable field of a request is on its panel (not the arrays, seed, model, points).
    # region/feather (issue #13): the canvas's region frame will set them; until then "auto".
    handled = {"image", "mask", "seed", "model", "max_side", "method", "points", "lora",
               "region", "feather"}
    for kind, cls, specs in _panel_specs():
        missing = {f.name for f in fields(cls)} - handled - {s.name for s in specs}
        assert missing == set(), (kind, missing)


def test_drag_request_from_panel(panels):
    panel = panels.select("drag")
    panel.widgets["prompt"].setText("a cat")
    panel.widgets["t0"].setValue(0.5)
    panel.ode_button.setChecked(True)
    panels.seed.setValue(7)
    mask = np.zeros((64, 96), np.uint8)
    request = _build(panels, IMG, mask, [((10, 10), (20, 12))], None)
    assert isinstance(request, DragRequest)
    assert request.method == "ode" and request.prompt == "a cat" and request.t0 == 0.5
    assert request.points == (((10, 10), (20, 12)),)
    assert request.seed == 7 and request.max_side == 768
    assert request.mask is None  # an empty mask means "everything may change"
    assert request.step_size == 2.0 and request.half_size == 5 and request.lora == "off"
    mask[5:10, 5:10] = 255
    assert np.array_equal(_build(panels, IMG, mask, [((1, 1), (9, 9))], None).mask, mask)


@pytest.mark.parametrize("points, needle", [
    ([], "needs points"),
    ([((1, 1), (5, 5)), ((3, 3), None)], "pair 2 has a source but no target"),
    ([((4, 4), (4, 4))], "nothing would move"),
])
def test_drag_refusals(panels, points, needle):
    panels.select("drag")
    with pytest.raises(Refused, match=needle):
        _build(panels, IMG, None, points, None)


def test_other_panels_build_and_refuse(panels, tmp_path):
    empty = np.zeros((64, 96), np.uint8)
    mask = empty.copy()
    mask[:, :10] = 255
    with pytest.raises(Refused, match="Open an image"):
        _build(panels, None, None, [], None)
    panels.select("inpaint")
    with pytest.raises(Refused, match="needs a mask"):
        _build(panels, IMG, empty, [], None)
    request = _build(panels, IMG, mask, [], None)
    assert isinstance(request, InpaintRequest) and request.order == 1 and request.steps == 50
    d = panels.select("diffedit")
    d.widgets["source_prompt"].setText("a dog")
    d.widgets["target_prompt"].setText("a dog")
    with pytest.raises(Refused, match="identical"):
        _build(panels, IMG, None, [], None)
    d.widgets["target_prompt"].setText("a cat")
    request = _build(panels, IMG, mask, [], None)
    assert isinstance(request, DiffEditRequest) and request.mask is None  # auto mode
    d.widgets["mask_mode"].setCurrentIndex(d.widgets["mask_mode"].findData("user"))
    with pytest.raises(Refused, match="mask is empty"):
        _build(panels, IMG, empty, [], None)
    assert np.array_equal(_build(panels, IMG, mask, [], None).mask, mask)
    panels.select("reconstruct")
    request = _build(panels, IMG, mask, [], None)
    assert isinstance(request, ReconstructRequest) and request.mask is None
    drag = panels.select("drag")
    drag.lora_mode.setCurrentIndex(drag.lora_mode.findData("file"))
    drag.lora_path.setText(str(tmp_path / "none.safetensors"))
    with pytest.raises(Refused, match="does not exist"):
        _build(panels, IMG, None, [((1, 1), (9, 9))], None)
    (tmp_path / "l.safetensors").write_bytes(b"x")
    drag.lora_path.setText(str(tmp_path / "l.safetensors"))
    assert _build(panels, IMG, None, [((1, 1), (9, 9))], None).lora.endswith(
        "l.safetensors")


def test_show_request_puts_parameters_back(panels):
    request = DragRequest(image=IMG, points=(((1, 2), (3, 4)),), method="ode", t0=0.45,
                          steps=120, prompt="x", lora="auto", seed=99, max_side=512)
    panels.select("inpaint")
    panels.show_request(request)
    assert panels.current_kind() == "drag"
    rebuilt = _build(panels, IMG, None, [((1, 2), (3, 4))], None)
    assert rebuilt.params() == request.params()
    panels.current().reset_defaults()
    assert panels.current().values()["t0"] == 0.6


# -- images --------------------------------------------------------------------------------

@pytest.mark.parametrize("w, h", [(96, 64), (33, 17)])  # odd widths have padded rows in Qt
def test_qimage_round_trip(qtbot, w, h):
    array = np.random.default_rng(w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert np.array_equal(qimage_to_rgb(rgb_to_qimage(array)), array)
    gray = array[..., 0].copy()
    assert np.array_equal(qimage_to_rgb(gray_to_qimage(gray))[..., 1], gray)
    argb = QImage(w, h, QImage.Format.Format_ARGB32)
    argb.fill(0x00FF0000)  # fully transparent red: composited on white
    assert (qimage_to_rgb(argb) == 255).all()


def test_image_files(tmp_path, monkeypatch):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :15, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "a.png")
    loaded = imageio.load_image_file(tmp_path / "a.png")
    assert loaded.shape == (20, 30, 3)
    assert (loaded[:, :15] == (200, 0, 0)).all() and (loaded[:, 15:] == 255).all()
    Image.fromarray(IMG).save(tmp_path / "tiny.png")
    monkeypatch.setattr(imageio, "MAX_PIXELS", 1000)
    with pytest.raises(imageio.ImageLoadError, match="megapixels are refused"):
        imageio.load_image_file(tmp_path / "tiny.png")
    Image.fromarray(IMG[:4, :4]).save(tmp_path / "small.png")
    with pytest.raises(imageio.ImageLoadError, match="at least 8x8"):
        imageio.load_image_file(tmp_path / "small.png")
    out = imageio.save_png(tmp_path / "out.png", IMG, DragRequest(image=IMG, seed=5))
    with Image.open(out) as png:
        assert json.loads(png.text["sdedit:request"])["seed"] == 5
        assert np.array_equal(np.asarray(png), IMG)


# -- dialogs -------------------------------------------------------------------------------

def test_model_setup_choices(qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("sdedit_desktop.ui.model_setup.show_error",
                        lambda _p, title, message, detail=None: shown.append(message))
    settings = AppSettings()
    dialog = ModelSetupDialog(settings, first_run=True)
    qtbot.addWidget(dialog)
    assert dialog.hub.isChecked()  # nothing configured: SD 1.5 from the hub is proposed
    dialog.local.setChecked(True)
    dialog.path.setText(str(tmp_path))
    dialog.accept()
    assert "model_index.json" in shown[-1] and settings.model_source is None
    ckpt = tmp_path / "m.ckpt"
    ckpt.write_bytes(b"x")
    dialog.path.setText(str(ckpt))
    dialog.accept()
    assert "pickle" in shown[-1] and settings.model_source is None
    (tmp_path / "model_index.json").write_text("{}")
    dialog.path.setText(str(tmp_path))
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.dtype.setCurrentIndex(dialog.dtype.findData("float64"))
    dialog.accept()
    assert settings.model_source == str(tmp_path)
    assert (settings.device, settings.dtype) == ("cpu", "float64")
    again = ModelSetupDialog(settings)
    qtbot.addWidget(again)
    assert again.local.isChecked() and again.path.text() == str(tmp_path)
    again.tiny.setChecked(True)
    again.accept()
    assert settings.model_source == "tiny"


def test_help_lists_window_shortcuts(qtbot):
    from sdedit_desktop.ui.actions import Shortcut

    dialog = ShortcutsDialog([Shortcut("Ctrl+Return", "Run edit"), Shortcut("Esc", "Cancel")])
    qtbot.addWidget(dialog)
    rows = {(dialog.table.item(r, 0).text(), dialog.table.item(r, 1).text())
            for r in range(dialog.table.rowCount())}
    assert ("Ctrl+Return", "Run edit") in rows
    assert any(keys == "C (hold)" and what.startswith("Show the input (before) while held")
               for keys, what in rows)


# -- widgets -------------------------------------------------------------------------------

def test_trajectory_player_plays_to_the_end(qtbot):
    player = TrajectoryPlayer()
    qtbot.addWidget(player)
    frames = []
    player.frameChanged.connect(frames.append)
    player.timer.setInterval(5)
    player.set_frames(3)
    assert player.slider.value() == 3 and player.label.text() == "step 3 / 3"
    player.play_button.click()  # at the end: restarts from the input
    qtbot.waitUntil(lambda: not player.play_button.isChecked(), timeout=3000)
    assert frames == [0, 1, 2, 3]
    assert player.label.text() == "step 3 / 3"


def test_split_line_can_be_dragged_on_canvas(qtbot):
    editor = EditorModel(FakeEngine())
    doc = editor.doc
    view = CanvasView(editor)
    view.resize(400, 300)
    qtbot.addWidget(view)
    view.show()
    doc.set_image(IMG)
    before, after = rgb_to_qimage(IMG), rgb_to_qimage(255 - IMG)
    view.show_images(before, after)
    view.set_split(0.5)
    splits = []
    view.splitChanged.connect(splits.append)
    line = view.view_pos_of_pixel(48, 30)
    target = view.view_pos_of_pixel(24, 30)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=line)
    qtbot.mouseMove(view.viewport(), target)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=target)
    assert splits and abs(splits[-1] - 24.5 / 96) < 0.02
    assert not doc.mask.any()  # dragging the split does not paint


def test_model_download_runs_off_the_ui_thread_with_progress(qtbot, monkeypatch, tmp_path):
    import threading
    from types import SimpleNamespace

    from sdedit_desktop.models.hub_progress import DownloadProgress
    from sdedit_desktop.ui import model_setup

    threads, shown = [], []

    def fake_download(repo_id, progress=None, cancel=None, plan=None):
        # Stands in for models.hub.download_model (no network in tests): same call shape.
        threads.append(threading.current_thread())
        for done in (0, 2_000_000_000, 4_000_000_000):
            progress(DownloadProgress(file="unet.safetensors" if done < 4e9 else "",
                                      done_bytes=done, total_bytes=4_000_000_000,
                                      files_done=0 if done < 4e9 else 5, files_total=5))
        if repo_id == "bad/id":
            raise RuntimeError("404 not found")
        return SimpleNamespace(path=tmp_path / "snap")

    monkeypatch.setattr(model_setup, "find_downloader", lambda: fake_download)
    monkeypatch.setattr(model_setup, "show_error",
                        lambda _p, title, message, detail=None: shown.append((title, message)))
    dialog = model_setup.ModelSetupDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.download_bar.value() == 1000, timeout=5000)
    qtbot.waitUntil(lambda: "Downloaded" in dialog.download_label.text(), timeout=5000)
    assert threads and threads[0] is not threading.main_thread()
    assert str(tmp_path / "snap") in dialog.download_label.text()
    dialog.hub_id.setText("bad/id")
    dialog.start_download()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert shown[0][0] == "Download failed" and "404" in shown[0][1]
    assert dialog.download_button.isEnabled()


def test_settings_dialog_sets_the_embed_loras_option(qtbot, tmp_path, monkeypatch):
    from sdedit_desktop.ui.settings_dialog import SettingsDialog

    monkeypatch.setenv("SDEDIT_CONFIG_DIR", str(tmp_path))
    settings = AppSettings()
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert not dialog.embed_loras.isChecked()
    dialog.embed_loras.setChecked(True)
    dialog.accept()
    assert settings.embed_loras is True


def test_panels_show_and_write_the_models_params_both_ways(qtbot):
    from sdedit_desktop.ui.model.edit_params import EditParams

    params = EditParams()
    stack = PanelStack(params)
    qtbot.addWidget(stack)
    assert params.get("drag") == stack.panels["drag"].values()
    stack.panels["drag"].widgets["prompt"].setText("a dog")  # widget -> model
    assert params.get("drag")["prompt"] == "a dog"
    stack.panels["drag"].lora_mode.setCurrentIndex(stack.panels["drag"].lora_mode.findData("file"))
    stack.panels["drag"].lora_path.setText("/x/y.safetensors")
    assert params.get("drag")["lora"] == "/x/y.safetensors"
    stack.select("inpaint")
    stack.seed.setValue(77)
    assert {params.value(k, "seed") for k in params.kinds()} == {77}
    params.set("diffedit", "mask_mode", "user")  # model -> widget
    assert stack.panels["diffedit"].widgets["mask_mode"].currentData() == "user"
    params.set("reconstruct", "seed", 5)
    assert stack.seed.value() == 5
