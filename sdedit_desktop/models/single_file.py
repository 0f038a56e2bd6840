"""Loading a single-file checkpoint in the original SD layout (.safetensors; pickle when allowed),
offline, with the architecture configs from a config folder (default: the repo's models/sd15)."""

from __future__ import annotations

from pathlib import Path

import torch

from sdedit_desktop.models.components import (
    empty_text_encoder,
    empty_unet,
    empty_vae,
    load_weights,
    model_config,
    read_json,
    sd15_config_dir,
    tokenizer_for,
)
from sdedit_desktop.models.errors import WrongCheckpointError
from sdedit_desktop.models.ldm_layout import (
    TEXT_PREFIX,
    UNET_PREFIX,
    VAE_PREFIX,
    fit_text_keys,
    from_ldm_state_dict,
)

_CONV_IN = UNET_PREFIX + "input_blocks.0.0.weight"


def describe_foreign(keys: list[str]) -> str | None:
    """What a non-SD-1.x file most likely is, for the error message; None if it looks fine."""
    if not keys:
        return "an empty file (no tensors)"
    if any(k.startswith("conditioner.embedders") for k in keys):
        return "a Stable Diffusion XL checkpoint (SDXL is not supported; use an SD 1.x model)"
    if any("lora_" in k or ".lora." in k or k.startswith("lora_unet") for k in keys):
        return "a LoRA, not a full model (use it with --lora PATH on a base model)"
    transformer_keys = (UNET_PREFIX + "joint_blocks", UNET_PREFIX + "double_blocks",
                        "double_blocks.", "joint_blocks.")
    if any(k.startswith(transformer_keys) for k in keys):
        return "a diffusion transformer checkpoint (SD 3 / Flux), not SD 1.x"
    if _CONV_IN not in keys:
        if any(k.startswith(("encoder.", "decoder.")) for k in keys) and len(keys) < 400:
            return "a VAE on its own, not a full model"
        if any(k.startswith(("text_model.", "cond_stage_model.")) for k in keys) and \
                not any(k.startswith(UNET_PREFIX) for k in keys):
            return "a text encoder on its own, not a full model"
        if any(k.startswith(("down_blocks.", "up_blocks.")) for k in keys):
            return ("a diffusers UNet weight file on its own (load the diffusers folder it "
                    "belongs to instead)")
        return "not a Stable Diffusion checkpoint (no UNet weights in the original layout)"
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        return "a Stable Diffusion 2.x checkpoint (OpenCLIP text encoder; only SD 1.x is supported)"
    if not any(k.startswith(VAE_PREFIX) for k in keys):
        return "a UNet-only checkpoint without a VAE (this app needs a complete SD 1.x checkpoint)"
    if not any(k.startswith(TEXT_PREFIX) for k in keys):
        return "a checkpoint without the CLIP text encoder (this app needs a complete SD 1.x one)"
    return None


def check_architecture(state: dict[str, torch.Tensor], unet_config: dict, file: Path) -> None:
    """Refuse files that are SD-shaped but another variant (inpainting, SD 2.x, other widths)."""
    conv_in = state[_CONV_IN]
    want_in = int(unet_config.get("in_channels", 4))
    if conv_in.ndim != 4:
        raise WrongCheckpointError(
            f"{file.name} has the Stable Diffusion key names but not its tensors ({_CONV_IN} "
            f"has shape {tuple(conv_in.shape)}, a convolution needs 4 dimensions).",
            detail=f"{_CONV_IN}: {tuple(conv_in.shape)}", path=file)
    if conv_in.shape[1] != want_in:
        what = ("an inpainting checkpoint (9 input channels)" if conv_in.shape[1] == 9 else
                f"a UNet with {conv_in.shape[1]} input channels")
        raise WrongCheckpointError(
            f"{file.name} is {what}; the editor needs a standard SD 1.x model ({want_in} "
            "latent channels).", detail=f"{_CONV_IN}: {tuple(conv_in.shape)}", path=file)
    context = next((v.shape[1] for k, v in state.items()
                    if k.startswith(UNET_PREFIX) and k.endswith("attn2.to_k.weight")
                    and v.ndim == 2), None)
    want_ctx = int(unet_config.get("cross_attention_dim", 768))
    if context is not None and context != want_ctx:
        hint = " (SD 2.x uses 1024)" if context == 1024 else ""
        raise WrongCheckpointError(
            f"{file.name} has a text conditioning width of {context}{hint}, the configured "
            f"architecture expects {want_ctx}: it is not an SD 1.x checkpoint.",
            detail=f"cross-attention dim {context} vs config {want_ctx}", path=file)


# safetensors dtype names -> torch (for checking a header's shapes on the meta device).
_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
           "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "I16": torch.int16,
           "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def check_checkpoint_header(header: dict, file: Path, config_dir: Path | None = None) -> None:
    """Raise what `build_from_ldm` would raise for this file, from its (checked) safetensors
    header alone: every tensor stands in as a meta tensor of its shape, no data is read."""
    state = {name: torch.empty(entry["shape"], dtype=_DTYPES.get(entry["dtype"], torch.float32),
                               device="meta")
             for name, entry in header.items() if name != "__metadata__"}
    build_from_ldm(state, file, config_dir)


def build_from_ldm(state: dict[str, torch.Tensor], file: Path, config_dir: Path | None = None):
    """(unet, vae, text_encoder, tokenizer, scheduler_config) from an original-layout state dict."""
    config_dir = Path(config_dir) if config_dir is not None else sd15_config_dir()
    foreign = describe_foreign(list(state))
    if foreign:
        raise WrongCheckpointError(f"{file.name} is {foreign}.",
                                   detail=f"{file}: {len(state)} tensors, e.g. {list(state)[:3]}",
                                   path=file)
    unet_cfg = read_json(config_dir / "unet" / "config.json", "UNet config")
    vae_cfg = read_json(config_dir / "vae" / "config.json", "VAE config")
    text_cfg = read_json(config_dir / "text_encoder" / "config.json", "text encoder config")
    sched_cfg = read_json(config_dir / "scheduler" / "scheduler_config.json", "scheduler config")
    check_architecture(state, unet_cfg, file)
    try:
        parts = from_ldm_state_dict(state, model_config(unet_cfg), model_config(vae_cfg))
    except (IndexError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        # The converter indexes and reshapes tensors by the SD layout: a file with the right
        # names but other shapes breaks it.
        raise WrongCheckpointError(
            f"{file.name} has Stable Diffusion key names but tensors of other shapes: it is not "
            "a complete SD 1.x checkpoint.", detail=f"{file}: {type(exc).__name__}: {exc}",
            path=file) from exc
    unet = empty_unet(unet_cfg)
    load_weights(unet, parts.unet, "UNet", file)
    vae = empty_vae(vae_cfg)
    load_weights(vae, parts.vae, "VAE", file)
    text = empty_text_encoder(text_cfg)
    load_weights(text, fit_text_keys(parts.text_encoder, text), "text encoder", file)
    tokenizer = tokenizer_for(config_dir / "tokenizer", text_cfg)
    return unet, vae, text, tokenizer, sched_cfg
