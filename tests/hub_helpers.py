"""Helpers of the hub download tests (tests/test_hub_*.py): the tiny model as the files a hub repo
serves, and what a test asks of the server's log and the cache afterwards."""

from __future__ import annotations

from pathlib import Path

from sdedit_desktop.models.hub import DownloadProgress, repo_folder
from sdedit_desktop.models.tiny import save_tiny_model

REPO = "tests/tiny-sd"
UNET = "unet/diffusion_pytorch_model.safetensors"
TEXT_ENCODER = "text_encoder/model.safetensors"
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


def tiny_model_files(folder: Path) -> dict[str, bytes]:
    """The tiny diffusers model saved under `folder`, file by file (what a download must bring
    back)."""
    saved = save_tiny_model(folder / "tiny")
    return {p.relative_to(saved).as_posix(): p.read_bytes()
            for p in sorted(saved.rglob("*")) if p.is_file()}


def fetched(server) -> list[str]:
    """The repo files the server was asked about, sorted."""
    return sorted({r.file for r in server.log if r.file is not None})


def snapshot_files(snapshot: Path) -> dict[str, bytes]:
    return {p.relative_to(snapshot).as_posix(): p.read_bytes()
            for p in sorted(snapshot.rglob("*")) if p.is_file()}


def partial_file(server, name: str, repo: str = REPO) -> Path:
    """Where the cache keeps the bytes of `name` (an LFS file) that arrived so far."""
    return repo_folder(repo) / "blobs" / f"{server.repos[repo].sha256(name)}.incomplete"


def bytes_reported_per_file(seen: list[DownloadProgress]) -> dict[str, int]:
    """Bytes the progress reports added while each file was current."""
    per_file: dict[str, int] = {}
    last = 0
    for p in seen:
        if p.file:
            per_file[p.file] = per_file.get(p.file, 0) + p.done_bytes - last
        last = p.done_bytes
    return per_file


def range_start(request) -> int:
    assert request.range and request.range.startswith("bytes=") and request.range.endswith("-")
    return int(request.range[len("bytes="):-1])


def cdn_gets(server, name: str) -> list:
    return [r for r in server.file_requests() if r.file == name and r.server == "cdn"]
