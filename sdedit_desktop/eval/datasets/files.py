"""File helpers shared by the data sets: images and masks with SampleError, list files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from sdedit_desktop.eval.samples import SampleError
from sdedit_desktop.imaging import ImageFileError, load_image, load_mask

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path) -> np.ndarray:
    try:
        return load_image(path)
    except ImageFileError as exc:
        raise SampleError(str(exc)) from None


def read_mask(path: Path, image: np.ndarray) -> np.ndarray:
    try:
        return load_mask(path, (image.shape[1], image.shape[0]))
    except ImageFileError as exc:
        raise SampleError(str(exc)) from None


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise SampleError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SampleError(f"{path}: not valid JSON ({exc})") from None


def read_table(path: Path) -> list[tuple[int, dict[str, Any] | str]]:
    """Rows of a JSONL or CSV list as (line number, row); a row that does not parse is kept as
    its error message so that only that sample fails."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleError(f"{path}: cannot read ({exc})") from None
    rows: list[tuple[int, dict[str, Any] | str]] = []
    if path.suffix.lower() == ".csv":
        for n, row in enumerate(csv.DictReader(text.splitlines()), start=2):
            rows.append((n, {k.strip(): (v or "").strip() for k, v in row.items() if k}))
        return rows
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((n, f"{path}:{n}: not valid JSON ({exc.msg})"))
            continue
        rows.append((n, row if isinstance(row, dict) else f"{path}:{n}: not a JSON object"))
    return rows


def row_path(base: Path, row: dict[str, Any], key: str, where: str) -> Path:
    value = row.get(key)
    if not isinstance(value, str) or not value:
        raise SampleError(f"{where}: no {key!r} path")
    path = Path(value)
    return path if path.is_absolute() else base / path
