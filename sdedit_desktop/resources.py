"""Where bundled resources (samples, icons, model configs) live: the source tree, an installed
checkout, or a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def _root() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:  # PyInstaller puts data next to the bootloader
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return _root() / "resources"


def model_configs_dir() -> Path:
    """The repository's `models/` folder: manifests and configs of known checkpoints."""
    return _root() / "models"


def sample_images() -> list[Path]:
    return sorted((resources_dir() / "samples").glob("*.png"))
