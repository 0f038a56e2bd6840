"""The model download end to end: the app's entry points (`sdedit models download`, the model
setup dialog, the loader with downloads allowed) run the real huggingface_hub client against a
local server that speaks the hub's HTTP protocol (tests/hub_server.py, `hub_server` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_server import HubRepo
from huggingface_hub import constants

from sdedit_desktop.cli import main
from sdedit_desktop.models.hub import (
    find_snapshot,
)
from sdedit_desktop.models.tiny import save_tiny_model

REPO = "tests/tiny-sd"
UNET = "unet/diffusion_pytorch_model.safetensors"
# What a diffusers SD repo holds besides the model: none of it may be fetched.
EXTRAS = {
    "README.md": b"# tiny\n",
    ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
    "v1-5-pruned.ckpt": b"PK\x03\x04 pickle" * 300,
    "v1-5-pruned-emaonly.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " * 200,
    "unet/diffusion_pytorch_model.bin": b"PK\x03\x04 unet pickle" * 300,
    "safety_checker/config.json": b"{}",
    "safety_checker/model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " * 300,
    "feature_extractor/preprocessor_config.json": b"{}",
}
FP16 = {f"{c}/{stem}.fp16.safetensors": b"fp16 weights of " + c.encode() * 2000
        for c, stem in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                        ("text_encoder", "model"))}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, bytes]:
    """The tiny diffusers model, file by file (what a download must bring back)."""
    folder = save_tiny_model(tmp_path_factory.mktemp("served") / "tiny")
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def hub(hub_server, model_files):
    hub_server.add_repo(HubRepo(REPO, {**model_files, **EXTRAS, **FP16}))
    return hub_server


@pytest.fixture
def small_chunks(monkeypatch):
    """huggingface_hub reads 10 MB per progress step; the tiny files need smaller steps for a
    cancel or a cut to land inside a file."""
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)


def _fetched(server) -> list[str]:
    return sorted({r.file for r in server.log if r.file is not None})


def _snapshot_files(snapshot: Path) -> dict[str, bytes]:
    return {p.relative_to(snapshot).as_posix(): p.read_bytes()
            for p in sorted(snapshot.rglob("*")) if p.is_file()}


def test_cli_download_fetches_the_model_then_it_loads_offline(hub, model_files, capsys):
    assert main(["models", "download", REPO]) == 0
    out = capsys.readouterr().out
    snapshot = find_snapshot(REPO)
    assert snapshot.revision == hub.repos[REPO].commit and str(snapshot.path) in out
    assert _snapshot_files(snapshot.path) == model_files
    # Only what the default (fp32) variant needs: no pickle, no other variant, no extras.
    assert _fetched(hub) == sorted(model_files)
    assert hub.bytes_served() == sum(len(b) for b in model_files.values())
    # Offline now: the loader finds the snapshot and asks the server nothing.
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model

    before = len(hub.log)
    constants.HF_HUB_OFFLINE = True  # restored by the fixture's monkeypatch
    model = load_model(ModelSpec(REPO, device="cpu"))
    assert model.identity.kind == "hub" and model.identity.revision == snapshot.revision
    assert len(hub.log) == before
