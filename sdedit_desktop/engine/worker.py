"""The engine's worker: lives in its own QThread, owns the model and the LoRA cache, runs commands.

Everything heavy happens here; the UI thread only sees signals with small payloads (dataclasses,
small QImages, the final EditResult). Cancel flags and the command queue are shared with the UI
thread through `CommandQueue` (thread-safe), because the worker's event loop is busy while an
edit runs. Garbage collection is left to the UI thread (see gc_policy): automatic collection is
held off while a job or a load runs, and releasing a model (which collects) runs there too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from sdedit_desktop.core.families import LatentRgb, family_of, same_family
from sdedit_desktop.edits.kinds import kind_of
from sdedit_desktop.edits.options import ExecutionOptions
from sdedit_desktop.edits.progress import EditCancelled, Progress
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.engine import gc_policy
from sdedit_desktop.engine.commands import CommandQueue, LoadModel, RunJob, Stop, UnloadModel
from sdedit_desktop.engine.failures import classify_failure, empty_device_cache
from sdedit_desktop.engine.latent_preview import DEFAULT_LATENT_RGB, latent_to_rgb
from sdedit_desktop.engine.progress_tracker import ProgressTracker
from sdedit_desktop.engine.qimage import rgb_to_qimage
from sdedit_desktop.engine.region_preview import RegionPreviewPlacer
from sdedit_desktop.engine.types import EngineFailure, ModelState
from sdedit_desktop.models.cpu_threads import apply_thread_policy
from sdedit_desktop.models.interface import LoraCapable, ModelIdentity, ModelSpec

log = logging.getLogger(__name__)

# run_edit(model, request, progress=, cancel=, lora=, options=) -> EditResult
# run_edit's signature: (model, request, *, progress, cancel, lora, options) -> EditResult
EditRunner = Callable[..., Any]
ModelLoader = Callable[..., Any]  # load_model(spec, progress=)


class LoadAborted(Exception):
    """Raised from the loader's progress callback to stop a load (user request, shutdown)."""


def _dtype_name(dtype: object) -> str | None:
    return None if dtype is None else str(dtype).removeprefix("torch.")


def model_mismatch_message(wanted: ModelIdentity, loaded: ModelIdentity) -> str:
    """Why an edit made with other weights does not run on the loaded ones; another family
    (SD 1.x vs SDXL, ...) is said first: those edits cannot be repeated on this model at all."""
    if not same_family(wanted, loaded):
        return (f"This edit was made with a {family_of(wanted).label} model ('{wanted.source}'), "
                f"but the loaded model '{loaded.source}' is {family_of(loaded).label}: the "
                f"result would not be the same edit. Load a {family_of(wanted).label} model to "
                "repeat it, or clear the request's model to run it with the loaded one.")
    return (f"This edit asks for the model '{wanted.source}' ({wanted.kind}) but "
            f"'{loaded.source}' ({loaded.kind}) is loaded. Load that model, or clear the "
            "request's model to run it with the loaded one.")


def _same_weights(wanted: ModelIdentity, loaded: ModelIdentity) -> bool:
    if not same_family(wanted, loaded):
        return False
    if (wanted.kind, wanted.source) != (loaded.kind, loaded.source):
        return False
    if wanted.revision and loaded.revision and wanted.revision != loaded.revision:
        return False
    return not (wanted.sha256 and loaded.sha256 and wanted.sha256 != loaded.sha256)


