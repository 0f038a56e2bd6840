"""The real architectures with random weights, from the bundled configs in models/ (no
download): honest timings for benchmarks, since speed does not depend on weight values."""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig

from sdedit_desktop.models.components import (
    bundled_tokenizer,
    model_config,
    quiet_diffusers,
    read_family_configs,
    text_encoder_class,
)
from sdedit_desktop.models.device import resolve_device, resolve_dtype
from sdedit_desktop.models.families import model_family
from sdedit_desktop.models.interface import ModelIdentity
from sdedit_desktop.models.sd_model import StableDiffusionModel

# source name -> (family, prediction type; None: the bundled scheduler's)
RANDOM_MODELS: dict[str, tuple[str, str | None]] = {
    "random-sd15": ("sd1", None),
    "random-sd21": ("sd2", "epsilon"),
    "random-sd21v": ("sd2", "v_prediction"),
    "random-sdxl": ("sdxl", None),
}


def build_random_model(name: str = "random-sd15", device: torch.device | str = "auto",
                       dtype: torch.dtype | str = "auto", seed: int = 0) -> StableDiffusionModel:
    """The full architecture of `name` (RANDOM_MODELS: SD 1.5's 860M-parameter UNet, SD 2.1's,
    SDXL's 2.6B one, with their VAE and text encoders) with seeded random weights, initialised
    directly on the target device."""
    family_name, prediction = RANDOM_MODELS[name]
    family = model_family(family_name)
    device = resolve_device(device) if isinstance(device, str) else torch.device(device)
    dtype = resolve_dtype(dtype, device) if isinstance(dtype, str) else dtype
    cfg = read_family_configs(family, None, prediction)
    # (The CPU generator state is restored afterwards; a GPU's is simply reseeded.)
    with torch.random.fork_rng(devices=[]), torch.device(device), quiet_diffusers():
        torch.manual_seed(seed)
        unet = UNet2DConditionModel.from_config(model_config(cfg.unet)).to(dtype)
        vae = AutoencoderKL.from_config(model_config(cfg.vae)).to(dtype)
        texts = [text_encoder_class(spec.with_projection)(
            CLIPTextConfig(**model_config(config))).to(dtype)
            for spec, config in zip(family.encoders, cfg.text_encoders, strict=True)]
    tokenizers = [bundled_tokenizer(family.config_dir() / spec.tokenizer)
                  for spec in family.encoders]
    return StableDiffusionModel(
        family=family, unet=unet, vae=vae, text_encoders=texts, tokenizers=tokenizers,
        scheduler_config=cfg.scheduler, device=device, dtype=dtype,
        identity=ModelIdentity(kind=name, source=f"random:{seed}"),
        pipeline_config=cfg.pipeline)
