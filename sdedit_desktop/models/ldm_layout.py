"""The original Stable Diffusion ("LDM") single-file key layout, both ways.

Community checkpoints are one state dict with prefixes `model.diffusion_model.` (UNet),
`first_stage_model.` (VAE) and, per text encoder, the family's prefix (models/families/):
`cond_stage_model.transformer.` (SD 1.x, CLIP in transformers' names),
`cond_stage_model.model.` (SD 2.x, OpenCLIP's names, one layer more than the UNet uses), or
`conditioner.embedders.0.transformer.` + `conditioner.embedders.1.model.` (SDXL). Reading uses
diffusers' own converters; writing (used to save the tiny models as single files, and by
`to_ldm_state_dict` for exports) is the exact inverse, checked by round-trip tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from diffusers.loaders.single_file_utils import (
    convert_ldm_clip_checkpoint,
    convert_ldm_unet_checkpoint,
    convert_ldm_vae_checkpoint,
    convert_open_clip_checkpoint,
)

from sdedit_desktop.models.families import SD1, ModelFamily, TextEncoderSpec

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = "cond_stage_model.transformer."  # SD 1.x's

_UNET_FIXED = {
    "time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
    "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2.",
    # SDXL's "text_time" embedding of the pooled text embedding and the size ids
    "add_embedding.linear_1.": "label_emb.0.0.", "add_embedding.linear_2.": "label_emb.0.2.",
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


# OpenCLIP's names for the pieces of a transformers CLIP text layer (the inverse of diffusers'
# DIFFUSERS_TO_LDM_MAPPING["openclip"]).
_OPEN_CLIP_LAYER = (("self_attn.out_proj.", "attn.out_proj."), ("layer_norm1.", "ln_1."),
                    ("layer_norm2.", "ln_2."), ("mlp.fc1.", "mlp.c_fc."),
                    ("mlp.fc2.", "mlp.c_proj."))
_OPEN_CLIP_FIXED = {"embeddings.token_embedding.weight": "token_embedding.weight",
                    "embeddings.position_embedding.weight": "positional_embedding",
                    "final_layer_norm.weight": "ln_final.weight",
                    "final_layer_norm.bias": "ln_final.bias"}


def open_clip_to_ldm(state: dict[str, torch.Tensor], unused_layers: int = 0
                     ) -> dict[str, torch.Tensor]:
    """transformers CLIP text weights -> OpenCLIP names (without the prefix): q/k/v as one
    `in_proj`, the projection as `text_projection` [width, dim]. `unused_layers` appends that
    many copies of the last layer, as SD 2.x files hold one layer its UNet never sees (a file
    without them would not be an original one)."""
    bare = {k.removeprefix("text_model."): v for k, v in state.items()
            if not k.endswith("position_ids")}
    out: dict[str, torch.Tensor] = {}
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in bare.items():
        if key in _OPEN_CLIP_FIXED:
            out[_OPEN_CLIP_FIXED[key]] = value
        elif key == "text_projection.weight":
            out["text_projection"] = value.T
        elif m := re.match(r"encoder\.layers\.(\d+)\.(.*)", key):
            layers.setdefault(int(m[1]), {})[m[2]] = value
        else:
            raise ValueError(f"no OpenCLIP name for text encoder key {key!r}")
    count = len(layers)
    for n in range(count + unused_layers):
        layer = layers[n] if n < count else {k: v.clone() for k, v in layers[count - 1].items()}
        head = f"transformer.resblocks.{n}."
        for kind in ("weight", "bias"):
            out[head + f"attn.in_proj_{kind}"] = torch.cat(
                [layer[f"self_attn.{p}_proj.{kind}"] for p in "qkv"])
        for name, value in layer.items():
            if name.startswith(("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")):
                continue
            new = next((ldm + name[len(ours):] for ours, ldm in _OPEN_CLIP_LAYER
                        if name.startswith(ours)), None)
            if new is None:
                raise ValueError(f"no OpenCLIP name for text encoder layer key {name!r}")
            out[head + new] = value
    if "text_projection" not in out and unused_layers:
        # SD 2.x files carry OpenCLIP's projection, which the UNet does not use.
        width = out["token_embedding.weight"].shape[1]
        out["text_projection"] = torch.eye(width, dtype=out["token_embedding.weight"].dtype)
    return out


def text_to_ldm(spec: TextEncoderSpec, state: dict[str, torch.Tensor],
                unused_layers: int = 0) -> dict[str, torch.Tensor]:
    """One text encoder's weights in its family's single-file layout, prefix included."""
    if spec.ldm_layout == "open_clip":
        return {spec.ldm_prefix + k: v for k, v in open_clip_to_ldm(state, unused_layers).items()}
    # Original files nest the CLIP weights under `text_model.` (transformers >= 5.6 no longer
    # does in its own state dict).
    return {spec.ldm_prefix + (k if k.startswith("text_model.") else "text_model." + k): v
            for k, v in state.items() if not k.endswith("position_ids")}


def to_ldm_state_dict(unet: dict[str, torch.Tensor], vae: dict[str, torch.Tensor],
                      text: dict[str, torch.Tensor] | Sequence[dict[str, torch.Tensor]],
                      unet_config: dict, vae_config: dict, family: ModelFamily = SD1,
                      unused_text_layers: int = 0) -> dict[str, torch.Tensor]:
    """One original-layout state dict from the diffusers/transformers state dicts (`text`: one
    per text encoder of `family`)."""
    texts = [text] if isinstance(text, dict) else list(text)
    out = {UNET_PREFIX + k: v for k, v in unet_to_ldm(unet, unet_config).items()}
    out.update({VAE_PREFIX + k: v for k, v in vae_to_ldm(vae, vae_config).items()})
    for spec, state in zip(family.encoders, texts, strict=True):
        out.update(text_to_ldm(spec, state, unused_text_layers))
    return {k: v.contiguous() for k, v in out.items()}


@dataclass(frozen=True)
class LdmComponents:
    unet: dict[str, torch.Tensor]
    vae: dict[str, torch.Tensor]
    text_encoders: tuple[dict[str, torch.Tensor], ...]

    @property
    def text_encoder(self) -> dict[str, torch.Tensor]:
        return self.text_encoders[0]


def from_ldm_state_dict(checkpoint: dict[str, torch.Tensor], unet_config: dict,
                        vae_config: dict, family: ModelFamily = SD1,
                        text_modules: Sequence[torch.nn.Module] | None = None) -> LdmComponents:
    """Split an original-layout checkpoint into diffusers/transformers state dicts. EMA weights
    are used when the checkpoint carries both (they are the ones meant for sampling).
    `text_modules` (the family's empty text encoders) size the OpenCLIP attention split."""
    has_ema = sum(k.startswith("model_ema.") for k in checkpoint) > 100
    unet = convert_ldm_unet_checkpoint(checkpoint, dict(unet_config), extract_ema=has_ema)
    vae = convert_ldm_vae_checkpoint(checkpoint, dict(vae_config))
    texts = []
    for n, spec in enumerate(family.encoders):
        if spec.ldm_layout == "open_clip":
            module = text_modules[n] if text_modules is not None else None
            state = convert_open_clip_checkpoint(module, checkpoint, prefix=spec.ldm_prefix)
        else:
            state = convert_ldm_clip_checkpoint(
                {k: v for k, v in checkpoint.items() if k.startswith(spec.ldm_prefix)},
                remove_prefix=spec.ldm_prefix)
        texts.append({k: v for k, v in state.items() if not k.endswith("position_ids")})
    return LdmComponents(unet=unet, vae=vae, text_encoders=tuple(texts))


def fit_text_keys(state: dict[str, torch.Tensor],
                  module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """CLIP text weights named as `module` expects: with the `text_model.` level (transformers
    < 5.6) or without it (flattened CLIPTextModel of later versions)."""
    nested = hasattr(module, "text_model")
    out = {}
    for key, value in state.items():
        bare = key.removeprefix("text_model.")
        # (the projection of CLIPTextModelWithProjection sits beside text_model, not in it)
        out["text_model." + bare if nested and not bare.startswith("text_projection.")
            else bare] = value
    return out
