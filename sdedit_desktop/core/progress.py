"""Progress reporting and cooperative cancellation shared by every edit (and the LoRA trainer).

Edits are plain functions; they report through a callback and poll a cancel check between two
model calls, so the same code serves the GUI engine, the CLI and the tests. Torch-free: the
latent a report carries is typed loosely so this module loads without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class EditError(ValueError):
    """A request that cannot run as given (bad points, mask, image or parameter). The message is
    for users."""


class EditCancelled(Exception):
    """Raised inside an edit when its cancel check returned True."""


@dataclass(frozen=True)
class Progress:
    phase: str  # short user-facing phase, e.g. "noising", "drag step 2/5", "LoRA"
    step: int  # steps done within the phase (1-based after the first step)
    total: int  # steps in the phase
    latent: Any = None  # current latent (a torch.Tensor, for cheap previews), may be None
    image: object | None = None  # a decoded preview (numpy HxWx3 uint8), when one is cheap to have
    # The part of the image (x, y, w, h) that `latent` covers; None = all of it. `image` from
    # run_edit is always the whole image (the region pasted into the original).
    region: tuple[int, int, int, int] | None = None


ProgressFn = Callable[[Progress], None]
CancelFn = Callable[[], bool]


def no_progress(_: Progress) -> None:
    """A progress callback that ignores everything."""


def never_cancel() -> bool:
    return False


class StepReporter:
    """Wraps the callback and cancel check: one object an edit threads through its loops."""

    def __init__(self, progress: ProgressFn | None = None, cancel: CancelFn | None = None):
        self._progress = progress or no_progress
        self._cancel = cancel or never_cancel

    def check_cancel(self) -> None:
        if self._cancel():
            raise EditCancelled("cancelled by user")

    def report(self, phase: str, step: int, total: int, latent: Any = None,
               image: object | None = None) -> None:
        self._progress(Progress(phase, step, total, latent, image))
