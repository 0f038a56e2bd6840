"""Engine behaviour with an injected edit function and model (precise control over timing and
failures): results, ordered progress, previews, a responsive UI thread, cancel, the queue,
typed failures, model load/switch/unload and shutdown with a job in flight."""

from __future__ import annotations

import gc
import itertools
import threading
import time
import weakref

import pytest
import torch
from engine_helpers import TIMEOUT_MS, FakeLoader, FakeRunner, Recorder, make_request, wait_end
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage

from sdedit_desktop.engine import Engine, EngineFailure, JobProgress
from sdedit_desktop.engine.responsiveness import trace_job
from sdedit_desktop.models.errors import MissingComponentError
from sdedit_desktop.models.interface import ModelIdentity, ModelSpec


@pytest.fixture
def make_engine(qtbot):
    engines: list[Engine] = []

    def make(runner: FakeRunner | None = None, loader: FakeLoader | None = None, load=True,
             **kwargs):
        runner = runner or FakeRunner()
        loader = loader or FakeLoader()
        engine = Engine(edit_runner=runner, model_loader=loader, **kwargs)
        engines.append(engine)
        recorder = Recorder(engine)
        if load:
            engine.load_model(ModelSpec("fake-a"))
            qtbot.waitUntil(lambda: engine.model_state.status == "ready", timeout=TIMEOUT_MS)
        return engine, recorder, runner, loader

    yield make
    for engine in engines:
        engine.shutdown()
        assert not engine.is_running()


def test_job_finishes_with_result_and_ordered_progress(qtbot, make_engine):
    engine, rec, runner, loader = make_engine()
    state = engine.model_state
    assert state.identity == ModelIdentity("fake", "fake-a")
    assert (state.device, state.dtype) == ("cpu", "float32")
    job = engine.submit(make_request(seed=42, steps=30))
    wait_end(qtbot, rec, job)

    (result,) = [r for _, r in rec.of("jobFinished", job)]
    assert int(result.image[0, 0, 0]) == 42 and result.unet_calls == 30
    per_job = ("jobQueued", "jobStarted", "progress", "preview", "jobFinished")
    names = [e[0] for e in rec.events if e[0] in per_job and e[1] == job]
    assert names[0] == "jobQueued" and names[1] == "jobStarted" and names[-1] == "jobFinished"
    # The edit ran on the worker thread; every signal arrived on the UI thread.
    assert runner.threads and runner.threads[0] != threading.main_thread().name
    assert loader.loaded_in[0] != threading.main_thread().name
    assert rec.threads == {threading.main_thread().name}

    progress: list[JobProgress] = [p for _, p in rec.of("progress", job)]
    assert [p.phase for p in progress] == sorted((p.phase for p in progress),
                                                 key=["inverting", "reconstructing"].index)
    for phase in ("inverting", "reconstructing"):
        steps = [p.step for p in progress if p.phase == phase]
        assert steps[0] == 1 and steps[-1] == 30
        assert all(a < b for a, b in itertools.pairwise(steps))
        assert all(p.total == 30 for p in progress if p.phase == phase)
    fractions = [p.overall_fraction for p in progress]
    assert all(a <= b for a, b in itertools.pairwise(fractions))
    assert fractions[-1] == pytest.approx(0.999) and 0 < fractions[0] < 0.1
    elapsed = [p.elapsed_s for p in progress]
    assert all(a <= b for a, b in itertools.pairwise(elapsed))

    previews: list[QImage] = [img for _, img in rec.of("preview", job)]
    latent_previews = [img for img in previews if img.width() == 8]
    decoded = [img for img in previews if img.width() == 64]
    assert latent_previews and latent_previews[0].height() == 8
    # The decoded drag-step image the edit reported comes through pixel-exact.
    assert len(decoded) == 1 and decoded[0].pixelColor(10, 10).getRgb()[:3] == (200, 200, 200)


def test_progress_and_previews_are_throttled(qtbot, make_engine):
    engine, rec, _, _ = make_engine(loader=FakeLoader(work=8, repeats=1))
    start = time.monotonic()
    job = engine.submit(make_request(steps=3000))
    wait_end(qtbot, rec, job)
    elapsed = time.monotonic() - start
    latent_previews = [img for _, img in rec.of("preview", job) if img.width() == 8]
    progress = rec.of("progress", job)
    # 6000 reported steps; at most ~15 previews/s and ~30 progress updates/s (+ phase ends).
    assert 1 <= len(latent_previews) <= 15 * elapsed + 2
    assert 4 <= len(progress) <= 30 * elapsed + 6
    assert progress[-1][1].step == 3000


