"""Edits sent to the engine, as model objects: queued, running, then ended (finished, failed or
cancelled), with their request, the history entry they continue, the live preview and timings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QObject, Signal

from sdedit_desktop.edits.requests import EditRequest

JobStatus = Literal["queued", "running", "finished", "failed", "cancelled"]


@dataclass
class Job:
    id: int
    request: EditRequest
    parent_id: str | None  # the history entry whose result is this edit's input
    submitted: float
    status: JobStatus = "queued"
    started: float | None = None
    ended: float | None = None
    preview: object | None = None  # the engine's latest preview (a QImage), None before one
    progress: object | None = None  # the engine's latest `JobProgress`

    def duration_s(self) -> float:
        """Seconds it ran (or waited and ran, when it never reported a start)."""
        end = self.ended if self.ended is not None else time.monotonic()
        return end - (self.started if self.started is not None else self.submitted)


class JobList(QObject):
    """The jobs of this editing session that have not ended yet, at most one of them running."""

    added = Signal(int)
    started = Signal(int)
    progressed = Signal(int, object)  # job id, JobProgress of the running job
    previewed = Signal(int)
    ended = Signal(int, str)  # job id, final status
    idle = Signal()  # the running job ended (before `ended`): nothing runs now
    waitingChanged = Signal(int)  # edits waiting in the engine's queue
    changed = Signal()  # any of the above: the set of jobs or the running one changed

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs: dict[int, Job] = {}
        self.running_id: int | None = None

    def __len__(self) -> int:
        return len(self._jobs)

    def __bool__(self) -> bool:
        return bool(self._jobs)

    def get(self, job_id: int | None) -> Job | None:
        return None if job_id is None else self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return list(self._jobs.values())

    @property
    def running(self) -> Job | None:
        return self.get(self.running_id)

    @property
    def busy(self) -> bool:
        """A job of this session is running or waiting."""
        return self.running_id is not None or bool(self._jobs)

    def add(self, job: Job) -> None:
        self._jobs[job.id] = job
        self.added.emit(job.id)
        self.changed.emit()

    def mark_started(self, job_id: int) -> Job | None:
        """The engine started `job_id` (also one this session did not submit: it still holds
        the engine, so the session counts as busy)."""
        self.running_id = job_id
        job = self._jobs.get(job_id)
        if job is not None:
            job.status = "running"
            job.started = time.monotonic()
        self.started.emit(job_id)
        self.changed.emit()
        return job

    def set_progress(self, job_id: int, progress: object) -> None:
        if job_id != self.running_id:
            return
        job = self._jobs.get(job_id)
        if job is not None:
            job.progress = progress
        self.progressed.emit(job_id, progress)

    def set_preview(self, job_id: int, image: object) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job_id != self.running_id:
            return False
        job.preview = image
        self.previewed.emit(job_id)
        return True

    def end(self, job_id: int, status: JobStatus) -> Job | None:
        """Remove a job that ended; returns it, or None when it was not this session's."""
        job = self._jobs.pop(job_id, None)
        if job is not None:
            job.status = status
            job.ended = time.monotonic()
        if job_id == self.running_id:
            self.running_id = None
            self.idle.emit()
        self.ended.emit(job_id, status)
        self.changed.emit()
        return job

    def set_waiting(self, waiting: int) -> None:
        self.waitingChanged.emit(waiting)

    def clear(self) -> None:
        """Forget every job (a new editing session; the engine was told to drop them)."""
        self._jobs.clear()
        self.changed.emit()
