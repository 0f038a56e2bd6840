"""The widget-free editor model, driven without any window: open an image, paint the mask and
set points through the model, queue edits on a fake engine and finish, fail or cancel them,
undo, and round-trip the whole state through a `.sdeproj` project."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ui_helpers import IMAGE, FakeEngine, H, W

from sdedit_desktop.edits.kinds import DiffEditRequest, DragRequest
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.engine.types import EngineFailure, JobProgress, ModelState
from sdedit_desktop.project import load_project, save_project
from sdedit_desktop.ui.brush import BrushSpec
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.project_binding import editor_to_project, project_to_editor


@pytest.fixture
def engine(qapp):
    return FakeEngine()


@pytest.fixture
def editor(engine):
    model = EditorModel(engine)
    model.start_project(IMAGE, "test.png")
    return model


def _drag(editor: EditorModel, seed: int = 7) -> DragRequest:
    return DragRequest(image=editor.doc.image.copy(), points=(((4, 4), (12, 8)),), seed=seed,
                       max_side=None)


def _finish(engine: FakeEngine, job_id: int, request, value: int = 9) -> EditResult:
    result = EditResult(request=request, image=np.full((H, W, 3), value, np.uint8),
                        trajectory=[np.full((H, W, 3), value, np.uint8)],
                        timings={"total": 1.5})
    engine.jobStarted.emit(job_id)
    engine.progress.emit(job_id, JobProgress("drag step", 1, 2, 0.1, 0.1, 0.5))
    engine.jobFinished.emit(job_id, result)
    return result


def test_the_model_never_imports_widgets():
    code = ("import sys; import sdedit_desktop.ui.model.editor, "
            "sdedit_desktop.ui.model.project_binding; "
            "sys.exit(int('PySide6.QtWidgets' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_real_engine_and_the_fake_have_what_the_editor_needs(engine):
    from sdedit_desktop.engine import Engine
    from sdedit_desktop.ui.model.engine_api import EditEngine

    real = Engine()
    try:
        assert isinstance(real, EditEngine) and isinstance(engine, EditEngine)
    finally:
        real.shutdown()
    assert not isinstance(object(), EditEngine)


def test_mask_and_points_through_the_model_are_undoable(editor):
    assert not editor.has_unsaved_work()
    assert editor.paint((10, 10), (20, 10), BrushSpec(radius=3, hardness=1.0))
    assert editor.doc.mask[10, 15] == 255 and editor.doc.mask[20, 15] == 0
    editor.set_points([((1, 2), (3, 4))], "Add points")
    assert editor.has_unsaved_work()
    editor.set_mask(255 - editor.doc.mask, "Invert mask")
    assert editor.doc.mask[10, 15] == 0 and editor.doc.mask[20, 15] == 255
    editor.undo.undo()
    assert editor.doc.mask[10, 15] == 255
    editor.undo.undo()
    assert editor.doc.points == []
    editor.undo.undo()
    assert not editor.doc.mask.any() and not editor.has_unsaved_work()
    assert not editor.paint((-50, -50), (-40, -40), BrushSpec())  # off the image: no step
    assert editor.undo.count() == 3


def test_a_job_runs_to_history_and_undo_removes_it(editor, engine):
    events = []
    editor.jobs.changed.connect(lambda: events.append(editor.jobs.busy))
    previews = []
    editor.jobs.previewed.connect(previews.append)
    request = _drag(editor)
    job_id = editor.runner.submit(request, editor.parent_id)
    assert job_id == 1 and engine.submitted == [(1, request)]
    job = editor.jobs.get(job_id)
    assert job.status == "queued" and editor.jobs.busy
    engine.jobStarted.emit(job_id)
    assert editor.jobs.running_id == job_id and job.status == "running"
    engine.preview.emit(job_id, "a preview")
    assert job.preview == "a preview" and previews == [job_id]
    result = EditResult(request=request, image=np.full((H, W, 3), 9, np.uint8),
                        timings={"total": 2.5})
    engine.jobFinished.emit(job_id, result)
    assert job.status == "finished" and not editor.jobs.busy and events[-1] is False
    [entry] = editor.history.entries
    assert entry.result is result and entry.duration_s == 2.5 and entry.parent_id is None
    assert editor.has_unsaved_work()
    editor.show_entry(entry.id)
    assert editor.shown_entry() is entry
    editor.undo.undo()
    assert editor.history.entries == [] and editor.shown_entry_id is None
    editor.undo.redo()
    assert [e.id for e in editor.history.entries] == [entry.id]


def test_continue_from_a_result_sets_the_parent_of_the_next_job(editor, engine):
    first = _finish(engine, editor.runner.submit(_drag(editor), editor.parent_id), _drag(editor))
    entry = editor.history.entries[0]
    assert entry.result is first
    assert editor.continue_from(entry.id)
    assert np.array_equal(editor.doc.image, first.image) and editor.parent_id == entry.id
    second = _drag(editor, seed=8)
    _finish(engine, editor.runner.submit(second, editor.parent_id), second, value=20)
    assert editor.history.entries[1].parent_id == entry.id
    rerun = editor.rerun_with_new_seed(entry.id)
    (_, again), request = engine.submitted[-1], entry.request
    assert rerun == len(engine.submitted) and again.seed != request.seed
    assert again.params() | {"seed": 0} == request.params() | {"seed": 0}
    assert np.array_equal(again.image, request.image)
    assert editor.jobs.get(rerun).parent_id is None  # the entry's own parent, not the working one
    assert editor.rerun_with_new_seed("no-such-entry") is None
    editor.undo.undo()  # the second entry
    editor.undo.undo()  # the first entry (continuing it was no step: it was applied already)
    assert np.array_equal(editor.doc.image, IMAGE) and editor.parent_id is None


def test_failed_cancelled_refused_and_foreign_jobs(editor, engine):
    errors = []
    editor.error.connect(lambda *e: errors.append(e))
    job_id = editor.runner.submit(_drag(editor), editor.parent_id)
    engine.jobStarted.emit(job_id)
    engine.jobFailed.emit(job_id, EngineFailure("bad-request", "point outside", "trace"))
    assert errors == [("Edit failed", "The drag edit failed: point outside", "trace")]
    assert not editor.jobs.busy and editor.history.entries == []

    job_id = editor.runner.submit(_drag(editor), editor.parent_id)
    assert editor.runner.cancel() and engine.cancels == 1
    engine.jobCancelled.emit(job_id)
    assert not editor.jobs.busy and not editor.runner.cancel() and engine.cancels == 1

    engine.refuse = True
    assert editor.runner.submit(_drag(editor), editor.parent_id) is None
    assert errors[-1][0] == "Cannot start the edit" and "shut down" in errors[-1][1]
    engine.refuse = False

    # A new image drops the jobs of the previous one: their results never land.
    job_id = editor.runner.submit(_drag(editor), editor.parent_id)
    editor.start_project(IMAGE[::-1].copy(), "other.png")
    assert engine.cleared == 1 and not editor.jobs
    _finish(engine, job_id, _drag(editor))
    assert editor.history.entries == []


def test_diffedit_auto_mask_lands_on_the_document_and_switches_the_mask_mode(editor, engine):
    request = DiffEditRequest(image=IMAGE.copy(), source_prompt="a", target_prompt="b",
                              max_side=None)
    job_id = editor.runner.submit(request, editor.parent_id)
    mask = np.zeros((H, W), np.uint8)
    mask[4:9, 4:20] = 255
    engine.jobFinished.emit(job_id, EditResult(request=request, image=IMAGE.copy(), mask=mask))
    assert np.array_equal(editor.doc.mask, mask)
    assert editor.params.get("diffedit")["mask_mode"] == "user"
    editor.undo.undo()  # the auto mask
    assert not editor.doc.mask.any()


def test_a_finished_edit_becomes_the_working_image_and_undo_returns(editor, engine):
    editor.paint((10, 10), (20, 10), BrushSpec(radius=3, hardness=1.0))
    editor.set_points([((4, 4), (12, 8))])
    mask = editor.doc.mask.copy()
    request = _drag(editor)
    result = _finish(engine, editor.runner.submit(request, editor.parent_id), request)
    [entry] = editor.history.entries
    assert np.array_equal(editor.doc.image, result.image) and editor.parent_id == entry.id
    assert editor.working_source_id() == entry.id
    assert np.array_equal(editor.doc.mask, mask) and editor.doc.points == []
    assert np.array_equal(entry.request.image, IMAGE)  # the original stays in history
    assert editor.doc.image_label == "test.png"
    # The next edit continues the applied one.
    second = _drag(editor, seed=3)
    _finish(engine, editor.runner.submit(second, editor.parent_id), second, value=40)
    assert editor.history.entries[1].parent_id == entry.id
    assert editor.doc.image[0, 0, 0] == 40
    editor.undo.undo()
    assert np.array_equal(editor.doc.image, result.image) and editor.parent_id == entry.id
    editor.undo.undo()
    assert np.array_equal(editor.doc.image, IMAGE) and editor.parent_id is None
    assert editor.doc.points == [((4, 4), (12, 8))] and editor.history.entries == []
    editor.undo.redo()
    assert np.array_equal(editor.doc.image, result.image)
    assert [e.id for e in editor.history.entries] == [entry.id]


def test_diffedit_auto_mask_never_replaces_a_painted_mask(editor, engine):
    editor.paint((10, 10), (20, 10), BrushSpec(radius=3, hardness=1.0))
    painted = editor.doc.mask.copy()
    request = DiffEditRequest(image=IMAGE.copy(), source_prompt="a", target_prompt="b",
                              max_side=None)
    job_id = editor.runner.submit(request, editor.parent_id)
    auto = np.zeros((H, W), np.uint8)
    auto[20:30, 30:40] = 255
    engine.jobFinished.emit(job_id, EditResult(request=request, image=IMAGE.copy(), mask=auto))
    assert np.array_equal(editor.doc.mask, painted)
    assert editor.params.get("diffedit")["mask_mode"] == "auto"
    entry = editor.history.entries[0]
    assert editor.use_auto_mask(entry.id)  # on request only
    assert np.array_equal(editor.doc.mask, auto)
    editor.undo.undo()
    assert np.array_equal(editor.doc.mask, painted)


def test_model_state_and_run_blocker(editor, engine):
    seen = []
    editor.modelStateChanged.connect(lambda state, previous: seen.append((state.status,
                                                                          previous)))
    assert editor.run_blocker() is None
    engine.modelStateChanged.emit(ModelState("loading", message="Loading UNet…"))
    assert editor.run_blocker()[0] == "Model still loading"
    engine.modelStateChanged.emit(ModelState("error", message="no such file"))
    assert editor.run_blocker() == ("No model loaded", editor.run_blocker()[1], "no such file")
    assert seen == [("loading", "ready"), ("error", "loading")]


def test_project_round_trip_through_a_file(editor, engine, tmp_path):
    editor.paint((5, 5), (30, 20), BrushSpec(radius=4))
    editor.set_points([((2, 3), (10, 11)), ((20, 20), None)])
    editor.params.set("drag", "prompt", "a cat")
    editor.params.set("drag", "seed", 99)  # shared by every kind
    editor.params.set("drag", "max_side", 512)
    editor.set_edit_kind("inpaint")
    request = _drag(editor)
    _finish(engine, editor.runner.submit(request, editor.parent_id), request)
    entry = editor.history.entries[0]
    editor.continue_from(entry.id)
    path = save_project(editor_to_project(editor), tmp_path / "work.sdeproj")
    editor.mark_saved()
    assert not editor.has_unsaved_work()

    other = EditorModel(FakeEngine())
    project_to_editor(other, load_project(path), "fallback")
    assert np.array_equal(other.doc.image, editor.doc.image)
    assert np.array_equal(other.doc.mask, editor.doc.mask)
    assert other.doc.points == []  # an applied drag starts without points
    assert other.doc.image_label == "test.png"  # an applied edit keeps the image's name
    assert [e.id for e in other.history.entries] == [entry.id]
    assert np.array_equal(other.history.entries[0].result.image, entry.result.image)
    assert other.parent_id == entry.id
    assert other.params.get("drag")["prompt"] == "a cat"
    assert other.edit_kind == "inpaint"
    assert {other.params.value(k, "seed") for k in other.params.kinds()} == {99}
    assert {other.params.value(k, "max_side") for k in other.params.kinds()} == {512}
    assert other.project.path == path and not other.has_unsaved_work()

    # Only complete point pairs are stored.
    other.set_points([((2, 3), (10, 11)), ((20, 20), None)])
    assert editor_to_project(other).points == [((2, 3), (10, 11))]


def test_edit_params_build_the_request_of_a_kind(qapp):
    from sdedit_desktop.ui.model.edit_params import EditParams

    params = EditParams()
    changed = []
    params.changed.connect(changed.append)
    params.set("drag", "prompt", "a cat")
    params.set("drag", "prompt", "a cat")  # no change, no signal
    assert changed == ["drag"]
    params.set("drag", "seed", 42)  # shared by every kind: each one changes
    params.set("drag", "max_side", None)
    assert changed[1:1 + len(params.kinds())] == params.kinds()
    mask = np.zeros((H, W), np.uint8)
    request = params.build_request("drag", IMAGE, mask, [((1, 2), (3, 4))])
    assert isinstance(request, DragRequest)
    assert (request.prompt, request.seed, request.max_side) == ("a cat", 42, None)
    assert request.points == (((1, 2), (3, 4)),)
    assert np.array_equal(request.image, IMAGE)
    assert params.build_request("drag", IMAGE, None, [], seed=7).seed == 7
    with pytest.raises(KeyError, match="unknown edit kind"):
        params.get("sketch")
    restored = EditParams()
    restored.from_json(params.to_json())
    assert restored.to_json() == params.to_json()


def test_a_reconstruction_is_recorded_but_not_applied(editor, engine):
    from sdedit_desktop.edits.kinds import ReconstructRequest

    request = ReconstructRequest(image=IMAGE.copy(), max_side=None)
    job_id = editor.runner.submit(request, editor.parent_id)
    engine.jobFinished.emit(job_id, EditResult(request=request, image=np.zeros_like(IMAGE)))
    assert len(editor.history.entries) == 1
    assert np.array_equal(editor.doc.image, IMAGE) and editor.parent_id is None
