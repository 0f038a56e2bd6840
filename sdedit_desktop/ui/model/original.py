"""The photo a session started from, which the history lists first ("Original").

A fresh session knows it: the image that was opened. A reopened or recovered project finds it
in its history: every edit that continued no other edit (a root) was made on it, so the first
root's input is the original; with no edit yet, the working image is. The history panel shows
it under `ORIGINAL_ID`; "Continue from" makes it the working image again, as undo would in the
session that opened it. No Qt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sdedit_desktop.project.model import HistoryEntry

ORIGINAL_ID = "original"  # the history row of the original (entry ids are uuid hex)


@dataclass(frozen=True)
class Original:
    image: np.ndarray
    label: str  # its name ("astronaut.png", "pasted image")


def session_original(image: np.ndarray, label: str,
                     entries: Sequence[HistoryEntry] = ()) -> Original:
    """The original of a session on `image` (the working image) with history `entries`."""
    known = {entry.id for entry in entries}
    root = next((e for e in entries if e.parent_id is None or e.parent_id not in known), None)
    return Original(root.request.image if root is not None else image, label)
