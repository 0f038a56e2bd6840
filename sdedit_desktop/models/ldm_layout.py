"""The original Stable Diffusion ("LDM") single-file key layout, both ways.

Community checkpoints are one state dict with prefixes `model.diffusion_model.` (UNet),
`first_stage_model.` (VAE) and `cond_stage_model.transformer.` (CLIP text encoder). Reading uses
diffusers' own converters; writing (used to save the tiny model as a single file, and by
`to_ldm_state_dict` for exports) is the exact inverse, checked by a round-trip test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
)

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = "cond_stage_model.transformer."

_UNET_FIXED = {
    "time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
    "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2.",
}
_UNET_RESNET = (("norm1.", "in_layers.0."), ("conv1.", "in_layers.2."), ("norm2.", "out_layers.0."),
                ("conv2.", "out_layers.3."), ("time_emb_proj.", "emb_layers.1."),
                ("conv_shortcut.", "skip_connection."))
_VAE_ATTN = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.",
             "to_out.0.": "proj_out."}


def _resnet_to_ldm(rest: str) -> str:
    for new, old in _UNET_RESNET:
        if rest.startswith(new):
            return old + rest[len(new):]
    return rest


def unet_to_ldm(state: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    """diffusers UNet2DConditionModel keys -> LDM keys (without the prefix)."""
    per = int(config["layers_per_block"]) + 1
    with_attn = ["CrossAttn" in t for t in config["up_block_types"]]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = next((ldm + key[len(diff):] for diff, ldm in _UNET_FIXED.items()
                    if key.startswith(diff)), None)
        if new is not None:
            pass
        elif m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
            b, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
            block = per * b + j + 1
            new = (f"input_blocks.{block}.0.{_resnet_to_ldm(rest)}" if kind == "resnets"
                   else f"input_blocks.{block}.1.{rest}")
        elif m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            new = f"input_blocks.{per * (int(m[1]) + 1)}.0.op.{m[2]}"
        elif m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
            new = f"middle_block.{2 * int(m[1])}.{_resnet_to_ldm(m[2])}"
        elif m := re.match(r"mid_block\.attentions\.0\.(.*)", key):
            new = f"middle_block.1.{m[1]}"
        elif m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
            b, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
            block = per * b + j
            new = (f"output_blocks.{block}.0.{_resnet_to_ldm(rest)}" if kind == "resnets"
                   else f"output_blocks.{block}.1.{rest}")
        elif m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            b = int(m[1])
            new = f"output_blocks.{per * b + per - 1}.{2 if with_attn[b] else 1}.conv.{m[2]}"
        if new is None:
            raise ValueError(f"no LDM name for UNet key {key!r}")
        out[new] = value
    return out


def vae_to_ldm(state: dict[str, torch.Tensor], config: dict) -> dict[str, torch.Tensor]:
    """diffusers AutoencoderKL keys -> LDM keys (attention projections as 1x1 convs)."""
    n_up = len(config["up_block_types"])
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key.replace("conv_norm_out.", "norm_out.")
        if m := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            new = f"encoder.down.{m[1]}.block.{m[2]}.{m[3]}"
        elif m := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            new = f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
        elif m := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            new = f"decoder.up.{n_up - 1 - int(m[1])}.block.{m[2]}.{m[3]}"
        elif m := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            new = f"decoder.up.{n_up - 1 - int(m[1])}.upsample.conv.{m[2]}"
        elif m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
            new = f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"
        elif m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)", key):
            rest = m[2]
            for diff, ldm in _VAE_ATTN.items():
                if rest.startswith(diff):
                    rest = ldm + rest[len(diff):]
            new = f"{m[1]}.mid.attn_1.{rest}"
            if value.ndim == 2:  # LDM keeps these projections as 1x1 convolutions
                value = value[:, :, None, None]
        new = new.replace("conv_shortcut.", "nin_shortcut.")
        out[new] = value
    return out


def to_ldm_state_dict(unet: dict[str, torch.Tensor], vae: dict[str, torch.Tensor],
                      text: dict[str, torch.Tensor], unet_config: dict,
                      vae_config: dict) -> dict[str, torch.Tensor]:
    """One original-layout state dict from the three diffusers/transformers state dicts."""
    out = {UNET_PREFIX + k: v for k, v in unet_to_ldm(unet, unet_config).items()}
    out.update({VAE_PREFIX + k: v for k, v in vae_to_ldm(vae, vae_config).items()})
    # Original files nest the CLIP weights under `text_model.` (transformers >= 5.6 no longer
    # does in its own state dict).
    out.update({TEXT_PREFIX + (k if k.startswith("text_model.") else "text_model." + k): v
                for k, v in text.items() if not k.endswith("position_ids")})
    return {k: v.contiguous() for k, v in out.items()}


@dataclass(frozen=True)
class LdmComponents:
    unet: dict[str, torch.Tensor]
    vae: dict[str, torch.Tensor]
    text_encoder: dict[str, torch.Tensor]


def from_ldm_state_dict(checkpoint: dict[str, torch.Tensor], unet_config: dict,
                        vae_config: dict) -> LdmComponents:
    """Split an original-layout checkpoint into diffusers/transformers state dicts. EMA weights
    are used when the checkpoint carries both (they are the ones meant for sampling)."""
    has_ema = sum(k.startswith("model_ema.") for k in checkpoint) > 100
    unet = convert_ldm_unet_checkpoint(checkpoint, dict(unet_config), extract_ema=has_ema)
    vae = convert_ldm_vae_checkpoint(checkpoint, dict(vae_config))
    text = {k: v for k, v in convert_ldm_clip_checkpoint(checkpoint).items()
            if not k.endswith("position_ids")}
    return LdmComponents(unet=unet, vae=vae, text_encoder=text)


def fit_text_keys(state: dict[str, torch.Tensor],
                  module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """CLIP text weights named as `module` expects: with the `text_model.` level (transformers
    < 5.6) or without it (flattened CLIPTextModel of later versions)."""
    nested = hasattr(module, "text_model")
    out = {}
    for key, value in state.items():
        bare = key.removeprefix("text_model.")
        out["text_model." + bare if nested else bare] = value
    return out
