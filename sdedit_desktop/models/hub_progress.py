"""What a model download tells the user while it runs: the file, the bytes over all files, the
rate of the bytes crossing the network (bytes an earlier run kept are not transfer), the time
left, and the messages of the hub client, which arrive as notes instead of being printed into
the middle of a progress line.

`ProgressReporter` counts; `DownloadProgress` is what it hands out (to every chunk: callers that
redraw use `throttled`); `describe_progress` is the one text the CLI, the setup dialog and the
engine's status show. Nothing here needs torch or the network: the UI thread imports it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sdedit_desktop.textsafe import shown

RATE_WINDOW_S = 5.0  # the rate shown: bytes received over about the last five seconds
MIN_RATE_SPAN_S = 1.0  # before a second of transfer the rate (and the time left) is unknown


class DownloadCancelled(Exception):
    """A download stopped on request; what arrived stays in the cache for the next run."""


@dataclass(frozen=True)
class DownloadProgress:
    file: str  # the file being worked on ("" before the first and after the last)
    done_bytes: int  # bytes present so far, over all files (kept bytes count, once)
    total_bytes: int  # bytes of all files that make up the model
    files_done: int
    files_total: int
    file_number: int = 0  # 1-based position of `file` among the files; 0 when there is none
    check_done: int = 0  # while the bytes an earlier run kept are hashed before resuming:
    check_total: int = 0  # hashed so far, of check_total (0: not checking)
    rate: float | None = None  # bytes/s received lately; None until a second has been measured
    eta_s: float | None = None  # seconds until every missing byte is here, at `rate`
    note: str = ""  # a message to show once (a connection lost and resumed, a retry)

    @property
    def finished(self) -> bool:
        return not self.file and self.files_total > 0 and self.files_done >= self.files_total


class ProgressReporter:
    """Counts a download's bytes for `progress` (called at every step: each chunk written, each
    block of kept bytes hashed, each file, each note) and polls `cancel` at every step, raising
    `DownloadCancelled`. An exception raised by `progress` itself (how the engine stops a load)
    is remembered in `aborted`, so the download can let it through unchanged."""

    def __init__(self, progress: Callable[[DownloadProgress], None] | None,
                 cancel: Callable[[], bool] | None, *, what: str,
                 clock: Callable[[], float] = time.monotonic):
        self._progress = progress
        self._cancel = cancel
        self._what = what
        self._clock = clock
        self.aborted: BaseException | None = None
        self._state = DownloadProgress("", 0, 0, 0, 0)
        self._file_start = 0
        self._remaining = 0  # bytes still to transfer, for the time left
        self._received = 0  # bytes received over the network in this run
        self._samples: deque[tuple[float, int]] = deque()
        self._notes: list[str] = []  # to hand out with the next progress

    @property
    def current_file(self) -> str:
        return self._state.file

    # -- what happens --------------------------------------------------------------------
    def planned(self, total_bytes: int, files_total: int, needed_bytes: int) -> None:
        """The sizes, known once the file list is in (reported with the first file)."""
        self._remaining = needed_bytes
        self._state = replace(self._state, total_bytes=total_bytes, files_total=files_total)

    def start_file(self, name: str) -> None:
        self._file_start = self._state.done_bytes
        self._update(file=name, file_number=self._state.file_number + 1, check_done=0,
                     check_total=0)

    def kept(self, n: int) -> None:
        """Bytes of the current file already on disk (hashed, or a finished file): done, but
        no transfer."""
        self._update(done_bytes=self._state.done_bytes + n, check_done=0, check_total=0)

    def checking(self, done: int, total: int) -> None:
        self._update(check_done=done, check_total=total)

    def arrived(self, n: int) -> None:
        """`n` bytes received and written to disk."""
        self._received += n
        self._remaining = max(0, self._remaining - n)
        now = self._clock()
        self._samples.append((now, self._received))
        while len(self._samples) > 2 and self._samples[1][0] <= now - RATE_WINDOW_S:
            self._samples.popleft()
        self._update(done_bytes=self._state.done_bytes + n, check_done=0, check_total=0)

    def dropped(self, n: int) -> None:
        """Kept bytes thrown away (a server that ignored the resume request sends them again)."""
        self._remaining += n
        self._update(done_bytes=self._state.done_bytes - n)

    def finish_file(self, size: int) -> None:
        self._update(done_bytes=self._file_start + size, files_done=self._state.files_done + 1,
                     check_done=0, check_total=0)

    def finish(self) -> None:
        self._update(file="", file_number=0)

    def note(self, text: str) -> None:
        self.queue_note(text)
        self._emit(self._current())

    def queue_note(self, text: str) -> None:
        """A note for the next progress (from a log handler, which must not raise)."""
        self._notes.append(text)

    def tick(self) -> None:
        """Nothing new (waiting before a retry): still the caller's chance to stop it."""
        self._update()

    # -- reporting -----------------------------------------------------------------------
    def _rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        span = max(t1, self._clock()) - t0
        return (b1 - b0) / span if span >= MIN_RATE_SPAN_S else None

    def _current(self) -> DownloadProgress:
        rate = self._rate()
        eta = self._remaining / rate if rate else None
        return replace(self._state, rate=rate, eta_s=eta)

    def _update(self, **changes) -> None:
        self._state = replace(self._state, **changes)
        self._emit(self._current())

    def _emit(self, p: DownloadProgress) -> None:
        notes, self._notes = self._notes, []
        for text in notes:
            self._call(replace(p, note=text))
        self._call(p)
        if self._cancel is not None and self._cancel():
            raise DownloadCancelled(f"download of {self._what} cancelled")

    def _call(self, p: DownloadProgress) -> None:
        if self._progress is None:
            return
        try:
            self._progress(p)
        except BaseException as exc:  # the caller stops the download from its callback
            self.aborted = exc
            raise


