"""A tiny random SD-shaped model for tests and the demo: same interfaces, same latent layout
(4 channels, 8x downsampling, scaling 0.18215), a CLIP tokenizer, attention with q/k/v/out for
LoRA, and small enough that a UNet call on a 8x8 latent takes milliseconds on a CPU."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from sdedit_desktop.models.components import quiet_diffusers
from sdedit_desktop.models.interface import ModelIdentity
from sdedit_desktop.models.sd_model import StableDiffusionModel
from sdedit_desktop.models.tokenizer import build_clip_tokenizer

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


def _components(seed: int, unet_config: dict | None = None
                ) -> tuple[UNet2DConditionModel, AutoencoderKL, CLIPTextModel]:
    # Deterministic: each component from its own seeded generator state, in a fixed order.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**(unet_config or UNET_CONFIG))
        torch.manual_seed(seed + 1)
        vae = AutoencoderKL(**VAE_CONFIG)
        torch.manual_seed(seed + 2)
        text = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG))
    return unet, vae, text


def build_tiny_model(seed: int = 0, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32,
                     unet_config: dict | None = None) -> StableDiffusionModel:
    """A fresh tiny model (random weights from `seed`). `unet_config` replaces the UNet's
    architecture (tests that need attention at a higher resolution than the demo has)."""
    unet, vae, text = _components(seed, unet_config)
    identity = TINY_IDENTITY if seed == 0 else ModelIdentity(kind="tiny", source=f"tiny:{seed}")
    return StableDiffusionModel(unet=unet, vae=vae, text_encoder=text,
                                tokenizer=build_clip_tokenizer(TINY_MERGES),
                                scheduler_config=SCHEDULER_CONFIG, device=torch.device(device),
                                dtype=dtype, identity=identity)


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


def save_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Write the tiny model as an ordinary diffusers folder (safetensors weights)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    unet, vae, text = _components(seed)
    with quiet_diffusers():
        unet.save_pretrained(folder / "unet", safe_serialization=True)
        vae.save_pretrained(folder / "vae", safe_serialization=True)
        text.save_pretrained(folder / "text_encoder", safe_serialization=True)
    build_clip_tokenizer(TINY_MERGES).save_pretrained(folder / "tokenizer")
    (folder / "scheduler").mkdir(exist_ok=True)
    (folder / "scheduler" / "scheduler_config.json").write_text(
        json.dumps(SCHEDULER_CONFIG, indent=2), encoding="utf-8")
    index = {
        "_class_name": "StableDiffusionPipeline",
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "safety_checker": [None, None],
        "feature_extractor": [None, None],
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return folder


def tiny_ldm_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """The tiny model's weights in the original single-file SD layout."""
    from sdedit_desktop.models.ldm_layout import to_ldm_state_dict

    unet, vae, text = _components(seed)
    return to_ldm_state_dict(unet.state_dict(), vae.state_dict(), text.state_dict(),
                             dict(unet.config), dict(vae.config))
