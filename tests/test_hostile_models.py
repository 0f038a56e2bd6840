"""Issue 15, class 5: hostile model files. Each gives one clear ModelError naming the file and
the problem (never AttributeError, OverflowError, RecursionError, PermissionError, IndexError,
or NotImplementedError), and `models verify` refuses what loading refuses."""

from __future__ import annotations

import errno
import os
import shutil
import struct

import pytest
import torch
from safetensors.torch import save_file

from sdedit_desktop.cli import main
from sdedit_desktop.models.errors import ModelError
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.models.loading import load_model
from sdedit_desktop.models.manifest import verify_folder
from sdedit_desktop.models.tiny import save_tiny_model, tiny_ldm_state_dict


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny")


def _raw_safetensors(path, header: bytes, data: bytes = b""):
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


HEADERS = {
    "list.safetensors": b"[1, 2, 3]",
    "string.safetensors": b'"just a string"',
    "offsets.safetensors": b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e999]}}',
    "negative.safetensors": b'{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}',
    "deep.safetensors": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
}


@pytest.mark.parametrize("name", HEADERS)
def test_malformed_headers_are_one_clear_error(tmp_path, capsys, name):
    path = _raw_safetensors(tmp_path / name, HEADERS[name], b"\0" * 4)
    with pytest.raises(ModelError, match="damaged header") as info:
        load_model(ModelSpec(str(path)))
    assert name in str(info.value)
    assert main(["models", "verify", str(path)]) == 1
    assert "BAD" in capsys.readouterr().out
    code = main(["reconstruct", "--model", str(path), "--image", str(path),
                 "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1


def test_unreadable_weight_file(tmp_path, tiny_folder, monkeypatch, capsys):
    single = tmp_path / "model.safetensors"
    save_file(tiny_ldm_state_dict(), str(single))
    real_open = os.open

    def denied(path, flags, *args, **kwargs):  # as root, chmod 000 would not stop a read
        if os.fspath(path) == str(single):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(ModelError, match=r"model\.safetensors cannot be read: Permission denied"):
        load_model(ModelSpec(str(single)), config_dir=tiny_folder)
    assert main(["models", "verify", str(single)]) == 1
    assert "Permission denied" in capsys.readouterr().out


def test_sd_names_with_one_dimensional_tensors(tmp_path, tiny_folder, capsys):
    flat = {k: torch.zeros(1) for k in tiny_ldm_state_dict()}
    path = tmp_path / "flat.safetensors"
    save_file(flat, str(path))
    with pytest.raises(ModelError, match=r"flat\.safetensors has the Stable Diffusion key names"):
        load_model(ModelSpec(str(path)), config_dir=tiny_folder)
    assert main(["models", "verify", str(path), "--config-dir", str(tiny_folder)]) == 1
    assert "BAD flat.safetensors" in capsys.readouterr().out


def test_verify_refuses_what_loading_with_the_same_configs_refuses(tmp_path, tiny_folder,
                                                                    capsys):
    state = tiny_ldm_state_dict()
    key = next(k for k in state if k.endswith("attn1.to_q.weight"))
    state[key] = torch.zeros(state[key].shape[0] + 1, state[key].shape[1])
    path = tmp_path / "odd.safetensors"
    save_file(state, str(path))
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec(str(path)), config_dir=tiny_folder)
    assert main(["models", "verify", str(path), "--config-dir", str(tiny_folder)]) == 1
    out = capsys.readouterr().out
    assert "BAD odd.safetensors" in out and str(info.value) in out
    # A tiny checkpoint checked against the default (SD 1.5) configs, as loading does.
    save_file(tiny_ldm_state_dict(), str(tmp_path / "tiny.safetensors"))
    assert main(["models", "verify", str(tmp_path / "tiny.safetensors")]) == 1
    assert "768" in capsys.readouterr().out


def test_vae_weights_in_the_unet_folder(tmp_path, tiny_folder):
    folder = shutil.copytree(tiny_folder, tmp_path / "mixed")
    shutil.copyfile(folder / "vae" / "diffusion_pytorch_model.safetensors",
                    folder / "unet" / "diffusion_pytorch_model.safetensors")
    with pytest.raises(ModelError, match=r"unet in .* does not match its config"):
        load_model(ModelSpec(str(folder)))
    report = verify_folder(folder)
    assert not report.ok


def test_hub_ref_pointing_outside_the_cache_is_refused(tmp_path, monkeypatch, capsys):
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    repo = hub / "models--someone--model"
    # A complete model lies where `snapshots/../../outside` leads: it must not be loaded.
    save_tiny_model(hub / "outside")
    (repo / "snapshots").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("../../outside\n")
    with pytest.raises(ModelError, match="does not hold a commit hash"):
        load_model(ModelSpec("someone/model"))
    err_code = main(["models", "verify", "someone/model"])
    err = capsys.readouterr().err
    assert err_code == 2 and err.count("\n") == 1 and "refs/main" in err
