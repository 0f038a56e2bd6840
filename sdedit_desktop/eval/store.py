"""The output folder of a run: where each sample's files go, atomic writes, guarded reads, resume
checks.

    OUT/run.json                      the run's configuration, provenance and task list
    OUT/samples/<sample>/input.png    the input as edited (for the sheets and the study)
    OUT/samples/<sample>/instruction.png  what was asked (drag: points, arrows and mask)
    OUT/samples/<sample>/<task>.png   the edited image (task = method + setting)
    OUT/samples/<sample>/<task>.json  request params, hash, timings, UNet calls, metrics or
                                      the reason it failed
    OUT/progress/rank<N>.json         each process's counters (the main process sums them)

Every file is written to a unique temporary name created exclusively in its folder and renamed,
so a killed run leaves either the old file or the new one, never half of one, and no planted
file or link can redirect the write; files get the mode the umask gives (a study page served
from a shared folder must be readable).

Everything read back comes from inside the run folder only: sample ids and task names are
checked to be plain names, paths are resolved and must stay under the run folder, and only
regular files of bounded size are read (a record path of `/dev/zero` or `../../etc/passwd`
is refused, not followed).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sdedit_desktop.fileopen import FileTooLargeError, NotRegularFileError, read_regular_bytes
from sdedit_desktop.filesave import write_file

MAX_JSON_BYTES = 64 * 1024 * 1024  # a record or run.json; a real one is a few KB to a few MB
MAX_IMAGE_BYTES = 512 * 1024 * 1024  # a PNG the run wrote itself
MAX_NAME_BYTES = 200  # sample ids and task names: leaves room for ".json" and temp suffixes
# One path component that is neither hidden nor "." / ".." (no separator can occur in it).
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class RunFolderError(ValueError):
    """A run folder that is not what this program writes (a bad name, a path outside it)."""


def json_ready(value: Any) -> Any:
    """Strict JSON: non-finite floats (an exact reconstruction's PSNR) as strings."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_bytes_atomic(path: Path, write) -> None:
    """`write(handle)` into `path` through the app's one safe writer (filesave): a new, exclusive
    temporary file, renamed over the destination; umask permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, write, durable=False)


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(json_ready(data), indent=2, sort_keys=True, allow_nan=False)
    write_bytes_atomic(path, lambda h: h.write(text.encode("utf-8")))


def read_failure(path: Path, exc: OSError) -> str:
    """One line saying why `read_regular_bytes(path, ...)` raised `exc`."""
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(exc, NotRegularFileError):
        return f"{path}: is {exc.what}, not a regular file"
    if isinstance(exc, FileTooLargeError):
        return f"{path}: larger than {exc.limit:,} bytes"
    return f"{path}: cannot read ({exc.strerror or exc})"


def parse_json_bytes(data: bytes) -> Any:
    """JSON from bytes; ValueError (with the reason) for anything that is not valid JSON,
    nested too deeply or holding an integer too long to convert."""
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, int digit limit
        raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def load_json_file(path: Path, limit: int = MAX_JSON_BYTES) -> Any:
    """The JSON in the regular file `path` (at most `limit` bytes). Raises OSError (missing,
    not a regular file, too large, unreadable) or ValueError (not JSON)."""
    return parse_json_bytes(read_regular_bytes(path, limit))


def read_json(path: Path, limit: int = MAX_JSON_BYTES) -> Any | None:
    """The JSON at `path`, or None when missing, not a regular file, too large or unreadable
    (treated as not done)."""
    try:
        return load_json_file(path, limit)
    except (OSError, ValueError):
        return None


def write_png(path: Path, image: np.ndarray) -> None:
    write_bytes_atomic(path, lambda h: Image.fromarray(image).save(h, format="PNG"))


def is_plain_name(name: Any) -> bool:
    """A file name this program writes: letters, digits, '.', '_', '-', not starting with '.'
    (so never '.' or '..'); short enough for every file system with our suffixes."""
    return (isinstance(name, str) and bool(_NAME.fullmatch(name))
            and len(name.encode()) <= MAX_NAME_BYTES)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def record_problem(record: dict[str, Any]) -> str | None:
    """Why a task record is not one this program writes (so it is neither shown as a result
    nor trusted by resume), or None."""
    status = record.get("status")
    if status not in ("ok", "failed"):
        return "no status"
    if status == "failed":
        return None if isinstance(record.get("reason", ""), str) else "a reason that is not text"
    metrics = record.get("metrics", {})
    if not isinstance(metrics, dict) or not all(
            isinstance(k, str) and (is_number(v) or v in ("inf", "-inf", "nan"))
            for k, v in metrics.items()):
        return "metrics that are not numbers"
    items = record.get("metric_items", {})
    if not isinstance(items, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(is_number(x) for x in v)
            for k, v in items.items()):
        return "per-item metrics that are not lists of numbers"
    for key in ("seconds", "unet_calls"):
        if record.get(key) is not None and not is_number(record.get(key)):
            return f"a {key} that is not a number"
    notes = record.get("metric_notes", {})
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        return "metric notes that are not text"
    return None


class RunStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / "run.json"

    def sample_dir(self, sample_id: str) -> Path:
        return self.root / "samples" / _checked(sample_id, "sample id")

    def input_path(self, sample_id: str) -> Path:
        return self.sample_dir(sample_id) / "input.png"

    def instruction_path(self, sample_id: str) -> Path:
        return self.sample_dir(sample_id) / "instruction.png"

    def image_path(self, sample_id: str, task_name: str) -> Path:
        return self.sample_dir(sample_id) / f"{_checked(task_name, 'task name')}.png"

    def record_path(self, sample_id: str, task_name: str) -> Path:
        return self.sample_dir(sample_id) / f"{_checked(task_name, 'task name')}.json"

    def progress_path(self, rank: int) -> Path:
        return self.root / "progress" / f"rank{int(rank)}.json"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def inside(self, path: Path) -> Path:
        """`path` resolved (links followed); RunFolderError unless it lies inside the run
        folder (a planted link to /etc/passwd resolves outside)."""
        root = self.root.resolve()
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            raise RunFolderError(f"{path}: lies outside the run folder {self.root}")
        return resolved

    def read_bytes(self, path: Path, limit: int = MAX_IMAGE_BYTES) -> bytes:
        """A file of the run: inside the folder, a regular file, at most `limit` bytes.
        Raises RunFolderError or OSError."""
        return read_regular_bytes(self.inside(path), limit)

    def record(self, sample_id: str, task_name: str) -> dict[str, Any] | None:
        """The task's record when it is a JSON object, else None (missing or unreadable)."""
        try:
            data = read_json(self.inside(self.record_path(sample_id, task_name)))
        except RunFolderError:
            return None
        return data if isinstance(data, dict) else None

    def is_done(self, sample_id: str, task_name: str, request_hash: str) -> bool:
        record = self.record(sample_id, task_name)
        return (record is not None and record_problem(record) is None
                and record.get("status") == "ok"
                and record.get("request_hash") == request_hash
                and self.image_path(sample_id, task_name).is_file())


def _checked(name: Any, what: str) -> str:
    if not is_plain_name(name):
        shown = repr(name)[:80]
        raise RunFolderError(f"bad {what} {shown}: not a plain file name (letters, digits, "
                             f"'.', '_', '-'; at most {MAX_NAME_BYTES} bytes)")
    return name
