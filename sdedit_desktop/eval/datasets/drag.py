"""Drag data sets: SDE-Drag's DragBench layout and DragDiffusion's DragBench layout.

Any folder (at any depth) that holds one of the layouts' files is a sample:
* SDE-Drag: `origin_image.png`, optional `mask.png`, `prompt.json` with `prompt`, `source` and
  `target` (lists of [x, y] in image pixels, same length).
* DragDiffusion: `original_image.png` and `meta_data.pkl` holding `prompt`, `points` (handle,
  target, handle, target, ... as [x, y]) and `mask` (HxW array, nonzero = may change; all zeros
  = no mask). The pickle is read with the restricted unpickler only.
The instruction image of the study is the layout's own drawing (`input_image.png`,
`user_drag.png`) when the folder has one, else drawn from the points and the mask.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from sdedit_desktop.eval.datasets.files import read_image, read_json, read_mask
from sdedit_desktop.eval.report.instruction import drag_instruction_image
from sdedit_desktop.eval.safe_pickle import UnsafePickleError, safe_load
from sdedit_desktop.eval.samples import (
    Sample,
    SampleError,
    SampleInputs,
    brief,
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


def _number(value: Any) -> float | None:
    """A real number (numpy's too), or None: text, booleans, lists are not coordinates."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _point(value: Any, where: str) -> tuple[int, int]:
    """[x, y] of two real numbers; points from clicks may be floats, the edits take whole
    pixels. "12" (a string of two digits) and [true, false] are refused, not read as points."""
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.ndim == 1 else None
    coords = [_number(v) for v in value] if isinstance(value, list | tuple) else []
    if len(coords) != 2 or any(c is None for c in coords):
        raise SampleError(f"{where}: {brief(value)} is not an [x, y] point of two numbers")
    return round(coords[0]), round(coords[1])


def _prompt(meta: dict, where: str) -> str:
    prompt = meta.get("prompt", "")
    if not isinstance(prompt, str):
        raise SampleError(f"{where}: 'prompt' must be text, got {type(prompt).__name__}")
    return prompt


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
    prompt = _prompt(meta, str(meta_path))
    image = read_image(folder / "origin_image.png")
    check_points_inside(points, image.shape[1], image.shape[0], str(meta_path))
    mask_path = folder / "mask.png"
    mask = read_mask(mask_path, image) if mask_path.exists() else None
    return SampleInputs(image=image, mask=mask, fields={"prompt": prompt, "points": points},
                        instruction_text=prompt,
                        instruction_image=_instruction(folder / "input_image.png", image, mask,
                                                       points))


def _load_drag_diffusion(folder: Path) -> SampleInputs:
    meta_path = folder / "meta_data.pkl"
    if not meta_path.is_file():
        raise SampleError(f"{meta_path}: no such file")
    try:
        meta = safe_load(meta_path)
    except UnsafePickleError as exc:
        raise SampleError(f"{meta_path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OSError) as exc:
        raise SampleError(f"{meta_path}: not a readable pickle ({exc})") from None
    if not isinstance(meta, dict):
        raise SampleError(f"{meta_path}: expected a dict with prompt, points and mask")
    raw = meta.get("points")
    if isinstance(raw, np.ndarray):
        raw = list(raw) if raw.ndim == 2 else None  # a 0-d or 1-d array is not a point list
    if not isinstance(raw, list | tuple) or len(raw) < 2 or len(raw) % 2:
        raise SampleError(f"{meta_path}: 'points' must alternate handle and target points")
    pts = [_point(p, str(meta_path)) for p in raw]
    points = tuple(zip(pts[0::2], pts[1::2], strict=True))
    prompt = _prompt(meta, str(meta_path))
    image = read_image(folder / "original_image.png")
    check_points_inside(points, image.shape[1], image.shape[0], str(meta_path))
    mask = _mask_array(meta.get("mask"), image, meta_path)
    return SampleInputs(image=image, mask=mask, fields={"prompt": prompt, "points": points},
                        instruction_text=prompt,
                        instruction_image=_instruction(folder / "user_drag.png", image, mask,
                                                       points))


def _mask_array(value: Any, image: np.ndarray, where: Path) -> np.ndarray | None:
    """DragDiffusion's mask (nonzero = may change) as 0/255. All zeros means "no mask" (the
    whole image may change), as DragDiffusion itself treats it."""
    if value is None:
        return None
    try:
        mask = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise SampleError(f"{where}: the mask is not an array ({exc})") from None
    if mask.dtype.kind not in "biuf":
        raise SampleError(f"{where}: the mask holds {mask.dtype} values, not numbers")
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.shape != image.shape[:2]:
        raise SampleError(f"{where}: the mask has shape {mask.shape} (rows, columns) but the "
                          f"image has {image.shape[:2]}")
    may_change = np.nan_to_num(mask.astype(np.float64)) > 0
    if not may_change.any():
        return None
    return np.where(may_change, 255, 0).astype(np.uint8)


def _instruction(drawn: Path, image: np.ndarray, mask: np.ndarray | None,
                 points: tuple) -> np.ndarray:
    """The data set's own drawing of the drag when it has a readable one of the image's size,
    else ours."""
    if drawn.is_file():
        try:
            picture = read_image(drawn)
            if picture.shape == image.shape:
                return picture
        except SampleError:
            pass  # a broken drawing is not a broken sample: draw our own
    return drag_instruction_image(image, mask, points)
