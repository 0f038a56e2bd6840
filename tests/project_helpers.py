"""Builders of complete projects and of crafted project files, shared by the project-file and UI
tests (`test_project_fixtures.py` checks that they cover every edit kind, method and field)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from safetensors.numpy import save as save_safetensors

from sdedit_desktop.edits.kinds import (
    DiffEditRequest,
    DragRequest,
    InpaintRequest,
    ReconstructRequest,
)
from sdedit_desktop.edits.requests import EditRequest, EditResult, image_sha256
from sdedit_desktop.models.interface import ModelIdentity
from sdedit_desktop.project import EmbeddedLora, HistoryEntry, Project, save_project
from sdedit_desktop.project.pngcodec import encode_png

H, W = 16, 24
T0 = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
SD15 = ModelIdentity(kind="hub", source="runwayml/stable-diffusion-v1-5",
                     revision="1d0c4ebf6ff58a5caecab40fa1406526bca4b5b9", sha256=None)
TINY = ModelIdentity(kind="tiny", source="tiny")


def rgb(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def grey(seed: int, h: int = H, w: int = W) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    rng = np.random.default_rng(seed)
    y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
    mask[y:y + h // 2, x:x + w // 2] = 255
    mask[0, 0] = 128  # a feathered value: masks are not only 0/255
    return mask


def lora_bytes(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return save_safetensors({"unet.down.lora_A.weight": rng.standard_normal((16, 8), np.float32),
                             "unet.down.lora_B.weight": np.zeros((8, 16), np.float16)},
                            metadata={"rank": "16"})


def make_requests(image: np.ndarray, mask: np.ndarray) -> list[EditRequest]:
    """Every kind, both methods, every field away from its default somewhere."""
    return [
        DragRequest(image=image, mask=mask, method="sde", seed=7, model=SD15,
                    points=(((2, 3), (9, 4)), ((20, 10), (15, 12))), prompt="a cat 🐈",
                    t0=0.5, steps=100, step_size=1.5, source_scale=0.25, target_scale=1.2,
                    half_size=4, cfg_min=1.5, cfg_max=2.5, lora="auto", lora_rank=4,
                    lora_scale_min=0.4,
                    lora_scale_max=0.9, grid="reference", max_side=512, region=(0, 0, 24, 16),
                    feather=4),
        DragRequest(image=image, method="ode", points=(((0, 0), (23, 15)),), model=TINY,
                    max_side=None),
        InpaintRequest(image=image, mask=mask, method="sde", prompt="moss", negative_prompt="x",
                       steps=25, order=1, guidance=5.0, seed=99, model=SD15,
                       region=(0, 0, 16, 12), feather=0),
        InpaintRequest(image=image, mask=mask, method="ode", steps=100, order=2, max_side=640),
        DiffEditRequest(image=image, method="sde", source_prompt="a bowl of apples",
                        target_prompt="a bowl of pears", encode_ratio=0.6, steps=40,
                        guidance=6.0, mask_mode="auto", mask_samples=5, mask_strength=0.4,
                        mask_threshold=0.3, model=SD15, grid="reference"),
        DiffEditRequest(image=image, mask=mask, method="ode", mask_mode="user",
                        region=(8, 4, 16, 12), feather=2),
        DiffEditRequest(image=image, method="sde", mask_mode="full", seed=0, max_side=None),
        ReconstructRequest(image=image, method="sde", prompt="", steps=20, guidance=1.0,
                           t0=0.5, dtype="float64", grid="reference", region=(1, 1, 8, 8),
                           feather=16),
        ReconstructRequest(image=image, method="ode", dtype="float32", seed=5, model=TINY,
                           prompt="a photo", max_side=256),
    ]


def make_result(request: EditRequest, seed: int, lora_id: str | None = None) -> EditResult:
    h, w = request.image.shape[:2]
    trajectory = []
    if isinstance(request, DragRequest):
        trajectory = [rgb(seed * 10 + k, h, w) for k in range(3)]
    out = trajectory[-1] if trajectory else rgb(seed * 10 + 9, h, w)
    metrics = {"psnr": float("inf") if request.method == "sde" else 31.25}
    if isinstance(request, ReconstructRequest):
        metrics["latent_error"] = 1e-7
    return EditResult(
        request=request, image=out, trajectory=trajectory,
        mask=grey(seed + 500, h, w) if isinstance(request, DiffEditRequest) else None,
        metrics=metrics, timings={"total": 1.5 + seed, "unet": 1.0}, unet_calls=40 + seed,
        unet_samples=160 + seed, lora_id=lora_id)


def make_project(n_continue: int = 2) -> Project:
    """A project with every kind of edit, a chain of 'continue from this result' drags, an
    embedded LoRA, UI settings, points and a mask."""
    image, mask = rgb(1), grey(2)
    project = Project(image=image.copy(), mask=mask.copy(),
                      points=[((1, 2), (5, 6)), ((23, 15), (0, 0))],
                      ui={"drag": {"prompt": "a cat", "lora": "auto"}, "zoom": 1.5,
                          "panels": ["drag", "inpaint"], "flag": True, "none": None},
                      id="p" * 32, created=T0, modified=T0 + timedelta(hours=1))
    for i, request in enumerate(make_requests(image, mask)):
        lora = "lora-abc" if isinstance(request, DragRequest) and request.lora != "off" else None
        project.add_entry(HistoryEntry(result=make_result(request, i, lora), id=f"e{i}",
                                       created=T0 + timedelta(minutes=i), duration_s=2.5 * i,
                                       label=f"edit {i} «ü»"))
    parent = project.history[0]
    for k in range(n_continue):
        request = DragRequest(image=parent.result.image, points=(((3, 3), (6 + k, 3)),),
                              seed=100 + k, lora="auto")
        entry = HistoryEntry(result=make_result(request, 50 + k, "lora-abc"), id=f"c{k}",
                             created=T0 + timedelta(hours=2, minutes=k), duration_s=3.0,
                             parent_id=parent.id)
        project.add_entry(entry)
        parent = entry
    project.embed_lora("lora-abc", EmbeddedLora(lora_bytes(), {"loss": [0.5, 0.2], "rank": 16}))
    project.mark_saved()
    return project


# --- crafting (damaged, hostile, old) files ---------------------------------------------------

def read_zip(path: Path) -> tuple[dict, dict[str, bytes]]:
    """(parsed manifest, other members) of a project file written by save_project."""
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    return json.loads(members.pop("manifest.json")), members


def write_zip(path: Path, manifest: dict | bytes | None, members: dict[str, bytes],
              compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        if manifest is not None:
            data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
            archive.writestr("manifest.json", data)
        for name, blob in members.items():
            archive.writestr(name, blob)
    return path


def add_array(manifest: dict, members: dict[str, bytes], array: np.ndarray) -> str:
    """Stores a correctly named and hashed array, as a writer would."""
    sha = image_sha256(array)
    manifest["arrays"][sha] = {"shape": list(array.shape)}
    members[f"arrays/{sha}.png"] = encode_png(array)
    return sha


def drop_unused_arrays(manifest: dict, members: dict[str, bytes]) -> None:
    text = json.dumps({k: v for k, v in manifest.items() if k != "arrays"})
    for sha in [s for s in manifest["arrays"] if s not in text]:
        del manifest["arrays"][sha]
        del members[f"arrays/{sha}.png"]


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def saved(tmp_path: Path, project: Project | None = None, name: str = "p.sdeproj") -> Path:
    path = tmp_path / name
    save_project(project or make_project(), path)
    return path
