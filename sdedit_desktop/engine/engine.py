"""`Engine`: the UI thread's face of the background worker.

All methods are called on the UI (main) thread; all signals are emitted there, carrying plain
Python objects or a QImage. The worker (see worker.py) runs in its own QThread.

    engine = Engine()
    engine.load_model(ModelSpec("tiny"))
    job_id = engine.submit(request)            # signals report progress / result
    result = await engine.run(request)         # or: the same as a coroutine (qasync)
    engine.shutdown()                          # also done automatically when the app quits

`engine.model_state` is the last ModelState; `waiting_jobs()` and `running_job` describe the
queue. Requests run one at a time, in submission order, interleaved with model loads/unloads
in the order they were asked for.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage

from sdedit_desktop.edits.options import ExecutionOptions
from sdedit_desktop.edits.requests import EditRequest, EditResult
from sdedit_desktop.engine import gc_policy
from sdedit_desktop.engine.commands import CommandQueue, LoadModel, RunJob, Stop, UnloadModel
from sdedit_desktop.engine.failures import empty_device_cache
from sdedit_desktop.engine.gc_policy import freeze_long_lived
from sdedit_desktop.engine.types import (
    EngineFailure,
    EngineJobCancelled,
    EngineJobFailed,
    JobProgress,
    ModelState,
)
from sdedit_desktop.engine.worker import EditRunner, EngineWorker, ModelLoader
from sdedit_desktop.models.interface import ModelSpec

log = logging.getLogger(__name__)

# At most ~15 previews and ~30 progress updates a second reach the UI thread.
PREVIEW_INTERVAL_S = 1 / 15
PROGRESS_INTERVAL_S = 1 / 30

_live_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


@atexit.register
def _shutdown_live_engines() -> None:
    # Last line of defence: a QThread destroyed while running aborts the process.
    for engine in list(_live_engines):
        engine.shutdown()


class Engine(QObject):
    jobQueued = Signal(int, object)  # job_id, EditRequest
    jobStarted = Signal(int)
    progress = Signal(int, object)  # job_id, JobProgress
    # job_id, preview. Latent previews (every step, <= 15/s) are 1/8 of the working size
    # (scale them over the image); a finished drag step comes decoded at the image's size.
    preview = Signal(int, QImage)
    jobFinished = Signal(int, object)  # job_id, EditResult
    jobFailed = Signal(int, object)  # job_id, EngineFailure
    jobCancelled = Signal(int)
    jobWarning = Signal(int, str)  # job_id, a problem that did not stop the job (LoRA cache)
    modelStateChanged = Signal(object)  # ModelState
    queueChanged = Signal(int)  # jobs waiting (not counting the running one)

    _wake = Signal()

    def __init__(self, parent: QObject | None = None, *, edit_runner: EditRunner | None = None,
                 model_loader: ModelLoader | None = None,
                 lora_cache_factory: Callable[[], Any] | None = None,
                 execution_options: ExecutionOptions | None = None,
                 preview_interval_s: float = PREVIEW_INTERVAL_S,
                 progress_interval_s: float = PROGRESS_INTERVAL_S):
        """edit_runner defaults to `edits.run_edit`, model_loader to `models.loading.load_model`,
        lora_cache_factory to `models.lora.LoraCache` (created on the first LoRA job);
        execution_options (speed knobs, e.g. trajectory batching on a GPU) go to every edit."""
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("create the QApplication before the Engine: its signals are "
                               "delivered by the application's event loop")
        if QThread.currentThread() is not app.thread():
            raise RuntimeError("create the Engine on the UI (main) thread")
        super().__init__(parent)
        self._queue = CommandQueue()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._futures: dict[int, asyncio.Future] = {}
        self._known_jobs: set[int] = set()  # queued or running, not yet reported as ended
        self._running_id: int | None = None
        self._shut_down = False
        self.model_state = ModelState("none", message="No model loaded.")

        self._thread = QThread()
        self._thread.setObjectName("sdedit-engine")
        self._worker = EngineWorker(
            self._queue, self._stopping, edit_runner=edit_runner, model_loader=model_loader,
            lora_cache_factory=lora_cache_factory, execution_options=execution_options,
            progress_interval_s=progress_interval_s,
            preview_interval_s=preview_interval_s)
        self._worker.moveToThread(self._thread)
        queued = Qt.ConnectionType.QueuedConnection
        self._wake.connect(self._worker.drain, queued)
        self._worker.jobStarted.connect(self._on_started, queued)
        self._worker.jobProgress.connect(self._on_progress, queued)
        self._worker.jobPreview.connect(self._on_preview, queued)
        self._worker.jobFinished.connect(self._on_finished, queued)
        self._worker.jobFailed.connect(self._on_failed, queued)
        self._worker.jobCancelled.connect(self._on_cancelled, queued)
        self._worker.jobWarning.connect(self.jobWarning, queued)
        self._worker.modelState.connect(self._on_model_state, queued)
        self._worker.holdReleased.connect(self._on_hold_released, queued)
        self._worker.callOnUi.connect(self._run_on_ui,
                                      Qt.ConnectionType.BlockingQueuedConnection)
        # Everything imported so far lives as long as the app; full GC passes over it would
        # stall the UI while jobs allocate (see gc_policy).
        freeze_long_lived()
        self._thread.start()
        app.aboutToQuit.connect(self.shutdown)
        _live_engines.add(self)

    # -- public API ---------------------------------------------------------------------------

    @property
    def running_job(self) -> int | None:
        """The id of the job the worker is running, as last reported to the UI thread."""
        return self._running_id

    def waiting_jobs(self) -> int:
        return self._queue.waiting_jobs()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def load_model(self, spec: ModelSpec) -> None:
        """Load (or switch to) a model after the jobs queued before this call."""
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"load_model needs a ModelSpec, got {type(spec).__name__}")
        self._send(LoadModel(spec))

    def unload_model(self) -> None:
        self._send(UnloadModel())

    def cancel_model_load(self) -> bool:
        """Stop the model load in progress (e.g. a long download; it stops at its next
        progress report and a download resumes next time) and drop waiting loads."""
        return self._queue.cancel_loads()

    def submit(self, request: EditRequest) -> int:
        """Queue an edit; returns its job id. Results come as signals."""
        if not isinstance(request, EditRequest):
            raise TypeError(f"submit needs an EditRequest, got {type(request).__name__}")
        self._check_alive()
        job_id = next(self._ids)
        self._known_jobs.add(job_id)
        self._queue.put(RunJob(job_id, request))
        self.jobQueued.emit(job_id, request)
        self.queueChanged.emit(self._queue.waiting_jobs())
        self._wake.emit()
        return job_id

    def cancel(self, job_id: int | None = None) -> bool:
        """Cancel the running job (or job `job_id`, running or waiting). The running job stops
        within one model call and reports jobCancelled; returns False if there was no such job."""
        if self._queue.cancel_running(job_id) is not None:
            return True
        if job_id is not None and self._queue.remove_waiting_job(job_id) is not None:
            self.queueChanged.emit(self._queue.waiting_jobs())
            self._end_cancelled(job_id)
            return True
        return False

    def clear_queue(self) -> list[int]:
        """Drop the waiting jobs (the running one goes on); returns their ids."""
        dropped = [job.job_id for job in self._queue.remove_waiting_jobs()]
        if dropped:
            self.queueChanged.emit(0)
        for job_id in dropped:
            self._end_cancelled(job_id)
        return dropped

    async def run(self, request: EditRequest) -> EditResult:
        """Submit and wait (under a qasync/asyncio loop on the UI thread). Raises
        EngineJobFailed or EngineJobCancelled; cancelling the awaiting task cancels the job."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        job_id = self.submit(request)
        self._futures[job_id] = future
        try:
            return await future
        except asyncio.CancelledError:
            self.cancel(job_id)
            raise

    def shutdown(self) -> None:
        """Cancel the running job, drop the waiting ones, release the model and join the
        worker thread. Safe to call more than once; called automatically on app quit."""
        if self._shut_down:
            return
        self._shut_down = True
        _live_engines.discard(self)
        app = QCoreApplication.instance()
        if app is not None:
            with contextlib.suppress(RuntimeError, TypeError):
                app.aboutToQuit.disconnect(self.shutdown)
        self._stopping.set()
        self._queue.cancel_loads()
        dropped = [job.job_id for job in self._queue.clear_all()]
        self._queue.cancel_running()
        self._queue.put(Stop())
        self._wake.emit()
        # The running job ends within one model call, so this wait is short; it must not
        # give up, or Qt aborts with "QThread: Destroyed while thread is still running".
        # Meanwhile deliver what the worker sends here: its reports and the calls it waits
        # for (releasing the model runs on this thread).
        while not self._thread.wait(20):
            QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        for job_id in dropped:
            self._end_cancelled(job_id)
        for job_id in sorted(self._known_jobs):
            self._end_cancelled(job_id)
        self._running_id = None
        self._set_model_state(ModelState("none", message="Engine stopped."))

    # -- internals ----------------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._shut_down:
            raise RuntimeError("the engine has been shut down")

    def _send(self, command: LoadModel | UnloadModel) -> None:
        self._check_alive()
        self._queue.put(command)
        self._wake.emit()

    def _end_cancelled(self, job_id: int) -> None:
        if job_id not in self._known_jobs:
            return
        self._known_jobs.discard(job_id)
        if self._running_id == job_id:
            self._running_id = None
        self.jobCancelled.emit(job_id)
        future = self._futures.pop(job_id, None)
        if future is not None and not future.done():
            future.set_exception(EngineJobCancelled(job_id))

    def _set_model_state(self, state: ModelState) -> None:
        self.model_state = state
        self.modelStateChanged.emit(state)

    @Slot(int)
    def _on_started(self, job_id: int) -> None:
        self._running_id = job_id
        self.jobStarted.emit(job_id)
        self.queueChanged.emit(self._queue.waiting_jobs())

    @Slot(int, object)
    def _on_progress(self, job_id: int, progress: JobProgress) -> None:
        self.progress.emit(job_id, progress)

    @Slot(int, QImage)
    def _on_preview(self, job_id: int, image: QImage) -> None:
        self.preview.emit(job_id, image)

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: EditResult) -> None:
        self._known_jobs.discard(job_id)
        if self._running_id == job_id:
            self._running_id = None
        self.jobFinished.emit(job_id, result)
        future = self._futures.pop(job_id, None)
        if future is not None and not future.done():
            future.set_result(result)

    @Slot(int, object)
    def _on_failed(self, job_id: int, failure: EngineFailure) -> None:
        self._known_jobs.discard(job_id)
        if self._running_id == job_id:
            self._running_id = None
        self.jobFailed.emit(job_id, failure)
        future = self._futures.pop(job_id, None)
        if future is not None and not future.done():
            future.set_exception(EngineJobFailed(job_id, failure))

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        self._end_cancelled(job_id)

    @Slot()
    def _on_hold_released(self) -> None:
        if gc_policy.release():
            # Garbage of the job (tensors in cycles, after an OOM above all) is gone now.
            empty_device_cache()

    @Slot(object)
    def _run_on_ui(self, function: Callable[[], Any]) -> None:
        try:
            function()
        except Exception:
            log.exception("engine: %r failed on the UI thread", function)

    @Slot(object)
    def _on_model_state(self, state: ModelState) -> None:
        if state.status != "loading":
            # A load or unload finished: collect what it left (here, on the UI thread, where
            # Qt objects in cycles may safely die) and freeze the new model and the libraries
            # it imported, so later full GC passes stay short (see gc_policy).
            freeze_long_lived()
        self._set_model_state(state)
