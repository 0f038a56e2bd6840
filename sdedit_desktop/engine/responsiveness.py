"""How the UI thread fares while the engine runs an edit: a heartbeat timer on the UI thread,
the edit's signals, and what the two say together.

The benchmark (`sdedit bench --ui`) reports the longest stall and the time to the first preview;
the tests assert only behaviour that load cannot break (heartbeats arrive *between* the edit's
progress signals, previews arrive), never a wall-clock bound.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

from sdedit_desktop.edits.requests import EditRequest

HEARTBEAT_MS = 10


@dataclass
class UiTrace:
    """Event times (perf_counter seconds) seen on the UI thread during one job."""

    submitted: float
    beats: list[float] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)
    previews: list[float] = field(default_factory=list)
    ended: float | None = None
    outcome: str = ""  # "finished", "failed" or "cancelled"
    result: Any = None  # EditResult or EngineFailure

    def beats_during_job(self) -> list[float]:
        end = self.ended if self.ended is not None else float("inf")
        return [t for t in self.beats if self.submitted <= t <= end]

    def progress_gaps_with_beats(self) -> int:
        """Between how many consecutive progress signals the heartbeat fired at least once:
        a UI thread blocked by the edit would let no heartbeat through until the job ended."""
        beats = self.beats_during_job()
        return sum(any(a < t < b for t in beats)
                   for a, b in zip(self.progress, self.progress[1:], strict=False))

    def longest_stall_s(self) -> float:
        beats = [self.submitted, *self.beats_during_job()]
        if self.ended is not None:
            beats.append(self.ended)
        return max((b - a for a, b in itertools.pairwise(beats)), default=0.0)

    def summary(self) -> dict[str, Any]:
        first = self.previews[0] - self.submitted if self.previews else None
        return {
            "outcome": self.outcome,
            "seconds": (self.ended - self.submitted) if self.ended is not None else None,
            "longest_ui_stall_seconds": self.longest_stall_s(),
            "heartbeat_interval_seconds": HEARTBEAT_MS / 1000,
            "heartbeats": len(self.beats_during_job()),
            "progress_signals": len(self.progress),
            "previews": len(self.previews),
            "first_preview_seconds": first,
        }


def trace_job(engine: Any, request: EditRequest, timeout_s: float = 600.0) -> UiTrace:
    """Submit `request` to `engine` (an `engine.Engine` with a model loaded) and run the UI
    event loop until the job ends, recording heartbeats, progress signals and previews."""
    trace = UiTrace(submitted=time.perf_counter())
    loop = QEventLoop()
    job_id: list[int] = []

    def mine(jid: int) -> bool:
        return bool(job_id) and jid == job_id[0]

    def on_end(outcome: str):
        def slot(jid: int, payload: Any = None) -> None:
            if mine(jid):
                trace.ended, trace.outcome, trace.result = time.perf_counter(), outcome, payload
                loop.quit()
        return slot

    handlers = {
        engine.progress: lambda jid, _p: mine(jid) and trace.progress.append(time.perf_counter()),
        engine.preview: lambda jid, _i: mine(jid) and trace.previews.append(time.perf_counter()),
        engine.jobFinished: on_end("finished"),
        engine.jobFailed: on_end("failed"),
        engine.jobCancelled: on_end("cancelled"),
    }
    for signal, slot in handlers.items():
        signal.connect(slot)
    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: trace.beats.append(time.perf_counter()))
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    try:
        heartbeat.start()
        guard.start(int(timeout_s * 1000))
        job_id.append(engine.submit(request))
        if trace.ended is None:
            loop.exec()
    finally:
        heartbeat.stop()
        guard.stop()
        for signal, slot in handlers.items():
            signal.disconnect(slot)
        QCoreApplication.processEvents()
    if trace.ended is None:
        engine.cancel(job_id[0])
        raise TimeoutError(f"the job did not end within {timeout_s:.0f} s")
    return trace


def measure_ui_during_edit(model: Any, request: EditRequest,
                           timeout_s: float = 3600.0) -> dict[str, Any]:
    """For the benchmark: run `request` on `model` through a real Engine (worker thread,
    throttled progress, previews) with a heartbeat on this thread; the trace's summary.
    The engine releases the model when it shuts down, so call this last."""
    import os

    from PySide6.QtWidgets import QApplication

    from sdedit_desktop.engine.engine import Engine
    from sdedit_desktop.models.interface import ModelSpec

    if QCoreApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        # A full QApplication: a later QWidget (a test session, a GUI) needs one.
        QApplication(["sdedit-bench"])
    engine = Engine(model_loader=lambda _spec, progress=None: model)
    try:
        engine.load_model(ModelSpec(model.identity.source, device=str(model.device)))
        deadline = time.monotonic() + 60
        while engine.model_state.status not in ("ready", "error"):
            if time.monotonic() > deadline:
                raise TimeoutError("the engine did not take the model within 60 s")
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if engine.model_state.status != "ready":
            raise RuntimeError(f"the engine could not take the model: "
                               f"{engine.model_state.message}")
        return trace_job(engine, request, timeout_s).summary()
    finally:
        engine.shutdown()
