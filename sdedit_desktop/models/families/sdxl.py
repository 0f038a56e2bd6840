"""SDXL 1.0 (base and fine-tunes): two text encoders (CLIP ViT-L and OpenCLIP bigG with a
projection). The UNet sees both encoders' penultimate hidden states side by side (768 + 1280 =
2048 wide) and, through its "text_time" embedding, the bigG pooled embedding and six size ids
(original size, crop offset, target size). 1024 px, latents scaled by 0.13025, a VAE that
overflows in float16."""

from __future__ import annotations

from typing import Any

import torch

from sdedit_desktop.core.families import FAMILIES
from sdedit_desktop.diffusion.conditioning import Cond, Conditioning
from sdedit_desktop.models.families.base import ModelFamily, TextEncoderSpec


class SDXLFamily(ModelFamily):
    info = FAMILIES["sdxl"]
    configs_name = "sdxl"
    pipeline_class = "StableDiffusionXLPipeline"
    context_width = 2048
    encoders = (
        TextEncoderSpec("text_encoder", "tokenizer", False,
                        "conditioner.embedders.0.transformer.", "clip"),
        TextEncoderSpec("text_encoder_2", "tokenizer_2", True,
                        "conditioner.embedders.1.model.", "open_clip"),
    )
    vae_needs_float32_in_half = True

    def encode_prompt(self, encoders: tuple[torch.nn.Module, ...], tokenizers: tuple,
                      prompt: str, negative: bool, device: torch.device,
                      pipeline: dict[str, Any]) -> Cond:
        hidden, pooled = [], None
        for spec, encoder, tokenizer in zip(self.encoders, encoders, tokenizers, strict=True):
            out = encoder(self.token_ids(tokenizer, prompt, device), output_hidden_states=True)
            hidden.append(out.hidden_states[-2])
            if spec.with_projection:
                pooled = out.text_embeds
        cond = Conditioning({"embeds": torch.cat(hidden, dim=-1), "pooled": pooled})
        # The base model was trained with zeros as the "no prompt" condition; its pipeline
        # uses them for an absent negative prompt (`force_zeros_for_empty_prompt`).
        if negative and not prompt and pipeline.get("force_zeros_for_empty_prompt", True):
            return cond.map(torch.zeros_like)
        return cond

    def unet_inputs(self, cond: Cond, latent: torch.Tensor, vae_scale_factor: int
                    ) -> dict[str, Any]:
        """The size ids of a region edit: the crop the model sees is the whole picture, so the
        original and target sizes are the working size and the crop offset is 0."""
        assert isinstance(cond, Conditioning)
        embeds = cond["embeds"]
        height, width = (int(s) * vae_scale_factor for s in latent.shape[-2:])
        ids = torch.tensor([[height, width, 0, 0, height, width]], dtype=embeds.dtype,
                           device=embeds.device).expand(embeds.shape[0], -1)
        return {"encoder_hidden_states": embeds,
                "added_cond_kwargs": {"text_embeds": cond["pooled"], "time_ids": ids}}

    def owns_ldm_keys(self, keys: set[str] | list[str]) -> bool:
        return any(k.startswith("conditioner.embedders.") for k in keys)
