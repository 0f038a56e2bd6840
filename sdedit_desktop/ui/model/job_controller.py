"""The one place the editor talks to the engine: it submits and cancels edits, keeps the
`JobList` in step with the engine's job signals and passes model loads on. What comes back for
the editor (a finished result, a failure, a message, a new model state) it emits; the editor
listens. It knows nothing of the editor."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from sdedit_desktop.edits.requests import EditRequest, EditResult
from sdedit_desktop.engine.types import EngineFailure, JobProgress, ModelState
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.ui.model.engine_api import EditEngine
from sdedit_desktop.ui.model.jobs import Job, JobList


class JobController(QObject):
    measured = Signal(object)  # EditResult of any finished job: the cost of a model call
    finished = Signal(object, object, float)  # EditResult, parent entry id or None, seconds
    failed = Signal(str, str, str)  # title, message, detail
    warned = Signal(str, str)  # title, message: a problem the job worked around
    message = Signal(str, int)  # a status-bar line and how long to show it (ms)
    modelStateChanged = Signal(object)  # the engine's new ModelState

    def __init__(self, engine: EditEngine, jobs: JobList, parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self.jobs = jobs
        engine.jobStarted.connect(self._on_started)
        engine.progress.connect(self._on_progress)
        engine.preview.connect(self._on_preview)
        engine.jobFinished.connect(self._on_finished)
        engine.jobFailed.connect(self._on_failed)
        engine.jobCancelled.connect(self._on_cancelled)
        engine.jobWarning.connect(self._on_warning)
        engine.modelStateChanged.connect(self._on_model_state)
        engine.queueChanged.connect(jobs.set_waiting)

    # -- commands ---------------------------------------------------------------------------
    def submit(self, request: EditRequest, parent_id: str | None) -> int | None:
        """Queue `request` as an edit continuing `parent_id`; None (and `failed`) when the
        engine refuses it."""
        try:
            job_id = self.engine.submit(request)
        except Exception as exc:  # a dead engine must not leave a dead window
            self.failed.emit("Cannot start the edit", f"The engine refused the edit: {exc}",
                             repr(exc))
            return None
        self.jobs.add(Job(job_id, request, parent_id, time.monotonic()))
        self.message.emit(f"Queued {request.kind} (job {job_id})", 3000)
        return job_id

    def cancel(self) -> bool:
        """Cancel the running edit of this session; False when there is none."""
        if not self.jobs.busy:
            return False
        self.engine.cancel()
        self.message.emit("Cancelling…", 3000)
        return True

    def stop_all(self) -> None:
        """Drop the waiting edits and cancel the running one (the window closes)."""
        if self.jobs:
            self.engine.clear_queue()
            self.engine.cancel()

    def drop_all(self) -> None:
        """Stop and forget every edit of this session (a new session starts)."""
        if self.jobs:
            self.stop_all()
            self.jobs.clear()

    def waiting(self) -> int:
        try:
            return int(self.engine.waiting_jobs())
        except Exception:  # a broken engine must not break the run box
            return 0

    def load_model(self, spec: ModelSpec) -> None:
        self.engine.load_model(spec)

    def unload_model(self) -> None:
        self.engine.unload_model()

    def cancel_model_load(self) -> bool:
        return bool(self.engine.cancel_model_load())

    # -- engine signals ---------------------------------------------------------------------
    def _on_started(self, job_id: int) -> None:
        self.jobs.mark_started(job_id)

    def _on_progress(self, job_id: int, progress: JobProgress) -> None:
        self.jobs.set_progress(job_id, progress)

    def _on_preview(self, job_id: int, image: object) -> None:
        self.jobs.set_preview(job_id, image)

    def _on_finished(self, job_id: int, result: EditResult) -> None:
        self.measured.emit(result)  # before `ended`: the estimate shown uses it
        job = self.jobs.end(job_id, "finished")
        if job is None:  # not submitted in this editing session
            return
        duration = float(result.timings.get("total", 0.0)) or job.duration_s()
        self.finished.emit(result, job.parent_id, duration)

    def _on_warning(self, _job_id: int, text: str) -> None:
        self.warned.emit("Edit warning", text)

    def _on_failed(self, job_id: int, failure: EngineFailure) -> None:
        job = self.jobs.end(job_id, "failed")
        what = job.request.kind if job else "edit"
        self.failed.emit("Edit failed", f"The {what} edit failed: {failure.message}",
                         failure.detail or "")

    def _on_cancelled(self, job_id: int) -> None:
        self.jobs.end(job_id, "cancelled")
        self.message.emit(f"Edit {job_id} cancelled", 5000)

    def _on_model_state(self, state: ModelState) -> None:
        self.modelStateChanged.emit(state)
