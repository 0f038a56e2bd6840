"""A side panel that grows with its window. QMainWindow gives every extra pixel of a wider
window to the central widget, so the edit panel stayed at its minimum width even in a 1600 px
window and its lines wrapped or were cut. `DockShare` keeps a dock at a share of the window's
width (between the dock's minimum and `max_px`); the share starts at `share` and follows the
user whenever they drag the dock's separator."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow


class DockShare(QObject):
    def __init__(self, window: QMainWindow, dock: QDockWidget, share: float, max_px: int):
        super().__init__(window)
        self.window, self.dock = window, dock
        self.share, self.max_px = share, max_px
        self._width = 0  # the window width the dock was last sized for
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.window and event.type() == QEvent.Type.Resize:
            if self._width > 0 and self.dock.isVisible():
                # What the user made of the dock since (a separator drag) is the share now.
                self.share = self.dock.width() / self._width
            self._width = event.size().width()
            # After the window has laid itself out for the new size.
            QTimer.singleShot(0, self, self.apply)
        return False

    def target_width(self) -> int:
        width = round(self.share * self.window.width())
        return max(self.dock.minimumSizeHint().width(), min(width, self.max_px))

    def apply(self) -> None:
        if self.window.width() != self._width:
            return  # another resize is on its way; it applies its own
        self.window.resizeDocks([self.dock], [self.target_width()], Qt.Orientation.Horizontal)
