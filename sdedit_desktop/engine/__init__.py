"""The Qt side of the engine: a QThread worker that owns the model and runs a queue of edits,
and the `Engine` facade the UI talks to (signals on the UI thread, `await engine.run(...)`)."""

from sdedit_desktop.engine.engine import Engine
from sdedit_desktop.engine.types import (
    EngineFailure,
    EngineJobCancelled,
    EngineJobFailed,
    JobProgress,
    ModelState,
)

__all__ = [
    "Engine",
    "EngineFailure",
    "EngineJobCancelled",
    "EngineJobFailed",
    "JobProgress",
    "ModelState",
]
