"""How an edit is executed (not what it computes): knobs for speed that the engine and the
benchmark set, and the LoRA hook. Torch-free: the CLI's parsers check these values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sdedit_desktop.edits.progress import EditError, StepReporter
from sdedit_desktop.textsafe import shown

if TYPE_CHECKING:
    from sdedit_desktop.models.interface import LatentDiffusionModel

# (model, request's lora setting "auto"/PATH, work image HxWx3 uint8, prompt, reporter, rank of
# a LoRA that "auto" trains) -> id of the LoRA now attached to the model. Provided by
# models/lora_provider.py through the engine/CLI.
LoraProvider = Callable[["LatentDiffusionModel", str, object, str, StepReporter, int], str]

# Trajectory noise predicted per UNet call: beyond this a batch only costs memory (the
# trajectory of a 1000-step grid at t0 = 1 is 1000 steps; 256 at once is already 512 samples).
MAX_TRAJECTORY_BATCH = 256


def check_trajectory_batch(value: object) -> int:
    """The one check of a trajectory batch (CLI, benchmark, engine): a whole number from 0 to
    MAX_TRAJECTORY_BATCH; EditError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 0 <= value <= MAX_TRAJECTORY_BATCH:
        raise EditError(f"the trajectory batch must be a whole number from 0 to "
                        f"{MAX_TRAJECTORY_BATCH}, got {shown(value, 40)}")
    return value


@dataclass(frozen=True)
class ExecutionOptions:
    # Cycle-SDE: predict the trajectory-side noise (independent of the edit) this many steps per
    # UNet call ahead of the loop; 0/1 = together with the sample, one call per step.
    trajectory_batch: int = 0
    # The reference code's execution: every guided step computes both the unconditional and the
    # conditional prediction, even where the guidance scale is 1 (batch 4 on every step).
    always_batch_uncond: bool = False

    def __post_init__(self) -> None:
        check_trajectory_batch(self.trajectory_batch)