def test_ui_thread_keeps_processing_events_while_a_job_runs(qtbot, make_engine):
    """Behaviour, not timing (`sdedit bench --ui` measures stalls): heartbeats of a UI-thread
    timer arrive between the job's progress signals, so the work runs off the UI thread."""
    engine, _rec, _, loader = make_engine(loader=FakeLoader(work=512, repeats=4))
    trace = trace_job(engine, make_request(steps=250), timeout_s=TIMEOUT_MS / 1000)
    assert trace.outcome == "finished"
    model = loader.models[0]
    assert model.calls == 250
    assert len(trace.progress) >= 4
    assert trace.progress_gaps_with_beats() >= 3, trace.summary()


def test_cancel_stops_within_one_model_call_and_next_job_runs(qtbot, make_engine):
    engine, rec, _runner, loader = make_engine(loader=FakeLoader(work=256, repeats=8))
    model = loader.models[0]
    calls_at_cancel: list[int] = []

    def on_progress(job_id: int, progress: JobProgress) -> None:
        if progress.phase == "reconstructing" and progress.step >= 5 and not calls_at_cancel:
            calls_at_cancel.append(model.calls)
            assert engine.cancel() is True

    engine.progress.connect(on_progress)
    job = engine.submit(make_request(seed=3, steps=400))
    wait_end(qtbot, rec, job)
    engine.progress.disconnect(on_progress)
    assert rec.of("jobCancelled", job) == [(job,)]
    assert not rec.of("jobFinished", job) and not rec.of("jobFailed", job)
    assert model.calls - calls_at_cancel[0] <= 1
    assert engine.running_job is None and engine.cancel() is False

    follow = engine.submit(make_request(seed=4, steps=10))
    wait_end(qtbot, rec, follow)
    ((_, result),) = rec.of("jobFinished", follow)
    assert int(result.image[0, 0, 0]) == 4 and result.unet_calls == 10


def test_three_jobs_run_in_order(qtbot, make_engine):
    engine, rec, runner, _ = make_engine()
    jobs = [engine.submit(make_request(seed=s, steps=5)) for s in (11, 12, 13)]
    assert jobs == sorted(jobs)
    wait_end(qtbot, rec, jobs[-1])
    assert [e[1] for e in rec.events if e[0] == "jobStarted"] == jobs
    finished = rec.of("jobFinished")
    assert [j for j, _ in finished] == jobs
    assert [int(r.image[0, 0, 0]) for _, r in finished] == [11, 12, 13]
    assert runner.started == [11, 12, 13]
    # The waiting count went up while submitting and back to 0.
    counts = [c for (c,) in rec.of("queueChanged")]
    assert max(counts) >= 1 and counts[-1] == 0


def test_clear_queue_drops_only_waiting_jobs(qtbot, make_engine):
    engine, rec, runner, _ = make_engine(loader=FakeLoader(work=256, repeats=8))
    first = engine.submit(make_request(seed=21, steps=40))
    second = engine.submit(make_request(seed=22, steps=5))
    third = engine.submit(make_request(seed=23, steps=5))
    qtbot.waitUntil(lambda: bool(rec.of("jobStarted", first)), timeout=TIMEOUT_MS)
    assert engine.waiting_jobs() == 2
    assert engine.clear_queue() == [second, third]
    assert rec.of("jobCancelled") == [(second,), (third,)]
    assert rec.of("queueChanged")[-1] == (0,)
    wait_end(qtbot, rec, first)
    ((_, result),) = rec.of("jobFinished", first)
    assert int(result.image[0, 0, 0]) == 21
    assert runner.started == [21]  # the dropped jobs never started
    assert engine.clear_queue() == []

    later = engine.submit(make_request(seed=24, steps=5))
    wait_end(qtbot, rec, later)
    assert runner.started == [21, 24]


