"""The edit region as the editor shows it: the frame's move/resize geometry (snapped to multiples
of 8, inside the image) and the status-bar text of the working size. The region the next edit
would use is part of the next edit (`next_edit.py`). Pure functions plus one undo command; the
canvas draws the frame (ui/region_frame.py) and `ui/region_presenter.py` binds it.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from sdedit_desktop.core.progress import EditError
from sdedit_desktop.edits.geometry import working_size
from sdedit_desktop.edits.region import ALIGN, Region
from sdedit_desktop.ui.model.document import EditorDocument

MIN_REGION_SIDE = 64  # the smallest side the working size accepts unscaled (geometry.MIN_SIDE)

# Which sides of the frame a drag moves: (left, top, right, bottom). All four = a move.
Grip = tuple[bool, bool, bool, bool]
MOVE: Grip = (True, True, True, True)


def scale_text(region: Region | None, max_side: int | None, used_scale: float | None = None
               ) -> str:
    """"Region 512x384 at 1:1" or "Region 2000x1500 → 768x576 (0.38x)"."""
    if region is None:
        return "Region: auto"
    _, _, w, h = region
    try:
        size = working_size(w, h, max_side)
    except EditError:  # too narrow for the cap: the frame and Run say why
        return f"Region {w}x{h}: too narrow to edit"
    ww, wh = size.content  # what the model sees (padding to multiples of 8 aside)
    if not size.resampled and used_scale in (None, 1.0):
        return f"Region {w}x{h} at 1:1"
    scale = used_scale if used_scale is not None else size.scale
    return f"Region {w}x{h} → {ww}x{wh} ({scale:.2f}x)"


# -- frame geometry -----------------------------------------------------------------------------
def _snap_length(length: float, minimum: int, limit: int, size: int) -> int:
    """A length that is a multiple of ALIGN (or the whole axis), at least `minimum`, at most
    `limit` (the room up to the image border)."""
    n = max(round(length / ALIGN) * ALIGN, minimum)
    if n >= limit:
        n = limit if limit == size else limit - limit % ALIGN
    return max(n, min(minimum, limit))


def _axis(start: int, length: int, lo: bool, hi: bool, delta: float, size: int
          ) -> tuple[int, int]:
    """One axis of `drag_region`: (start, length) after moving its low and/or high side."""
    minimum = min(MIN_REGION_SIDE, size)
    if lo and hi:  # move: the size stays, the start snaps, flush with the far border allowed
        snapped = round((start + delta) / ALIGN) * ALIGN
        return min(max(snapped, 0), size - length), length
    if lo:  # the high side stays
        end = start + length
        length = _snap_length(end - (start + delta), minimum, end, size)
        return end - length, length
    if hi:
        return start, _snap_length(length + delta, minimum, size - start, size)
    return start, length


def drag_region(region: Region, grip: Grip, dx: float, dy: float, width: int, height: int
                ) -> Region:
    """`region` after dragging its grip by (dx, dy) image pixels: starts and sizes on
    multiples of 8 (a side may sit on the image border instead), at least 64 px (or the whole
    side of a smaller image), always inside the width x height image."""
    left, top, right, bottom = grip
    x, w = _axis(region[0], region[2], left, right, dx, width)
    y, h = _axis(region[1], region[3], top, bottom, dy, height)
    return (x, y, w, h)


def _span_between(a: float, b: float, size: int) -> tuple[int, int]:
    """One axis of `region_between`: from the lower coordinate (down to a multiple of 8) over
    the distance (a multiple of 8, at least the minimum), inside [0, size)."""
    minimum = min(MIN_REGION_SIDE, size)
    lo, hi = max(min(a, b), 0.0), min(max(a, b), float(size))
    start = min(int(lo // ALIGN) * ALIGN, size - 1)
    length = _snap_length(hi - start, minimum, size - start, size)
    if length < minimum:  # too near the far border: shift back to keep the minimum
        return size - minimum, minimum
    return start, length


def region_between(a: tuple[float, float], b: tuple[float, float], width: int, height: int
                   ) -> Region:
    """The region a user draws from corner `a` to corner `b` (image pixels, any order), snapped
    and limited as `drag_region` does."""
    x, w = _span_between(a[0], b[0], width)
    y, h = _span_between(a[1], b[1], height)
    return (x, y, w, h)


class RegionCommand(QUndoCommand):
    """Set the document's region choice (None = auto) as one undo step."""

    def __init__(self, doc: EditorDocument, before: Region | None, after: Region | None,
                 text: str):
        super().__init__(text)
        self._doc, self._before, self._after = doc, before, after

    def redo(self) -> None:
        self._doc.set_region(self._after)

    def undo(self) -> None:
        self._doc.set_region(self._before)
