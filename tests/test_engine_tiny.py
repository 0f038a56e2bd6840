"""The engine with the real edits (`edits.run_edit`) and the real tiny model: the same results as
calling run_edit directly, progress and previews of a real drag, LoRA phases and the cache hit,
cancel within one UNet call, a responsive UI thread, typed failures from real bad requests."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from engine_helpers import TIMEOUT_MS, Recorder, wait_end
from engine_helpers import drag_request as _drag
from images import textured_image as _image

from sdedit_desktop.edits import run_edit
from sdedit_desktop.edits.kinds import InpaintRequest, ReconstructRequest
from sdedit_desktop.engine import Engine
from sdedit_desktop.engine.responsiveness import trace_job
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.models.loading import load_model
from sdedit_desktop.models.lora import LoraCache
from sdedit_desktop.ui.qimage import qimage_to_rgb

W, H = 96, 64


@pytest.fixture
def tiny(qtbot, tmp_path):
    models = []

    def loader(spec, progress=None):
        model = load_model(spec, progress)
        models.append(model)
        return model

    engine = Engine(model_loader=loader, lora_cache_factory=lambda: LoraCache(tmp_path / "lora"))
    recorder = Recorder(engine)
    engine.load_model(ModelSpec("tiny", device="cpu"))
    qtbot.waitUntil(lambda: engine.model_state.status == "ready", timeout=TIMEOUT_MS)
    yield engine, recorder, models[0]
    engine.shutdown()
    assert not engine.is_running()


def test_drag_matches_direct_run_edit_with_ordered_progress_and_previews(qtbot, tiny):
    engine, rec, model = tiny
    assert engine.model_state.identity.kind == "tiny"
    assert (engine.model_state.device, engine.model_state.dtype) == ("cpu", "float32")
    request = _drag()
    job = engine.submit(request)
    wait_end(qtbot, rec, job)
    ((_, result),) = rec.of("jobFinished", job)
    # The engine changes nothing about the edit: same pixels as running it directly.
    direct = run_edit(model, request)
    np.testing.assert_array_equal(result.image, direct.image)
    assert result.image.shape == (H, W, 3) and len(result.trajectory) == 2

    progress = [p for _, p in rec.of("progress", job)]
    assert [p.phase for p in progress] == sorted(p.phase for p in progress)
    assert {p.phase for p in progress} == {"drag step 1/2", "drag step 2/2"}
    for phase in ("drag step 1/2", "drag step 2/2"):
        steps = [p.step for p in progress if p.phase == phase]
        assert steps[0] == 1 and steps[-1] == 30
        assert all(a < b for a, b in itertools.pairwise(steps))
    fractions = [p.overall_fraction for p in progress]
    assert all(a <= b for a, b in itertools.pairwise(fractions))
    # Two equal drag steps: the first one's end is half the job.
    end_first = [p for p in progress if p.phase == "drag step 1/2"][-1]
    assert end_first.overall_fraction == pytest.approx(0.5)
    assert fractions[-1] == pytest.approx(0.999)

    previews = [img for _, img in rec.of("preview", job)]
    latent = [img for img in previews if (img.width(), img.height()) == (W // 8, H // 8)]
    decoded = [qimage_to_rgb(img) for img in previews if (img.width(), img.height()) == (W, H)]
    assert latent, "no latent previews"
    # Each finished drag step arrives as the decoded image, pixel-exact.
    assert len(decoded) == 2
    for shown, step_image in zip(decoded, result.trajectory, strict=True):
        np.testing.assert_array_equal(shown, step_image)


@pytest.mark.slow
def test_lora_phase_then_cache_hit(qtbot, tiny):
    engine, rec, _ = tiny
    request = _drag(lora="auto", prompt="a red square")
    first = engine.submit(request)
    wait_end(qtbot, rec, first)
    ((_, result),) = rec.of("jobFinished", first)
    assert result.lora_id
    progress = [p for _, p in rec.of("progress", first)]
    assert progress[0].phase == "LoRA" and progress[0].total == 100
    lora_end = [p for p in progress if p.phase == "LoRA"][-1]
    assert lora_end.step == 100
    # LoRA: 100 steps x 3 samples; drag: 2 x 30 steps x 3 samples -> 300 / 480 of the job.
    assert lora_end.overall_fraction == pytest.approx(300 / 480)

    again = engine.submit(request)
    wait_end(qtbot, rec, again)
    ((_, second),) = rec.of("jobFinished", again)
    assert second.lora_id == result.lora_id
    progress = [p for _, p in rec.of("progress", again)]
    # Cache hit: no training phase, and the plan's LoRA share is dropped from the fraction.
    assert all(p.phase != "LoRA" for p in progress)
    assert progress[0].overall_fraction < 0.05
    np.testing.assert_array_equal(second.image, result.image)


def test_cancel_during_lora_training_saves_nothing(qtbot, tiny, tmp_path):
    engine, rec, _ = tiny
    request = _drag(lora="auto", prompt="a blue circle")

    def on_progress(job_id, progress):
        if progress.phase == "LoRA" and progress.step >= 5:
            engine.cancel(job_id)

    engine.progress.connect(on_progress)
    job = engine.submit(request)
    wait_end(qtbot, rec, job)
    engine.progress.disconnect(on_progress)
    assert rec.of("jobCancelled", job) == [(job,)]
    last = [p for _, p in rec.of("progress", job)][-1]
    assert last.phase == "LoRA" and last.step < 100
    assert LoraCache(tmp_path / "lora").entries() == []  # no half-trained LoRA cached
    again = engine.submit(request)
    wait_end(qtbot, rec, again)
    ((_, result),) = rec.of("jobFinished", again)
    assert result.lora_id and [p.step for _, p in rec.of("progress", again)
                               if p.phase == "LoRA"][-1] == 100


def test_cancel_real_drag_within_one_unet_call_then_next_runs(qtbot, tiny):
    engine, rec, model = tiny
    calls_at_cancel: list[int] = []

    def on_progress(job_id, progress):
        if progress.step >= 5 and not calls_at_cancel:
            calls_at_cancel.append(model.unet_calls)
            engine.cancel(job_id)

    engine.progress.connect(on_progress)
    job = engine.submit(_drag(image=_image(128, 128), steps=200))
    wait_end(qtbot, rec, job)
    engine.progress.disconnect(on_progress)
    assert rec.of("jobCancelled", job) == [(job,)]
    assert model.unet_calls - calls_at_cancel[0] <= 1

    follow = engine.submit(_drag())
    wait_end(qtbot, rec, follow)
    ((_, result),) = rec.of("jobFinished", follow)
    np.testing.assert_array_equal(result.image, run_edit(model, _drag()).image)


def test_ui_thread_keeps_processing_events_during_a_tiny_model_edit(qtbot, tiny):
    """Behaviour, not timing (a loaded machine stretches any wall-clock bound; `sdedit bench
    --ui` measures the stall): the UI thread's heartbeat keeps firing between the edit's
    progress signals, and previews arrive while the job runs."""
    engine, rec, _ = tiny
    trace = trace_job(engine, _drag(image=_image(128, 128), points=(((30, 30), (70, 50)),),
                                    steps=60), timeout_s=TIMEOUT_MS / 1000)
    assert trace.outcome == "finished"
    assert len(trace.progress) >= 4 and trace.previews
    assert trace.progress_gaps_with_beats() >= 3, trace.summary()
    assert trace.previews[0] < trace.ended  # the first preview came before the result
    job = rec.of("jobFinished")[-1][0]
    progress = [p for _, p in rec.of("progress", job)]
    etas = [p.eta_s for p in progress if p.eta_s is not None]
    # An estimate appears once the job is under way, and it shrinks towards the end.
    assert progress[0].eta_s is None and etas and etas[-1] < etas[0]


def test_real_bad_requests_fail_typed_and_engine_goes_on(qtbot, tiny):
    engine, rec, _ = tiny
    no_points = engine.submit(_drag(points=()))
    no_mask = engine.submit(InpaintRequest(image=_image(), prompt="sky"))
    ok = engine.submit(ReconstructRequest(image=_image(), steps=10, dtype="float64"))
    wait_end(qtbot, rec, ok)
    for job in (no_points, no_mask):
        ((_, failure),) = rec.of("jobFailed", job)
        assert failure.kind == "bad-request" and failure.message[:1].isupper()
        assert "EditError" in failure.detail
    ((_, result),) = rec.of("jobFinished", ok)
    assert result.metrics["latent_max_abs_err"] < 1e-6  # float64 Cycle-SDE is exact
    # float64 latents still give latent previews.
    assert any(img.width() == W // 8 for _, img in rec.of("preview", ok))
