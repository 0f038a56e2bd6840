"""What made a run: the model (identity, family, weights hash or hub revision), its precision
and device, the versions of the packages that compute the edits and the metrics, and this
program's version. Written into run.json, every record, summary.json and the reports, so a run
folder alone says how its numbers were made."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import sdedit_desktop

PACKAGES = ("torch", "diffusers", "transformers", "accelerate", "peft", "safetensors",
            "huggingface_hub", "torchmetrics", "numpy", "pillow", "scipy")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def project_version() -> str:
    return sdedit_desktop.__version__


def _family(model: Any) -> str | None:
    """The model family's name when the model knows it (SD 1.x, SD 2.x, SDXL)."""
    family = getattr(model, "family", None)
    if family is None:
        return None
    if isinstance(family, str):
        return family
    return str(getattr(family, "name", None) or getattr(family, "label", None) or family)


def model_provenance(model: Any) -> dict[str, Any]:
    """{"identity": kind/source/revision/sha256, "family", "dtype", "device"}."""
    return {"identity": model.identity.to_dict(), "family": _family(model),
            "dtype": str(model.dtype).removeprefix("torch."), "device": str(model.device)}


def run_provenance(model: Any) -> dict[str, Any]:
    return {"model": model_provenance(model), "packages": package_versions(),
            "sdedit_desktop": project_version()}


def describe_model(provenance: dict[str, Any]) -> str:
    """One line for the reports: 'hub stable-diffusion-v1-5/... @1a2b3c (sha256 …), SD 1.x,
    float16 on cuda:0; sdedit-desktop 0.1.0, torch 2.13.0, diffusers 0.42.1'."""
    model = provenance.get("model") if isinstance(provenance, dict) else None
    if not isinstance(model, dict):
        return "unknown model"
    identity = model.get("identity") if isinstance(model.get("identity"), dict) else {}
    kind, source = identity.get("kind", "?"), identity.get("source", "?")
    parts = [str(source) if kind == source else f"{kind} {source}"]
    if identity.get("revision"):
        parts[0] += f" @{str(identity['revision'])[:12]}"
    if identity.get("sha256"):
        parts[0] += f" (sha256 {str(identity['sha256'])[:16]}…)"
    if model.get("family"):
        parts.append(str(model["family"]))
    parts.append(f"{model.get('dtype', '?')} on {model.get('device', '?')}")
    packages = provenance.get("packages") if isinstance(provenance.get("packages"), dict) else {}
    versions = [f"sdedit-desktop {provenance.get('sdedit_desktop', '?')}"] + [
        f"{name} {packages[name]}" for name in ("torch", "diffusers", "transformers",
                                                "torchmetrics") if packages.get(name)]
    return ", ".join(parts) + "; " + ", ".join(versions)
