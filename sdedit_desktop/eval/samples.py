"""One data set entry: its id and a loader that yields the edit inputs or a reason it cannot.

Loading is lazy (in the process that runs the sample) so that a broken file fails that sample
only, recorded with its reason, and never the listing of the data set.
"""

from __future__ import annotations

import hashlib
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
    # What a person judging the result must see besides the input: the prompt, and for a drag
    # the points and the mask drawn on the input (the data set's own drawing when it has one).
    instruction_text: str = ""
    instruction_image: np.ndarray | None = None


@dataclass(frozen=True)
class Sample:
    id: str  # unique in the data set, safe as a file name
    source: str  # where it came from (folder, file, list line), for error messages
    load: Callable[[], SampleInputs] = field(compare=False, repr=False)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+|\.{2,}")
MAX_ID_CHARS = 120  # with a hash suffix, far below a file system's 255-byte name limit


def safe_ids(names: list[str]) -> list[str]:
    """File-name-safe, unique ids for `names`, in the same order (a clash gets a suffix; a long
    name is cut and keeps a hash of the whole, so two long names stay apart)."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = _UNSAFE.sub("_", name).strip("._-") or "sample"
        if len(base) > MAX_ID_CHARS:
            digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
            base = f"{base[:MAX_ID_CHARS].rstrip('._-')}_{digest}"
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


def brief(value: Any) -> str:
    """A short description of a value that came from a data file, for an error message. Never
    recurses into it (a list nested 100,000 deep) and never prints a 5000-digit integer."""
    if isinstance(value, str):
        return repr(value[:40]) + ("…" if len(value) > 40 else "")
    if isinstance(value, bool | float | np.bool_ | np.floating):
        return repr(value)
    if isinstance(value, int | np.integer):
        return str(value) if int(value).bit_length() < 100 else "a very long integer"
    if isinstance(value, list | tuple):
        if len(value) <= 4 and not any(isinstance(v, list | tuple | dict) for v in value):
            return "[" + ", ".join(brief(v) for v in value) + "]"
        return f"a list of {len(value)} items"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"
