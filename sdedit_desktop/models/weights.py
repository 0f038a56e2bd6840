"""Reading weight files safely: safetensors with integrity checks, pickle only when allowed.

A truncated download is the most common broken file; the safetensors header states how many
bytes follow, so it is caught before any tensor is read, with the file named in the error.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import torch
from safetensors.torch import load_file

from sdedit_desktop.fileopen import open_regular_file
from sdedit_desktop.models.errors import (
    CorruptWeightsError,
    ModelError,
    ModelNotFoundError,
    PickleRefusedError,
)

PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")
_MAX_HEADER = 100 * 1024 * 1024
_REDOWNLOAD = ("Download it again (`sdedit models download` for the hub model resumes and "
               "repairs it) and check it with `sdedit models verify`.")


def unreadable(path: Path, exc: OSError) -> ModelError:
    """A weight or config file the OS will not let us read (permissions, I/O error, a FIFO)."""
    return ModelError(f"{Path(path).name} cannot be read: {exc.strerror or exc}.",
                      detail=f"{path}: {type(exc).__name__}: {exc}", path=path)


def _open(path: Path):
    try:
        return open_regular_file(path)
    except OSError as exc:
        raise unreadable(path, exc) from None


def sniff_format(path: Path) -> str:
    """'safetensors', 'pickle' (zip or raw pickle, as torch.save writes) or 'unknown'."""
    with _open(path) as handle:
        head = handle.read(16)
    # safetensors first: its header length is little-endian, so its first byte may well be
    # 0x80, the pickle protocol marker (one file in 256).
    if len(head) >= 9:
        (length,) = struct.unpack("<Q", head[:8])
        if 0 < length < _MAX_HEADER and head[8:9] == b"{":
            return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return "pickle"
    return "unknown"


def safetensors_header(path: Path) -> dict:
    """Parse and validate a safetensors header; raise CorruptWeightsError naming the file when
    the file is truncated, padded or not safetensors at all."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"Weight file not found: {path}", path=path)
    with _open(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise CorruptWeightsError(
                f"{path.name} is empty or truncated ({size} bytes). {_REDOWNLOAD}",
                detail=f"{path}: shorter than the 8-byte safetensors header length", path=path)
        (length,) = struct.unpack("<Q", prefix)
        if length <= 1 or length > _MAX_HEADER:
            pickled = sniff_format(path) == "pickle"
            kind = "a pickle checkpoint" if pickled else "not a safetensors file"
            raise CorruptWeightsError(
                f"{path.name} is {kind} (its first bytes are not a safetensors header). If it "
                f"was downloaded, the download may have saved an error page. {_REDOWNLOAD}",
                detail=f"{path}: header length field {length}", path=path)
        try:
            raw = handle.read(length)
        except OSError as exc:
            raise unreadable(path, exc) from None
    if len(raw) < length:
        raise CorruptWeightsError(
            f"{path.name} is truncated: it ends inside its header ({size} bytes). {_REDOWNLOAD}",
            detail=f"{path}: header needs {length} bytes, file has {size}", path=path)
    try:
        header = json.loads(raw)
        data_end = _check_header(header)
    except (ValueError, RecursionError) as exc:
        raise CorruptWeightsError(f"{path.name} has a damaged header. {_REDOWNLOAD}",
                                  detail=f"{path}: {type(exc).__name__}: {exc}",
                                  path=path) from None
    expected = 8 + length + data_end
    if size < expected:
        raise CorruptWeightsError(
            f"{path.name} is truncated: {size:,} of {expected:,} bytes "
            f"({100 * size / expected:.1f}%). {_REDOWNLOAD}",
            detail=f"{path}: expected {expected} bytes from its header, found {size}", path=path)
    if size > expected:
        raise CorruptWeightsError(
            f"{path.name} has {size - expected:,} unexpected bytes after its data. {_REDOWNLOAD}",
            detail=f"{path}: expected {expected} bytes from its header, found {size}", path=path)
    return header


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _check_header(header: object) -> int:
    """Raise ValueError unless `header` is a safetensors header as the format defines it (an
    object of tensor entries with a dtype, a shape of counts and [begin, end] byte offsets;
    `__metadata__` a string map). Returns where the tensor data ends."""
    if not isinstance(header, dict):
        raise ValueError(f"the header is {type(header).__name__}, not an object")
    data_end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str)
                                                      for v in entry.values()):
                raise ValueError("__metadata__ is not a map of strings")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("dtype"), str):
            raise ValueError(f"tensor {name[:80]!r} has no dtype")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            raise ValueError(f"tensor {name[:80]!r} has a malformed shape")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_count(o) for o in offsets) or offsets[0] > offsets[1]):
            raise ValueError(f"tensor {name[:80]!r} has malformed data offsets")
        _check_extent(name, entry["dtype"], shape, offsets[1] - offsets[0])
        data_end = max(data_end, offsets[1])
    return data_end


# Bytes per element of the safetensors dtypes (sub-byte float formats are packed: at least a
# bit per element, checked below for every dtype).
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
                "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def _check_extent(name: str, dtype: str, shape: list[int], nbytes: int) -> None:
    """The shape's element count must be what its byte range holds: a shape of 2^40 x 2^40
    over a few bytes (an element count that overflows every tensor library) is damage."""
    count = math.prod(shape)
    size = _DTYPE_BYTES.get(dtype)
    if size is not None and count * size != nbytes:
        raise ValueError(f"tensor {name[:80]!r} of shape {str(shape)[:80]} ({dtype}) needs "
                         f"{count * size} bytes, its data offsets give {nbytes}")
    if count > nbytes * 8:
        raise ValueError(f"tensor {name[:80]!r} of shape {str(shape)[:80]} has more elements "
                         f"than its {nbytes} bytes can hold")


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checked safetensors file, on the CPU."""
    safetensors_header(path)
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # the library's own check caught something the header did not
        raise CorruptWeightsError(f"{Path(path).name} could not be read. {_REDOWNLOAD}",
                                  detail=f"{path}: {type(exc).__name__}: {exc}", path=path) from exc


def refuse_pickle(path: Path) -> PickleRefusedError:
    return PickleRefusedError(
        f"{Path(path).name} is a pickle checkpoint, which can run arbitrary code when loaded. "
        "Use a .safetensors version of it, or allow unsafe loading explicitly "
        "(--allow-pickle) if you trust where it came from.",
        detail=f"{path}: pickle format refused (allow_pickle is off)", path=path)


def read_pickle_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A pickle checkpoint's tensors, read with torch's restricted (weights-only) unpickler, which
    refuses any object other than tensors and plain containers. Only called when allowed."""
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CorruptWeightsError(
            f"{Path(path).name} could not be read as a weights-only checkpoint: it is damaged "
            "or holds objects other than tensors. Convert it to .safetensors with a trusted "
            "tool, or download a .safetensors version.",
            detail=f"{path}: {type(exc).__name__}: {exc}", path=path) from exc
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise CorruptWeightsError(f"{Path(path).name} does not hold a state dict.",
                                  detail=f"{path}: top-level object {type(data).__name__}",
                                  path=path)
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
