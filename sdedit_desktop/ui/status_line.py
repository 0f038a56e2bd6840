"""The status bar's message: a label that wraps onto a second line instead of being cut off
by the permanent widgets on the right (a finished edit's message did not fit beside the
region, zoom, device, precision and model at 1280 px). The bar is always two lines high, so a
long message never makes the canvas jump. Messages time out as QStatusBar's own do."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QStatusBar

from sdedit_desktop.ui.widgets import WrappingLabel

LINES = 2


class StatusLine(WrappingLabel):
    def __init__(self, bar: QStatusBar):
        super().__init__("")
        self.setContentsMargins(4, 0, 4, 0)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_message)
        bar.addWidget(self, 1)
        bar.setMinimumHeight(LINES * self.fontMetrics().lineSpacing() + 6)

    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        """Show `text` until the next message, or for `timeout_ms` (> 0)."""
        self.setText(text)
        self.setToolTip(text)
        if timeout_ms > 0:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def clear_message(self) -> None:
        self.setText("")
        self.setToolTip("")

    def current_message(self) -> str:
        return self.text()
