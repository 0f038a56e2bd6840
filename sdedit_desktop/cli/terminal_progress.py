"""A one-line progress bar on a terminal; silent when stderr is not one."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from sdedit_desktop.edits.progress import Progress


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.perf_counter()
        self._last = 0.0
        self._open = False

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and p.step < p.total:
            return  # throttle redraws
        self._last = now
        width = 30
        done = int(width * p.step / p.total) if p.total else width
        bar = "#" * done + "-" * (width - done)
        self.stream.write(f"\r{p.phase:<22} [{bar}] {p.step}/{p.total}  {now - self.started:6.1f}s")
        self.stream.flush()
        self._open = True

    def close(self) -> None:
        if self.enabled and self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
