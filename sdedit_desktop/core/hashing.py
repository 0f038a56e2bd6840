"""Content digests of image and mask arrays: how projects, results and the LoRA cache name an
image."""

from __future__ import annotations

import hashlib

import numpy as np


def image_sha256(array: np.ndarray | None) -> str | None:
    """SHA-256 of an array's shape, dtype and bytes; None for None."""
    if array is None:
        return None
    digest = hashlib.sha256()
    digest.update(str((array.shape, str(array.dtype))).encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
