"""Drag data sets: SDE-Drag's DragBench layout and DragDiffusion's DragBench layout.

Any folder (at any depth) that holds one of the layouts' files is a sample:
* SDE-Drag: `origin_image.png`, optional `mask.png`, `prompt.json` with `prompt`, `source` and
  `target` (lists of [x, y] in image pixels, same length).
* DragDiffusion: `original_image.png` and `meta_data.pkl` holding `prompt`, `points` (handle,
  target, handle, target, ... as [x, y]) and `mask` (HxW array, nonzero = may change). The
  pickle is read with the restricted unpickler only.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from sdedit_desktop.eval.datasets.files import read_image, read_json, read_mask
from sdedit_desktop.eval.safe_pickle import UnsafePickleError, safe_load
from sdedit_desktop.eval.samples import (
    Sample,
    SampleError,
    SampleInputs,
    check_points_inside,
    safe_ids,
)

SDE_DRAG_FILES = ("origin_image.png", "prompt.json")
DRAG_DIFFUSION_FILES = ("original_image.png", "meta_data.pkl")


def drag_samples(root: Path) -> list[Sample]:
    folders = sorted({p.parent for name in SDE_DRAG_FILES + DRAG_DIFFUSION_FILES
                      for p in root.rglob(name)})
    names = [str(f.relative_to(root)) if f != root else root.name for f in folders]
    return [Sample(id=sid, source=str(folder), load=_loader(folder))
            for sid, folder in zip(safe_ids(names), folders, strict=True)]


def _loader(folder: Path):
    def load() -> SampleInputs:
        if (folder / "meta_data.pkl").exists() or (folder / "original_image.png").exists():
            return _load_drag_diffusion(folder)
        return _load_sde_drag(folder)
    return load


def _point(value: Any, where: str) -> tuple[int, int]:
    # Points from clicks may be stored as floats; the edits take whole pixels.
    try:
        x, y = (float(v) for v in value)
        return round(x), round(y)
    except (TypeError, ValueError, OverflowError):
        raise SampleError(f"{where}: {value!r} is not an [x, y] point") from None


def _load_sde_drag(folder: Path) -> SampleInputs:
    meta_path = folder / "prompt.json"
    meta = read_json(meta_path)
    if not isinstance(meta, dict):
        raise SampleError(f"{meta_path}: expected a JSON object")
    sources, targets = meta.get("source"), meta.get("target")
    if not isinstance(sources, list) or not isinstance(targets, list) or not sources:
        raise SampleError(f"{meta_path}: needs non-empty 'source' and 'target' point lists")
    if len(sources) != len(targets):
        raise SampleError(f"{meta_path}: {len(sources)} source points but {len(targets)} targets")
    points = tuple((_point(s, str(meta_path)), _point(t, str(meta_path)))
                   for s, t in zip(sources, targets, strict=True))
    image = read_image(folder / "origin_image.png")
    check_points_inside(points, image.shape[1], image.shape[0], str(meta_path))
    mask_path = folder / "mask.png"
    mask = read_mask(mask_path, image) if mask_path.exists() else None
    return SampleInputs(image=image, mask=mask,
                        fields={"prompt": str(meta.get("prompt", "")), "points": points})


def _load_drag_diffusion(folder: Path) -> SampleInputs:
    meta_path = folder / "meta_data.pkl"
    if not meta_path.is_file():
        raise SampleError(f"{meta_path}: no such file")
    try:
        meta = safe_load(meta_path)
    except UnsafePickleError as exc:
        raise SampleError(f"{meta_path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            OSError) as exc:
        raise SampleError(f"{meta_path}: not a readable pickle ({exc})") from None
    if not isinstance(meta, dict):
        raise SampleError(f"{meta_path}: expected a dict with prompt, points and mask")
    raw = meta.get("points")
    if not isinstance(raw, list | tuple | np.ndarray) or len(raw) < 2 or len(raw) % 2:
        raise SampleError(f"{meta_path}: 'points' must alternate handle and target points")
    pts = [_point(p, str(meta_path)) for p in raw]
    points = tuple(zip(pts[0::2], pts[1::2], strict=True))
    image = read_image(folder / "original_image.png")
    check_points_inside(points, image.shape[1], image.shape[0], str(meta_path))
    mask = _mask_array(meta.get("mask"), image, meta_path)
    return SampleInputs(image=image, mask=mask,
                        fields={"prompt": str(meta.get("prompt", "")), "points": points})


def _mask_array(value: Any, image: np.ndarray, where: Path) -> np.ndarray | None:
    if value is None:
        return None
    mask = np.asarray(value)
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.shape != image.shape[:2] or mask.dtype == object:
        raise SampleError(f"{where}: the mask has shape {mask.shape} (rows, columns) but the "
                          f"image has {image.shape[:2]}")
    return np.where(mask > 0, 255, 0).astype(np.uint8)
