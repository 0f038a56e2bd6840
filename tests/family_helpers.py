"""Tiny random models of every family saved for the family tests: diffusers folders (that
diffusers' own pipelines load) and single files in the original checkpoint layout."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import save_file

from sdedit_desktop.models.tiny import save_tiny_model, tiny_ldm_state_dict

FAMILIES = ("sd1", "sd2", "sdxl")


def save_tiny_families(root: Path) -> dict[str, tuple[Path, Path]]:
    """family -> (diffusers folder, original-layout single file) of its tiny model."""
    out = {}
    for family in FAMILIES:
        single = root / f"{family}.safetensors"
        save_file(tiny_ldm_state_dict(family=family), str(single))
        out[family] = (save_tiny_model(root / family, family=family), single)
    return out
