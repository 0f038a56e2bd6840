"""The in-memory project: what the editor holds and what a `.sdeproj` file stores.

Plain dataclasses, no Qt. The UI mutates a `Project` through its methods (or sets fields and calls
`mark_changed()`), so the revision counter always knows whether there are unsaved changes.

Arrays are numpy uint8: images HxWx3 RGB, masks HxW (255 = may change). The arrays of history
entries (request inputs, results, trajectories) are records: after loading they are read-only and
may be shared between entries (each distinct array is stored once). Replace them, never write into
them. `Project.image` and `Project.mask` are the editor's working copies and are writable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sdedit_desktop.edits.requests import (
    RESULT_TRANSIENT_FIELDS,
    EditRequest,
    EditResult,
    PointPair,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(eq=False)
class EmbeddedLora:
    """A LoRA's weights carried inside the project so it opens on another machine.
    `weights` is the complete content of a .safetensors file; `metadata` is its JSON sidecar
    (training settings, loss curve, base model identity: whatever the LoRA cache recorded)."""

    weights: bytes
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_files(cls, weights_path: str | Path, metadata: dict[str, Any] | None = None
                   ) -> EmbeddedLora:
        return cls(weights=Path(weights_path).read_bytes(), metadata=dict(metadata or {}))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EmbeddedLora):
            return NotImplemented
        return self.weights == other.weights and self.metadata == other.metadata


@dataclass(eq=False)
class HistoryEntry:
    """One edit: its result (which carries the complete request, input image and mask included)
    plus bookkeeping. `parent_id` is the entry this edit continued from ("continue from this
    result"), None for an edit of the source image."""

    result: EditResult
    id: str = field(default_factory=new_id)
    created: datetime = field(default_factory=utc_now)
    duration_s: float = 0.0
    parent_id: str | None = None
    label: str = ""

    @property
    def request(self) -> EditRequest:
        return self.result.request

    @property
    def lora_id(self) -> str | None:
        return self.result.lora_id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HistoryEntry):
            return NotImplemented
        return (self.id == other.id and self.created == other.created
                and self.duration_s == other.duration_s and self.parent_id == other.parent_id
                and self.label == other.label and results_equal(self.result, other.result))


@dataclass(eq=False)
class Project:
    """The editor's whole state. `revision` counts changes; `saved_revision` is the revision last
    written to (or read from) `path`, so `dirty` means "unsaved changes". `path`, the revision
    counters and `png_cache` are session state and are not stored in the file."""

    image: np.ndarray
    mask: np.ndarray | None = None
    points: list[PointPair] = field(default_factory=list)
    ui: dict[str, Any] = field(default_factory=dict)  # free JSON: prompts per panel, settings
    history: list[HistoryEntry] = field(default_factory=list)
    loras: dict[str, EmbeddedLora] = field(default_factory=dict)  # lora_id -> embedded weights
    id: str = field(default_factory=new_id)  # stable across saves; names the autosave
    created: datetime = field(default_factory=utc_now)
    modified: datetime = field(default_factory=utc_now)
    path: Path | None = None
    revision: int = 0
    saved_revision: int = 0
    # Session cache: content hash -> encoded PNG, so saves and autosaves re-encode only new
    # arrays. Filled by load and save; never stored.
    png_cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    # --- unsaved-changes tracking -------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self.revision != self.saved_revision

    def mark_changed(self) -> None:
        self.revision += 1

    def mark_saved(self, path: Path | None = None) -> None:
        if path is not None:
            self.path = Path(path)
        self.saved_revision = self.revision

    # --- edits the UI makes -------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        self.image = image
        self.mark_changed()

    def set_mask(self, mask: np.ndarray | None) -> None:
        self.mask = mask
        self.mark_changed()

    def set_points(self, points: list[PointPair]) -> None:
        self.points = [((int(s[0]), int(s[1])), (int(t[0]), int(t[1]))) for s, t in points]
        self.mark_changed()

    def add_entry(self, entry: HistoryEntry) -> HistoryEntry:
        if any(e.id == entry.id for e in self.history):
            raise ValueError(f"history already has an entry with id {entry.id}")
        if entry.parent_id is not None and self.find_entry(entry.parent_id) is None:
            raise ValueError(f"parent entry {entry.parent_id} is not in the history")
        self.history.append(entry)
        self.mark_changed()
        return entry

    def remove_entry(self, entry_id: str) -> HistoryEntry:
        """Removes one entry; entries that continued from it become roots (parent None), since
        their own request still holds the input image they were made from."""
        entry = self.find_entry(entry_id)
        if entry is None:
            raise KeyError(entry_id)
        self.history.remove(entry)
        for other in self.history:
            if other.parent_id == entry_id:
                other.parent_id = None
        self.mark_changed()
        return entry

    def set_label(self, entry_id: str, label: str) -> None:
        entry = self.find_entry(entry_id)
        if entry is None:
            raise KeyError(entry_id)
        entry.label = label
        self.mark_changed()

    def embed_lora(self, lora_id: str, lora: EmbeddedLora) -> None:
        self.loras[lora_id] = lora
        self.mark_changed()

    def find_entry(self, entry_id: str) -> HistoryEntry | None:
        return next((e for e in self.history if e.id == entry_id), None)

    def content_equal(self, other: Project) -> bool:
        """Equal as stored in a file (ignores path and revision counters)."""
        return (arrays_equal(self.image, other.image) and arrays_equal(self.mask, other.mask)
                and _points(self.points) == _points(other.points) and self.ui == other.ui
                and self.history == other.history and self.loras == other.loras
                and self.id == other.id and self.created == other.created
                and self.modified == other.modified)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Project):
            return NotImplemented
        return self.content_equal(other)


def _points(points: list[PointPair]) -> list[PointPair]:
    return [((int(s[0]), int(s[1])), (int(t[0]), int(t[1]))) for s, t in points]


def arrays_equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def requests_equal(a: EditRequest, b: EditRequest) -> bool:
    """Same kind, same parameters, same input arrays (requests compare without their arrays)."""
    return (type(a) is type(b) and a.params() == b.params() and arrays_equal(a.image, b.image)
            and arrays_equal(a.mask, b.mask))


def results_equal(a: EditResult, b: EditResult) -> bool:
    """Same request and the same value in every field a project keeps (all EditResult fields
    but the transient ones, derived so that a new field is compared too)."""
    return requests_equal(a.request, b.request) and all(
        _values_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(EditResult)
        if f.name != "request" and f.name not in RESULT_TRANSIENT_FIELDS)


def _values_equal(x: Any, y: Any) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return arrays_equal(x, y)
    if isinstance(x, list) and isinstance(y, list):  # trajectory frames
        return len(x) == len(y) and all(_values_equal(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(x, dict) and isinstance(y, dict):  # metrics, timings
        return _floats_equal(x, y)
    return x == y


def _floats_equal(a: dict[str, float], b: dict[str, float]) -> bool:
    # NaN is a legitimate metric value (e.g. undefined PSNR); treat NaN == NaN here.
    if a.keys() != b.keys():
        return False
    return all(x == y or (x != x and y != y) for x, y in ((a[k], b[k]) for k in a))
