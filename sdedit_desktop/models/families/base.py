"""What every model family defines: its configs, its text encoders and how they condition the
UNet, its single-file key layout and its VAE precision (docs/models.md).

A family object is stateless; a loaded `StableDiffusionModel` holds one and asks it how to
encode a prompt and how to call the UNet. `sd1.py`, `sd2.py` and `sdxl.py` are the families.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sdedit_desktop.core.families import FamilyInfo
from sdedit_desktop.diffusion.conditioning import Cond
from sdedit_desktop.resources import model_configs_dir


@dataclass(frozen=True)
class TextEncoderSpec:
    """One text encoder of a family: its folder, its tokenizer's folder, its transformers class
    and where its weights sit in an original single-file checkpoint."""

    folder: str  # "text_encoder" / "text_encoder_2"
    tokenizer: str  # "tokenizer" / "tokenizer_2"
    with_projection: bool  # CLIPTextModelWithProjection (SDXL's second encoder)
    ldm_prefix: str  # e.g. "cond_stage_model.transformer."
    ldm_layout: str  # "clip" (transformers names) or "open_clip" (OpenCLIP names)


@dataclass(frozen=True)
class FamilyConfigs:
    """The diffusers configs of one model: per component, plus the scheduler's and the
    pipeline's (model_index.json)."""

    unet: dict
    vae: dict
    text_encoders: tuple[dict, ...]
    scheduler: dict
    pipeline: dict


class ModelFamily:
    """Base class; subclasses set the class attributes and override what differs."""

    info: FamilyInfo
    configs_name: str  # the folder under models/ with this family's configs and tokenizers
    pipeline_class: str  # the diffusers pipeline its folders declare
    encoders: tuple[TextEncoderSpec, ...]
    context_width: int  # the real models' text conditioning width (cross_attention_dim)
    # The VAE overflows in float16 (SDXL's): keep it in float32 when the model runs in float16.
    vae_needs_float32_in_half: bool = False

    @property
    def name(self) -> str:
        return self.info.name

    def config_dir(self) -> Path:
        return model_configs_dir() / self.configs_name

    def adapt_configs(self, configs: FamilyConfigs, prediction_type: str) -> FamilyConfigs:
        """The bundled configs for a model of that prediction type (SD 2.x: 512 or 768)."""
        return configs

    # -- text -------------------------------------------------------------------------------
    def encode_prompt(self, encoders: tuple[torch.nn.Module, ...], tokenizers: tuple,
                      prompt: str, negative: bool, device: torch.device,
                      pipeline: dict[str, Any]) -> Cond:
        """The conditioning for `prompt` (batch 1), as the family's pipeline computes it."""
        raise NotImplementedError

    def unet_inputs(self, cond: Cond, latent: torch.Tensor, vae_scale_factor: int
                    ) -> dict[str, Any]:
        """Keyword arguments of the UNet call for `cond` (batch-matched to `latent`)."""
        raise NotImplementedError

    @staticmethod
    def token_ids(tokenizer, prompt: str, device: torch.device) -> torch.Tensor:
        return tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length,
                         truncation=True, return_tensors="pt").input_ids.to(device)

    # -- single-file checkpoints ------------------------------------------------------------
    def owns_ldm_keys(self, keys: set[str] | list[str]) -> bool:
        """Whether an original-layout checkpoint with these tensor names is of this family."""
        return any(k.startswith(self.encoders[-1].ldm_prefix) for k in keys)

    def __repr__(self) -> str:
        return f"<model family {self.info.name}>"
