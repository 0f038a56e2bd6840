"""Test photos shared by the test modules (the `make_image` fixture in conftest.py hands the same
function to tests that take it as a fixture)."""

from __future__ import annotations

import numpy as np


def textured_image(width: int = 96, height: int = 64, seed: int = 0) -> np.ndarray:
    """An HxWx3 uint8 test photo: colour gradients with sensor-like noise (seeded), so every
    pixel differs from its neighbours and a changed pixel shows."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 2, y * 3, (x + y) % 256], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
