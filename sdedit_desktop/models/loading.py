"""`load_model(spec)`: one entry point for every model source and family.

Sources: "tiny" (or "tiny:SEED"), a hub id (default `stable-diffusion-v1-5/stable-diffusion-v1-5`)
read from the local HF cache (downloaded first only when `spec.allow_download`), a local
diffusers folder, or a single original-layout checkpoint (.safetensors; .ckpt/.bin/.pt/.pth only
with `spec.allow_pickle`). The family (SD 1.x, SD 2.x, SDXL) is told from the folder's configs
or the file's key layout (docs/models.md). Every failure is a `ModelError` naming what is wrong
and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from sdedit_desktop.models.device import dtype_name, resolve_device, resolve_dtype
from sdedit_desktop.models.errors import (
    ModelError,
    ModelNotFoundError,
    WrongCheckpointError,
    is_out_of_memory,
    out_of_memory_error,
)
from sdedit_desktop.models.hashing import file_sha256, files_sha256
from sdedit_desktop.models.hub import DownloadProgress, download_model, find_snapshot, is_hub_id
from sdedit_desktop.models.hub_progress import describe_progress
from sdedit_desktop.models.interface import ModelIdentity, ModelSpec
from sdedit_desktop.models.prediction_choice import (
    remember_prediction_type,
    remembered_prediction_type,
)
from sdedit_desktop.models.sd_model import StableDiffusionModel
from sdedit_desktop.models.weights import (
    PICKLE_SUFFIXES,
    read_pickle_checkpoint,
    read_safetensors,
    refuse_pickle,
    sniff_format,
)

DEFAULT_HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"

__all__ = ["DEFAULT_HUB_ID", "DownloadProgress", "LoadProgress", "download_model", "load_model"]


@dataclass(frozen=True)
class LoadProgress:
    """A loading stage for status bars: `stage` is user-facing text; for downloads `done` and
    `total` are bytes, otherwise stage counters."""

    stage: str
    done: int
    total: int


ProgressCallback = Callable[[LoadProgress], None]


def load_model(spec: ModelSpec, progress: ProgressCallback | None = None,
               config_dir: Path | None = None) -> StableDiffusionModel:
    """Load the model `spec` asks for on its device in its precision.

    `config_dir` (a diffusers folder whose configs are used) only matters for single-file
    checkpoints; by default the family's bundled configs (models/sd15, sd21, sdxl) are used,
    so loads are offline.
    """
    report = progress or (lambda _p: None)
    device = resolve_device(spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    source = spec.source.strip()
    if not source:
        raise ModelNotFoundError("No model chosen: pick a download (SD 1.5, SD 2.1, SDXL), a "
                                 "local folder, a .safetensors file, or the tiny demo model.")
    if source.lower() == "tiny" or source.lower().startswith("tiny:"):
        return _load_tiny(source, device, dtype)
    path = Path(source).expanduser()
    try:
        if path.exists():
            return _load_path(path, spec, device, dtype, report, config_dir)
        if is_hub_id(source) and not source.startswith((".", "/", "~")):
            return _load_hub(source, spec, device, dtype, report)
    except ModelError:
        raise
    except RuntimeError as exc:
        if is_out_of_memory(exc):
            raise out_of_memory_error(exc, f"loading {source}", device) from exc
        raise
    raise ModelNotFoundError(f"No such model file or folder: {path}", detail=source, path=path)


def _load_tiny(source: str, device: torch.device, dtype: torch.dtype) -> StableDiffusionModel:
    from sdedit_desktop.models.tiny import cached_tiny_model

    _, _, seed_text = source.partition(":")
    try:
        seed = int(seed_text) if seed_text else 0
    except ValueError as exc:
        raise ModelNotFoundError(f"Bad tiny model seed in {source[:40]!r}: use tiny or "
                                 "tiny:N.") from exc
    if not 0 <= seed < 2 ** 32:  # torch seeds are 64-bit; the model uses seed .. seed + 2
        raise ModelNotFoundError(f"Bad tiny model seed in {source[:40]!r}: N must be between "
                                 f"0 and {2 ** 32 - 1}.")
    return cached_tiny_model(seed, str(device), dtype)


def _load_path(path: Path, spec: ModelSpec, device: torch.device, dtype: torch.dtype,
               report: ProgressCallback, config_dir: Path | None) -> StableDiffusionModel:
    if path.is_dir():
        return _load_folder(path, spec, device, dtype, report,
                            lambda files: ModelIdentity("folder", str(path.resolve()), None,
                                                        files_sha256(path, files)))
    return _load_single_file(path, spec, device, dtype, report, config_dir)


def _load_folder(folder: Path, spec: ModelSpec, device: torch.device, dtype: torch.dtype,
                 report: ProgressCallback,
                 identity: Callable[[list[Path]], ModelIdentity]) -> StableDiffusionModel:
    from sdedit_desktop.models.folder import load_folder_components

    report(LoadProgress(f"Loading {folder.name} ({dtype_name(dtype)}, {device})", 0, 2))
    parts, files = load_folder_components(folder, dtype, spec.allow_pickle,
                                          spec.prediction_type)
    report(LoadProgress(f"Moving the {parts.family.info.label} model to {device}", 1, 2))
    model = StableDiffusionModel.from_parts(parts, device, dtype, lambda: identity(files))
    report(LoadProgress("Model ready", 2, 2))
    return model


def _load_single_file(path: Path, spec: ModelSpec, device: torch.device, dtype: torch.dtype,
                      report: ProgressCallback, config_dir: Path | None) -> StableDiffusionModel:
    from sdedit_desktop.models.single_file import build_from_ldm

    suffix = path.suffix.lower()
    fmt = sniff_format(path)
    if suffix in PICKLE_SUFFIXES or fmt == "pickle":
        if not spec.allow_pickle:
            raise refuse_pickle(path)
        report(LoadProgress(f"Reading {path.name} (pickle, weights only)", 0, 3))
        state = read_pickle_checkpoint(path)
    elif suffix == ".safetensors" or fmt == "safetensors":
        report(LoadProgress(f"Reading {path.name}", 0, 3))
        state = read_safetensors(path)
    else:
        raise WrongCheckpointError(
            f"{path.name} is not a model file this app reads: use a diffusers folder, a "
            ".safetensors checkpoint or (with --allow-pickle) a .ckpt file.", path=path)
    report(LoadProgress("Converting the checkpoint", 1, 3))
    # What the UNet predicts: the user's word now, else what they said for this file before.
    prediction = spec.prediction_type or remembered_prediction_type(path)
    parts = build_from_ldm(state, path, config_dir, prediction)
    del state
    report(LoadProgress(f"Moving the {parts.family.info.label} model to {device}", 2, 3))
    model = StableDiffusionModel.from_parts(
        parts, device, dtype,
        lambda: ModelIdentity("single-file", str(path.resolve()), None, file_sha256(path)))
    if spec.prediction_type is not None:
        remember_prediction_type(path, spec.prediction_type)
    report(LoadProgress("Model ready", 3, 3))
    return model


def _load_hub(repo_id: str, spec: ModelSpec, device: torch.device, dtype: torch.dtype,
              report: ProgressCallback) -> StableDiffusionModel:
    try:
        snapshot = find_snapshot(repo_id)
        folder_ok = True
    except ModelNotFoundError as exc:
        if not spec.allow_download:
            exc.message += f" (There is no local file or folder named {repo_id} either.)"
            raise
        folder_ok = False
    if not folder_ok:
        snapshot = download_model(repo_id, progress=_download_stages(report))
    try:
        return _load_folder(snapshot.path, spec, device, dtype, report,
                            lambda files: ModelIdentity("hub", repo_id, snapshot.revision,
                                                        files_sha256(snapshot.path, files)))
    except ModelError as exc:
        if not spec.allow_download or not _is_incomplete(exc):
            if _is_incomplete(exc):
                exc.message += (f" The cached copy of {repo_id} is incomplete: run `sdedit models "
                                f"download {repo_id}` to finish it.")
            raise
    # An incomplete snapshot and downloads allowed: complete it (resumes), then load.
    snapshot = download_model(repo_id, progress=_download_stages(report))
    return _load_folder(snapshot.path, spec, device, dtype, report,
                        lambda files: ModelIdentity("hub", repo_id, snapshot.revision,
                                                    files_sha256(snapshot.path, files)))


def _download_stages(report: ProgressCallback) -> Callable[[DownloadProgress], None]:
    """A download's progress as loading stages: the file, rate and time left as text; the
    bytes (or, while bytes kept from before are checked, those) as done and total."""
    def stage(p: DownloadProgress) -> None:
        text = f"{'Downloaded' if p.finished else 'Downloading'} " \
               f"{describe_progress(p, with_bytes=False)}"
        if p.check_total:
            report(LoadProgress(text, p.check_done, p.check_total))
        else:
            report(LoadProgress(text, p.done_bytes, p.total_bytes))

    return stage


def _is_incomplete(exc: ModelError) -> bool:
    from sdedit_desktop.models.errors import CorruptWeightsError, MissingComponentError

    return isinstance(exc, MissingComponentError | CorruptWeightsError)
