"""`sdedit models download`'s progress: on a terminal one line redrawn in place (at most five
times a second, fitted to the terminal's width so the time left always shows) with the hub's
notes printed above it; without one (a log, a pipe), the notes and a line every half minute."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

from sdedit_desktop.models.hub_progress import DownloadProgress, describe_progress, throttled

LOG_EVERY_S = 30.0


class DownloadDisplay:
    def __init__(self, terminal: TextIO | None = None, log: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._terminal = terminal if terminal is not None else sys.stderr
        self._log = log if log is not None else sys.stdout
        self._tty = self._terminal.isatty()
        self._clock = clock
        self._drawn = 0  # characters of the progress line on screen
        self._last_log = clock()
        self.last: DownloadProgress | None = None
        self._draw = throttled(self._show, 0.2, clock)

    def __call__(self, p: DownloadProgress) -> None:
        self.last = p
        self._draw(p)

    def _show(self, p: DownloadProgress) -> None:
        if p.note:
            self._print(f"note: {p.note}")
        if self._tty:
            width = max(40, shutil.get_terminal_size().columns - 1)
            pct = 100 * p.done_bytes / p.total_bytes if p.total_bytes else 0.0
            line = f"{pct:5.1f}%  " + describe_progress(p, width=width - 8)
            self._terminal.write("\r" + line.ljust(self._drawn))
            self._terminal.flush()
            self._drawn = len(line)
        elif self._clock() - self._last_log >= LOG_EVERY_S and not p.finished:
            self._last_log = self._clock()
            self._log.write(f"  {describe_progress(p)}\n")
            self._log.flush()

    def _print(self, text: str) -> None:
        """A line of its own: above the progress line on a terminal."""
        if self._tty:
            self._terminal.write("\r" + text.ljust(self._drawn) + "\n")
            self._drawn = 0
            self._terminal.flush()
        else:
            self._log.write(text + "\n")
            self._log.flush()

    def close(self) -> None:
        """End the progress line (before the next output)."""
        if self._tty and self._drawn:
            self._terminal.write("\n")
            self._terminal.flush()
            self._drawn = 0
