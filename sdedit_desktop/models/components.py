"""Shared pieces of loading: configs, tokenizer choice, building modules without a wasted random
initialisation, and turning torch's loading errors into named, user-readable ones."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

from sdedit_desktop.models.errors import MissingComponentError, WrongCheckpointError
from sdedit_desktop.models.families import FamilyConfigs, ModelFamily
from sdedit_desktop.models.tokenizer import build_clip_tokenizer


@dataclass(frozen=True)
class ModelParts:
    """Everything a `StableDiffusionModel` is made of, before it moves to its device."""

    family: ModelFamily
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoders: tuple[torch.nn.Module, ...]
    tokenizers: tuple[CLIPTokenizer, ...]
    scheduler_config: dict
    pipeline_config: dict = field(default_factory=dict)


def bundled_pipeline_config(family: ModelFamily) -> dict:
    """The family's bundled model_index.json (pipeline options such as SDXL's
    `force_zeros_for_empty_prompt`)."""
    return read_json(family.config_dir() / "model_index.json", "pipeline index")


def read_family_configs(family: ModelFamily, root: Path | None = None,
                        prediction_type: str | None = None) -> FamilyConfigs:
    """The configs of a model of `family` from a diffusers-style folder (default: the family's
    bundled configs in models/, adapted to `prediction_type` when given)."""
    bundled = root is None
    root = family.config_dir() if root is None else Path(root)
    pipeline_path = root / "model_index.json"
    configs = FamilyConfigs(
        unet=read_json(root / "unet" / "config.json", "UNet config"),
        vae=read_json(root / "vae" / "config.json", "VAE config"),
        text_encoders=tuple(read_json(root / spec.folder / "config.json",
                                      f"{spec.folder.replace('_', ' ')} config")
                            for spec in family.encoders),
        scheduler=read_json(root / "scheduler" / "scheduler_config.json", "scheduler config"),
        pipeline=read_json(pipeline_path, "pipeline index") if pipeline_path.is_file() else {})
    if bundled and prediction_type is not None:
        configs = family.adapt_configs(configs, prediction_type)
    return configs


def read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise MissingComponentError(f"Missing {what}: {path.name} is not in {path.parent}.",
                                    detail=str(path), path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MissingComponentError(f"{path} is damaged (not valid JSON).", detail=str(exc),
                                    path=path) from exc
    if not isinstance(data, dict):
        raise MissingComponentError(f"{path} is not a config file.", path=path)
    return data


def model_config(data: dict) -> dict:
    """A diffusers config without its bookkeeping keys (`_class_name`, ...)."""
    return {k: v for k, v in data.items() if not k.startswith("_")}


@contextlib.contextmanager
def quiet_diffusers(level: int = logging.ERROR) -> Iterator[None]:
    """diffusers warns about dtype casts and deprecated keys at every load; the app reports its
    own errors instead. `level` CRITICAL also silences the libraries' error lines (when the
    caller turns the exception into its own message)."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    loggers = [logging.getLogger(n) for n in ("diffusers", "transformers", "peft")]
    levels = [lg.level for lg in loggers]
    bars = [m.is_progress_bar_enabled() for m in (diffusers_logging, transformers_logging)]
    for lg in loggers:
        lg.setLevel(level)
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        for module, enabled in zip((diffusers_logging, transformers_logging), bars, strict=True):
            if enabled:
                module.enable_progress_bar()


def empty_unet(config: dict) -> UNet2DConditionModel:
    with init_empty_weights(), quiet_diffusers():
        return UNet2DConditionModel.from_config(model_config(config))


def empty_vae(config: dict) -> AutoencoderKL:
    with init_empty_weights(), quiet_diffusers():
        return AutoencoderKL.from_config(model_config(config))


def text_encoder_class(with_projection: bool) -> type:
    return CLIPTextModelWithProjection if with_projection else CLIPTextModel


