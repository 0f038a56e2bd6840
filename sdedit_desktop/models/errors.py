"""Typed model errors: a message a user understands plus the technical detail.

`str(error)` is the user message (what happened and what to do); `detail` carries the exception
text, path or numbers a bug report needs. The engine and the CLI show both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch


class ModelError(Exception):
    """Base of every model loading / running error."""

    def __init__(self, message: str, detail: str = "", path: Path | str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.path = Path(path) if path is not None else None

    def __str__(self) -> str:
        return self.message


class ModelNotFoundError(ModelError):
    """The source does not exist: no such file/folder, or a hub id not in the local cache."""


class MissingComponentError(ModelError):
    """A diffusers folder lacks a file it needs (config or weights of one component)."""


class CorruptWeightsError(ModelError):
    """A weight file is truncated or damaged (bad header, size does not match the header)."""


class WrongCheckpointError(ModelError):
    """A readable file that is not a complete checkpoint of a supported family (a LoRA, a VAE,
    an SDXL refiner, a flow-matching model, ...)."""


class PredictionTypeNeededError(ModelError):
    """An SD 2.x single file: whether it predicts ε or v must be said (the weights do not)."""


class PickleRefusedError(ModelError):
    """A pickle checkpoint (.ckpt/.bin/.pt) and the user did not allow unsafe loading."""


class DeviceError(ModelError):
    """The requested device or precision is not available here."""


class DownloadError(ModelError):
    """A hub download failed (network, disk space, permission)."""


class LoraError(ModelError):
    """A LoRA file or cache entry that cannot be used with this model."""


class ModelOutOfMemoryError(ModelError, torch.OutOfMemoryError):
    """The device ran out of memory. Also a `torch.OutOfMemoryError`, so code that catches the
    torch exception keeps working."""


# What torch's allocators say when they give up: CUDA/MPS ("... out of memory"), the CPU
# allocator for one huge request ("DefaultCPUAllocator: can't allocate memory ... Error code 12
# (Cannot allocate memory)").
_OOM_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory")


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes/contexts (an OOM is often wrapped by a library error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_out_of_memory(exc: BaseException) -> bool:
    """True when `exc`, or anything in its cause chain, is running out of memory: torch's
    OutOfMemoryError, a CUDA/MPS/CPU allocator RuntimeError, or MemoryError (numpy's too).
    The one test for this in the app (models, engine and CLI all use it)."""
    for item in exception_chain(exc):
        if isinstance(item, torch.OutOfMemoryError | MemoryError):
            return True
        if isinstance(item, RuntimeError) and any(w in str(item).lower() for w in _OOM_WORDS):
            return True
    return False


def out_of_memory_error(exc: BaseException, what: str,
                        device: torch.device | str) -> ModelOutOfMemoryError:
    """Wrap a torch OOM in a user message; frees the CUDA cache so the app can continue."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if str(device).startswith(("cuda", "mps")):
        hint = "close other GPU programs, use float16, a smaller image (max side), or the CPU"
    else:
        hint = "close other programs or use a smaller image"
    return ModelOutOfMemoryError(f"Out of memory on {device} while {what}: {hint}.",
                                 detail=f"{type(exc).__name__}: {exc}")
