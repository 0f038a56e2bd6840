"""The Qt side of the engine: a QThread worker that owns the model and runs a queue of edits,
and the `Engine` facade the UI talks to (signals on the UI thread, `await engine.run(...)`).

The names load on first use, so that the editor's window can import the engine's types before
torch has loaded (`engine.types` is torch-free)."""

from __future__ import annotations

from sdedit_desktop.core.lazy import lazy_attributes

_EXPORTS = {
    "Engine": "sdedit_desktop.engine.engine",
    "EngineFailure": "sdedit_desktop.engine.types",
    "EngineJobCancelled": "sdedit_desktop.engine.types",
    "EngineJobFailed": "sdedit_desktop.engine.types",
    "JobProgress": "sdedit_desktop.engine.types",
    "ModelState": "sdedit_desktop.engine.types",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
