"""The demo model asks for the draft preset and a small max side (models/demo.py); the editor's
parameter model applies it while the demo model is loaded and gives the user's values back
when real weights load (ui/model/demo_params.py)."""

from __future__ import annotations

import numpy as np
import pytest
from ui_helpers import IMAGE, FakeEngine, make_window

from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.edits.kinds import DragRequest
from sdedit_desktop.edits.presets import DRAFT, PAPER
from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.models.demo import TINY_DEMO, demo_settings
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.estimates import plan_calls, work_size

TINY = ModelIdentity(kind="tiny", source="tiny")
REAL = ModelIdentity(kind="hub", source="stable-diffusion-v1-5/stable-diffusion-v1-5",
                     revision="abc")


def _ready(identity: ModelIdentity | None) -> ModelState:
    return ModelState("ready", identity=identity, device="cpu", dtype="float32",
                      message="Loaded.")


def test_the_model_side_says_what_a_demo_is():
    assert demo_settings(TINY) is TINY_DEMO
    assert demo_settings(ModelIdentity(kind="tiny", source="tiny:3")) is TINY_DEMO
    assert demo_settings(REAL) is None and demo_settings(None) is None
    assert TINY_DEMO.preset == DRAFT and TINY_DEMO.max_side <= 256


@pytest.fixture
def editor(qapp):
    engine = FakeEngine()
    model = EditorModel(engine)
    model.start_project(np.zeros((512, 512, 3), np.uint8), "astronaut.png")
    model.set_points([((200, 250), (280, 250))])
    return engine, model


def test_the_demo_model_gets_draft_and_a_small_side_and_real_weights_get_them_back(editor):
    engine, model = editor
    params = model.params
    paper_request = model.next_edit().request
    assert params.preset("drag") == PAPER and params.value("drag", "max_side") == 768
    engine.modelStateChanged.emit(_ready(TINY))
    assert model.demo.active is TINY_DEMO
    for kind in params.kinds():
        assert params.preset(kind) == DRAFT
        assert params.value(kind, "max_side") == TINY_DEMO.max_side
    demo_request = model.next_edit().request
    # What makes the demo fast: a quarter of the model calls, each at a quarter of the pixels.
    assert plan_calls(demo_request) * 3 < plan_calls(paper_request)
    assert work_size(demo_request) == (256, 256) and work_size(paper_request) == (512, 512)
    engine.modelStateChanged.emit(_ready(REAL))
    assert model.demo.active is None
    for kind in params.kinds():
        assert params.preset(kind) == PAPER
    assert params.value("drag", "max_side") == 768


def test_after_the_demo_the_max_side_follows_the_new_models_family(editor):
    engine, model = editor
    engine.modelStateChanged.emit(_ready(TINY))
    sdxl = ModelIdentity(kind="hub", source="stabilityai/stable-diffusion-xl-base-1.0",
                         family="sdxl")
    engine.modelStateChanged.emit(_ready(sdxl))
    assert model.params.value("drag", "max_side") == 1536  # SDXL's default, not SD 1.x's
    sd1 = ModelIdentity(kind="hub", source="sd1", family="sd1")
    engine.modelStateChanged.emit(_ready(sd1))  # the family rule goes on from there
    assert model.params.value("drag", "max_side") == 768


def test_what_the_user_changed_during_the_demo_stays_theirs(editor):
    engine, model = editor
    params = model.params
    engine.modelStateChanged.emit(_ready(TINY))
    params.set("drag", "max_side", 384)  # the user's own choice while the demo is loaded
    params.set("inpaint", "steps", 33)
    engine.modelStateChanged.emit(_ready(REAL))
    assert params.value("drag", "max_side") == 384
    assert params.value("inpaint", "steps") == 33
    assert params.value("drag", "steps") == DragRequest.defaults()["steps"]


def test_the_demo_is_applied_once_per_load(editor):
    engine, model = editor
    params = model.params
    engine.modelStateChanged.emit(_ready(TINY))
    params.apply_preset(PAPER)  # the user turns Draft off...
    engine.modelStateChanged.emit(_ready(TINY))  # ..."Model already loaded." changes nothing
    assert params.preset("drag") == PAPER
    engine.modelStateChanged.emit(ModelState("loading"))
    engine.modelStateChanged.emit(ModelState("none"))
    assert params.preset("drag") == PAPER  # only a ready model decides


def test_an_engine_holding_the_demo_model_already_applies_it(qapp):
    engine = FakeEngine()
    engine.model_state = _ready(TINY)
    model = EditorModel(engine)
    assert model.demo.active is TINY_DEMO and model.params.preset("drag") == DRAFT


def test_the_window_says_why_and_the_panel_shows_it(qtbot, tmp_path, monkeypatch):
    engine = FakeEngine()
    window = make_window(qtbot, engine, tmp_path, monkeypatch)
    window.start_project(IMAGE, "test.png", None)
    engine.modelStateChanged.emit(_ready(TINY))
    assert TINY_DEMO.note in window.status_line.current_message()
    assert TINY_DEMO.note in window.model_label.toolTip()
    assert window.panels.max_side.value() == TINY_DEMO.max_side
    assert window.run_box.draft_button.isChecked()
    engine.modelStateChanged.emit(_ready(REAL))
    assert window.panels.max_side.value() == 768 and not window.run_box.draft_button.isChecked()


def test_settings_ok_keeps_the_demo_side_unless_the_default_changed(qtbot, tmp_path, monkeypatch):
    from sdedit_desktop.ui import settings_dialog

    engine = FakeEngine()
    window = make_window(qtbot, engine, tmp_path, monkeypatch)
    engine.modelStateChanged.emit(_ready(TINY))
    monkeypatch.setattr(settings_dialog.SettingsDialog, "exec", lambda self: True)
    window.open_settings()  # OK without touching the default max side
    assert window.panels.max_side.value() == TINY_DEMO.max_side


@pytest.mark.slow
def test_the_demo_drag_on_a_512_sample_runs_at_the_demo_settings(qtbot, tmp_path, monkeypatch):
    """The whole demo as a user meets it: the tiny model in the real engine, the astronaut
    sample, one drag with what the editor chose. Its cost, not its time, is asserted."""
    from sdedit_desktop.engine import Engine
    from sdedit_desktop.resources import sample_images

    engine = Engine()
    try:
        window = make_window(qtbot, engine, tmp_path, monkeypatch)
        window.load_model(window.model_spec())
        qtbot.waitUntil(lambda: window.model_state.status == "ready", timeout=120000)
        sample = next(p for p in sample_images() if p.stem == "astronaut")
        assert window.open_image(sample)
        window.doc.set_points([((200, 250), (280, 250))])
        assert window.run_edit() is not None
        qtbot.waitUntil(lambda: len(window.history.entries) == 1, timeout=600000)
        result = window.history.entries[0].result
        assert result.request.steps == 50 and result.request.max_side == TINY_DEMO.max_side
        assert result.work_scale == 0.5 and result.unet_calls <= 100
        assert result.image.shape == (512, 512, 3)
    finally:
        engine.shutdown()
