"""Where the model code keeps its caches (content hashes, LoRA weights).

Defaults follow the platform (platformdirs' user cache dir); SDEDIT_CACHE_DIR overrides the root
so tests and portable installs can keep everything in one folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "sdedit-desktop"


def cache_root() -> Path:
    override = os.environ.get("SDEDIT_CACHE_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_lora_dir() -> Path:
    return cache_root() / "lora"


def hash_cache_file() -> Path:
    return cache_root() / "file-hashes.json"


def file_choices_file() -> Path:
    """What the user said about single checkpoint files (an SD 2.x file's prediction type)."""
    return cache_root() / "file-choices.json"
