"""Reading images the user opens (file, bytes) and writing results, with clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from sdedit_desktop.edits.requests import EditRequest

MAX_PIXELS = 64_000_000  # larger images are refused before decoding (decompression bombs)
OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"


class ImageLoadError(ValueError):
    """The file is not an image we can open; the message names the file and the reason."""


def _decode(source: io.BytesIO | Path, name: str) -> np.ndarray:
    try:
        with Image.open(source) as image:
            w, h = image.size
            if w * h > MAX_PIXELS:
                raise ImageLoadError(f"{name} is {w}x{h} pixels; images above "
                                     f"{MAX_PIXELS // 1_000_000} megapixels are refused.")
            image.load()
            image = ImageOps.exif_transpose(image)  # photos shot in portrait stay upright
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P"
                                                      and "transparency" in image.info):
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                image = flat
            array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except ImageLoadError:
        raise
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{name} does not exist.") from exc
    except IsADirectoryError as exc:
        raise ImageLoadError(f"{name} is a folder, not an image file.") from exc
    except PermissionError as exc:
        raise ImageLoadError(f"{name} cannot be read: permission denied.") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{name} is not an image file this app can read (PNG, JPEG, "
                             "WebP, BMP, TIFF).") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{name} is damaged or truncated and cannot be decoded: "
                             f"{exc}") from exc
    if array.shape[0] < 8 or array.shape[1] < 8:
        raise ImageLoadError(f"{name} is only {array.shape[1]}x{array.shape[0]} pixels; the "
                             "editor needs at least 8x8.")
    return np.ascontiguousarray(array)


def load_image_file(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB from an image file (alpha composited on white, EXIF rotation applied)."""
    path = Path(path)
    return _decode(path, path.name)


def load_image_bytes(data: bytes, name: str = "the pasted image") -> np.ndarray:
    return _decode(io.BytesIO(data), name)


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
    tmp = path.with_name(path.name + ".part")
    Image.fromarray(image).save(tmp, format="PNG", pnginfo=info)
    tmp.replace(path)
    return path
