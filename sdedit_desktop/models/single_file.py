"""Loading a single-file checkpoint in the original SD layout (.safetensors; pickle when allowed),
offline: the family is told from the file's key layout (models/families/), the architecture
configs come from that family's bundled configs (models/<family>/) or from a config folder."""

from __future__ import annotations

from pathlib import Path

import torch

from sdedit_desktop.models.components import (
    ModelParts,
    bundled_pipeline_config,
    empty_text_encoder,
    empty_unet,
    empty_vae,
    load_weights,
    model_config,
    read_family_configs,
    tokenizer_for,
)
from sdedit_desktop.models.errors import PredictionTypeNeededError, WrongCheckpointError
from sdedit_desktop.models.families import SD1, SD2, SDXL, ModelFamily
from sdedit_desktop.models.ldm_layout import (
    UNET_PREFIX,
    VAE_PREFIX,
    fit_text_keys,
    from_ldm_state_dict,
)

_CONV_IN = UNET_PREFIX + "input_blocks.0.0.weight"
# Marker tensors some trainers add to single files (ComfyUI reads them the same way): the UNet
# predicts v, and the schedule was rescaled to zero terminal SNR.
V_PRED_KEY = "v_pred"
ZERO_SNR_KEY = "ztsnr"


def detect_family(keys: list[str] | set[str]) -> ModelFamily | None:
    """The family whose text-encoder layout the keys have (None: none of them)."""
    for family in (SDXL, SD2, SD1):
        if family.owns_ldm_keys(keys):
            return family
    return None


def describe_foreign(keys: list[str]) -> str | None:
    """What a file that is no complete SD 1.x / 2.x / SDXL checkpoint most likely is, for the
    error message; None if it looks like one."""
    if not keys:
        return "an empty file (no tensors)"
    if any("lora_" in k or ".lora." in k or k.startswith("lora_unet") for k in keys):
        return "a LoRA, not a full model (use it with --lora PATH on a base model)"
    transformer_keys = (UNET_PREFIX + "joint_blocks", UNET_PREFIX + "double_blocks",
                        "double_blocks.", "joint_blocks.")
    if any(k.startswith(transformer_keys) for k in keys):
        return ("a diffusion transformer checkpoint (SD 3 / Flux): flow-matching models are "
                "not supported (docs/models.md)")
    if any(k.startswith("conditioner.embedders.0.model.") for k in keys):
        return ("an SDXL refiner: it only refines SDXL base outputs and lacks the first text "
                "encoder; use an SDXL base model or fine-tune")
    if _CONV_IN not in keys:
        if any(k.startswith(("encoder.", "decoder.")) for k in keys) and len(keys) < 400:
            return "a VAE on its own, not a full model"
        if any(k.startswith(("text_model.", "cond_stage_model.", "conditioner.")) for k in keys) \
                and not any(k.startswith(UNET_PREFIX) for k in keys):
            return "a text encoder on its own, not a full model"
        if any(k.startswith(("down_blocks.", "up_blocks.")) for k in keys):
            return ("a diffusers UNet weight file on its own (load the diffusers folder it "
                    "belongs to instead)")
        return "not a Stable Diffusion checkpoint (no UNet weights in the original layout)"
    if not any(k.startswith(VAE_PREFIX) for k in keys):
        return "a UNet-only checkpoint without a VAE (this app needs a complete checkpoint)"
    family = detect_family(keys)
    if family is None:
        return ("a checkpoint without a text encoder this app knows (SD 1.x CLIP, SD 2.x "
                "OpenCLIP or SDXL's two encoders): it needs a complete checkpoint")
    missing = [spec.ldm_prefix for spec in family.encoders
               if not any(k.startswith(spec.ldm_prefix) for k in keys)]
    if missing:
        return (f"an incomplete {family.info.label} checkpoint (no text encoder weights under "
                f"{missing[0]})")
    return None


def prediction_type_of(family: ModelFamily, keys: list[str] | set[str], requested: str | None,
                       file: Path, configured: str | None = None) -> str:
    """What the file's UNet predicts: the user's word, else the file's marker, else the given
    config folder's scheduler, else the family's (ε for SD 1.x and SDXL). SD 2.x files do not
    say: without the user's word that is a PredictionTypeNeededError."""
    if requested is not None:
        return requested
    if V_PRED_KEY in keys:
        return "v_prediction"
    if configured is not None:
        return configured
    if family is SD2:
        raise PredictionTypeNeededError(
            f"{file.name} is a Stable Diffusion 2.x checkpoint, and whether its UNet predicts "
            "the noise (ε: the 512 px SD 2.x models) or v (the 768 px ones) cannot be told from "
            "the weights. Say which: --prediction-type epsilon or v_prediction (in the editor: "
            "Model > Model setup…, Prediction). The choice is remembered for this file.",
            detail=f"{file}: SD 2.x single file without a prediction type", path=file)
    return "epsilon"


