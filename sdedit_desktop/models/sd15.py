"""The real SD 1.5 architecture with random weights, from the configs in models/sd15 (no
download): honest timings for benchmarks, since speed does not depend on weight values."""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from sdedit_desktop.models.components import (
    model_config,
    quiet_diffusers,
    read_json,
    sd15_config_dir,
)
from sdedit_desktop.models.device import resolve_device, resolve_dtype
from sdedit_desktop.models.interface import ModelIdentity
from sdedit_desktop.models.sd_model import StableDiffusionModel
from sdedit_desktop.models.tokenizer import build_clip_tokenizer


def sd15_configs() -> dict[str, dict]:
    root = sd15_config_dir()
    return {
        "unet": read_json(root / "unet" / "config.json", "UNet config"),
        "vae": read_json(root / "vae" / "config.json", "VAE config"),
        "text_encoder": read_json(root / "text_encoder" / "config.json", "text encoder config"),
        "scheduler": read_json(root / "scheduler" / "scheduler_config.json", "scheduler config"),
    }


def build_random_sd15(device: torch.device | str = "auto", dtype: torch.dtype | str = "auto",
                      seed: int = 0) -> StableDiffusionModel:
    """SD 1.5 (860M-parameter UNet, VAE, CLIP ViT-L text encoder) with seeded random weights,
    initialised directly on the target device."""
    device = resolve_device(device) if isinstance(device, str) else torch.device(device)
    dtype = resolve_dtype(dtype, device) if isinstance(dtype, str) else dtype
    cfg = sd15_configs()
    # (The CPU generator state is restored afterwards; a GPU's is simply reseeded.)
    with torch.random.fork_rng(devices=[]), torch.device(device), quiet_diffusers():
        torch.manual_seed(seed)
        unet = UNet2DConditionModel.from_config(model_config(cfg["unet"])).to(dtype)
        vae = AutoencoderKL.from_config(model_config(cfg["vae"])).to(dtype)
        text = CLIPTextModel(CLIPTextConfig(**model_config(cfg["text_encoder"]))).to(dtype)
    return StableDiffusionModel(
        unet=unet, vae=vae, text_encoder=text, tokenizer=build_clip_tokenizer(),
        scheduler_config=cfg["scheduler"], device=device, dtype=dtype,
        identity=ModelIdentity(kind="random-sd15", source=f"random:{seed}"))
