"""What every edit does around its algorithm: validate the input, bring it to the working size,
encode/decode, map points and masks to latents, report progress, reset masked-out regions,
attach LoRA, and assemble the result at the input's size."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from sdedit_desktop.diffusion.ddim import StepHook
from sdedit_desktop.diffusion.grids import Step
from sdedit_desktop.edits.geometry import (
    working_size,
)
from sdedit_desktop.edits.model_calls import ModelCalls
from sdedit_desktop.edits.options import LoraProvider
from sdedit_desktop.edits.progress import EditError, StepReporter
from sdedit_desktop.edits.requests import EditRequest, EditResult
from sdedit_desktop.edits.tensors import blend, image_to_tensor, latent_mask, tensor_to_image
from sdedit_desktop.models.interface import LatentDiffusionModel, LoraCapable


class EditSession:
    def __init__(self, model: LatentDiffusionModel, request: EditRequest,
                 reporter: StepReporter, latent_dtype: torch.dtype | None = None,
                 always_batch_uncond: bool = False):
        # `request` was checked by request.validate() (run_edit, through plan_region).
        self.model = model
        self.request = request
        self.reporter = reporter
        self.calls = ModelCalls(model, reporter, always_batch_uncond)
        self.schedule = model.schedule  # the model's own training schedule (its family's)
        height, width = request.image.shape[:2]
        self.size = working_size(width, height, request.max_side)
        self.image = self.size.to_work(request.image)
        self.mask = None if request.mask is None else self.size.mask_to_work(request.mask)
        if latent_dtype is None:
            latent_dtype = torch.float64 if model.dtype == torch.float64 else torch.float32
        self.latent_dtype = latent_dtype
        self.started = time.perf_counter()
        self._lora_attached = False
        self.non_finite_decodes = 0  # decoded images that held NaN/inf (run_edit refuses them)

    # --- images and latents -------------------------------------------------------------
    def encode(self, image: np.ndarray | None = None) -> torch.Tensor:
        pixels = image_to_tensor(self.image if image is None else image, self.model.device)
        with torch.no_grad():
            return self.model.encode_image(pixels).to(self.latent_dtype)

    def decode_work(self, latent: torch.Tensor) -> np.ndarray:
        """Latent -> image at the working size."""
        with torch.no_grad():
            decoded = self.model.decode_latent(latent)
        if not bool(torch.isfinite(decoded).all()):
            self.non_finite_decodes += 1
        return tensor_to_image(decoded)

    def decode(self, latent: torch.Tensor) -> np.ndarray:
        """Latent -> image at the input's size."""
        return self.size.to_original(self.decode_work(latent))

    def latent_mask(self, latent: torch.Tensor, mask: np.ndarray | None = None
                    ) -> torch.Tensor | None:
        mask = self.mask if mask is None else mask
        if mask is None:
            return None
        return latent_mask(mask, tuple(latent.shape[-2:]), latent)

    def point_to_latent(self, point: tuple[int, int]) -> tuple[int, int]:
        return self.size.point_to_latent(point, self.model.vae_scale_factor)

    # --- the loop -------------------------------------------------------------------------
    @staticmethod
    def reset_outside(x: torch.Tensor, reference: torch.Tensor,
                      mask: torch.Tensor | None) -> torch.Tensor:
        return blend(x, reference, mask)

    def progress_hook(self, phase: str, total: int) -> StepHook:
        def hook(i: int, _step: Step, x: torch.Tensor) -> torch.Tensor:
            self.reporter.report(phase, i + 1, total, latent=x)
            return x
        return hook

    def reverse_hook(self, phase: str, states: Sequence[torch.Tensor],
                     mask: torch.Tensor | None) -> StepHook:
        """After reverse step i: reset outside the mask to the recorded state at that level
        (states[i + 1]) and report."""
        total = len(states) - 1

        def hook(i: int, _step: Step, x: torch.Tensor) -> torch.Tensor:
            x = blend(x, states[i + 1], mask)
            self.reporter.report(phase, i + 1, total, latent=x)
            return x
        return hook

    # --- LoRA -----------------------------------------------------------------------------
    def attach_lora(self, provider: LoraProvider | None, setting: str, prompt: str,
                    reporter: StepReporter, rank: int) -> str | None:
        if setting == "off":
            if isinstance(self.model, LoraCapable):
                self.model.detach_lora()
            return None
        if provider is None:
            raise EditError("per-image LoRA is not available here (no LoRA cache configured)")
        self._lora_attached = True
        return provider(self.model, setting, self.image, prompt, reporter, rank)

    def close(self) -> None:
        if self._lora_attached and isinstance(self.model, LoraCapable):
            self.model.detach_lora()

    # --- the result -----------------------------------------------------------------------
    def result(self, request: EditRequest, image: np.ndarray, **fields: object) -> EditResult:
        timings = dict(fields.pop("timings", {}) or {})
        timings["total"] = time.perf_counter() - self.started
        return EditResult(request=request, image=image, timings=timings,
                          unet_calls=self.calls.counter.calls,
                          unet_samples=self.calls.counter.samples,
                          unet_batch_sizes=dict(self.calls.counter.batch_sizes or {}), **fields)