def test_cancel_a_waiting_job_by_id(qtbot, make_engine):
    engine, rec, runner, _ = make_engine(loader=FakeLoader(work=256, repeats=8))
    first = engine.submit(make_request(seed=31, steps=30))
    second = engine.submit(make_request(seed=32, steps=5))
    assert engine.cancel(second) is True
    assert engine.cancel(second) is False  # already gone
    assert engine.cancel(9999) is False
    wait_end(qtbot, rec, first)
    assert rec.of("jobCancelled") == [(second,)]
    assert runner.started == [31]


@pytest.mark.parametrize(("prompt", "kind", "words"), [
    ("bad", "bad-request", "mask is empty"),
    ("oom", "out-of-memory", "Not enough"),
    ("crash", "internal", "KeyError"),
])
def test_failures_are_typed_and_engine_keeps_working(qtbot, make_engine, monkeypatch, prompt,
                                                     kind, words):
    emptied: list[bool] = []
    # CPU CI has no CUDA: pretend it has, to see the cache being emptied after a failure.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    engine, rec, runner, _ = make_engine()
    job = engine.submit(make_request(seed=5, steps=20, prompt=prompt))
    wait_end(qtbot, rec, job)
    ((_, failure),) = rec.of("jobFailed", job)
    assert isinstance(failure, EngineFailure)
    assert failure.kind == kind and words in failure.message
    assert "Traceback" in failure.detail
    assert emptied, "accelerator cache not emptied after the failure"
    if prompt == "oom":
        assert "OutOfMemoryError" in failure.detail
        # The tensors the failed edit held are gone (the traceback's frames were dropped).
        assert runner.held and runner.held[0]() is None
    if prompt == "crash":
        assert "lost_key" in failure.message

    after = engine.submit(make_request(seed=6, steps=8))
    wait_end(qtbot, rec, after)
    ((_, result),) = rec.of("jobFinished", after)
    assert int(result.image[0, 0, 0]) == 6


def test_job_without_model_or_with_other_model_fails_clearly(qtbot, make_engine):
    engine, rec, runner, _ = make_engine(load=False)
    job = engine.submit(make_request())
    wait_end(qtbot, rec, job)
    ((_, failure),) = rec.of("jobFailed", job)
    assert failure.kind == "model" and "No model is loaded" in failure.message

    engine.load_model(ModelSpec("fake-a"))
    other = engine.submit(make_request(model=ModelIdentity("fake", "fake-b")))
    wait_end(qtbot, rec, other)
    ((_, failure),) = rec.of("jobFailed", other)
    assert failure.kind == "model" and "fake-b" in failure.message and "fake-a" in failure.message
    same = engine.submit(make_request(model=ModelIdentity("fake", "fake-a")))
    wait_end(qtbot, rec, same)
    assert rec.of("jobFinished", same)
    assert runner.started == [1]


def test_model_switch_unload_and_load_failure(qtbot, make_engine):
    loader = FakeLoader()
    loader.fail_for["broken"] = MissingComponentError(
        "The folder has no unet/diffusion_pytorch_model.safetensors: download the model again.",
        detail="missing: /models/broken/unet/diffusion_pytorch_model.safetensors")
    loader.fail_for["buggy"] = KeyError("unet.conv_in")
    engine, rec, _, _ = make_engine(loader=loader)
    first = loader.models[0]

    engine.load_model(ModelSpec("fake-a"))  # the same spec again: no reload
    engine.load_model(ModelSpec("fake-b"))
    qtbot.waitUntil(lambda: engine.model_state.identity == ModelIdentity("fake", "fake-b"),
                    timeout=TIMEOUT_MS)
    assert len(loader.models) == 2 and first.released == 1
    states = rec.states()
    assert [s.status for s in states] == ["loading", "loading", "ready", "ready",
                                          "loading", "loading", "ready"]
    assert states[1].message == "Reading weights" and states[1].fraction == 0.5

    engine.load_model(ModelSpec("broken"))
    qtbot.waitUntil(lambda: engine.model_state.status == "error", timeout=TIMEOUT_MS)
    assert loader.models[1].released == 1
    state = engine.model_state
    assert state.failure is not None and state.failure.kind == "model"
    assert state.message.startswith("Could not load broken: The folder has no unet/")
    assert "/models/broken/unet" in state.failure.detail

    engine.load_model(ModelSpec("buggy"))
    qtbot.waitUntil(lambda: engine.model_state.failure is not None
                    and engine.model_state.failure.kind == "internal", timeout=TIMEOUT_MS)
    assert "Loading buggy stopped" in engine.model_state.message
    assert "unet.conv_in" in engine.model_state.failure.detail

    engine.load_model(ModelSpec("fake-c"))
    engine.unload_model()
    qtbot.waitUntil(lambda: engine.model_state.status == "none", timeout=TIMEOUT_MS)
    assert loader.models[2].released == 1
    with pytest.raises(TypeError, match="ModelSpec"):
        engine.load_model("tiny")
    with pytest.raises(TypeError, match="EditRequest"):
        engine.submit({"kind": "drag"})


