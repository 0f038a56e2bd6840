"""Lossless PNG encoding of uint8 arrays, and defensive decoding.

Decoding reads the IHDR chunk itself before Pillow sees the data, so the dimensions, bit depth
and colour type are checked (and the pixel budget charged) before a single row is inflated: a
tiny PNG that claims 100 000 x 100 000 pixels is refused without allocating anything.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, PngImagePlugin

from sdedit_desktop.project.errors import ProjectError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {0: "L", 2: "RGB"}  # the only two this format writes: masks and RGB images


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    channels: int  # 1 (grey) or 3 (RGB)


def encode_png(array: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """HxW (grey) or HxWx3 (RGB) uint8 -> PNG bytes. `text` becomes iTXt chunks (UTF-8)."""
    rgb = array.ndim == 3 and array.shape[2] == 3
    if array.dtype != np.uint8 or not (array.ndim == 2 or rgb):
        raise ValueError(f"can only store HxW or HxWx3 uint8 arrays, got {array.dtype} "
                         f"{array.shape}")
    image = Image.fromarray(np.ascontiguousarray(array), "L" if array.ndim == 2 else "RGB")
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_itxt(key, value)
    out = io.BytesIO()
    # compress_level 6: the zip stores PNGs uncompressed, so this is the only compression.
    image.save(out, format="PNG", compress_level=6, pnginfo=info)
    return out.getvalue()


def read_png_header(data: bytes, what: str) -> PngHeader:
    """Parses signature + IHDR. Raises ProjectError unless it is an 8-bit grey or RGB PNG."""
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE):
        raise ProjectError(f"{what} is not a PNG image")
    length, ctype = struct.unpack(">I4s", data[8:16])
    if ctype != b"IHDR" or length != 13:
        raise ProjectError(f"{what} is not a valid PNG image (no IHDR header)")
    ihdr = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(b"IHDR" + ihdr) != crc:
        raise ProjectError(f"{what} is damaged (PNG header checksum mismatch)")
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", ihdr)
    if width == 0 or height == 0:
        raise ProjectError(f"{what} has an empty size {width}x{height}")
    if depth != 8 or color not in _COLOR_TYPES or compression or filtering or interlace > 1:
        raise ProjectError(f"{what} is an unsupported PNG (bit depth {depth}, colour type "
                           f"{color}); expected 8-bit grey or RGB")
    return PngHeader(width, height, 1 if color == 0 else 3)


def decode_png(data: bytes, what: str, max_pixels: int) -> np.ndarray:
    """PNG bytes -> HxW or HxWx3 uint8, refusing images above `max_pixels` before decoding."""
    header = read_png_header(data, what)
    pixels = header.width * header.height
    if pixels > max_pixels:
        raise ProjectError(f"{what} claims {header.width}x{header.height} pixels, more than the "
                           f"limit of {max_pixels} pixels")
    mode = "L" if header.channels == 1 else "RGB"
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.mode != mode or image.size != (header.width, header.height):
                raise ProjectError(f"{what} decodes as {image.mode} {image.size}, not what its "
                                   "header says")
            image.load()
            array = np.array(image, dtype=np.uint8)
    except ProjectError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error,
            Image.DecompressionBombError) as exc:
        raise ProjectError(f"{what} is a damaged PNG image ({exc})") from exc
    expected = (header.height, header.width) if header.channels == 1 else (
        header.height, header.width, 3)
    if array.shape != expected:
        raise ProjectError(f"{what} decodes to shape {array.shape}, expected {expected}")
    return array