class _JobReporter:
    """The progress callback handed to an edit: tracks whole-job progress, throttles signals
    (the tiny model makes hundreds of steps a second) and makes previews."""

    def __init__(self, worker: EngineWorker, job_id: int, tracker: ProgressTracker,
                 progress_interval_s: float, preview_interval_s: float,
                 clock: Callable[[], float], image: np.ndarray | None = None,
                 latent_rgb: LatentRgb = DEFAULT_LATENT_RGB):
        self._worker = worker
        self._latent_rgb = latent_rgb  # the model family's latent -> RGB map
        # Latent previews of a region edit are placed into the photo (engine/region_preview.py).
        self._placer = RegionPreviewPlacer(image) if image is not None else None
        self._job_id = job_id
        self._tracker = tracker
        self._progress_interval = progress_interval_s
        self._preview_interval = preview_interval_s
        self._clock = clock
        self._last_key: tuple[str | None, int] = (None, 0)
        self._last_progress = -float("inf")
        self._last_preview = -float("inf")
        self._previews_ok = True

    def __call__(self, progress: Progress) -> None:
        job_progress = self._tracker.update(progress.phase, progress.step, progress.total)
        now = self._clock()
        # Always send a phase's first and last step so the UI never misses a boundary; never
        # send the same step twice (a drag step's end is reported again with its image).
        key = (progress.phase, progress.step)
        if key != self._last_key and (
                progress.phase != self._last_key[0] or progress.step >= progress.total
                or now - self._last_progress >= self._progress_interval):
            self._last_key = key
            self._last_progress = now
            self._worker.jobProgress.emit(self._job_id, job_progress)
        if not self._previews_ok:
            return
        try:
            if progress.image is not None:
                # A decoded image (a finished drag step) is rare and worth showing every time.
                self._emit_preview(rgb_to_qimage(progress.image), now)
            elif progress.latent is not None and now - self._last_preview >= self._preview_interval:
                rgb = latent_to_rgb(progress.latent, self._latent_rgb)
                if progress.region is not None and self._placer is not None:
                    rgb = self._placer.place(rgb, progress.region)
                self._emit_preview(rgb_to_qimage(rgb), now)
        except ValueError as exc:
            # A malformed preview must not cost the user the edit; stop previewing this job.
            log.warning("job %d: preview disabled: %s", self._job_id, exc)
            self._previews_ok = False

    def _emit_preview(self, image: QImage, now: float) -> None:
        self._last_preview = now
        self._worker.jobPreview.emit(self._job_id, image)


class _LoadReporter:
    """The progress callback handed to the model loader (`models.loading.LoadProgress`:
    stage text, done, total - bytes while downloading). Throttled; raising from it is how a
    load (a download, above all) is stopped on request or on shutdown."""

    def __init__(self, worker: EngineWorker, stop: Callable[[], bool],
                 clock: Callable[[], float], interval_s: float):
        self._worker = worker
        self._stop = stop
        self._clock = clock
        self._interval = interval_s
        self._last = -float("inf")

    def __call__(self, progress: Any) -> None:
        if self._stop():
            raise LoadAborted("loading was stopped")
        stage = str(getattr(progress, "stage", progress))
        done = getattr(progress, "done", None)
        total = getattr(progress, "total", None)
        now = self._clock()
        finished = done is not None and total is not None and done >= total
        if not finished and now - self._last < self._interval:
            return
        self._last = now
        fraction = None
        if isinstance(done, int) and isinstance(total, int) and total > 0:
            fraction = min(1.0, done / total)
            if total >= 1 << 20:  # a byte count: show megabytes
                stage = f"{stage} ({done / 1e6:.0f} of {total / 1e6:.0f} MB)"
        self._worker.modelState.emit(ModelState("loading", message=stage, fraction=fraction))


