"""Reading and writing image files: any mode in, RGB uint8 out; clear errors for bad files.

Used by the CLI and the GUI; edits/ itself never touches files.
"""

from __future__ import annotations

import io
import json
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from sdedit_desktop.fileopen import (
    FileReadError,
    FileTooLargeError,
    NotRegularFileError,
    format_bytes,
    read_regular_bytes,
)
from sdedit_desktop.filesave import check_output_path, write_file

MAX_PIXELS = 64_000_000  # refuse decompression bombs before decoding
# The largest image file read: 64 Mpx stored uncompressed at 16 bits x 4 channels is 512 MB.
MAX_FILE_BYTES = 600_000_000
# Output formats by extension (what `save_image` writes).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


class ImageFileError(ValueError):
    """A file that cannot be used as an image; the message names the file and the reason."""


def _open(path: str | os.PathLike, max_pixels: int | None = None) -> Image.Image:
    path = Path(path)
    if not path.exists():
        raise ImageFileError(f"{path}: no such file (it does not exist)")
    try:
        data = read_regular_bytes(path, MAX_FILE_BYTES)
    except NotRegularFileError as exc:
        raise ImageFileError(f"{path}: is {exc.what}, not an image file") from None
    except FileTooLargeError:
        raise ImageFileError(f"{path}: the file is larger than {format_bytes(MAX_FILE_BYTES)}; "
                             "image files above that are refused") from None
    except FileReadError as exc:
        raise ImageFileError(f"{path}: cannot read: {exc.reason}") from None
    except OSError as exc:
        raise ImageFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return _decode(data, str(path), max_pixels)


def _decode(data: bytes, name: str, max_pixels: int | None = None) -> Image.Image:
    """Image bytes -> a fully decoded PIL image; ImageFileError (naming `name`) for anything
    that is not a complete image of at most `max_pixels` (default MAX_PIXELS) pixels."""
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    try:
        # PIL warns above 89 Mpx and raises above 179 Mpx while opening; our own, lower
        # limit below refuses those with one clear message and nothing printed.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
    except Image.DecompressionBombError:
        width = height = None
    except UnidentifiedImageError:
        raise ImageFileError(f"{name}: not an image file (or an unsupported format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{name}: the file is damaged or truncated ({exc})") from None
    if width is None or width * height > limit:
        size = "" if width is None else f"{width}x{height} pixels "
        raise ImageFileError(f"{name}: {size}is too large: images above "
                             f"{limit // 1_000_000} megapixels are refused")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
        if img.format == "PNG":
            _check_png_complete(data)
    except (OSError, SyntaxError, ValueError, zlib.error) as exc:
        raise ImageFileError(f"{name}: the file is damaged or truncated ({exc})") from None
    return img


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (x start, y start, x step, y step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))


def _check_png_complete(data: bytes) -> None:
    """Raise ValueError when the PNG's image data ends before its last row. PIL fills the
    missing rows with black without a word when the compressed stream itself is complete."""
    pos, idat = 8, []
    header = None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body[:13])
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError("no PNG header")
    width, height, depth, colour, _, _, interlace = header
    bits = depth * _PNG_CHANNELS.get(colour, 4)
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    expected = 0
    for x0, y0, dx, dy in passes:
        cols, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if cols > 0 and rows > 0:
            expected += rows * (1 + -(-cols * bits // 8))
    inflater, got = zlib.decompressobj(), 0
    for block in idat:
        while block and got < expected:
            got += len(inflater.decompress(block, expected - got))
            block = inflater.unconsumed_tail
    if got < expected:
        raise ValueError(f"the image data ends after {got} of {expected} bytes")


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


def load_image(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """HxWx3 uint8 RGB from an image file: the one loader of the CLI and the GUI."""
    return to_rgb_array(_open(path, max_pixels))


def load_image_bytes(data: bytes, name: str, max_pixels: int | None = None) -> np.ndarray:
    """As `load_image`, for image bytes (the clipboard, a drop); `name` goes in messages."""
    return to_rgb_array(_decode(data, name, max_pixels))


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


def check_image_output(path: str | os.PathLike) -> Path:
    """ImageFileError unless `save_image` could write `path` (extension, folder, name): the
    check made before an edit starts."""
    try:
        return check_output_path(path, suffixes=IMAGE_SUFFIXES, what="an image file name")
    except OSError as exc:
        raise ImageFileError(str(exc)) from None


def save_image(path: str | os.PathLike, image: np.ndarray,
               text: dict[str, str] | None = None, quality: int = 95) -> Path:
    """Save RGB/greyscale uint8 in the format the extension names. `text` is kept as tEXt/iTXt
    chunks in a PNG and as EXIF (ImageDescription = the JSON of `text`) in JPEG and WebP;
    `quality` (1-100) applies to JPEG and WebP. Written atomically (filesave)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageFileError(f"{path}: unsupported output format {suffix or '(none)'}; "
                             "use .png, .jpg, .webp, .bmp or .tif")
    if not 1 <= int(quality) <= 100:
        raise ImageFileError(f"{path}: quality must be between 1 and 100, got {quality}")
    if not path.parent.exists():
        raise ImageFileError(f"{path}: the folder {path.parent} does not exist")
    img = Image.fromarray(image)
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
    image_format = Image.registered_extensions()[suffix]
    try:
        write_file(path, lambda handle: img.save(handle, format=image_format, **kwargs))
    except OSError as exc:
        raise ImageFileError(str(exc)) from None
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
