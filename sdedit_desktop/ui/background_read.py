"""Read a file off the UI thread. Decoding a 4000x3000 JPEG takes seconds on a slow machine;
opened from the command line, before the window had painted, it left a black window for as
long. The file is read on a short-lived worker thread (PIL and zlib release the GIL while they
decode) and the result comes back to the UI thread as a signal; only the newest read counts,
so opening another file meanwhile drops the older one's result."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

Reader = Callable[[Path], Any]
Done = Callable[[Any, BaseException | None], None]


class BackgroundRead(QObject):
    _finished = Signal(int, object, object)  # ticket, value, error (delivered on the UI thread)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._ticket = 0
        self._pending: dict[int, Done] = {}
        self._finished.connect(self._deliver)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def read(self, path: Path, reader: Reader, done: Done) -> None:
        """Run `reader(path)` on a worker thread; then `done(value, None)` or `done(None,
        error)` on the UI thread - unless another `read` started meanwhile."""
        self._ticket += 1
        ticket = self._ticket
        self._pending = {ticket: done}  # a newer read replaces any older one

        def work() -> None:
            value: Any = None
            error: BaseException | None = None
            try:
                value = reader(path)
            except Exception as exc:  # the reader's errors are the caller's to show
                error = exc
            # RuntimeError: the window (and this object) is gone, nobody waits for the result.
            with contextlib.suppress(RuntimeError):
                self._finished.emit(ticket, value, error)

        threading.Thread(target=work, name="sdedit-read", daemon=True).start()

    def cancel(self) -> None:
        """Drop the pending read's result."""
        self._pending.clear()

    def _deliver(self, ticket: int, value: Any, error: BaseException | None) -> None:
        done = self._pending.pop(ticket, None)
        if done is not None:
            done(value, error)
