"""SD 1.x (1.4, 1.5 and their fine-tunes): one CLIP ViT-L text encoder whose last hidden
states condition the UNet; ε-prediction; 512 px; latents scaled by 0.18215."""

from __future__ import annotations

from typing import Any

import torch

from sdedit_desktop.core.families import FAMILIES
from sdedit_desktop.diffusion.conditioning import Cond
from sdedit_desktop.models.families.base import ModelFamily, TextEncoderSpec


class SD1Family(ModelFamily):
    info = FAMILIES["sd1"]
    configs_name = "sd15"
    pipeline_class = "StableDiffusionPipeline"
    context_width = 768
    encoders = (TextEncoderSpec("text_encoder", "tokenizer", False,
                                "cond_stage_model.transformer.", "clip"),)

    def encode_prompt(self, encoders: tuple[torch.nn.Module, ...], tokenizers: tuple,
                      prompt: str, negative: bool, device: torch.device,
                      pipeline: dict[str, Any]) -> Cond:
        # The encoder's last hidden state (after its final layer norm), [1, 77, D]; an empty
        # negative prompt is encoded like any other (StableDiffusionPipeline does the same).
        return encoders[0](self.token_ids(tokenizers[0], prompt, device))[0]

    def unet_inputs(self, cond: Cond, latent: torch.Tensor, vae_scale_factor: int
                    ) -> dict[str, Any]:
        return {"encoder_hidden_states": cond}
