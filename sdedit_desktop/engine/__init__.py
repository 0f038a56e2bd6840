"""The Qt side of the engine: a QThread worker that owns the model and runs a queue of edits,
and the `Engine` facade the UI talks to (signals on the UI thread, `await engine.run(...)`).

The names load on first use, so that the editor's window can import the engine's types before
torch has loaded (`engine.types` is torch-free)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Engine": "sdedit_desktop.engine.engine",
    "EngineFailure": "sdedit_desktop.engine.types",
    "EngineJobCancelled": "sdedit_desktop.engine.types",
    "EngineJobFailed": "sdedit_desktop.engine.types",
    "JobProgress": "sdedit_desktop.engine.types",
    "ModelState": "sdedit_desktop.engine.types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
