"""Every menu/keyboard action in one table, so the help dialog lists exactly what exists."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QKeySequence


@dataclass(frozen=True)
class Shortcut:
    keys: str  # QKeySequence text (portable form)
    what: str


# Keys the canvas handles itself (not QActions): listed in the help dialog too.
CANVAS_KEYS = (
    Shortcut("Space + drag", "Pan the view"),
    Shortcut("Middle button drag", "Pan the view"),
    Shortcut("Mouse wheel", "Zoom around the cursor"),
    Shortcut("C (hold)", "Show the input (before) while held, wherever the focus is; in a "
             "text field (a prompt) C types the letter: click the canvas or press Tab first"),
    Shortcut("Del / Backspace", "Delete the selected point pair"),
    Shortcut("Right click on a point", "Delete that point pair"),
)


def native(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText) or keys
