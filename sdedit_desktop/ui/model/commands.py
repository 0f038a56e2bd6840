"""QUndoCommands for everything the user can undo: mask strokes and mask operations, points,
history entries, and switching the working image ("continue from this result")."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QUndoCommand, QUndoStack

from sdedit_desktop.ui.brush import changed_box
from sdedit_desktop.ui.model.document import Box, EditorDocument, PointPair


class MaskPatchCommand(QUndoCommand):
    """A change of the mask inside `box`: stores the pixels before and after (only the box)."""

    def __init__(self, doc: EditorDocument, box: Box, before: np.ndarray, after: np.ndarray,
                 text: str, already_applied: bool = True):
        super().__init__(text)
        self._doc, self._box = doc, box
        self._before, self._after = before.copy(), after.copy()
        self._skip_first_redo = already_applied

    def redo(self) -> None:
        if self._skip_first_redo:  # the stroke is already on the mask when it is pushed
            self._skip_first_redo = False
            return
        self._doc.put_mask_patch(self._box, self._after)

    def undo(self) -> None:
        self._doc.put_mask_patch(self._box, self._before)


def mask_command(doc: EditorDocument, before: np.ndarray, after: np.ndarray, text: str,
                 already_applied: bool) -> MaskPatchCommand | None:
    """A MaskPatchCommand for the difference of two full masks, or None when they are equal."""
    box = changed_box(before, after)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    return MaskPatchCommand(doc, box, before[y0:y1, x0:x1], after[y0:y1, x0:x1], text,
                            already_applied)


class PointsCommand(QUndoCommand):
    def __init__(self, doc: EditorDocument, before: list[PointPair], after: list[PointPair],
                 text: str):
        super().__init__(text)
        self._doc, self._before, self._after = doc, list(before), list(after)

    def redo(self) -> None:
        self._doc.set_points(self._after)

    def undo(self) -> None:
        self._doc.set_points(self._before)


class CallbackCommand(QUndoCommand):
    """Generic do/undo pair, for history entries and working-image switches whose state lives
    in objects that already know how to add/remove/restore themselves."""

    def __init__(self, text: str, do: Callable[[], None], undo: Callable[[], None]):
        super().__init__(text)
        self._do, self._undo = do, undo

    def redo(self) -> None:
        self._do()

    def undo(self) -> None:
        self._undo()


def push_mask(doc: EditorDocument, undo: QUndoStack, mask: np.ndarray, text: str) -> bool:
    """Replace the whole mask as one undoable step; False when there is no mask or no change."""
    if doc.mask is None:
        return False
    command = mask_command(doc, doc.mask.copy(), mask.astype(np.uint8), text,
                           already_applied=False)
    if command is None:
        return False
    undo.push(command)
    return True
