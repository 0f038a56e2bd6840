"""The editor with models of several families: the status bar and the Model menu name the loaded
model's family, native size and prediction type; the edit region and the working size follow
the family before any edit runs; the setup dialog shows the loaded model and keeps the
prediction-type choice; an edit made with another family is refused saying so."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import TIMEOUT_MS, FakeLoader, FakeRunner, Recorder, make_request, wait_end
from ui_helpers import FakeEngine, make_window

from sdedit_desktop.engine import Engine, ModelState
from sdedit_desktop.models.interface import ModelIdentity, ModelSpec
from sdedit_desktop.ui.model_setup import ModelSetupDialog
from sdedit_desktop.ui.model_status import model_status_text
from sdedit_desktop.ui.settings import AppSettings

SDXL = ModelIdentity("hub", "stabilityai/stable-diffusion-xl-base-1.0", family="sdxl")
SD21V = ModelIdentity("single-file", "/models/sd21.safetensors", family="sd2",
                      prediction_type="v_prediction")
SD15 = ModelIdentity("hub", "stable-diffusion-v1-5/stable-diffusion-v1-5")


def ready(identity: ModelIdentity) -> ModelState:
    return ModelState("ready", identity=identity, device="cpu", dtype="float32")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    engine = FakeEngine()
    w = make_window(qtbot, engine, tmp_path, monkeypatch)
    photo = np.random.default_rng(0).integers(0, 256, (1500, 2000, 3), dtype=np.uint8)
    w.start_project(photo, "photo.png", None)
    w.engine_for_test = engine
    return w


def test_status_bar_and_model_menu_name_the_family(window):
    window.engine_for_test.modelStateChanged.emit(ready(SDXL))
    assert window.model_label.text() == "Model: stable-diffusion-xl-base-1.0 (SDXL)"
    assert window.act_model_info.text() == "Loaded: SDXL · 1024 px · ε-prediction"
    assert "SDXL · 1024 px" in window.model_label.toolTip()
    window.engine_for_test.modelStateChanged.emit(ready(SD21V))
    assert window.act_model_info.text() == "Loaded: SD 2.x · 768 px · v-prediction"
    window.engine_for_test.modelStateChanged.emit(ModelState("none"))
    assert window.act_model_info.text() == "No model loaded"
    text = model_status_text(ready(SD15))
    assert text.model.endswith("(SD 1.x)") and text.family == "SD 1.x · 512 px · ε-prediction"


def test_region_and_working_size_follow_the_loaded_family(window):
    w = window
    w.doc.set_points([((1000, 700), (1016, 708))])
    w.panels.select("drag")
    engine = w.engine_for_test
    engine.modelStateChanged.emit(ready(SD15))
    region = w.editor.next_edit().region
    assert region[2:] == (512, 512) and w.panels.max_side_value() == 768
    engine.modelStateChanged.emit(ready(SDXL))
    region = w.editor.next_edit().region
    assert region[2:] == (1024, 1024) and w.panels.max_side_value() == 1536
    assert w.region_presenter.label.text() == "Region 1024x1024 at 1:1 (auto)"
    assert w.editor.next_edit().request.model == SDXL  # Run sends the region the frame shows
    w.panels.max_side.setValue(1280)  # the user's choice stays with the next family
    engine.modelStateChanged.emit(ready(SD21V))
    assert w.panels.max_side_value() == 1280
    assert w.editor.next_edit().region[2:] == (768, 768)


def test_setup_dialog_shows_the_loaded_model_and_keeps_the_prediction_choice(
        qtbot, window, tmp_path, monkeypatch):
    from sdedit_desktop.models.prediction_choice import remember_prediction_type

    monkeypatch.setenv("SDEDIT_CACHE_DIR", str(tmp_path / "cache"))
    sd2_file, other_file = tmp_path / "sd2.safetensors", tmp_path / "other.safetensors"
    sd2_file.write_bytes(b"x")
    other_file.write_bytes(b"y")
    remember_prediction_type(sd2_file, "epsilon")
    settings = AppSettings(model_source="tiny")
    dialog = ModelSetupDialog(settings, loaded=SD21V)
    qtbot.addWidget(dialog)
    assert "SD 2.x · 768 px · v-prediction" in dialog.loaded_label.text()
    dialog.choose_file(str(sd2_file))  # what was said for this file before
    assert dialog.prediction.currentData() == "epsilon"
    dialog.choose_file(str(other_file))
    assert dialog.prediction.currentData() == "auto"
    dialog.prediction.setCurrentIndex(dialog.prediction.findData("v_prediction"))
    dialog.accept()
    assert settings.prediction_type == "v_prediction"
    assert settings.model_source == str(other_file)
    window.settings.model_source = str(other_file)
    window.settings.prediction_type = "v_prediction"
    assert window.model_spec().prediction_type == "v_prediction"
    window.settings.model_source = "stabilityai/stable-diffusion-xl-base-1.0"  # says it itself
    assert window.model_spec().prediction_type is None
    window.settings.model_source = str(other_file)
    window.settings.prediction_type = "auto"
    assert window.model_spec().prediction_type is None
    plain = ModelSetupDialog(AppSettings())
    qtbot.addWidget(plain)
    assert not plain.loaded_label.isVisible() and plain.prediction.currentData() == "auto"


def test_an_edit_made_with_another_family_is_refused_saying_so(qtbot):
    engine = Engine(edit_runner=FakeRunner(), model_loader=FakeLoader())
    try:
        recorder = Recorder(engine)
        engine.load_model(ModelSpec("fake-a"))
        qtbot.waitUntil(lambda: engine.model_state.status == "ready", timeout=TIMEOUT_MS)
        job = engine.submit(make_request(model=ModelIdentity("fake", "fake-a", family="sdxl")))
        wait_end(qtbot, recorder, job)
        ((_, failure),) = recorder.of("jobFailed", job)
        assert failure.kind == "model"
        assert "SDXL" in failure.message and "SD 1.x" in failure.message
    finally:
        engine.shutdown()
