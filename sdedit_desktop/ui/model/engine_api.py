"""What the editor needs of an engine: `engine.Engine` has all of it, and so do test fakes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from PySide6.QtCore import SignalInstance

from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.models.interface import ModelSpec


@runtime_checkable
class EditEngine(Protocol):
    """Jobs and model loads run elsewhere; results come back as signals on the UI thread:
    jobQueued(id, request), jobStarted(id), progress(id, JobProgress), preview(id, QImage),
    jobFinished(id, EditResult), jobFailed(id, EngineFailure), jobCancelled(id),
    modelStateChanged(ModelState), queueChanged(waiting)."""

    jobQueued: SignalInstance
    jobStarted: SignalInstance
    progress: SignalInstance
    preview: SignalInstance
    jobFinished: SignalInstance
    jobFailed: SignalInstance
    jobCancelled: SignalInstance
    jobWarning: SignalInstance  # job_id, text: a problem the job worked around (e.g. LoRA cache)
    modelStateChanged: SignalInstance
    queueChanged: SignalInstance
    model_state: ModelState

    def submit(self, request: EditRequest) -> int: ...

    def cancel(self, job_id: int | None = None) -> bool: ...

    def clear_queue(self) -> list[int]: ...

    def waiting_jobs(self) -> int: ...

    def load_model(self, spec: ModelSpec) -> None: ...

    def unload_model(self) -> None: ...

    def cancel_model_load(self) -> bool: ...
