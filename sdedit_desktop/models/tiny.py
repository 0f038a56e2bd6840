"""Tiny random SD-shaped models for tests and the demo: same interfaces, same latent layout
(4 channels, 8x downsampling), a CLIP tokenizer, attention with q/k/v/out for LoRA, and small
enough that a UNet call on a 8x8 latent takes milliseconds on a CPU. The demo model is SD 1.x;
`TINY_FAMILIES` has one per family (SD 2.x with v-prediction, SDXL with two text encoders and
the "text_time" embedding) for the tests that run every edit on every family."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig

from sdedit_desktop.models.components import quiet_diffusers, text_encoder_class
from sdedit_desktop.models.families import model_family
from sdedit_desktop.models.interface import ModelIdentity
from sdedit_desktop.models.sd_model import StableDiffusionModel
from sdedit_desktop.models.tokenizer import EOS, build_clip_tokenizer

TINY_MERGES = 512  # first BPE merges of CLIP's list: 1026 tokens

# SD 1.5's four levels with few channels, attention only at the lowest (1/8 of the latent side):
# a UNet call on a 512 px image's 64x64 latent costs tens of ms on one CPU core, so the paper's
# default drag (600 calls) finishes in well under a minute on a 2-core machine. Attention at
# full latent resolution made each call 20x dearer and the demo drag took minutes.
UNET_CONFIG: dict = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": [16, 16, 32, 32],
    "down_block_types": ["DownBlock2D", "DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"],
    "cross_attention_dim": 32,
    "attention_head_dim": 8,
    "norm_num_groups": 8,
}
VAE_CONFIG: dict = {
    "sample_size": 64,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 1,
    "block_out_channels": [8, 8, 16, 16],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "norm_num_groups": 4,
    "scaling_factor": 0.18215,
}
TEXT_CONFIG: dict = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "max_position_embeddings": 77,
    "vocab_size": 2 * 256 + TINY_MERGES + 2,
    "hidden_act": "quick_gelu",
    "bos_token_id": 2 * 256 + TINY_MERGES,
    "eos_token_id": 2 * 256 + TINY_MERGES + 1,
    "pad_token_id": 2 * 256 + TINY_MERGES + 1,
    "projection_dim": 32,
}
SCHEDULER_CONFIG: dict = {
    "_class_name": "PNDMScheduler",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "clip_sample": False,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
}
TINY_IDENTITY = ModelIdentity(kind="tiny", source="tiny")


@dataclass(frozen=True)
class TinyFamily:
    """A tiny random model of one family: the family's architecture traits at a toy size."""

    unet: dict
    vae: dict
    text_encoders: tuple[dict, ...]
    scheduler: dict
    pipeline: dict
    pads: tuple[str, ...]  # each tokenizer's padding token


_PIPELINE_SD = {"_class_name": "StableDiffusionPipeline", "requires_safety_checker": False,
                "safety_checker": [None, None], "feature_extractor": [None, None]}
# SD 2.x: linear attention projections, an OpenCLIP-style (gelu) text encoder padded with "!",
# v-prediction (the 768-v line, the one the solvers must convert).
_SD2_UNET = {**UNET_CONFIG, "use_linear_projection": True, "upcast_attention": True}
_SD2_TEXT = {**TEXT_CONFIG, "hidden_act": "gelu"}
_SD2_SCHEDULER = {"_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
                  "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
                  "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1,
                  "prediction_type": "v_prediction"}
# SDXL: no attention in the top level, two transformer layers in the lowest, the "text_time"
# embedding (6 size ids x 8 + the 32-wide pooled embedding), two text encoders side by side
# (32 + 32 = 64 wide), the second with a projection, a VAE scaled by 0.13025.
_SDXL_UNET = {
    "sample_size": 8, "in_channels": 4, "out_channels": 4, "layers_per_block": 1,
    "block_out_channels": [16, 32, 32],
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "transformer_layers_per_block": [1, 1, 2], "cross_attention_dim": 64,
    "attention_head_dim": 8, "norm_num_groups": 8, "use_linear_projection": True,
    "addition_embed_type": "text_time", "addition_time_embed_dim": 8,
    "projection_class_embeddings_input_dim": 6 * 8 + 32,
}
_SDXL_VAE = {**VAE_CONFIG, "scaling_factor": 0.13025, "force_upcast": True}
_SDXL_TEXT_2 = {**TEXT_CONFIG, "hidden_act": "gelu", "projection_dim": 32}
_SDXL_SCHEDULER = {"_class_name": "EulerDiscreteScheduler", "beta_start": 0.00085,
                   "beta_end": 0.012, "beta_schedule": "scaled_linear",
                   "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1,
                   "timestep_spacing": "leading", "interpolation_type": "linear",
                   "use_karras_sigmas": False}
_SDXL_PIPELINE = {"_class_name": "StableDiffusionXLPipeline", "force_zeros_for_empty_prompt": True}

