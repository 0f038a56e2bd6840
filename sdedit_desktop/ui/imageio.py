"""Reading images the user opens (file, bytes) and writing results, with clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from sdedit_desktop import imaging
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.filesave import write_file
from sdedit_desktop.imaging import ImageFileError

MAX_PIXELS = 64_000_000  # larger images are refused before decoding (decompression bombs)
OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"


class ImageLoadError(ValueError):
    """The file is not an image we can open; the message names the file and the reason."""


def _checked(load: Callable[[int], np.ndarray], name: str) -> np.ndarray:
    """The app's one image loader (`imaging`: CLI and GUI read files alike), plus the editor's
    minimum size."""
    try:
        array = load(MAX_PIXELS)
    except ImageFileError as exc:
        raise ImageLoadError(str(exc)) from exc
    if array.shape[0] < 8 or array.shape[1] < 8:
        raise ImageLoadError(f"{name} is only {array.shape[1]}x{array.shape[0]} pixels; the "
                             "editor needs at least 8x8.")
    return np.ascontiguousarray(array)


def load_image_file(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB from an image file (alpha composited on white, EXIF rotation applied,
    16-bit scaled)."""
    path = Path(path)
    return _checked(lambda limit: imaging.load_image(path, limit), path.name)


def load_image_bytes(data: bytes, name: str = "the pasted image") -> np.ndarray:
    return _checked(lambda limit: imaging.load_image_bytes(data, name, limit), name)


def save_png(path: str | Path, image: np.ndarray, request: EditRequest | None = None,
             extra: dict | None = None) -> Path:
    """Lossless PNG; the edit's complete parameters go into a text chunk so it is reproducible."""
    path = Path(path)
    info = PngInfo()
    if request is not None:
        info.add_text("sdedit:request", json.dumps(request.params(), sort_keys=True))
    if extra:
        info.add_text("sdedit:info", json.dumps(extra, sort_keys=True))
    info.add_text("Software", "sdedit-desktop")
    img = Image.fromarray(image)
    return write_file(path, lambda handle: img.save(handle, format="PNG", pnginfo=info))
