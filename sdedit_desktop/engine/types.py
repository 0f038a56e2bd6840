"""Plain payloads the engine's signals carry (no Qt, no torch): the UI reads these only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sdedit_desktop.models.interface import ModelIdentity

FailureKind = Literal["bad-request", "out-of-memory", "model", "internal"]
ModelStatus = Literal["none", "loading", "ready", "error"]


@dataclass(frozen=True)
class JobProgress:
    """Where a running job is. `step`/`total` count within `phase`; `overall_fraction` (0..1,
    never decreasing within a job) covers the whole job; `eta_s` is None until estimable."""

    phase: str
    step: int
    total: int
    elapsed_s: float
    eta_s: float | None
    overall_fraction: float


@dataclass(frozen=True)
class EngineFailure:
    """Why a job (or a model load) failed. `message` is for the user; `detail` is the technical
    part (exception type, text and traceback) for a 'details' box or a bug report."""

    kind: FailureKind
    message: str
    detail: str = ""


@dataclass(frozen=True)
class ModelState:
    """The engine's model: none loaded, loading, ready or failed to load."""

    status: ModelStatus
    identity: ModelIdentity | None = None
    device: str | None = None  # e.g. "cuda:0", "cpu"
    dtype: str | None = None  # e.g. "float16"
    message: str = ""  # user-facing: what is happening / what went wrong
    failure: EngineFailure | None = None  # set when status == "error"
    fraction: float | None = None  # while loading: 0..1 when known (downloads, stages)


class EngineJobFailed(Exception):
    """Raised by `await Engine.run(...)` when the job failed."""

    def __init__(self, job_id: int, failure: EngineFailure):
        super().__init__(failure.message)
        self.job_id = job_id
        self.failure = failure


class EngineJobCancelled(Exception):
    """Raised by `await Engine.run(...)` when the job was cancelled (by the user, by clearing
    the queue or by shutting the engine down)."""

    def __init__(self, job_id: int):
        super().__init__(f"job {job_id} was cancelled")
        self.job_id = job_id
