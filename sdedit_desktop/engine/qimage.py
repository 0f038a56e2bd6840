"""numpy RGB -> QImage that owns its pixels (safe to hand to another thread)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """HxWx3 uint8 (or HxW gray) -> QImage.Format_RGB888 with its own copy of the data."""
    array = np.asarray(rgb)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"preview image must be HxWx3, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"preview image must be uint8, got {array.dtype}")
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    image = QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    # The QImage above only borrows numpy's buffer; copy() makes it own the pixels.
    return image.copy()
