"""The edit-kind design's done-test: a toy kind ("noop", the identity edit) is added by writing one
kind object and one run function, here in this file alone, and every surface works with it: the
method panel, the CLI sub-command, the editor's history entry, the project round trip, an eval
run over a folder and a bench case. No other file names it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image
from ui_helpers import FakeEngine

from sdedit_desktop.cli import main
from sdedit_desktop.core.plan import PlannedPhase
from sdedit_desktop.edits.kind import CliSpec, EditKind, EvalSpec, MethodTexts
from sdedit_desktop.edits.kinds import kind_of, registered
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.edits.schema import param


@dataclass(frozen=True, kw_only=True)
class NoopRequest(EditRequest):
    """Returns its input: the identity edit (SDE and ODE alike)."""

    kind: ClassVar[str] = "noop"
    prompt: str = param("", label="Prompt", tip="Describes the image (ignored).")
    strength: float = param(0.0, label="Strength", tip="How much nothing happens (ignored).",
                            lo=0.0, hi=1.0, step=0.1)


def run_noop(session: Any, request: NoopRequest, reporter: Any, _options: Any, _lora: Any):
    """The one run function: report one step and give the working image back unchanged."""
    reporter.report("noop", 1, 1)
    return session.result(request, session.size.to_original(session.image))


def _folder_samples(path):
    from sdedit_desktop.eval.datasets.reconstruct import reconstruct_samples

    return reconstruct_samples(path)


def _metrics():
    from sdedit_desktop.eval.metrics.base import KindMetrics, Scores

    def score(_scorer, task) -> Scores:
        changed = (task.source != task.edited).any(axis=-1).sum()
        return Scores(values={"changed_pixels": float(changed)})
    return KindMetrics(score=score)


NOOP = EditKind(
    name="noop",
    title="Noop",
    request_type=NoopRequest,
    run=run_noop,
    plan=lambda request: (PlannedPhase("noop", 1),),
    methods=MethodTexts("Noop-SDE", "Noop-ODE", "does nothing, stochastically",
                        "does nothing, deterministically"),
    hint="Nothing to do on the canvas: Run returns the image.",
    cli=CliSpec(help="the identity edit (a test kind)"),
    eval=EvalSpec(layout="a folder of images with optional <stem>.txt captions",
                  samples=_folder_samples, metrics=_metrics, from_data=frozenset({"prompt"})),
    bench_case=lambda image, mask, size: NoopRequest(image=image, max_side=None,
                                                     region=(0, 0, size, size)),
)

IMAGE = np.random.default_rng(3).integers(0, 256, (64, 96, 3), dtype=np.uint8)


@pytest.fixture
def noop():
    with registered(NOOP) as kind:
        yield kind


def test_the_panel_shows_the_kind_and_its_parameter(qtbot, noop):
    from sdedit_desktop.ui.panels import PanelStack

    stack = PanelStack()
    qtbot.addWidget(stack)
    panel = stack.select("noop")
    assert stack.tabs.tabText(stack.tabs.currentIndex()) == "Noop"
    assert panel.sde_button.text() == "Noop-SDE" and panel.ode_button.text() == "Noop-ODE"
    assert panel.widgets["strength"].maximum() == 1.0
    panel.widgets["strength"].setValue(0.5)
    assert stack.params.value("noop", "strength") == 0.5


def test_the_cli_runs_the_kind(tmp_path, noop):
    source = tmp_path / "in.png"
    Image.fromarray(IMAGE).save(source)
    out, record = tmp_path / "out.png", tmp_path / "out.json"
    assert main(["noop", "--image", str(source), "--model", "tiny", "--device", "cpu",
                 "--strength", "0.3", "--out", str(out), "--json", str(record),
                 "--quiet"]) == 0
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), IMAGE)
    saved = json.loads(record.read_text())
    assert saved["request"]["kind"] == "noop" and saved["request"]["strength"] == 0.3


def test_history_entry_and_project_round_trip(qapp, tmp_path, noop):
    from sdedit_desktop.edits.requests import EditResult
    from sdedit_desktop.project import load_project, save_project
    from sdedit_desktop.ui.history import entry_summary
    from sdedit_desktop.ui.model.editor import EditorModel
    from sdedit_desktop.ui.model.project_binding import editor_to_project, project_to_editor

    engine = FakeEngine()
    editor = EditorModel(engine)
    editor.start_project(IMAGE, "in.png")
    editor.set_edit_kind("noop")
    editor.params.set("noop", "strength", 0.7)
    job_id = editor.run_next()
    assert job_id is not None
    [(_, request)] = engine.submitted
    assert isinstance(request, NoopRequest) and request.strength == 0.7
    engine.jobStarted.emit(job_id)
    engine.jobFinished.emit(job_id, EditResult(request=request, image=IMAGE.copy(),
                                               timings={"total": 0.5}))
    [entry] = editor.history.entries
    assert kind_of(entry.request) is NOOP
    assert entry_summary(entry, 1).startswith("#1 Noop-SDE")

    path = tmp_path / "p.sdeproj"
    save_project(editor_to_project(editor), path)
    other = EditorModel(FakeEngine())
    project_to_editor(other, load_project(path), "p")
    [loaded] = other.history.entries
    assert isinstance(loaded.request, NoopRequest)
    assert loaded.request.params() == entry.request.params()
    assert other.edit_kind == "noop" and other.params.value("noop", "strength") == 0.7


def test_eval_runs_the_kind_over_a_folder(tmp_path, noop):
    data = tmp_path / "images"
    data.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(IMAGE, i, axis=0)).save(data / f"img{i}.png")
    out = tmp_path / "run"
    assert main(["eval", "noop", str(data), "--out", str(out), "--model", "tiny",
                 "--device", "cpu", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "noop"
    records = [json.loads(p.read_text()) for p in out.rglob("*.json")
               if p.name not in ("summary.json", "run.json")]
    scores = [r["metrics"]["changed_pixels"] for r in records if "metrics" in r]
    assert len(scores) == 4 and all(s == 0.0 for s in scores)  # 2 images x SDE, ODE


def test_bench_times_the_kind(tmp_path, noop):
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", "tiny", "--size", "64", "--method", "noop", "--no-lora",
                 "--no-reference", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["methods"]) == {"noop"}
    assert report["methods"]["noop"]["seconds"] > 0