TINY_FAMILIES: dict[str, TinyFamily] = {
    "sd1": TinyFamily(UNET_CONFIG, VAE_CONFIG, (TEXT_CONFIG,), SCHEDULER_CONFIG, _PIPELINE_SD,
                      (EOS,)),
    "sd2": TinyFamily(_SD2_UNET, VAE_CONFIG, (_SD2_TEXT,), _SD2_SCHEDULER, _PIPELINE_SD, ("!",)),
    "sdxl": TinyFamily(_SDXL_UNET, _SDXL_VAE, (TEXT_CONFIG, _SDXL_TEXT_2), _SDXL_SCHEDULER,
                       _SDXL_PIPELINE, (EOS, "!")),
}


def _components(seed: int, unet_config: dict | None = None, family: str = "sd1"
                ) -> tuple[UNet2DConditionModel, AutoencoderKL, list[torch.nn.Module]]:
    # Deterministic: each component from its own seeded generator state, in a fixed order.
    tiny = TINY_FAMILIES[family]
    specs = model_family(family).encoders
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**(unet_config or tiny.unet))
        torch.manual_seed(seed + 1)
        vae = AutoencoderKL(**tiny.vae)
        texts = []
        for n, (spec, config) in enumerate(zip(specs, tiny.text_encoders, strict=True)):
            torch.manual_seed(seed + 2 + n)
            texts.append(text_encoder_class(spec.with_projection)(CLIPTextConfig(**config)))
    return unet, vae, texts


def tiny_tokenizers(family: str = "sd1") -> tuple:
    return tuple(build_clip_tokenizer(TINY_MERGES, pad) for pad in TINY_FAMILIES[family].pads)


def build_tiny_model(seed: int = 0, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32,
                     unet_config: dict | None = None, family: str = "sd1") -> StableDiffusionModel:
    """A fresh tiny model of `family` (random weights from `seed`). `unet_config` replaces the
    UNet's architecture (tests that need attention at a higher resolution than the demo has)."""
    unet, vae, texts = _components(seed, unet_config, family)
    tiny = TINY_FAMILIES[family]
    if family != "sd1":
        identity = ModelIdentity(kind="tiny", source=f"tiny-{family}:{seed}")
    else:
        identity = TINY_IDENTITY if seed == 0 else ModelIdentity(kind="tiny",
                                                                  source=f"tiny:{seed}")
    return StableDiffusionModel(family=model_family(family), unet=unet, vae=vae,
                                text_encoders=texts, tokenizers=tiny_tokenizers(family),
                                scheduler_config=tiny.scheduler, device=torch.device(device),
                                dtype=dtype, identity=identity, pipeline_config=tiny.pipeline)


_CACHE: dict[tuple[int, str, torch.dtype], StableDiffusionModel] = {}
_CACHE_LOCK = threading.Lock()


def cached_tiny_model(seed: int, device: str, dtype: torch.dtype) -> StableDiffusionModel:
    """The model that source "tiny" loads: one per (seed, device, dtype) and process, rebuilt
    after someone `release()`d it."""
    key = (seed, str(device), dtype)
    with _CACHE_LOCK:
        model = _CACHE.get(key)
        if model is None or model.unet is None:
            model = _CACHE[key] = build_tiny_model(seed, device, dtype)
        return model


def save_tiny_model(folder: Path, seed: int = 0, family: str = "sd1") -> Path:
    """Write the tiny model of `family` as an ordinary diffusers folder (safetensors weights)
    that diffusers' own pipeline of that family loads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    unet, vae, texts = _components(seed, family=family)
    tiny = TINY_FAMILIES[family]
    specs = model_family(family).encoders
    with quiet_diffusers():
        unet.save_pretrained(folder / "unet", safe_serialization=True)
        vae.save_pretrained(folder / "vae", safe_serialization=True)
        for spec, text in zip(specs, texts, strict=True):
            text.save_pretrained(folder / spec.folder, safe_serialization=True)
    for spec, tokenizer in zip(specs, tiny_tokenizers(family), strict=True):
        tokenizer.save_pretrained(folder / spec.tokenizer)
    (folder / "scheduler").mkdir(exist_ok=True)
    (folder / "scheduler" / "scheduler_config.json").write_text(
        json.dumps(tiny.scheduler, indent=2), encoding="utf-8")
    index = {**tiny.pipeline,
             "scheduler": ["diffusers", tiny.scheduler["_class_name"]],
             "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"]}
    for spec, text in zip(specs, texts, strict=True):
        index[spec.folder] = ["transformers", type(text).__name__]
        index[spec.tokenizer] = ["transformers", "CLIPTokenizer"]
    (folder / "model_index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return folder


def tiny_ldm_state_dict(seed: int = 0, family: str = "sd1") -> dict[str, torch.Tensor]:
    """The tiny model's weights in its family's original single-file layout (SD 2.x files with
    the one unused OpenCLIP layer that real ones carry)."""
    from sdedit_desktop.models.ldm_layout import to_ldm_state_dict

    unet, vae, texts = _components(seed, family=family)
    return to_ldm_state_dict(unet.state_dict(), vae.state_dict(),
                             [t.state_dict() for t in texts], dict(unet.config),
                             dict(vae.config), model_family(family),
                             unused_text_layers=1 if family == "sd2" else 0)
