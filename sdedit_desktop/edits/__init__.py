"""The editing methods as plain functions of (model, request, progress, cancel) -> result.

`run_edit` (edits/run.py) is the one entry point the GUI engine, the CLI, the tests and the
benchmark share. The names below are loaded on first use, so that importing a torch-free part
(`edits.requests`, `edits.kinds`, `edits.schema`) does not load torch.
"""

from __future__ import annotations

from sdedit_desktop.core.lazy import lazy_attributes

_EXPORTS = {
    "run_edit": "sdedit_desktop.edits.run",
    "ExecutionOptions": "sdedit_desktop.edits.options",
    "LoraProvider": "sdedit_desktop.edits.options",
    "CancelFn": "sdedit_desktop.core.progress",
    "EditCancelled": "sdedit_desktop.core.progress",
    "EditError": "sdedit_desktop.core.progress",
    "Progress": "sdedit_desktop.core.progress",
    "ProgressFn": "sdedit_desktop.core.progress",
    "StepReporter": "sdedit_desktop.core.progress",
    "DiffEditRequest": "sdedit_desktop.edits.kinds",
    "DragRequest": "sdedit_desktop.edits.kinds",
    "EditRequest": "sdedit_desktop.edits.requests",
    "EditResult": "sdedit_desktop.edits.requests",
    "InpaintRequest": "sdedit_desktop.edits.kinds",
    "ReconstructRequest": "sdedit_desktop.edits.kinds",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