def check_architecture(state: dict[str, torch.Tensor], unet_config: dict, family: ModelFamily,
                       file: Path) -> None:
    """Refuse files that are SD-shaped but another variant (inpainting, other widths)."""
    conv_in = state[_CONV_IN]
    want_in = int(unet_config.get("in_channels", 4))
    label = family.info.label
    if conv_in.ndim != 4:
        raise WrongCheckpointError(
            f"{file.name} has the Stable Diffusion key names but not its tensors ({_CONV_IN} "
            f"has shape {tuple(conv_in.shape)}, a convolution needs 4 dimensions).",
            detail=f"{_CONV_IN}: {tuple(conv_in.shape)}", path=file)
    if conv_in.shape[1] != want_in:
        what = ("an inpainting checkpoint (9 input channels)" if conv_in.shape[1] == 9 else
                f"a UNet with {conv_in.shape[1]} input channels")
        raise WrongCheckpointError(
            f"{file.name} is {what}; the editor needs a standard {label} model ({want_in} "
            "latent channels).", detail=f"{_CONV_IN}: {tuple(conv_in.shape)}", path=file)
    context = next((v.shape[1] for k, v in state.items()
                    if k.startswith(UNET_PREFIX) and k.endswith("attn2.to_k.weight")
                    and v.ndim == 2), None)
    want_ctx = int(unet_config.get("cross_attention_dim", 768))
    if context is not None and context != want_ctx:
        raise WrongCheckpointError(
            f"{file.name} has the {label} key layout but a text conditioning width of "
            f"{context}; the configured {label} architecture expects {want_ctx}.",
            detail=f"cross-attention dim {context} vs config {want_ctx}", path=file)


# safetensors dtype names -> torch (for checking a header's shapes on the meta device).
_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
           "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "I16": torch.int16,
           "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def check_checkpoint_header(header: dict, file: Path, config_dir: Path | None = None,
                            prediction_type: str | None = None) -> ModelFamily:
    """Raise what `build_from_ldm` would raise for this file, from its (checked) safetensors
    header alone: every tensor stands in as a meta tensor of its shape, no data is read.
    Returns the file's family. (An SD 2.x file is checked as ε unless told otherwise: its
    weights are the same either way.)"""
    state = {name: torch.empty(entry["shape"], dtype=_DTYPES.get(entry["dtype"], torch.float32),
                               device="meta")
             for name, entry in header.items() if name != "__metadata__"}
    family = detect_family(state)
    if family is SD2 and prediction_type is None:
        prediction_type = "epsilon"
    return build_from_ldm(state, file, config_dir, prediction_type).family


def build_from_ldm(state: dict[str, torch.Tensor], file: Path, config_dir: Path | None = None,
                   prediction_type: str | None = None) -> ModelParts:
    """The model's parts from an original-layout state dict. `config_dir` (a diffusers folder)
    replaces the family's bundled configs."""
    keys = list(state)
    foreign = describe_foreign(keys)
    family = detect_family(keys)
    if foreign or family is None:
        raise WrongCheckpointError(f"{file.name} is {foreign}.",
                                   detail=f"{file}: {len(state)} tensors, e.g. {keys[:3]}",
                                   path=file)
    root = Path(config_dir) if config_dir is not None else None
    configured = None
    if root is not None:
        configs = read_family_configs(family, root)
        configured = configs.scheduler.get("prediction_type")
    prediction = prediction_type_of(family, keys, prediction_type, file, configured)
    if root is None:
        configs = read_family_configs(family, None, prediction)
    scheduler = {**configs.scheduler, "prediction_type": prediction}
    if ZERO_SNR_KEY in keys:
        scheduler["rescale_betas_zero_snr"] = True
    check_architecture(state, configs.unet, family, file)
    texts = [empty_text_encoder(cfg, spec.with_projection)
             for spec, cfg in zip(family.encoders, configs.text_encoders, strict=True)]
    try:
        parts = from_ldm_state_dict(state, model_config(configs.unet),
                                    model_config(configs.vae), family, texts)
    except (IndexError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        # The converter indexes and reshapes tensors by the SD layout: a file with the right
        # names but other shapes breaks it.
        raise WrongCheckpointError(
            f"{file.name} has Stable Diffusion key names but tensors of other shapes: it is not "
            f"a complete {family.info.label} checkpoint.",
            detail=f"{file}: {type(exc).__name__}: {exc}", path=file) from exc
    unet = empty_unet(configs.unet)
    load_weights(unet, parts.unet, "UNet", file)
    vae = empty_vae(configs.vae)
    load_weights(vae, parts.vae, "VAE", file)
    tokenizers = []
    for spec, module, weights, cfg in zip(family.encoders, texts, parts.text_encoders,
                                          configs.text_encoders, strict=True):
        load_weights(module, fit_text_keys(weights, module), spec.folder.replace("_", " "), file)
        bundled = family.config_dir() / spec.tokenizer
        tokenizers.append(tokenizer_for(root / spec.tokenizer if root else None, cfg, bundled))
    return ModelParts(family=family, unet=unet, vae=vae, text_encoders=tuple(texts),
                      tokenizers=tuple(tokenizers), scheduler_config=scheduler,
                      pipeline_config=configs.pipeline or bundled_pipeline_config(family))
