"""Reading and writing image files: any mode in, RGB uint8 out; clear errors for bad files.

Used by the CLI and the GUI; edits/ itself never touches files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

MAX_PIXELS = 64_000_000  # refuse decompression bombs before decoding


class ImageFileError(ValueError):
    """A file that cannot be used as an image; the message names the file and the reason."""


def _open(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    if not path.exists():
        raise ImageFileError(f"{path}: no such file")
    if path.is_dir():
        raise ImageFileError(f"{path}: is a folder, not an image file")
    try:
        img = Image.open(path)
    except UnidentifiedImageError:
        raise ImageFileError(f"{path}: not an image file (or an unsupported format)") from None
    except OSError as exc:
        raise ImageFileError(f"{path}: cannot read: {exc}") from None
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageFileError(f"{path}: {width}x{height} pixels is too large "
                             f"(at most {MAX_PIXELS // 1_000_000} megapixels)")
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{path}: the file is damaged or truncated ({exc})") from None
    return img


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any PIL image -> HxWx3 uint8 RGB: EXIF orientation applied, 16-bit scaled to 8 bits,
    transparency composited over white, palettes and greyscale expanded."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0) + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def load_image(path: str | os.PathLike) -> np.ndarray:
    return to_rgb_array(_open(path))


def load_mask(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """A mask file (white = may change) -> HxW uint8 of 0/255 at (width, height) `size`.
    A mask of another size is refused rather than silently stretched."""
    img = _open(path)
    img = ImageOps.exif_transpose(img)
    if img.size != size:
        raise ImageFileError(f"{path}: the mask is {img.size[0]}x{img.size[1]} but the image is "
                             f"{size[0]}x{size[1]}; they must be the same size")
    if img.mode in ("RGBA", "LA"):
        grey = np.asarray(img.getchannel("A"), dtype=np.uint8) if not _opaque(img) else \
            np.asarray(img.convert("L"), dtype=np.uint8)
    else:
        grey = np.asarray(to_rgb_array(img).mean(axis=2), dtype=np.float64)
    return np.where(np.asarray(grey) >= 128, 255, 0).astype(np.uint8)


def _opaque(img: Image.Image) -> bool:
    alpha = np.asarray(img.getchannel("A"))
    return bool(alpha.min() == 255)


# EXIF ImageDescription: where JPEG and WebP files keep the edit's metadata (a JSON object of
# the same keys a PNG gets as text chunks), readable with any EXIF tool.
EXIF_DESCRIPTION = 0x010E
EXIF_SOFTWARE = 0x0131


def save_image(path: str | os.PathLike, image: np.ndarray,
               text: dict[str, str] | None = None, quality: int = 95) -> Path:
    """Save RGB/greyscale uint8 in the format the extension names. `text` is kept as tEXt/iTXt
    chunks in a PNG and as EXIF (ImageDescription = the JSON of `text`) in JPEG and WebP;
    `quality` (1-100) applies to JPEG and WebP. Written atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"):
        raise ImageFileError(f"{path}: unsupported output format {suffix or '(none)'}; "
                             "use .png, .jpg, .webp, .bmp or .tif")
    if not 1 <= int(quality) <= 100:
        raise ImageFileError(f"{path}: quality must be between 1 and 100, got {quality}")
    if not path.parent.exists():
        raise ImageFileError(f"{path}: the folder {path.parent} does not exist")
    img = Image.fromarray(image)
    tmp = path.with_name(f".{path.name}.tmp")
    kwargs: dict = {}
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        for key, value in (text or {}).items():
            info.add_itxt(key, value)
        kwargs["pnginfo"] = info
    elif suffix in (".jpg", ".jpeg", ".webp"):
        kwargs["quality"] = int(quality)
        if text:
            exif = Image.Exif()
            exif[EXIF_DESCRIPTION] = json.dumps(text, sort_keys=True)  # ASCII: \u escapes
            if "Software" in text:
                exif[EXIF_SOFTWARE] = text["Software"]
            kwargs["exif"] = exif.tobytes()
    try:
        img.save(tmp, format=Image.registered_extensions()[suffix], **kwargs)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ImageFileError(f"{path}: cannot write: {exc}") from None
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The text `save_image` stored: PNG text chunks, or the JSON in JPEG/WebP EXIF."""
    with Image.open(path) as img:
        if img.format == "PNG":
            return {k: str(v) for k, v in getattr(img, "text", {}).items()}
        raw = img.getexif().get(EXIF_DESCRIPTION)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return {"Description": str(raw)}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
