"""The FIFO of commands between the UI thread and the worker thread (plain Python, thread-safe).

Jobs, model loads and unloads share one FIFO so they run in the order they were asked for
(a load asked before a job is there when the job runs). The UI thread must be able to drop
waiting jobs and cancel the running one while the worker is busy inside an edit, so the queue
and the per-job cancel flags are guarded by a lock instead of travelling through the worker's
(blocked) event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.models.interface import ModelSpec


@dataclass
class RunJob:
    job_id: int
    request: EditRequest
    cancel_event: threading.Event = field(default_factory=threading.Event)


@dataclass
class LoadModel:
    spec: ModelSpec
    cancel_event: threading.Event = field(default_factory=threading.Event)


@dataclass
class UnloadModel:
    pass


@dataclass
class Stop:
    pass


Command = RunJob | LoadModel | UnloadModel | Stop


class CommandQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[Command] = deque()
        self._running: RunJob | None = None
        self._loading: LoadModel | None = None

    def put(self, command: Command) -> None:
        with self._lock:
            self._items.append(command)

    def pop(self) -> Command | None:
        """Next command for the worker; a job becomes the running job atomically, so a
        cancel from the UI thread always finds it either waiting or running."""
        with self._lock:
            if not self._items:
                return None
            command = self._items.popleft()
            if isinstance(command, RunJob):
                self._running = command
            elif isinstance(command, LoadModel):
                self._loading = command
            return command

    def job_done(self, job: RunJob) -> None:
        with self._lock:
            if self._running is job:
                self._running = None

    def load_done(self, load: LoadModel) -> None:
        with self._lock:
            if self._loading is load:
                self._loading = None

    def cancel_loads(self) -> bool:
        """Stop the model load in progress (between two of its progress reports) and drop
        the waiting ones; True if there was any."""
        with self._lock:
            found = self._loading is not None
            if self._loading is not None:
                self._loading.cancel_event.set()
            waiting = [c for c in self._items if isinstance(c, LoadModel)]
            for command in waiting:
                self._items.remove(command)
            return found or bool(waiting)

    def running_job(self) -> RunJob | None:
        with self._lock:
            return self._running

    def waiting_jobs(self) -> int:
        with self._lock:
            return sum(isinstance(c, RunJob) for c in self._items)

    def remove_waiting_jobs(self) -> list[RunJob]:
        """Drop every waiting job (model commands stay); returns them in queue order."""
        with self._lock:
            jobs = [c for c in self._items if isinstance(c, RunJob)]
            self._items = deque(c for c in self._items if not isinstance(c, RunJob))
            return jobs

    def remove_waiting_job(self, job_id: int) -> RunJob | None:
        with self._lock:
            for command in self._items:
                if isinstance(command, RunJob) and command.job_id == job_id:
                    self._items.remove(command)
                    return command
            return None

    def cancel_running(self, job_id: int | None = None) -> RunJob | None:
        """Set the running job's cancel flag (only if it is `job_id`, when given)."""
        with self._lock:
            job = self._running
            if job is None or (job_id is not None and job.job_id != job_id):
                return None
            job.cancel_event.set()
            return job

    def clear_all(self) -> list[RunJob]:
        """For shutdown: drop everything waiting; returns the dropped jobs."""
        with self._lock:
            jobs = [c for c in self._items if isinstance(c, RunJob)]
            self._items.clear()
            return jobs
