"""Device and precision resolution: the safe-default table and the refusals."""

import pytest
import torch

from sdedit_desktop.models import device as dev
from sdedit_desktop.models.errors import DeviceError


@pytest.fixture
def machine(monkeypatch):
    """Pretend hardware: set which accelerators exist."""
    def set_(cuda: bool = False, mps: bool = False, bf16: bool = True, count: int = 1):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count if cuda else 0)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
        monkeypatch.setattr(dev, "_mps_available", lambda: mps)
    return set_


@pytest.mark.parametrize(("cuda", "mps", "want"), [
    (True, False, "cuda"), (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device(machine, cuda, mps, want):
    machine(cuda=cuda, mps=mps)
    assert dev.resolve_device("auto").type == want
    assert dev.resolve_device("").type == want


def test_explicit_devices(machine):
    machine(cuda=True, count=2)
    assert dev.resolve_device("cuda:1") == torch.device("cuda:1")
    assert dev.resolve_device(" CPU ") == torch.device("cpu")
    with pytest.raises(DeviceError, match="2 CUDA device"):
        dev.resolve_device("cuda:2")
    with pytest.raises(DeviceError, match="MPS is not available"):
        dev.resolve_device("mps")
    with pytest.raises(DeviceError, match="Unknown device"):
        dev.resolve_device("gpu")
    machine(cuda=False)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        dev.resolve_device("cuda")


@pytest.mark.parametrize(("device", "name", "want"), [
    ("cuda", "auto", torch.float16), ("mps", "auto", torch.float16), ("cpu", "auto", torch.float32),
    ("cuda", "bfloat16", torch.bfloat16), ("cuda", "bf16", torch.bfloat16),
    ("cuda", "float32", torch.float32), ("cuda", "float64", torch.float64),
    ("cpu", "float64", torch.float64), ("cpu", "bfloat16", torch.bfloat16),
    ("mps", "float32", torch.float32), ("cpu", "fp32", torch.float32),
    ("cuda", "half", torch.float16),
])
def test_dtype_table(machine, device, name, want):
    machine(cuda=True, mps=True)
    assert dev.resolve_dtype(name, torch.device(device)) == want


def test_dtype_refusals(machine):
    machine(cuda=True, mps=True, bf16=False)
    with pytest.raises(DeviceError, match="no float64"):
        dev.resolve_dtype("float64", torch.device("mps"))
    with pytest.raises(DeviceError, match="bfloat16"):
        dev.resolve_dtype("bfloat16", torch.device("cuda"))
    with pytest.raises(DeviceError, match="float16 is not supported on the CPU"):
        dev.resolve_dtype("float16", torch.device("cpu"))
    with pytest.raises(DeviceError, match="Unknown precision"):
        dev.resolve_dtype("int8", torch.device("cpu"))
