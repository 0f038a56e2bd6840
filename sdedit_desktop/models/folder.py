"""Loading a diffusers folder (a local copy or a hub snapshot): tell its family from its configs,
check every file first, so a missing or truncated one is named, then load each component."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

from sdedit_desktop.models.components import (
    ModelParts,
    align_weights,
    bundled_pipeline_config,
    quiet_diffusers,
    read_json,
    text_encoder_class,
    tokenizer_for,
)
from sdedit_desktop.models.errors import (
    CorruptWeightsError,
    MissingComponentError,
    ModelError,
    PredictionTypeNeededError,
    WrongCheckpointError,
    is_out_of_memory,
)
from sdedit_desktop.models.families import SD1, SD2, SDXL, ModelFamily
from sdedit_desktop.models.weights import refuse_pickle, safetensors_header

# component -> (weight file stem, config file name); text encoders have the stem "model"
COMPONENTS = {
    "unet": ("diffusion_pytorch_model", "config.json"),
    "vae": ("diffusion_pytorch_model", "config.json"),
    "text_encoder": ("model", "config.json"),
    "text_encoder_2": ("model", "config.json"),
}


def components_of(family: ModelFamily) -> tuple[str, ...]:
    return ("unet", "vae", *(spec.folder for spec in family.encoders))


def folder_family(folder: Path) -> ModelFamily:
    """The family of a diffusers folder, from its configs: SDXL's UNet has the "text_time"
    embedding and a second text encoder; SD 2.x's attends to 1024-wide OpenCLIP states through
    linear projections; anything else SD-shaped is SD 1.x."""
    unet = read_json(folder / "unet" / "config.json", "unet config")
    index_path = folder / "model_index.json"
    index = read_json(index_path, "pipeline index") if index_path.is_file() else {}
    if int(unet.get("in_channels", 4)) != 4:
        raise WrongCheckpointError(
            f"{folder.name} is an inpainting or other special model (its UNet takes "
            f"{unet.get('in_channels')} input channels); the editor needs a standard model "
            "with 4 latent channels.", path=folder)
    if unet.get("addition_embed_type") == "text_time" or (folder / "text_encoder_2").is_dir():
        if not (folder / "text_encoder").is_dir() and not index.get("text_encoder", [None])[0]:
            raise WrongCheckpointError(
                f"{folder.name} is an SDXL refiner: it only refines SDXL base outputs and lacks "
                "the first text encoder; use an SDXL base model or fine-tune.", path=folder)
        return SDXL
    if int(unet.get("cross_attention_dim", 768)) == 1024 or unet.get("use_linear_projection"):
        return SD2
    return SD1
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


def check_folder(folder: Path, allow_pickle: bool) -> tuple[ModelFamily, dict[str, WeightFile]]:
    """The folder's family; every component's config and weights exist and every safetensors
    file is complete."""
    if not folder.is_dir():
        raise MissingComponentError(f"{folder} is not a folder.", path=folder)
    if (folder / "transformer").is_dir() and not (folder / "unet").is_dir():
        raise WrongCheckpointError(
            f"{folder.name} is a diffusion transformer model (SD 3, Flux, ...): flow-matching "
            "models are not supported (docs/models.md).", path=folder)
    if not (folder / "unet").is_dir() and not (folder / "model_index.json").is_file():
        singles = sorted(p.name for p in folder.glob("*.safetensors"))
        hint = (f" It contains {', '.join(singles[:3])}: choose that file instead."
                if singles else "")
        raise MissingComponentError(
            f"{folder} is not a diffusers model folder (it has no unet/, vae/, text_encoder/ "
            f"subfolders).{hint}", detail=str(folder), path=folder)
    family = folder_family(folder)
    found: dict[str, WeightFile] = {}
    for component in components_of(family):
        read_json(folder / component / COMPONENTS[component][1], f"{component} config")
        weights = find_weights(folder, component, allow_pickle)
        if not weights.pickle:
            safetensors_header(weights.path)
        found[component] = weights
    return family, found


def identity_files(folder: Path, weights: dict[str, WeightFile]) -> list[Path]:
    """The files whose content decides the model's behaviour: weights and configs."""
    files = [w.path for w in weights.values()]
    files += [folder / c / COMPONENTS[c][1] for c in weights]
    sched = folder / "scheduler" / "scheduler_config.json"
    if sched.is_file():
        files.append(sched)
    return files


def load_folder_components(folder: Path, dtype: torch.dtype, allow_pickle: bool,
                           prediction_type: str | None = None
                           ) -> tuple[ModelParts, list[Path]]:
    """The parts of the model in a folder and the files that decide its behaviour.
    `prediction_type` overrides the scheduler config's."""
    family, weights = check_folder(folder, allow_pickle)

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
            return align_weights(module)
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
    texts, tokenizers = [], []
    for spec in family.encoders:
        cls = text_encoder_class(spec.with_projection)
        texts.append(load(spec.folder, lambda wf, cls=cls, spec=spec: cls.from_pretrained(
            str(folder), subfolder=spec.folder, variant=wf.variant,
            use_safetensors=not wf.pickle, **common)))
        text_cfg = read_json(folder / spec.folder / "config.json", f"{spec.folder} config")
        tokenizers.append(tokenizer_for(folder / spec.tokenizer, text_cfg,
                                        family.config_dir() / spec.tokenizer))
    scheduler = _scheduler_config(folder, family, prediction_type)
    index = folder / "model_index.json"
    pipeline = read_json(index, "pipeline index") if index.is_file() else \
        bundled_pipeline_config(family)
    parts = ModelParts(family=family, unet=unet, vae=vae, text_encoders=tuple(texts),
                       tokenizers=tuple(tokenizers), scheduler_config=scheduler,
                       pipeline_config=pipeline)
    return parts, identity_files(folder, weights)


def _scheduler_config(folder: Path, family: ModelFamily, prediction_type: str | None) -> dict:
    """The folder's scheduler config, else the family's training schedule (every checkpoint of
    a family shares it); `prediction_type` replaces what it says the UNet predicts."""
    path = folder / "scheduler" / "scheduler_config.json"
    if path.is_file():
        scheduler = read_json(path, "scheduler config")
    elif family is SD2 and prediction_type is None:
        raise PredictionTypeNeededError(
            f"{folder.name} is a Stable Diffusion 2.x model without a scheduler config, so "
            "whether its UNet predicts the noise (ε, 512 px) or v (768 px) is unknown. Say "
            "which: --prediction-type epsilon or v_prediction (in the editor: Model > Model "
            "setup…, Prediction).", path=folder)
    else:
        scheduler = read_json(family.config_dir() / "scheduler" / "scheduler_config.json",
                              "scheduler config")
    if prediction_type is not None:
        scheduler = {**scheduler, "prediction_type": prediction_type}
    return scheduler
