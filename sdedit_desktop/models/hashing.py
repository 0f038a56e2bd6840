"""Content hashes of weight files, cached by (path, size, mtime) so a 4 GB checkpoint is hashed
once, not on every load."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from sdedit_desktop.models.file_memo import FileMemo
from sdedit_desktop.models.paths import hash_cache_file

_CHUNK = 8 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes. Hugging Face cache blobs are named by their SHA-256 already;
    other files are hashed once and remembered by (resolved path, size, mtime)."""
    real = Path(path).resolve()
    if real.parent.name == "blobs" and _HEX64.match(real.name):
        return real.name  # HF stores LFS blobs under their sha256
    memo = FileMemo(hash_cache_file(), "sha256")
    known = memo.get(real)
    if isinstance(known, str) and _HEX64.match(known):
        return known
    digest = hashlib.sha256()
    with open(real, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    memo.put(real, value)
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