def throttled(callback: Callable[[DownloadProgress], None],
              interval_s: float = 0.2, clock: Callable[[], float] = time.monotonic
              ) -> Callable[[DownloadProgress], None]:
    """`callback` for a display: at most every `interval_s`, except that a file's start and end,
    a change between checking and transferring, a note and the end of it all always pass."""
    last: list = [None, -float("inf")]

    def call(p: DownloadProgress) -> None:
        before, now = last[0], clock()
        changed = (before is None or p.note or p.finished or p.file != before.file
                   or p.files_done != before.files_done
                   or bool(p.check_total) != bool(before.check_total))
        if not changed and now - last[1] < interval_s:
            return
        last[0], last[1] = p, now
        callback(p)

    return call


# -- text ----------------------------------------------------------------------------------
def format_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def format_eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def describe_progress(p: DownloadProgress, *, with_bytes: bool = True,
                      width: int | None = None, two_lines: bool = False) -> str:
    """One line: the file (its number of all), bytes, rate and time left; while kept bytes are
    checked, how far that is. `width`: fit that many characters by shortening the file name
    (to 8 at least), so the time left always shows. `two_lines`: the file on a line of its own
    (a dialog's narrow label)."""
    if p.finished:
        return f"all {p.files_total} files ({format_bytes(p.total_bytes)})"
    if not p.file:
        return "asking the hub for the file list…"
    name = shown(p.file, None)
    where = f" ({p.file_number}/{p.files_total})" if p.files_total else ""
    if p.check_total:
        pct = 100 * p.check_done / p.check_total
        tail = [f"checking the {format_bytes(p.check_total)} kept from before: {pct:.0f}%"]
    else:
        tail = []
        if with_bytes:
            tail.append(f"{format_bytes(p.done_bytes)} of {format_bytes(p.total_bytes)}")
        tail.append(f"{format_bytes(p.rate)}/s" if p.rate is not None else "measuring speed")
        if p.eta_s is not None:
            tail.append(f"{format_eta(p.eta_s)} left")
    rest = where + ("\n" if two_lines else " · ") + " · ".join(tail)
    if width is not None and len(name) + len(rest) > width:
        room, half = max(8, width - len(rest)), max(8, width - len(rest)) // 2
        if len(name) > room:
            name = name[:half - 1] + "…" + name[-(room - half):]
    return name + rest


# -- the hub client's messages ---------------------------------------------------------------
@contextmanager
def hub_log_notes(reporter: ProgressReporter) -> Iterator[None]:
    """While a download runs on this thread, huggingface_hub's warnings from this thread become
    the reporter's notes instead of being printed by the library's own stderr handler, which
    would write them into the middle of a progress line; other threads' records pass as usual."""
    logger = logging.getLogger("huggingface_hub")
    thread = threading.get_ident()

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == thread:
                reporter.queue_note(shown(record.getMessage(), 300))

    def elsewhere(record: logging.LogRecord) -> bool:
        return record.thread != thread

    printers = list(logger.handlers)
    for handler in printers:
        handler.addFilter(elsewhere)
    collector = _Collect(logging.WARNING)
    logger.addHandler(collector)
    try:
        yield
    finally:
        logger.removeHandler(collector)
        for handler in printers:
            handler.removeFilter(elsewhere)
