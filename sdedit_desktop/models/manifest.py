"""The manifest of known checkpoints (`models/manifest.json`) and `verify`, which checks a
diffusers folder against it: every file present, every safetensors file complete, every tensor
the architecture needs there with the right shape."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from sdedit_desktop.models.errors import ModelError
from sdedit_desktop.models.weights import safetensors_header
from sdedit_desktop.resources import model_configs_dir


@dataclass(frozen=True)
class KnownModel:
    key: str
    name: str
    hub_id: str
    revision: str
    licence: str
    config_dir: Path
    common_files: tuple[str, ...]
    default_variant: str
    variants: dict[str, dict[str, int | None]]  # variant -> weight file -> size (None: unknown)
    descriptions: dict[str, str] = field(default_factory=dict)
    family: str = "sd1"  # core/families.py


@functools.lru_cache(maxsize=1)
def load_manifest(path: Path | None = None) -> dict[str, KnownModel]:
    path = path or model_configs_dir() / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    models = {}
    for key, entry in data["models"].items():
        models[key] = KnownModel(
            key=key, name=entry["name"], hub_id=entry["hub_id"],
            revision=entry.get("revision", "main"),
            licence=entry.get("licence", ""), config_dir=path.parent / entry["config_dir"],
            common_files=tuple(entry["common_files"]), default_variant=entry["default_variant"],
            variants={v: dict(e["weights"]) for v, e in entry["variants"].items()},
            descriptions={v: e.get("description", "") for v, e in entry["variants"].items()},
            family=entry.get("family", "sd1"))
    return models


def default_model() -> KnownModel:
    return load_manifest()["sd15"]


def known_model_for_family(family: str) -> KnownModel:
    """The manifest's model of that family (its configs check a folder of the family)."""
    return next((m for m in load_manifest().values() if m.family == family), default_model())


def known_model_for_hub_id(hub_id: str) -> KnownModel | None:
    for model in load_manifest().values():
        if model.hub_id.lower() == hub_id.lower():
            return model
    return None


def required_files(model: KnownModel, variant: str | None = None) -> list[str]:
    variant = variant or model.default_variant
    if variant not in model.variants:
        raise ModelError(f"Unknown variant {variant!r} for {model.name}: use one of "
                         f"{', '.join(model.variants)}.")
    return sorted(set(model.common_files) | set(model.variants[variant]))


@dataclass
class FileCheck:
    file: str
    ok: bool
    message: str
    size: int | None = None


@dataclass
class VerifyReport:
    folder: Path
    variant: str | None
    checks: list[FileCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def detect_variant(folder: Path, model: KnownModel) -> str | None:
    """The variant whose weight files are (most) present in the folder."""
    best, best_count = None, 0
    for variant, weights in model.variants.items():
        count = sum((folder / f).is_file() for f in weights)
        if count > best_count:
            best, best_count = variant, count
    return best


def _expected_shapes(component: str, config_dir: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes the architecture needs, built on the meta device (no memory)."""
    from sdedit_desktop.models.components import (
        empty_text_encoder,
        empty_unet,
        empty_vae,
        read_json,
    )

    config = read_json(config_dir / component / "config.json", f"{component} config")
    if component.startswith("text_encoder"):
        # SDXL's second encoder is the one with a projection
        module = empty_text_encoder(config, with_projection=component == "text_encoder_2")
    else:
        module = {"unet": empty_unet, "vae": empty_vae}[component](config)
    return {k: tuple(v.shape) for k, v in module.state_dict().items()
            if not k.endswith("position_ids")}


def _check_tensors(header: dict, expected: dict[str, tuple[int, ...]]) -> str | None:
    # Old diffusers VAE files name the attention projections query/key/value/proj_attn.
    aliases = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    missing, wrong = [], []
    for name, shape in expected.items():
        # Hub CLIP files keep the `text_model.` level that newer transformers flatten away.
        entry = header.get(name) or header.get("text_model." + name)
        if entry is None:
            for new, old in aliases.items():
                if f".{new}." in name:
                    entry = header.get(name.replace(f".{new}.", f".{old}."))
        if entry is None:
            missing.append(name)
        elif tuple(entry["shape"]) != shape and tuple(entry["shape"])[:2] != shape:
            wrong.append(name)
    if missing or wrong:
        return (f"{len(missing)} tensors missing, {len(wrong)} with the wrong shape "
                f"(e.g. {(wrong or missing)[0]}): not this architecture")
    return None


def verify_folder(folder: Path, model: KnownModel | None = None,
                  variant: str | None = None) -> VerifyReport:
    """Check a diffusers folder (e.g. a hub snapshot) file by file without loading it."""
    model = model or default_model()
    folder = Path(folder)
    variant = variant or detect_variant(folder, model) or model.default_variant
    checks: list[FileCheck] = []
    for name in required_files(model, variant):
        path = folder / name
        top = name.split("/")[0]
        if not path.is_file() and top in ("tokenizer", "tokenizer_2"):
            # The loader needs no tokenizer files: tokenizer.json replaces vocab/merges, and
            # without either the bundled CLIP tokenizer (every family's) stands in.
            has_json = (folder / top / "tokenizer.json").is_file()
            spare = ("tokenizer.json present" if has_json
                     else "the bundled CLIP tokenizer is used instead")
            checks.append(FileCheck(name, True, f"not present ({spare})"))
            continue
        if not path.is_file():
            checks.append(FileCheck(name, False, "missing"))
            continue
        size = path.stat().st_size
        if not name.endswith(".safetensors"):
            checks.append(FileCheck(name, True, "present", size))
            continue
        try:
            header = safetensors_header(path)
        except ModelError as exc:
            checks.append(FileCheck(name, False, exc.message, size))
            continue
        problem = _check_tensors(header, _expected_shapes(name.split("/")[0], model.config_dir))
        if problem:
            checks.append(FileCheck(name, False, problem, size))
            continue
        known = model.variants[variant].get(name)
        note = "complete, all tensors present"
        if known is not None and known != size:
            note += f" (size {size:,} differs from the manifest's {known:,}: another revision?)"
        checks.append(FileCheck(name, True, note, size))
    return VerifyReport(folder, variant, checks)
