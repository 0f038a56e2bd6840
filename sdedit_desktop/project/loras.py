"""Moving LoRA weights between the local LoRA cache and a project, so a project that used a
per-image LoRA opens with the very same weights on another machine.

The cache is used through the few methods of `models.lora.LoraCache` listed in `LoraStore`
(this module does not import torch or peft).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from sdedit_desktop.fileopen import read_regular_bytes
from sdedit_desktop.project import jsonio
from sdedit_desktop.project.errors import ProjectError
from sdedit_desktop.project.limits import DEFAULT_LIMITS
from sdedit_desktop.project.model import EmbeddedLora, Project
from sdedit_desktop.project.safetensors_check import check_safetensors
from sdedit_desktop.project.storage import write_bytes_atomic

# Cache keys are SHA-256 hex digests; anything else from a file never becomes a path.
_CACHE_KEY = re.compile(r"^[0-9a-f]{64}$")


class LoraStore(Protocol):
    def weights_path(self, key: str) -> Path: ...

    def metadata_path(self, key: str) -> Path: ...

    def read_metadata(self, key: str) -> dict | None: ...


def used_lora_ids(project: Project) -> list[str]:
    """LoRA ids the history used, in first-use order."""
    seen: dict[str, None] = {}
    for entry in project.history:
        if entry.lora_id:
            seen.setdefault(entry.lora_id, None)
    return list(seen)


def embed_cached_loras(project: Project, cache: LoraStore) -> list[str]:
    """Embeds every LoRA the history used that is in the cache and not yet embedded. Returns the
    ids embedded now; ids missing from the cache stay identity-only."""
    added = []
    for lora_id in used_lora_ids(project):
        if lora_id in project.loras or not _CACHE_KEY.match(lora_id):
            continue
        metadata = cache.read_metadata(lora_id)
        try:
            weights = read_regular_bytes(cache.weights_path(lora_id),
                                         DEFAULT_LIMITS.max_entry_bytes)
        except OSError:
            continue
        if metadata is None:
            continue
        check_safetensors(weights, f"cached LoRA {lora_id[:12]}")
        project.embed_lora(lora_id, EmbeddedLora(weights=weights, metadata=metadata))
        added.append(lora_id)
    return added


def install_embedded_loras(project: Project, cache: LoraStore) -> list[str]:
    """Writes the project's embedded LoRAs into the cache where they are missing, so edits that
    reuse them ("auto") find them without training. Returns the ids installed."""
    installed = []
    for lora_id, lora in project.loras.items():
        if not _CACHE_KEY.match(lora_id) or cache.weights_path(lora_id).is_file():
            continue
        weights_path, metadata_path = cache.weights_path(lora_id), cache.metadata_path(lora_id)
        try:
            weights_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"cannot create the LoRA cache folder: {exc}") from exc
        # Weights first: the cache treats an entry as present only with both files.
        write_bytes_atomic(weights_path, lora.weights)
        write_bytes_atomic(metadata_path, jsonio.dumps(lora.metadata))
        installed.append(lora_id)
    return installed
