"""`sdedit models ...` / `sdedit lora ...`, manifest verification and the byte bar of the
download (the download itself runs against a local hub server: test_hub_download.py)."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from sdedit_desktop.cli import main
from sdedit_desktop.models.manifest import KnownModel, load_manifest, required_files, verify_folder
from sdedit_desktop.models.tiny import save_tiny_model, tiny_ldm_state_dict


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SDEDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("m") / "tiny")


def _tiny_known(folder: Path) -> KnownModel:
    weights = {"unet/diffusion_pytorch_model.safetensors": None,
               "vae/diffusion_pytorch_model.safetensors": None,
               "text_encoder/model.safetensors": None}
    return KnownModel(key="tiny", name="tiny", hub_id="t/tiny", revision="main", licence="",
                      config_dir=folder, common_files=("unet/config.json", "vae/config.json",
                                                       "text_encoder/config.json"),
                      default_variant="fp32", variants={"fp32": weights})


def test_manifest_lists_sd15_files():
    sd15 = load_manifest()["sd15"]
    assert sd15.hub_id == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    files = required_files(sd15, "fp16")
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in files
    assert "tokenizer/vocab.json" in files and "model_index.json" in files
    assert sd15.variants["fp32"]["unet/diffusion_pytorch_model.safetensors"] == 3438167536


def test_verify_folder_finds_missing_truncated_and_foreign_files(tiny_folder, tmp_path):
    known = _tiny_known(tiny_folder)
    assert verify_folder(tiny_folder, known).ok
    broken = shutil.copytree(tiny_folder, tmp_path / "broken")
    (broken / "vae" / "config.json").unlink()
    unet = broken / "unet" / "diffusion_pytorch_model.safetensors"
    unet.write_bytes(unet.read_bytes()[:-10])
    save_file({"weight": torch.zeros(3)}, str(broken / "text_encoder" / "model.safetensors"))
    report = verify_folder(broken, known)
    by_file = {c.file: c for c in report.checks}
    assert not report.ok
    assert by_file["vae/config.json"].message == "missing"
    assert "truncated" in by_file["unet/diffusion_pytorch_model.safetensors"].message
    assert "not this architecture" in by_file["text_encoder/model.safetensors"].message
    assert by_file["vae/diffusion_pytorch_model.safetensors"].ok


def test_models_verify_and_list_commands(tiny_folder, tmp_path, capsys):
    single = tmp_path / "tiny.safetensors"
    save_file(tiny_ldm_state_dict(), str(single))
    assert main(["models", "verify", str(single), "--config-dir", str(tiny_folder)]) == 0
    assert "SD 1.x layout" in capsys.readouterr().out
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(single.read_bytes()[:5000])
    assert main(["models", "verify", str(cut)]) == 1
    assert "truncated" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in out and "not downloaded" in out
    assert main(["models", "verify"]) == 2  # SD 1.5 not downloaded: a one-line user error
    assert "not downloaded" in capsys.readouterr().err


def test_lora_train_list_clear_commands(tmp_path, capsys):
    image = tmp_path / "in.png"
    pixels = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(image)
    args = ["lora", "train", "--model", "tiny", "--image", str(image), "--prompt", "a cat",
            "--steps", "3", "--max-side", "64", "--cache-dir", str(tmp_path / "loras")]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("trained LoRA ")
    assert main([*args, "--export", str(tmp_path / "mine.safetensors")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("reused cached LoRA ") and (tmp_path / "mine.safetensors").is_file()
    assert main(["lora", "list", "--cache-dir", str(tmp_path / "loras")]) == 0
    assert "1 entries" in capsys.readouterr().out
    assert main(["lora", "clear", "--cache-dir", str(tmp_path / "loras")]) == 0
    assert "removed 1" in capsys.readouterr().out
    assert main(["lora", "train", "--model", "tiny", "--image", str(tmp_path / "none.png")]) == 2
    assert main([*args[:-2], "--steps", "0"]) == 2