def test_cancel_a_model_download(qtbot, make_engine):
    loader = FakeLoader()
    loader.download_for.add("hub/model")
    engine, rec, _, _ = make_engine(loader=loader, load=False)
    assert engine.cancel_model_load() is False
    engine.load_model(ModelSpec("hub/model"))
    qtbot.waitUntil(lambda: (engine.model_state.fraction or 0) > 0.05, timeout=TIMEOUT_MS)
    state = engine.model_state
    assert state.status == "loading" and " MB)" in state.message
    assert state.message.startswith("Downloading unet/model.safetensors (")
    assert engine.cancel_model_load() is True
    qtbot.waitUntil(lambda: engine.model_state.status == "none", timeout=TIMEOUT_MS)
    assert "stopped" in engine.model_state.message
    assert loader.download_chunks < 400 and not loader.models
    # Byte progress is throttled like job progress (400 reports in ~2 s).
    assert len([s for s in rec.states() if s.status == "loading"]) < 100
    engine.load_model(ModelSpec("fake-a"))
    qtbot.waitUntil(lambda: engine.model_state.status == "ready", timeout=TIMEOUT_MS)


def test_garbage_with_qt_objects_dies_on_the_ui_thread(qtbot, make_engine):
    """Cyclic garbage holding Qt objects (a running timer here) must not be freed by a
    collection the worker's allocations trigger: Qt objects die on their own thread."""
    engine, rec, _, _ = make_engine()
    destroyed: list[str] = []

    class Holder:
        pass

    for _ in range(5):
        holder = Holder()
        holder.timer = QTimer()
        holder.timer.start(10_000)
        holder.cycle = holder
        weakref.finalize(holder, lambda: destroyed.append(threading.current_thread().name))
        del holder
    job = engine.submit(make_request(steps=40, prompt="allocate"))
    wait_end(qtbot, rec, job)
    assert rec.of("jobFinished", job)
    qtbot.waitUntil(lambda: len(destroyed) == 5, timeout=TIMEOUT_MS)
    assert set(destroyed) == {threading.main_thread().name}
    assert gc.isenabled()


def test_shutdown_during_a_download_stops_it(qtbot, make_engine):
    loader = FakeLoader()
    loader.download_for.add("hub/model")
    engine, _, _, _ = make_engine(loader=loader, load=False)
    engine.load_model(ModelSpec("hub/model"))
    qtbot.waitUntil(lambda: loader.download_chunks > 10, timeout=TIMEOUT_MS)
    engine.shutdown()  # behaviour, not a time bound: the download stops long before its end
    assert not engine.is_running()
    assert loader.download_chunks < 400 and not loader.models


def test_shutdown_with_a_running_job_cancels_and_joins(qtbot, make_engine):
    engine, rec, _, loader = make_engine(loader=FakeLoader(work=256, repeats=8))
    running = engine.submit(make_request(seed=41, steps=1000))
    waiting = engine.submit(make_request(seed=42, steps=5))
    qtbot.waitUntil(lambda: len(rec.of("progress", running)) > 3, timeout=TIMEOUT_MS)
    engine.shutdown()
    assert not engine.is_running()
    assert loader.models[0].calls < 1000  # stopped, not run to its end
    # The running job reports its own cancel as the worker stops; the waiting one is dropped.
    assert sorted(rec.of("jobCancelled")) == [(running,), (waiting,)]
    assert not rec.of("jobStarted", waiting)
    assert not rec.of("jobFinished")
    assert loader.models[0].released == 1
    assert engine.model_state.status == "none"
    with pytest.raises(RuntimeError, match="shut down"):
        engine.submit(make_request())
    engine.shutdown()  # idempotent
