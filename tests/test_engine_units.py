"""The engine's pure parts: latent preview, whole-job progress/ETA, phase plans, failure
classification, the command queue and the numpy -> QImage conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_helpers import FakeClock

from sdedit_desktop.edits.kinds import (
    DiffEditRequest,
    DragRequest,
    InpaintRequest,
    ReconstructRequest,
    kind_of,
)
from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.engine.commands import CommandQueue, LoadModel, RunJob, UnloadModel
from sdedit_desktop.engine.failures import classify_failure, is_out_of_memory
from sdedit_desktop.engine.latent_preview import DEFAULT_LATENT_RGB, latent_to_rgb
from sdedit_desktop.engine.progress_tracker import PlannedPhase, ProgressTracker
from sdedit_desktop.engine.qimage import rgb_to_qimage
from sdedit_desktop.models.errors import ModelNotFoundError, ModelOutOfMemoryError
from sdedit_desktop.models.interface import ModelSpec

IMAGE = np.zeros((64, 96, 3), np.uint8)

# --- latent preview ---------------------------------------------------------------------------


def test_latent_preview_applies_the_sd15_factors_exactly():
    latent = torch.zeros(1, 4, 2, 3, dtype=torch.float64)
    latent[0, 0, 0, 0] = 1.0  # channel 0 only -> its RGB row
    latent[0, 3, 1, 2] = 1.0  # channel 3 only
    rgb = latent_to_rgb(latent)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    expected_00 = [round((1 + f) * 127.5) for f in DEFAULT_LATENT_RGB[0]]
    expected_12 = [round((1 + f) * 127.5) for f in DEFAULT_LATENT_RGB[3]]
    assert rgb[0, 0].tolist() == expected_00 == [172, 157, 169]
    assert rgb[1, 2].tolist() == expected_12 == [100, 94, 36]
    assert rgb[0, 1].tolist() == [128, 128, 128]  # a zero latent is mid grey


def test_latent_preview_matches_einsum_and_accepts_any_layout():
    gen = torch.Generator().manual_seed(0)
    latent = torch.randn(1, 4, 5, 7, generator=gen)
    factors = torch.tensor(DEFAULT_LATENT_RGB)
    reference = torch.einsum("chw,cr->hwr", latent[0], factors)
    reference = ((reference + 1) * 127.5).clamp(0, 255).round().to(torch.uint8).numpy()
    out = latent_to_rgb(latent)
    assert np.abs(out.astype(int) - reference.astype(int)).max() <= 1
    np.testing.assert_array_equal(latent_to_rgb(latent[0]), out)
    np.testing.assert_array_equal(latent_to_rgb(latent.numpy()), out)
    saturated = latent_to_rgb(torch.full((4, 2, 2), float("nan")))
    assert saturated.tolist() == [[[128] * 3] * 2] * 2


@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (8, 8), (2, 4, 8)])
def test_latent_preview_rejects_non_latents(shape):
    with pytest.raises(ValueError, match=r"\[1,4,h,w\]"):
        latent_to_rgb(torch.zeros(shape))


# --- progress tracker -------------------------------------------------------------------------




def test_tracker_weights_phases_by_cost_and_estimates_eta():
    clock = FakeClock()
    plan = (PlannedPhase("LoRA", 10, 3.0), PlannedPhase("drag step 1/", 20, 1.0))
    tracker = ProgressTracker(plan, clock)
    assert tracker.update("LoRA", 0, 10).eta_s is None
    clock.now += 0.1
    early = tracker.update("LoRA", 1, 10)
    assert early.overall_fraction == pytest.approx(3 / 50)
    assert early.eta_s is None  # too early: under MIN_SECONDS_FOR_ETA
    clock.now += 2.9
    mid = tracker.update("LoRA", 10, 10)
    assert mid.overall_fraction == pytest.approx(30 / 50) and mid.elapsed_s == pytest.approx(3.0)
    assert mid.eta_s == pytest.approx(3.0 * (20 / 50) / (30 / 50))
    clock.now += 1.0
    late = tracker.update("drag step 1/1", 10, 20)
    assert late.overall_fraction == pytest.approx(40 / 50)
    assert late.phase == "drag step 1/1" and late.step == 10 and late.total == 20
    assert tracker.update("drag step 1/1", 20, 20).overall_fraction == pytest.approx(0.999)


def test_tracker_drops_skipped_phases_and_adds_unforeseen_ones():
    clock = FakeClock()
    plan = (PlannedPhase("LoRA", 100, 3.0), PlannedPhase("inverting", 10),
            PlannedPhase("editing", 10))
    tracker = ProgressTracker(plan, clock)
    # LoRA came from the cache: the first report is already the inversion.
    assert tracker.update("inverting", 5, 10).overall_fraction == pytest.approx(5 / 20)
    # A phase nobody planned: counted with the total it reports (never moving backwards).
    assert tracker.update("refining", 1, 20).overall_fraction == pytest.approx(11 / 40)
    assert tracker.update("refining", 20, 20).overall_fraction == pytest.approx(30 / 40)
    # The edit's own total wins over the plan's.
    assert tracker.update("editing", 5, 5).overall_fraction == pytest.approx(0.999)


def test_tracker_repeated_phase_name_is_a_new_occurrence():
    tracker = ProgressTracker((PlannedPhase("noising", 4), PlannedPhase("noising", 4)), FakeClock())
    assert tracker.update("noising", 4, 4).overall_fraction == pytest.approx(0.5)
    assert tracker.update("noising", 4, 4).overall_fraction == pytest.approx(0.5)  # same step
    assert tracker.update("noising", 1, 4).overall_fraction == pytest.approx(5 / 8)
    assert tracker.update("noising", 3, 4).overall_fraction == pytest.approx(7 / 8)


def test_tracker_without_plan_follows_phases():
    tracker = ProgressTracker((), FakeClock())
    assert tracker.update("sampling", 5, 10).overall_fraction == pytest.approx(0.5)
    assert tracker.update("sampling", 10, 10).overall_fraction == pytest.approx(0.999)


# --- plans ------------------------------------------------------------------------------------
def _plan(request):
    return kind_of(request).plan(request)



def test_drag_plan_matches_the_edit_geometry():
    # 24 px right, 8 down in a 96x64 image (working size = image): latent (3, 1) -> |d| = 3.16
    # -> m = 2 steps of 1.58 (closer to 2 than one step of 3.16).
    request = DragRequest(image=IMAGE, points=(((20, 20), (44, 28)),), steps=50)
    assert request.drag_step_count() == 2
    assert [(p.prefix, p.steps) for p in _plan(request)] == [
        ("drag step 1/", 30), ("drag step 2/", 30)]
    ode = request.with_changes(method="ode", lora="auto")
    assert [(p.prefix, p.steps) for p in _plan(ode)] == [
        ("LoRA", 100), ("inverting 1/", 30), ("drag step 1/", 30), ("inverting 2/", 30),
        ("drag step 2/", 30)]
    # A 4x larger image is scaled to max_side 384: the same drag in latent pixels.
    big = np.zeros((256, 384, 3), np.uint8)
    scaled = DragRequest(image=big, points=(((80, 80), (176, 112)),), max_side=96)
    assert scaled.drag_step_count() == 2
    assert request.with_changes(points=()).drag_step_count() == 1


def test_plans_for_other_edits():
    assert [(p.prefix, p.steps, p.cost) for p in _plan(
        InpaintRequest(image=IMAGE, steps=25))] == [("inpainting", 25, 2.0)]
    diffedit = DiffEditRequest(image=IMAGE, target_prompt="a cat", steps=50)
    assert [(p.prefix, p.steps) for p in _plan(diffedit)] == [
        ("computing mask", 1), ("editing", 35)]
    assert [(p.prefix, p.steps) for p in _plan(
        diffedit.with_changes(method="ode", mask_mode="full"))] == [
        ("inverting", 35), ("editing", 35)]
    assert [(p.prefix, p.steps) for p in _plan(
        ReconstructRequest(image=IMAGE, steps=40, t0=0.5))] == [("reconstructing", 20)]


# --- failures ---------------------------------------------------------------------------------


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise exc from cause
    except BaseException as caught:  # raised, so the traceback is attached
        return caught


def test_oom_found_anywhere_in_the_cause_chain():
    wrapped = _raised(ValueError("decoder failed"),
                      _raised(RuntimeError("CUDA error: out of memory")))
    assert is_out_of_memory(wrapped)
    failure = classify_failure(wrapped, torch.device("cuda", 0))
    assert failure.kind == "out-of-memory" and "GPU memory" in failure.message
    assert "decoder failed" in failure.detail and "Traceback" in failure.detail
    host = classify_failure(_raised(MemoryError()), "cpu")
    assert host.kind == "out-of-memory" and "system memory" in host.message
    assert not is_out_of_memory(_raised(RuntimeError("shape mismatch")))


def test_model_errors_keep_their_message_and_detail():
    oom = ModelOutOfMemoryError("Out of memory on cuda:0 while loading the UNet: use float16.",
                                detail="tried 3.2 GiB")
    failure = classify_failure(_raised(oom))
    assert failure.kind == "out-of-memory" and failure.message.startswith("Out of memory on cuda")
    assert failure.detail.startswith("tried 3.2 GiB")
    missing = classify_failure(_raised(ModelNotFoundError("No model at /x: pick a folder.")))
    assert (missing.kind, missing.message) == ("model", "No model at /x: pick a folder.")


def test_bad_request_and_internal_messages():
    bad = classify_failure(_raised(EditError("the mask is empty")))
    assert (bad.kind, bad.message) == ("bad-request", "The mask is empty")
    bug = classify_failure(_raised(IndexError("list index out of range")), what="Loading tiny")
    assert bug.kind == "internal"
    assert bug.message.startswith("Loading tiny stopped because of an internal error (IndexError")


# --- command queue ----------------------------------------------------------------------------


def _job(job_id: int) -> RunJob:
    return RunJob(job_id, ReconstructRequest(image=IMAGE))


def test_command_queue_order_cancel_and_clear():
    queue = CommandQueue()
    load = LoadModel(ModelSpec("tiny"))
    for command in (_job(1), load, _job(2), _job(3), UnloadModel()):
        queue.put(command)
    assert queue.waiting_jobs() == 3
    first = queue.pop()
    assert first.job_id == 1 and queue.running_job() is first
    assert queue.cancel_running(job_id=2) is None and not first.cancel_event.is_set()
    assert queue.cancel_running() is first and first.cancel_event.is_set()
    assert queue.remove_waiting_job(3).job_id == 3 and queue.remove_waiting_job(3) is None
    assert [j.job_id for j in queue.remove_waiting_jobs()] == [2]
    queue.job_done(first)
    assert queue.running_job() is None
    # Model commands survive clearing the jobs, in order.
    assert queue.pop() is load and isinstance(queue.pop(), UnloadModel) and queue.pop() is None


# --- numpy -> QImage --------------------------------------------------------------------------


def test_rgb_to_qimage_is_exact_and_owns_its_pixels(qapp):
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = rgb_to_qimage(rgb)
    assert (image.width(), image.height()) == (7, 5)
    expected = rgb.copy()
    rgb[:] = 0  # the QImage must not share numpy's buffer
    got = np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(7)] for y in range(5)])
    np.testing.assert_array_equal(got, expected)
    gray = rgb_to_qimage(np.full((2, 2), 9, np.uint8))
    assert gray.pixelColor(1, 1).getRgb()[:3] == (9, 9, 9)
    with pytest.raises(ValueError, match="uint8"):
        rgb_to_qimage(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="HxWx3"):
        rgb_to_qimage(np.zeros((2, 2, 4), np.uint8))
