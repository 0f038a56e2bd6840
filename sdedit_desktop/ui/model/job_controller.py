"""The one place the editor talks to the engine: it submits and cancels edits, keeps the
`JobList` in step with the engine's job signals, hands finished results to the history and
passes model-state changes on."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from sdedit_desktop.edits.requests import EditRequest, EditResult
from sdedit_desktop.engine.types import EngineFailure, JobProgress, ModelState
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.ui.model.engine_api import EditEngine
from sdedit_desktop.ui.model.jobs import Job

if TYPE_CHECKING:
    from sdedit_desktop.ui.model.editor import EditorModel


class JobController(QObject):
    def __init__(self, editor: EditorModel, engine: EditEngine):
        super().__init__(editor)
        self.editor = editor
        self.engine = engine
        engine.jobStarted.connect(self._on_started)
        engine.progress.connect(self._on_progress)
        engine.preview.connect(self._on_preview)
        engine.jobFinished.connect(self._on_finished)
        engine.jobFailed.connect(self._on_failed)
        engine.jobCancelled.connect(self._on_cancelled)
        engine.jobWarning.connect(self._on_warning)
        engine.modelStateChanged.connect(self._on_model_state)
        engine.queueChanged.connect(editor.jobs.set_waiting)

    # -- commands ---------------------------------------------------------------------------
    def submit(self, request: EditRequest, parent_id: str | None) -> int | None:
        """Queue `request` as an edit continuing `parent_id`; None (and an error) when the
        engine refuses it."""
        try:
            job_id = self.engine.submit(request)
        except Exception as exc:  # a dead engine must not leave a dead window
            self.editor.error.emit("Cannot start the edit",
                                   f"The engine refused the edit: {exc}", repr(exc))
            return None
        self.editor.jobs.add(Job(job_id, request, parent_id, time.monotonic()))
        self.editor.message.emit(f"Queued {request.kind} (job {job_id})", 3000)
        return job_id

    def run_working_image(self, request: EditRequest) -> int | None:
        """Submit an edit of the working image (it continues the entry the image came from)."""
        return self.submit(request, self.editor.parent_id)

    def rerun_with_new_seed(self, entry_id: str) -> int | None:
        """Run a history entry's edit again (same input, same parent) with another seed."""
        entry = self.editor.history.find(entry_id)
        if entry is None:
            return None
        seed = random.randrange(0, 2**31 - 1)
        while seed == entry.request.seed:
            seed = random.randrange(0, 2**31 - 1)
        return self.submit(entry.request.with_changes(seed=seed), entry.parent_id)

    def cancel(self) -> bool:
        """Cancel the running edit of this session; False when there is none."""
        if not self.editor.jobs.busy:
            return False
        self.engine.cancel()
        self.editor.message.emit("Cancelling…", 3000)
        return True

    def stop_all(self) -> None:
        """Drop the waiting edits and cancel the running one (the window closes)."""
        if self.editor.jobs:
            self.engine.clear_queue()
            self.engine.cancel()

    def drop_all(self) -> None:
        """Stop and forget every edit of this session (a new session starts)."""
        if self.editor.jobs:
            self.stop_all()
            self.editor.jobs.clear()

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
        self.editor.jobs.mark_started(job_id)

    def _on_progress(self, job_id: int, progress: JobProgress) -> None:
        self.editor.jobs.set_progress(job_id, progress)

    def _on_preview(self, job_id: int, image: object) -> None:
        self.editor.jobs.set_preview(job_id, image)

    def _on_finished(self, job_id: int, result: EditResult) -> None:
        self.editor.record_cost(result)  # before `ended`: the estimate shown uses it
        job = self.editor.jobs.end(job_id, "finished")
        if job is None:  # not submitted in this editing session
            return
        duration = float(result.timings.get("total", 0.0)) or job.duration_s()
        self.editor.add_result(result, job.parent_id, duration)

    def _on_warning(self, _job_id: int, text: str) -> None:
        self.editor.warning.emit("Edit warning", text)

    def _on_failed(self, job_id: int, failure: EngineFailure) -> None:
        job = self.editor.jobs.end(job_id, "failed")
        what = job.request.kind if job else "edit"
        self.editor.error.emit("Edit failed", f"The {what} edit failed: {failure.message}",
                               failure.detail or "")

    def _on_cancelled(self, job_id: int) -> None:
        self.editor.jobs.end(job_id, "cancelled")
        self.editor.message.emit(f"Edit {job_id} cancelled", 5000)

    def _on_model_state(self, state: ModelState) -> None:
        self.editor.set_model_state(state)
