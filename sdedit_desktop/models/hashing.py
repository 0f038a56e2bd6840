"""Content hashes of weight files, cached by (path, size, mtime) so a 4 GB checkpoint is hashed
once, not on every load."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from sdedit_desktop.fileopen import read_regular_bytes
from sdedit_desktop.filesave import write_text
from sdedit_desktop.models.paths import hash_cache_file

_CHUNK = 8 * 1024 * 1024
_MAX_CACHE_BYTES = 64_000_000  # ~200 bytes per hashed file
_LOCK = threading.Lock()
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _load_cache(path: Path) -> dict:
    try:
        data = json.loads(read_regular_bytes(path, _MAX_CACHE_BYTES))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store_cache(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(data, indent=0, sort_keys=True), durable=False)
    except OSError:
        pass  # a cache that cannot be written only costs time


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes. Hugging Face cache blobs are named by their SHA-256 already;
    other files are hashed once and remembered by (resolved path, size, mtime)."""
    real = Path(path).resolve()
    if real.parent.name == "blobs" and _HEX64.match(real.name):
        return real.name  # HF stores LFS blobs under their sha256
    stat = real.stat()
    key = str(real)
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    cache_path = hash_cache_file()
    with _LOCK:
        entry = _load_cache(cache_path).get(key)
    if isinstance(entry, dict) and all(entry.get(k) == v for k, v in stamp.items()):
        return str(entry["sha256"])
    digest = hashlib.sha256()
    with open(real, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _LOCK:
        data = _load_cache(cache_path)
        data[key] = {**stamp, "sha256": value}
        _store_cache(cache_path, data)
    return value


def files_sha256(root: Path, files: Iterable[Path]) -> str:
    """One hash over several files: their paths relative to `root` and their content hashes."""
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(file.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(file_sha256(file).encode())
        digest.update(b"\n")
    return digest.hexdigest()
