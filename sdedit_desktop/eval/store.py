"""The output folder of a run: where each sample's files go, atomic writes, resume checks.

    OUT/run.json                      the run's configuration and task list
    OUT/samples/<sample>/input.png    the input as edited (for the sheets and the study)
    OUT/samples/<sample>/<task>.png   the edited image (task = method + setting)
    OUT/samples/<sample>/<task>.json  request params, hash, timings, UNet calls, metrics or
                                      the reason it failed
    OUT/progress/rank<N>.json         each process's counters (the main process sums them)

Every file is written to a temporary name and renamed, so a killed run leaves either the old
file or the new one, never half of one; a task is done only when its record says "ok" with the
same request hash and its image exists.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sdedit_desktop.filesave import write_file


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


def read_json(path: Path) -> Any | None:
    """The JSON at `path`, or None when missing or unreadable (treated as not done)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_png(path: Path, image: np.ndarray) -> None:
    write_bytes_atomic(path, lambda h: Image.fromarray(image).save(h, format="PNG"))


class RunStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / "run.json"

    def sample_dir(self, sample_id: str) -> Path:
        return self.root / "samples" / sample_id

    def input_path(self, sample_id: str) -> Path:
        return self.sample_dir(sample_id) / "input.png"

    def image_path(self, sample_id: str, task_name: str) -> Path:
        return self.sample_dir(sample_id) / f"{task_name}.png"

    def record_path(self, sample_id: str, task_name: str) -> Path:
        return self.sample_dir(sample_id) / f"{task_name}.json"

    def progress_path(self, rank: int) -> Path:
        return self.root / "progress" / f"rank{rank}.json"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def record(self, sample_id: str, task_name: str) -> dict[str, Any] | None:
        return read_json(self.record_path(sample_id, task_name))

    def is_done(self, sample_id: str, task_name: str, request_hash: str) -> bool:
        record = self.record(sample_id, task_name)
        return (record is not None and record.get("status") == "ok"
                and record.get("request_hash") == request_hash
                and self.image_path(sample_id, task_name).is_file())
