"""Progress and cancellation of edits: defined in the bottom layer (`core.progress`) so that the
LoRA trainer, the engine and the CLI share them without importing the edits."""

from sdedit_desktop.core.progress import (
    CancelFn,
    EditCancelled,
    EditError,
    Progress,
    ProgressFn,
    StepReporter,
    never_cancel,
    no_progress,
)

__all__ = ["CancelFn", "EditCancelled", "EditError", "Progress", "ProgressFn", "StepReporter",
           "never_cancel", "no_progress"]
