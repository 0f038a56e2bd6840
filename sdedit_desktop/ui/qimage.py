"""numpy <-> QImage conversions (always copies, so no QImage outlives the buffer it points at).
RGB -> QImage is `engine.qimage.rgb_to_qimage`, which the engine's previews use too."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def gray_to_qimage(array: np.ndarray) -> QImage:
    """HxW uint8 -> QImage (Grayscale8, deep copy)."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    h, w = data.shape
    return QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """Any QImage -> HxWx3 uint8 RGB (alpha is composited on white, as a pasted PNG expects)."""
    if image.isNull():
        raise ValueError("the image is empty")
    if image.hasAlphaChannel():
        flat = QImage(image.size(), QImage.Format.Format_RGB888)
        flat.fill(0xFFFFFF)
        from PySide6.QtGui import QPainter

        painter = QPainter(flat)
        painter.drawImage(0, 0, image)
        painter.end()
        image = flat
    else:
        image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * h)
    return buffer.reshape(h, stride)[:, : 3 * w].reshape(h, w, 3).copy()