def empty_text_encoder(config: dict, with_projection: bool = False) -> torch.nn.Module:
    with init_empty_weights(), quiet_diffusers():
        return text_encoder_class(with_projection)(CLIPTextConfig(**model_config(config)))


def load_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], component: str,
                 file: Path) -> None:
    """Load a state dict into a module built on the meta device; a checkpoint whose tensors do
    not fit the architecture is a WrongCheckpointError naming the file and the first mismatch."""
    expected = module.state_dict()
    state = {k: v for k, v in state.items() if v is not None}  # converters map absent keys to None
    for key in expected:  # a persistent position_ids buffer is not a weight; older files lack it
        if key.endswith("position_ids") and key not in state:
            state[key] = expected[key]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected
             if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or wrong:
        first = wrong[:1] or missing[:1]
        shape = (f" (file {tuple(state[first[0]].shape)}, model {tuple(expected[first[0]].shape)})"
                 if wrong else "")
        raise WrongCheckpointError(
            f"{file.name} does not hold a {component} of this architecture: "
            f"{len(missing)} tensors missing, {len(wrong)} of the wrong shape, e.g. "
            f"{first[0]}{shape}. Is it a complete checkpoint of this model family?",
            detail=f"{file}: missing {missing[:5]}, wrong shape {wrong[:5]}, "
                   f"unexpected {unexpected[:5]}", path=file)
    module.load_state_dict({k: _aligned(state[k]) for k in expected}, strict=True, assign=True)


# Tensors read from a safetensors file can start at any 8-byte offset; the CPU's convolution
# kernels pick other code paths for unaligned weights and round differently, so the same weights
# would give (slightly) other outputs from a file than from memory. Assigned weights get their
# own aligned storage.
_ALIGNMENT = 64


def _aligned(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.device.type != "cpu" or tensor.data_ptr() % _ALIGNMENT == 0:
        return tensor
    return tensor.clone()


def align_weights(module: torch.nn.Module) -> torch.nn.Module:
    """Give every unaligned CPU weight of a module (e.g. one a library read from a file) its
    own aligned storage, as `load_weights` does."""
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            aligned = _aligned(tensor)
            if aligned is not tensor:
                tensor.data = aligned
    return module


def bundled_tokenizer(config_dir: Path) -> CLIPTokenizer:
    """CLIP's tokenizer built from the bundled BPE merges, with the special tokens of the
    tokenizer_config.json in `config_dir` (SD 2.x and SDXL's second encoder pad with "!")."""
    path = config_dir / "tokenizer_config.json"
    config = read_json(path, "tokenizer config") if path.is_file() else {}
    return build_clip_tokenizer(pad_token=str(config.get("pad_token", "<|endoftext|>")))


def tokenizer_for(folder: Path | None, text_config: dict,
                  fallback: Path | None = None) -> CLIPTokenizer:
    """The folder's tokenizer when it has one, else CLIP's from the bundled merges with the
    special tokens of `fallback` (the family's bundled tokenizer folder); every SD family
    tokenizes with CLIP's BPE vocabulary."""
    if folder is not None and folder.is_dir() and any(
            (folder / name).is_file() for name in ("tokenizer.json", "vocab.json")):
        try:
            return CLIPTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError, TypeError) as exc:
            raise MissingComponentError(
                f"The tokenizer in {folder} is incomplete or damaged (it needs vocab.json and "
                "merges.txt, or tokenizer.json).", detail=f"{type(exc).__name__}: {exc}",
                path=folder) from exc
    vocab = int(text_config.get("vocab_size", 49408))
    if vocab == 49408:
        return bundled_tokenizer(fallback) if fallback is not None else build_clip_tokenizer()
    raise MissingComponentError(
        f"Missing tokenizer: {folder or 'the model'} has no tokenizer files (vocab.json + "
        "merges.txt or tokenizer.json) and its text encoder is not CLIP's (vocab size "
        f"{vocab}), so the bundled CLIP tokenizer cannot stand in.",
        detail=str(folder), path=folder)
