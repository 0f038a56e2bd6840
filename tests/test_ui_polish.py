"""Parts of the editor a first session trips over (issue 17): the history list and an empty
click, the estimate of the next edit before and after a measured run, the draft preset, and
the progress line (tests/test_ux_editor.py: it wraps, never widening the panel)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import QApplication
from ui_helpers import IMAGE, FakeEngine

from sdedit_desktop.edits.kinds import DragRequest
from sdedit_desktop.edits.presets import DRAFT, PAPER, preset_values
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.project.model import HistoryEntry
from sdedit_desktop.ui.estimate_presenter import EstimatePresenter
from sdedit_desktop.ui.history import HistoryPanel
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.history import HistoryModel
from sdedit_desktop.ui.widgets import RunBox


def test_focus_on_the_empty_history_list_selects_nothing(qtbot):
    model = HistoryModel()
    panel = HistoryPanel(model)
    qtbot.addWidget(panel)
    request = DragRequest(image=IMAGE, points=(((1, 1), (4, 4)),), max_side=None)
    for _ in range(2):
        model.add(HistoryEntry(result=EditResult(request=request, image=IMAGE)))
    panel.select(None)
    seen = []
    panel.entrySelected.connect(seen.append)
    # What a click on the empty part of the list does first: focus. Qt then makes row 0
    # current (without selecting it); that must not show entry #1.
    QApplication.sendEvent(panel.list, QFocusEvent(QEvent.Type.FocusIn,
                                                   Qt.FocusReason.ActiveWindowFocusReason))
    assert panel.selected_id() is None and seen == []
    assert not panel.continue_button.isEnabled()
    panel.list.setCurrentRow(1)  # a real click on an entry still selects it
    assert seen == [model.entries[1].id]


@pytest.fixture
def estimate_setup(qtbot):
    engine = FakeEngine()
    editor = EditorModel(engine)
    editor.start_project(IMAGE, "test.png")
    editor.set_points([((4, 4), (12, 8))])
    box = RunBox()
    qtbot.addWidget(box)
    presenter = EstimatePresenter(editor, box)
    return engine, editor, box, presenter


def test_estimate_says_model_calls_then_time_once_measured(estimate_setup):
    engine, editor, box, _ = estimate_setup
    before = box.estimate.text()
    assert "model evaluations" in before and " s " not in before and "min" not in before
    calls = int(before.split("~")[1].split()[0])
    assert calls > 0
    request = editor.next_edit().request
    job_id = editor.runner.submit(request, editor.parent_id)
    engine.jobStarted.emit(job_id)
    engine.jobFinished.emit(job_id, EditResult(request=request, image=IMAGE.copy(),
                                               timings={"total": 12.0}))
    # The drag's points went with its applied result: nothing to estimate until new ones.
    assert box.estimate.text().startswith("Drag needs points")
    editor.set_points([((4, 4), (12, 8))])
    after = box.estimate.text()
    # Same plan on the same model, device and size: 12 s again.
    assert "12 s" in after and f"({calls} evaluations)" in after, after
    # Half the steps: about half the time, from the same measurement.
    editor.params.set("drag", "steps", editor.params.value("drag", "steps") // 2)
    assert "6 s" in box.estimate.text(), box.estimate.text()


def test_draft_preset_is_offered_on_a_cpu_and_goes_through_the_params(estimate_setup):
    engine, editor, box, _ = estimate_setup
    engine.modelStateChanged.emit(ModelState("ready", device="cuda:0", dtype="float16"))
    assert box.draft_button.isHidden()  # a GPU: paper defaults, nothing offered
    engine.modelStateChanged.emit(ModelState("ready", device="cpu", dtype="float32"))
    assert not box.draft_button.isHidden() and not box.draft_button.isChecked()
    paper_calls = int(box.estimate.text().split("~")[1].split()[0])
    box.draft_button.click()
    for kind in editor.params.kinds():
        for name, value in preset_values(DRAFT, kind).items():
            assert editor.params.value(kind, name) == value
    assert editor.params.preset("drag") == DRAFT and box.draft_button.isChecked()
    draft_calls = int(box.estimate.text().split("~")[1].split()[0])
    assert draft_calls < paper_calls
    box.draft_button.click()
    assert editor.params.preset("drag") == PAPER
    assert editor.params.value("drag", "steps") == DragRequest.defaults()["steps"]


def test_measured_costs_survive_a_restart_through_the_settings(tmp_path):
    from sdedit_desktop.ui.model.estimates import CostEstimates, CostKey
    from sdedit_desktop.ui.settings import AppSettings, load_settings, save_settings

    costs = CostEstimates()
    key = CostKey("tiny:tiny:", "cpu", (256, 168))
    costs.record(key, 90, 4.5)
    settings = AppSettings(call_costs=costs.to_json())
    path = save_settings(settings, tmp_path / "settings.json")
    loaded, problems = load_settings(path)
    assert problems == []
    again = CostEstimates()
    again.load_json({**loaded.call_costs, "garbage": 1.0, "a|b|1x": 2.0})
    assert again.per_call(key) == (0.05, True)


def test_history_names_the_parent_of_each_edit(qtbot):
    model = HistoryModel()
    panel = HistoryPanel(model)
    qtbot.addWidget(panel)
    request = DragRequest(image=IMAGE, points=(((1, 1), (4, 4)),), max_side=None)
    first = HistoryEntry(result=EditResult(request=request, image=IMAGE))
    model.add(first)
    model.add(HistoryEntry(result=EditResult(request=request, image=IMAGE), parent_id=first.id))
    assert "from #" not in panel.list.item(0).text()
    assert "from #1" in panel.list.item(1).text()
