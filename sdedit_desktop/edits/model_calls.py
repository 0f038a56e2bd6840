"""The bridge from a LatentDiffusionModel to the solvers' `eps(x, t)`: guidance, per-step LoRA
scale, a cancel check before every UNet call, and call accounting for results/benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sdedit_desktop.diffusion.conditioning import Cond, to_device
from sdedit_desktop.diffusion.guidance import Scale, guided
from sdedit_desktop.diffusion.predictor import NoisePredictor, Timestep
from sdedit_desktop.edits.progress import StepReporter
from sdedit_desktop.models.interface import LatentDiffusionModel


@dataclass
class CallCounter:
    calls: int = 0
    samples: int = 0
    batch_sizes: dict[int, int] | None = None

    def count(self, batch: int) -> None:
        self.calls += 1
        self.samples += batch
        if self.batch_sizes is None:
            self.batch_sizes = {}
        self.batch_sizes[batch] = self.batch_sizes.get(batch, 0) + 1


class ModelCalls:
    """Builds noise predictors for one edit and accounts for every UNet call they make."""

    def __init__(self, model: LatentDiffusionModel, reporter: StepReporter,
                 always_batch_uncond: bool = False):
        self.model = model
        self.reporter = reporter
        self.counter = CallCounter()
        self.always_batch_uncond = always_batch_uncond

    def _predict(self, x: torch.Tensor, t: Timestep, cond: Cond,
                 lora_scale: float) -> torch.Tensor:
        self.reporter.check_cancel()  # cancel takes effect before the next model call
        self.counter.count(x.shape[0])
        with torch.no_grad():  # (LoRA training, the one place with gradients, is elsewhere)
            return self.model.predict_noise(x, t, to_device(cond, x.device),
                                            lora_scale=lora_scale)

    def embeddings(self, prompt: str, negative: bool = False) -> Cond:
        """The model's conditioning for `prompt` (opaque: guidance batches it)."""
        with torch.no_grad():
            if negative:
                return self.model.encode_prompt(prompt, negative=True)
            return self.model.encode_prompt(prompt)

    def predictor(self, prompt: str, guidance: Scale = 1.0, lora_scale: Scale = 1.0,
                  negative_prompt: str = "") -> NoisePredictor:
        """eps(x, t) with classifier-free guidance against `negative_prompt` (empty = the
        unconditional embedding)."""
        cond = self.embeddings(prompt)
        needs_uncond = callable(guidance) or float(guidance) != 1.0
        uncond = self.embeddings(negative_prompt, negative=True) if needs_uncond else None
        return guided(self._predict, cond, uncond, guidance, lora_scale,
                      skip_uncond_at_one=not self.always_batch_uncond)
