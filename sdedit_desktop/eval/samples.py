"""One data set entry: its id and a loader that yields the edit inputs or a reason it cannot.

Loading is lazy (in the process that runs the sample) so that a broken file fails that sample
only, recorded with its reason, and never the listing of the data set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class SampleError(Exception):
    """A sample that cannot be used: missing file, unreadable image, bad points, hostile pickle.
    The message says which file and why."""


@dataclass(frozen=True)
class SampleInputs:
    """What an edit needs from a sample. `fields` are request keyword arguments that come from
    the data (points, prompts); the command line supplies the rest."""

    image: np.ndarray  # HxWx3 uint8
    mask: np.ndarray | None = None  # HxW uint8, 255 = may change
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    id: str  # unique in the data set, safe as a file name
    source: str  # where it came from (folder, file, list line), for error messages
    load: Callable[[], SampleInputs] = field(compare=False, repr=False)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_ids(names: list[str]) -> list[str]:
    """File-name-safe, unique ids for `names`, in the same order (a clash gets a suffix)."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = _UNSAFE.sub("_", name).strip("._") or "sample"
        candidate, n = base, 2
        while candidate in seen:
            candidate, n = f"{base}_{n}", n + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def check_points_inside(points: tuple, width: int, height: int, where: str) -> None:
    """Drag points must lie on the image: a point outside is a data error, not something to clip."""
    for n, pair in enumerate(points, start=1):
        for label, (x, y) in zip(("handle", "target"), pair, strict=True):
            if not (0 <= x < width and 0 <= y < height):
                raise SampleError(f"{where}: {label} point of pair {n} ({x}, {y}) is outside the "
                                  f"{width}x{height} image")
