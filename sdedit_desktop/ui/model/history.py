"""The edit history: the ordered project `HistoryEntry` objects of this session."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from sdedit_desktop.edits.kinds import kind_of
from sdedit_desktop.project.model import HistoryEntry


def method_label(entry: HistoryEntry) -> str:
    """"SDE-Drag", "DragDiffusion (ODE)", ...: the method an entry used, for lists and undo."""
    request = entry.request
    try:
        return kind_of(request).methods.label(request.method)
    except KeyError:  # a kind this version does not know (projects refuse those on load)
        return f"{request.kind} ({request.method})"


class HistoryModel(QObject):
    """Ordered entries; every change goes through add/remove so the undo stack can replay it."""

    changed = Signal()
    entryAdded = Signal(str)  # entry id, after `changed`

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.entries: list[HistoryEntry] = []

    def add(self, entry: HistoryEntry, index: int | None = None) -> None:
        if index is None:
            self.entries.append(entry)
        else:
            self.entries.insert(index, entry)
        self.changed.emit()
        self.entryAdded.emit(entry.id)

    def remove(self, entry_id: str) -> tuple[int, HistoryEntry]:
        for index, entry in enumerate(self.entries):
            if entry.id == entry_id:
                del self.entries[index]
                self.changed.emit()
                return index, entry
        raise KeyError(entry_id)

    def find(self, entry_id: str | None) -> HistoryEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def number(self, entry_id: str) -> int:
        return next(i for i, e in enumerate(self.entries) if e.id == entry_id) + 1

    def reset(self, entries: list[HistoryEntry]) -> None:
        self.entries = list(entries)
        self.changed.emit()
