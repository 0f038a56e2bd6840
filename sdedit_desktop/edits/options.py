"""How an edit is executed (not what it computes): knobs for speed that the engine and the
benchmark set, and the LoRA hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sdedit_desktop.edits.progress import StepReporter
from sdedit_desktop.models.interface import LatentDiffusionModel

# (model, request's lora setting "auto"/PATH, work image HxWx3 uint8, prompt, reporter, rank of
# a LoRA that "auto" trains) -> id of the LoRA now attached to the model. Provided by
# models/lora_provider.py through the engine/CLI.
LoraProvider = Callable[[LatentDiffusionModel, str, object, str, StepReporter, int], str]


@dataclass(frozen=True)
class ExecutionOptions:
    # Cycle-SDE: predict the trajectory-side noise (independent of the edit) this many steps per
    # UNet call ahead of the loop; 0/1 = together with the sample, one call per step.
    trajectory_batch: int = 0
    # The reference code's execution: every guided step computes both the unconditional and the
    # conditional prediction, even where the guidance scale is 1 (batch 4 on every step).
    always_batch_uncond: bool = False
