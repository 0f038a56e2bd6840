"""Loading a diffusers folder (a local copy or a hub snapshot): check every file first, so a
missing or truncated one is named, then load each component."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel

from sdedit_desktop.models.components import (
    quiet_diffusers,
    read_json,
    sd15_config_dir,
    tokenizer_for,
)
from sdedit_desktop.models.errors import (
    CorruptWeightsError,
    MissingComponentError,
    ModelError,
    WrongCheckpointError,
    is_out_of_memory,
)
from sdedit_desktop.models.weights import refuse_pickle, safetensors_header

# component -> (weight file stem, config file name)
COMPONENTS = {
    "unet": ("diffusion_pytorch_model", "config.json"),
    "vae": ("diffusion_pytorch_model", "config.json"),
    "text_encoder": ("model", "config.json"),
}
_PICKLE_NAMES = {"diffusion_pytorch_model": "diffusion_pytorch_model", "model": "pytorch_model"}


@dataclass(frozen=True)
class WeightFile:
    path: Path
    variant: str | None  # "fp16" or None
    pickle: bool


def find_weights(folder: Path, component: str, allow_pickle: bool) -> WeightFile:
    """The weight file of one component: full-precision safetensors, else the fp16 variant,
    else (only when allowed) the pickle .bin."""
    stem = COMPONENTS[component][0]
    base = folder / component
    for name, variant in ((f"{stem}.safetensors", None), (f"{stem}.fp16.safetensors", "fp16")):
        if (base / name).is_file():
            return WeightFile(base / name, variant, False)
    pickled = _PICKLE_NAMES[stem]
    for name, variant in ((f"{pickled}.bin", None), (f"{pickled}.fp16.bin", "fp16")):
        if (base / name).is_file():
            if not allow_pickle:
                raise refuse_pickle(base / name)
            return WeightFile(base / name, variant, True)
    if (base / f"{stem}.safetensors.index.json").is_file():
        raise MissingComponentError(
            f"{component} weights in {folder} are sharded, which this app does not load; use a "
            "single-file copy of the weights.", path=base)
    raise MissingComponentError(
        f"Missing {component} weights: {component}/{stem}.safetensors is not in {folder}. "
        "Download the model again (`sdedit models download` resumes), or copy the missing file.",
        detail=str(base / f"{stem}.safetensors"), path=base / f"{stem}.safetensors")


def check_folder(folder: Path, allow_pickle: bool) -> dict[str, WeightFile]:
    """Every component's config and weights exist and every safetensors file is complete."""
    if not folder.is_dir():
        raise MissingComponentError(f"{folder} is not a folder.", path=folder)
    if not (folder / "unet").is_dir() and not (folder / "model_index.json").is_file():
        singles = sorted(p.name for p in folder.glob("*.safetensors"))
        hint = (f" It contains {', '.join(singles[:3])}: choose that file instead."
                if singles else "")
        raise MissingComponentError(
            f"{folder} is not a diffusers model folder (it has no unet/, vae/, text_encoder/ "
            f"subfolders).{hint}", detail=str(folder), path=folder)
    found: dict[str, WeightFile] = {}
    for component, (_, config) in COMPONENTS.items():
        read_json(folder / component / config, f"{component} config")
        weights = find_weights(folder, component, allow_pickle)
        if not weights.pickle:
            safetensors_header(weights.path)
        found[component] = weights
    return found


def identity_files(folder: Path, weights: dict[str, WeightFile]) -> list[Path]:
    """The files whose content decides the model's behaviour: weights and configs."""
    files = [w.path for w in weights.values()]
    files += [folder / c / cfg for c, (_, cfg) in COMPONENTS.items()]
    sched = folder / "scheduler" / "scheduler_config.json"
    if sched.is_file():
        files.append(sched)
    return files


def load_folder_components(folder: Path, dtype: torch.dtype, allow_pickle: bool):
    """(unet, vae, text_encoder, tokenizer, scheduler_config, weight files) of a folder."""
    weights = check_folder(folder, allow_pickle)

    def load(component: str, loader):
        wf = weights[component]
        try:
            with quiet_diffusers():
                module = loader(wf)
            # diffusers leaves what the file lacks on the meta device without an error when
            # the file holds another component's weights (e.g. the VAE's in unet/).
            empty = [n for n, t in module.state_dict().items() if t.is_meta]
            if empty:
                raise NotImplementedError(f"{len(empty)} tensors not in the file, e.g. {empty[0]}")
            return module
        except ModelError:
            raise
        except (ValueError, KeyError, IndexError, TypeError, NotImplementedError) as exc:
            raise WrongCheckpointError(
                f"{component} in {folder} does not match its config (wrong or mixed files?): "
                f"{wf.path.name} could not be loaded.", detail=f"{type(exc).__name__}: {exc}",
                path=wf.path) from exc
        except Exception as exc:  # OSError, RuntimeError, pickle.UnpicklingError, ...
            if is_out_of_memory(exc):
                raise
            raise CorruptWeightsError(
                f"{wf.path.name} ({component}) could not be read: the file is damaged. Download "
                "it again and check it with `sdedit models verify`.",
                detail=f"{type(exc).__name__}: {exc}", path=wf.path) from exc

    common = {"local_files_only": True}
    unet = load("unet", lambda wf: UNet2DConditionModel.from_pretrained(
        str(folder), subfolder="unet", variant=wf.variant, use_safetensors=not wf.pickle,
        torch_dtype=dtype, **common))
    vae = load("vae", lambda wf: AutoencoderKL.from_pretrained(
        str(folder), subfolder="vae", variant=wf.variant, use_safetensors=not wf.pickle,
        torch_dtype=dtype, **common))
    text = load("text_encoder", lambda wf: CLIPTextModel.from_pretrained(
        str(folder), subfolder="text_encoder", variant=wf.variant, use_safetensors=not wf.pickle,
        **common))
    text_cfg = read_json(folder / "text_encoder" / "config.json", "text encoder config")
    tokenizer = tokenizer_for(folder / "tokenizer", text_cfg)
    sched_path = folder / "scheduler" / "scheduler_config.json"
    if not sched_path.is_file():  # every SD 1.x shares the training schedule
        sched_path = sd15_config_dir() / "scheduler" / "scheduler_config.json"
    scheduler = read_json(sched_path, "scheduler config")
    return unet, vae, text, tokenizer, scheduler, identity_files(folder, weights)
