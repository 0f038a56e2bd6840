"""Structural validation of a .safetensors file held in memory, without loading any tensor.

The format is an 8-byte little-endian header length, a JSON header mapping tensor names to
{dtype, shape, data_offsets}, then the raw data. A LoRA embedded in a project is checked so that
the file the user later hands to the model loader is at least well formed; nothing is executed.
"""

from __future__ import annotations

import json
import math
import struct

from sdedit_desktop.project.errors import ProjectError

_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
             "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's own limit


def check_safetensors(data: bytes, what: str) -> int:
    """Raises ProjectError unless `data` is a well-formed safetensors file; returns the number
    of tensors."""
    if len(data) < 8:
        raise ProjectError(f"{what} is not a safetensors file (too short)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(_MAX_HEADER, len(data) - 8):
        raise ProjectError(f"{what} is not a safetensors file (header length {header_len} "
                           f"does not fit in {len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProjectError(f"{what} has an unreadable safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise ProjectError(f"{what} has a safetensors header that is not an object")
    buffer_len = len(data) - 8 - header_len
    spans: list[tuple[int, int]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in entry.items()):
                raise ProjectError(f"{what}: __metadata__ must map strings to strings")
            continue
        spans.append(_tensor_span(entry, f"{what} tensor {name!r}", buffer_len))
    spans.sort()
    position = 0
    for begin, end in spans:
        if begin != position:
            raise ProjectError(f"{what}: tensor data overlaps or leaves a gap at byte {position}")
        position = end
    if position != buffer_len:
        raise ProjectError(f"{what}: {buffer_len - position} bytes of data belong to no tensor")
    return len(spans)


def _tensor_span(entry: object, what: str, buffer_len: int) -> tuple[int, int]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ProjectError(f"{what} must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _ITEMSIZE:
        raise ProjectError(f"{what} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise ProjectError(f"{what} has an invalid shape")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int for o in offsets)):
        raise ProjectError(f"{what} has invalid data_offsets")
    begin, end = offsets
    if not 0 <= begin <= end <= buffer_len:
        raise ProjectError(f"{what} points outside the data ({begin}..{end} of {buffer_len})")
    if end - begin != math.prod(shape) * _ITEMSIZE[dtype]:
        raise ProjectError(f"{what}: {end - begin} bytes do not match shape {shape} {dtype}")
    return begin, end
