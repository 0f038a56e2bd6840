"""Helpers of the engine tests: a small model and edit function with the real signatures (precise
control: slow calls, failures at a chosen step), a recorder of every engine signal, and a real
drag request on a gradient image. `test_engine_fakes.py` checks that the fakes keep to the
contracts the engine relies on."""

from __future__ import annotations

import threading
import time
import weakref

import numpy as np
import torch
from images import textured_image

from sdedit_desktop.diffusion.schedule import sd15_schedule
from sdedit_desktop.edits.kinds import DragRequest, ReconstructRequest
from sdedit_desktop.edits.progress import EditError, StepReporter
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.engine import Engine, ModelState
from sdedit_desktop.models.interface import ModelIdentity, ModelSpec
from sdedit_desktop.models.loading import LoadProgress


class FakeModel:
    """Implements LatentDiffusionModel with real (CPU-heavy, GIL-releasing) torch work per call."""

    vae_scale_factor = 8
    schedule = sd15_schedule()
    prediction_type = "epsilon"
    native_side = 512

    def __init__(self, spec: ModelSpec, work: int = 192, repeats: int = 4):
        self.identity = ModelIdentity("fake", spec.source)
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.work = work
        self.repeats = repeats
        self.calls = 0
        self.released = 0
        generator = torch.Generator().manual_seed(0)
        self._weight = torch.randn(work, work, generator=generator) / work**0.5

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(image.mean(1, keepdim=True), 8).repeat(1, 4, 1, 1)

    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(latent[:, :3].float(), scale_factor=8).clamp(-1, 1)

    def encode_prompt(self, prompt: str, negative: bool = False) -> torch.Tensor:
        return torch.zeros(1, 77, 8)

    def predict_noise(self, latent, timestep, cond, lora_scale=1.0):
        x = torch.ones(self.work, self.work)
        for _ in range(self.repeats):
            x = torch.tanh(x @ self._weight)
        self.calls += 1
        return (latent * 0.5 + x.mean().to(latent.dtype)).to(latent.dtype)

    def release(self) -> None:
        self.released += 1


class FakeLoader:
    """load_model(spec, progress=None) stand-in; `fail_for` maps a source to an exception."""

    def __init__(self, **model_kwargs):
        self.model_kwargs = model_kwargs
        self.models: list[FakeModel] = []
        self.fail_for: dict[str, BaseException] = {}
        self.download_for: set[str] = set()  # sources that "download" 400 MB slowly first
        self.loaded_in: list[str] = []
        self.download_chunks = 0

    def __call__(self, spec: ModelSpec, progress=None) -> FakeModel:
        self.loaded_in.append(threading.current_thread().name)
        if spec.source in self.fail_for:
            raise self.fail_for[spec.source]
        if spec.source in self.download_for:
            total = 400 * 10**6
            for chunk in range(1, 401):
                time.sleep(0.005)
                self.download_chunks = chunk
                progress(LoadProgress("Downloading unet/model.safetensors", chunk * 10**6, total))
        if progress is not None:
            progress(LoadProgress("Reading weights", 1, 2))
        model = FakeModel(spec, **self.model_kwargs)
        self.models.append(model)
        return model


class FakeRunner:
    """run_edit stand-in driven by a ReconstructRequest: `steps` model calls in a "reconstructing"
    phase after a free "inverting" phase (the real ODE reconstruction's phase names); prompt
    "bad" -> EditError, "oom" -> CUDA-style OOM at half way, "crash" -> a bug, "allocate" ->
    many Python objects per step.
    The result image is filled with seed % 256."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.started: list[int] = []  # seeds, in the order jobs started
        self.held: list[weakref.ref] = []  # tensors a failing job held

    def __call__(self, model, request, progress=None, cancel=None, lora=None, options=None):
        self.threads.append(threading.current_thread().name)
        self.started.append(request.seed)
        reporter = StepReporter(progress, cancel)
        if request.prompt == "bad":
            raise EditError("The mask is empty: paint the region that may change.")
        n = request.steps
        dtype = torch.float64 if request.dtype == "float64" else torch.float32
        latent = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(request.seed),
                             dtype=dtype)
        calls_before = model.calls
        for i in range(1, n + 1):
            reporter.check_cancel()
            reporter.report("inverting", i, n, latent=latent)
        embeds = model.encode_prompt(request.prompt)
        for i in range(1, n + 1):
            reporter.check_cancel()
            if request.prompt == "oom" and i == n // 2:
                big = torch.empty(1024, 1024)
                self.held.append(weakref.ref(big))
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            if request.prompt == "crash" and i == n // 2:
                raise KeyError("lost_key")
            if request.prompt == "allocate":
                # Python objects the way real model code makes them (modules, dicts, lists):
                # enough to trigger the cyclic garbage collector several times a step.
                self.junk = [{"step": [i]} for _ in range(3000)]
            latent = model.predict_noise(latent, 1000 - i, embeds)
            image = None
            if i == n // 2:
                image = np.full((64, 64, 3), 200, np.uint8)
            reporter.report("reconstructing", i, n, latent=latent, image=image)
        out = np.full((16, 16, 3), request.seed % 256, np.uint8)
        return EditResult(request=request, image=out, unet_calls=model.calls - calls_before)


def make_request(seed: int = 1, steps: int = 20, prompt: str = "", **kwargs) -> ReconstructRequest:
    """method "ode": the real edit reports "inverting" then "reconstructing", as the fake does."""
    image = np.zeros((16, 16, 3), np.uint8)
    kwargs.setdefault("method", "ode")
    return ReconstructRequest(image=image, seed=seed, steps=steps, prompt=prompt, **kwargs)


# A hang guard, not a speed target: generous, so that a busy machine never fails a test.
TIMEOUT_MS = 240_000


class Recorder:
    """Every signal of an engine, in arrival order, with the thread it arrived on."""

    def __init__(self, engine: Engine):
        self.events: list[tuple] = []
        self.threads: set[str] = set()
        for name in ("jobQueued", "jobStarted", "progress", "preview", "jobFinished",
                     "jobFailed", "jobCancelled", "modelStateChanged", "queueChanged"):
            getattr(engine, name).connect(lambda *args, _n=name: self._add(_n, args))

    def _add(self, name: str, args: tuple) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append((name, *args))

    def of(self, name: str, job_id: int | None = None) -> list[tuple]:
        return [e[1:] for e in self.events
                if e[0] == name and (job_id is None or e[1] == job_id)]

    def ended(self, job_id: int) -> bool:
        return any(e[0] in ("jobFinished", "jobFailed", "jobCancelled") and e[1] == job_id
                   for e in self.events)

    def states(self) -> list[ModelState]:
        return [e[1] for e in self.events if e[0] == "modelStateChanged"]


def wait_end(qtbot, recorder: Recorder, job_id: int) -> None:
    qtbot.waitUntil(lambda: recorder.ended(job_id), timeout=TIMEOUT_MS)


def drag_request(**kwargs) -> DragRequest:
    """A real SDE-Drag of the gradient image (50 steps unless told otherwise)."""
    kwargs.setdefault("image", textured_image())
    kwargs.setdefault("points", (((20, 20), (44, 28)),))
    kwargs.setdefault("steps", 50)
    return DragRequest(**kwargs)


class FakeClock:
    """A monotonic clock the test moves by hand (`clock.now += 5`)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now
