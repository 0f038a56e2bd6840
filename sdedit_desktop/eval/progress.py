"""Progress over all processes: each writes its counters to a file, the main process sums them
and shows done/total with an ETA (from the edits finished in this run, over all processes)."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import TextIO

from sdedit_desktop.eval.store import RunStore, read_json, write_json


@dataclass
class Counters:
    total: int = 0  # tasks in this process's share
    ran: int = 0  # edits run (and finished) now
    skipped: int = 0  # already done by an earlier run with the same request hash
    failed: int = 0
    finished: bool = False

    @property
    def done(self) -> int:
        return self.ran + self.skipped + self.failed


def write_counters(store: RunStore, rank: int, counters: Counters) -> None:
    write_json(store.progress_path(rank), asdict(counters))


def read_counters(store: RunStore, rank: int) -> Counters | None:
    """A process's counters, or None while its file is missing or not what we write."""
    data = read_json(store.progress_path(rank))
    if not isinstance(data, dict):
        return None
    fields = asdict(Counters())
    kept = {k: data[k] for k in fields if k in data
            and type(data[k]) is type(fields[k])}  # bool is not an int here, nor the reverse
    return Counters(**kept)


def format_eta(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class ProgressDisplay:
    """One line on stderr: redrawn in place on a terminal, a new line now and then otherwise."""

    def __init__(self, store: RunStore, processes: int, total: int,
                 stream: TextIO | None = None, enabled: bool = True):
        self.store, self.processes, self.total = store, processes, total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_line = ""
        self._last_time = 0.0

    def poll(self) -> tuple[list[Counters | None], bool]:
        """Every process's counters and whether all of them have finished."""
        counters = [read_counters(self.store, r) for r in range(self.processes)]
        return counters, all(c is not None and c.finished for c in counters)

    def line(self, counters: list[Counters | None]) -> str:
        known = [c for c in counters if c is not None]
        done = sum(c.done for c in known)
        ran = sum(c.ran for c in known)
        failed = sum(c.failed for c in known)
        skipped = sum(c.skipped for c in known)
        elapsed = time.monotonic() - self.started
        remaining = max(self.total - done, 0)
        eta = "--:--" if ran == 0 else format_eta(elapsed / ran * remaining)
        return (f"eval: {done}/{self.total} done ({ran} edited, {skipped} already done, "
                f"{failed} failed)  ETA {eta}")

    def show(self, final: bool = False) -> bool:
        counters, finished = self.poll()
        if not self.enabled:
            return finished
        text = self.line(counters)
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + text.ljust(len(self._last_line)) + ("\n" if final else ""))
        elif text != self._last_line and (final or now - self._last_time >= 2.0):
            self.stream.write(text + "\n")
            self._last_time = now
        else:
            return finished
        self._last_line = text
        self.stream.flush()
        return finished
