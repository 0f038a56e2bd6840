"""File helpers shared by the data sets: images, masks, JSON, captions and list files, each read
as a regular file of bounded size and failing with SampleError (one sample) or DatasetError
(the list itself)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from sdedit_desktop.eval.samples import SampleError
from sdedit_desktop.eval.store import parse_json_bytes, read_failure
from sdedit_desktop.fileopen import read_regular_bytes
from sdedit_desktop.imaging import ImageFileError, load_image, load_mask

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MAX_META_BYTES = 1024 * 1024  # prompt.json, a caption
MAX_LIST_BYTES = 256 * 1024 * 1024  # a JSONL/CSV list of samples
MAX_CELL_CHARS = 16 * 1024 * 1024  # one CSV cell (the csv module stops at 131,072 by default)


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: Path) -> np.ndarray:
    try:
        return load_image(path)
    except ImageFileError as exc:
        raise SampleError(str(exc)) from None
    except OSError as exc:  # e.g. EIO reading /proc/self/mem
        raise SampleError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_mask(path: Path, image: np.ndarray) -> np.ndarray:
    try:
        return load_mask(path, (image.shape[1], image.shape[0]))
    except ImageFileError as exc:
        raise SampleError(str(exc)) from None
    except OSError as exc:
        raise SampleError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_small_file(path: Path, limit: int = MAX_META_BYTES) -> bytes:
    """A data file (prompt.json, a caption, a list): a regular file of at most `limit` bytes."""
    try:
        return read_regular_bytes(path, limit)
    except OSError as exc:  # missing, a FIFO or device, too large, unreadable
        raise SampleError(read_failure(path, exc)) from None


def read_json(path: Path) -> Any:
    data = read_small_file(path)
    try:
        return parse_json_bytes(data)
    except ValueError as exc:
        raise SampleError(f"{path}: not valid JSON ({exc})") from None


def read_text(path: Path) -> str:
    try:
        return read_small_file(path).decode("utf-8")
    except UnicodeDecodeError:
        raise SampleError(f"{path}: not UTF-8 text") from None


def _csv_rows(text: str, path: Path) -> list[tuple[int, dict[str, Any] | str]]:
    rows: list[tuple[int, dict[str, Any] | str]] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_CELL_CHARS)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            reader.fieldnames  # noqa: B018 - reads the header line
        except csv.Error as exc:
            raise SampleError(f"{path}: the header line is not readable CSV ({exc})") from None
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # a cell above MAX_CELL_CHARS, a NUL byte
                rows.append((line, f"{path}:{line}: not a readable CSV row ({exc})"))
                continue
            rows.append((line, {k.strip(): (v or "").strip() for k, v in row.items()
                                if isinstance(k, str) and k and isinstance(v, str)}))
    finally:
        csv.field_size_limit(limit)
    return rows


def read_table(path: Path) -> list[tuple[int, dict[str, Any] | str]]:
    """Rows of a JSONL or CSV list as (line number, row); a row that does not parse is kept as
    its error message so that only that sample fails."""
    data = read_small_file(path, MAX_LIST_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SampleError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if path.suffix.lower() == ".csv":
        return _csv_rows(text, path)
    rows: list[tuple[int, dict[str, Any] | str]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = parse_json_bytes(line.encode("utf-8", "surrogatepass"))
        except ValueError as exc:
            rows.append((n, f"{path}:{n}: not valid JSON ({exc})"))
            continue
        rows.append((n, row if isinstance(row, dict) else f"{path}:{n}: not a JSON object"))
    return rows


def row_path(base: Path, row: dict[str, Any], key: str, where: str) -> Path:
    value = row.get(key)
    if not isinstance(value, str) or not value or "\0" in value:
        raise SampleError(f"{where}: no {key!r} path")
    path = Path(value)
    return path if path.is_absolute() else base / path


def row_text(row: dict[str, Any], where: str, *keys: str) -> str:
    """The first of `keys` the row has, as text ('' when none); a number or a list is refused
    rather than turned into a prompt."""
    for key in keys:
        value = row.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise SampleError(f"{where}: {key!r} must be text, got {type(value).__name__}")
        return value
    return ""


def row_name(row: dict[str, Any] | str, line: int) -> str:
    """The name a list row gives its sample: its `id` (text or a whole number), else its
    image's file stem, else its line number."""
    if isinstance(row, dict):
        value = row.get("id")
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 64:
            return str(value)
        if isinstance(row.get("image"), str) and row["image"]:
            return Path(row["image"]).stem
    return f"line{line}"