class EngineWorker(QObject):
    jobStarted = Signal(int)
    jobProgress = Signal(int, object)
    jobPreview = Signal(int, QImage)
    jobFinished = Signal(int, object)
    jobFailed = Signal(int, object)
    jobCancelled = Signal(int)
    jobWarning = Signal(int, str)  # job_id, a problem that did not stop the job (LoRA cache)
    modelState = Signal(object)
    stopped = Signal()
    # Internal: the end of a job or load (the UI thread collects garbage, see gc_policy), and
    # a callable the UI thread must run while the worker waits (connected blocking).
    holdReleased = Signal()
    callOnUi = Signal(object)

    def __init__(self, queue: CommandQueue, stopping: threading.Event, *,
                 edit_runner: EditRunner | None, model_loader: ModelLoader | None,
                 lora_cache_factory: Callable[[], Any] | None,
                 execution_options: ExecutionOptions | None = None,
                 progress_interval_s: float, preview_interval_s: float,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self._queue = queue
        self._stopping = stopping
        self._edit_runner = edit_runner
        self._model_loader = model_loader
        self._lora_cache_factory = lora_cache_factory
        self._options = execution_options
        self._progress_interval = progress_interval_s
        self._preview_interval = preview_interval_s
        self._clock = clock
        self._model: Any = None
        self._spec: ModelSpec | None = None
        self._lora_provider: Any = None
        self._lora_cache: Any = None

    # -- command loop -------------------------------------------------------------------------

    @Slot()
    def drain(self) -> None:
        """Run every queued command in order (one wake-up may find several)."""
        while (command := self._queue.pop()) is not None:
            if isinstance(command, RunJob | LoadModel):
                # torch's threads for this thread's work: every core but one, so a busy
                # machine does not stall the pool and the UI thread keeps a core.
                apply_thread_policy()
            if isinstance(command, RunJob):
                gc_policy.hold()
                try:
                    self._run_job(command)
                finally:
                    self.holdReleased.emit()
            elif isinstance(command, LoadModel):
                gc_policy.hold()
                try:
                    self._load(command.spec, command.cancel_event)
                finally:
                    self._queue.load_done(command)
                    self.holdReleased.emit()
            elif isinstance(command, UnloadModel):
                self._unload()
                self.modelState.emit(ModelState("none", message="No model loaded."))
            elif isinstance(command, Stop):
                self._stop()
                return

    # -- model --------------------------------------------------------------------------------

    def _state_of_loaded(self, message: str) -> ModelState:
        model = self._model
        return ModelState("ready", identity=getattr(model, "identity", None),
                          device=str(getattr(model, "device", "")) or None,
                          dtype=_dtype_name(getattr(model, "dtype", None)), message=message)

    def _load(self, spec: ModelSpec, cancel: threading.Event) -> None:
        if self._model is not None and spec == self._spec:
            self.modelState.emit(self._state_of_loaded("Model already loaded."))
            return
        # Free the old model first: two SD models at once may not fit in GPU memory.
        self._unload()
        self.modelState.emit(ModelState("loading", message=f"Loading {spec.source}…",
                                        fraction=0.0))
        reporter = _LoadReporter(self, lambda: self._stopping.is_set() or cancel.is_set(),
                                 self._clock, self._progress_interval)
        loader = self._model_loader or _default_model_loader()
        failure: EngineFailure | None = None
        try:
            self._model = loader(spec, progress=reporter)
        except Exception as exc:
            self._model = None
            if isinstance(exc, LoadAborted) or self._stopping.is_set() or cancel.is_set():
                empty_device_cache()
                self.modelState.emit(ModelState("none", message=f"Loading {spec.source} stopped."))
                return
            device = spec.device if spec.device != "auto" else None
            failure = classify_failure(exc, device, what=f"Loading {spec.source}")
        if failure is not None:
            empty_device_cache()
            message = failure.message
            if failure.kind != "internal":
                message = f"Could not load {spec.source}: {message}"
            self.modelState.emit(ModelState("error", message=message, failure=failure))
            return
        self._spec = spec
        self.modelState.emit(self._state_of_loaded(f"Loaded {spec.source}."))

    def _unload(self) -> None:
        model, self._model, self._spec = self._model, None, None
        if model is None:
            return
        # The model was frozen out of the collector when it loaded (see gc_policy): give it
        # back so it is freed even if it sits in reference cycles.
        gc_policy.thaw()
        release = getattr(model, "release", None)
        if callable(release):
            # release() may run the garbage collector: that belongs on the UI thread.
            self.callOnUi.emit(release)
        del model
        empty_device_cache()

    # -- jobs ---------------------------------------------------------------------------------

    def _run_job(self, job: RunJob) -> None:
        try:
            self.jobStarted.emit(job.job_id)
            if job.cancel_event.is_set():
                self.jobCancelled.emit(job.job_id)
                return
            failure = self._check_ready(job.request)
            if failure is not None:
                self.jobFailed.emit(job.job_id, failure)
                return
            self._execute(job)
        except BaseException as exc:  # the job must end, whatever was raised
            # A bug in the engine itself, or an interrupt (KeyboardInterrupt, SystemExit) from
            # inside the edit: the job must still end, or the UI waits forever. The worker
            # goes on with the next command.
            log.exception("engine error in job %d", job.job_id)
            self.jobFailed.emit(job.job_id, classify_failure(exc))
        finally:
            self._queue.job_done(job)

    def _check_ready(self, request: EditRequest) -> EngineFailure | None:
        if self._model is None:
            return EngineFailure(
                "model", "No model is loaded. Load a model first, then run the edit again.")
        wanted = request.model
        loaded = getattr(self._model, "identity", None)
        if wanted is not None and loaded is not None and not _same_weights(wanted, loaded):
            return EngineFailure("model", model_mismatch_message(wanted, loaded),
                                 f"requested {wanted}\nloaded {loaded}")
        return None

    def _execute(self, job: RunJob) -> None:
        model = self._model
        request = job.request
        try:
            plan = kind_of(request).plan(request)
        except KeyError:  # no registered kind: the tracker follows the phases as they come
            plan = ()
        except Exception:
            # The plan only shapes the progress bar; a request it cannot read is the edit's
            # to reject, with its own message.
            log.exception("no progress plan for job %d", job.job_id)
            plan = ()
        tracker = ProgressTracker(plan, clock=self._clock)
        reporter = _JobReporter(self, job.job_id, tracker, self._progress_interval,
                                self._preview_interval, self._clock,
                                getattr(request, "image", None),
                                family_of(getattr(model, "identity", None)).latent_rgb)
        failure: EngineFailure | None = None
        cancelled = False
        result: Any = None
        try:
            runner = self._edit_runner or _default_edit_runner()
            kwargs = {"progress": reporter, "cancel": job.cancel_event.is_set,
                      "lora": self._lora_provider_for(request), "options": self._options}
            result = runner(model, request, **kwargs)
        except EditCancelled:
            cancelled = True
        except BaseException as exc:  # KeyboardInterrupt etc. end the job too
            failure = classify_failure(exc, getattr(model, "device", None))
        self._emit_cache_warnings(job.job_id)  # before the outcome, so the UI has them with it
        if failure is not None or cancelled:
            # The exception (and the tensors its frames held) is gone by now; give the memory
            # back and make sure no half-applied LoRA stays on the model for the next job.
            # Tensors caught in reference cycles go when the UI thread collects (gc_policy).
            self._detach_lora(model)
            del model
            empty_device_cache()
            if cancelled:
                self.jobCancelled.emit(job.job_id)
            else:
                self.jobFailed.emit(job.job_id, failure)
            return
        self.jobFinished.emit(job.job_id, result)

    def _lora_provider_for(self, request: EditRequest) -> Any:
        """The LoRA hook (bound to the engine's LoRA cache) for requests that use a LoRA; the
        cache is created on first use so LoRA-free sessions never touch the cache folder."""
        if getattr(request, "lora", "off") == "off":
            return None
        if self._lora_provider is None:
            from sdedit_desktop.models.lora_provider import lora_provider

            factory = self._lora_cache_factory or _default_lora_cache
            self._lora_cache = factory()
            self._lora_provider = lora_provider(self._lora_cache)
        return self._lora_provider

    def _emit_cache_warnings(self, job_id: int) -> None:
        """Problems the LoRA cache met during the job (it went on without the cache)."""
        take = getattr(self._lora_cache, "take_warnings", None)
        if not callable(take):
            return
        try:
            warnings = list(take())
        except Exception:
            log.exception("reading the LoRA cache's warnings failed")
            return
        for text in warnings:
            self.jobWarning.emit(job_id, str(text))

    @staticmethod
    def _detach_lora(model: Any) -> None:
        if isinstance(model, LoraCapable):
            try:
                model.detach_lora()
            except Exception:
                log.exception("detaching the LoRA after a failed job failed")

    # -- shutdown -----------------------------------------------------------------------------

    def _stop(self) -> None:
        self._unload()
        self._lora_provider = self._lora_cache = None
        self.stopped.emit()
        # Hand this object back to the main thread so it can be destroyed there after the
        # worker thread is gone; then end the thread's event loop.
        app = QCoreApplication.instance()
        if app is not None:
            self.moveToThread(app.thread())
        QThread.currentThread().quit()


def _default_edit_runner() -> EditRunner:
    from sdedit_desktop.edits import run_edit

    return run_edit


def _default_model_loader() -> ModelLoader:
    from sdedit_desktop.models.loading import load_model

    return load_model


def _default_lora_cache() -> Any:
    from sdedit_desktop.models.lora import LoraCache

    return LoraCache()
