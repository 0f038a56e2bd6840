"""Device and precision choice with safe defaults.

auto device: CUDA, else MPS, else CPU. auto precision: float16 on CUDA and MPS (SD 1.5 runs well
in half precision there), float32 on the CPU (half precision is slow or unsupported there).
float64 is allowed on CUDA and the CPU for exact reconstruction checks; MPS has no float64.
"""

from __future__ import annotations

import torch

from sdedit_desktop.models.errors import DeviceError

DTYPE_NAMES: dict[str, torch.dtype] = {
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float64": torch.float64, "fp64": torch.float64, "double": torch.float64,
}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """"auto", "cuda", "cuda:N", "mps" or "cpu" -> an available torch.device."""
    key = (name or "auto").strip().lower()
    if key == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(key)
    except RuntimeError as exc:
        raise DeviceError(f"Unknown device {name!r}: use auto, cuda, cuda:N, mps or cpu.",
                          detail=str(exc)) from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"Device {name!r} was asked for but CUDA is not available here "
                              "(no NVIDIA GPU, or a CPU-only PyTorch): use auto or cpu.")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(f"Device {name!r} does not exist: this machine has {count} CUDA "
                              f"device(s) (cuda:0 … cuda:{count - 1}).")
    elif device.type == "mps":
        if not _mps_available():
            raise DeviceError(f"Device {name!r} was asked for but Apple MPS is not available "
                              "here: use auto or cpu.")
    elif device.type != "cpu":
        raise DeviceError(f"Unsupported device {name!r}: use auto, cuda, cuda:N, mps or cpu.")
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """Precision name ("auto", "float16", "bfloat16", "float32", "float64") for a device."""
    key = (name or "auto").strip().lower()
    if key == "auto":
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    dtype = DTYPE_NAMES.get(key)
    if dtype is None:
        raise DeviceError(f"Unknown precision {name!r}: use auto, float16, bfloat16, float32 "
                          "or float64.")
    if device.type == "mps" and dtype == torch.float64:
        raise DeviceError("Apple MPS has no float64: use float32 on MPS, or float64 on the CPU.")
    if (device.type == "cuda" and dtype == torch.bfloat16 and torch.cuda.is_available()
            and not torch.cuda.is_bf16_supported()):
        raise DeviceError("This GPU does not support bfloat16: use float16 or float32.")
    if device.type == "cpu" and dtype == torch.float16:
        raise DeviceError("float16 is not supported on the CPU (many operations are missing or "
                          "very slow there): use float32, bfloat16 or float64.")
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
