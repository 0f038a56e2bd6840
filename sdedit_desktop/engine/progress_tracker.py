"""Turning an edit's stream of (phase, step, total) into whole-job progress: fraction and ETA.

An edit reports phases one after another ("LoRA", "noising", "drag step 1/5", ...). The engine
knows from the request which phases to expect and roughly what each step costs (a `JobPlan`), so
the fraction covers the whole job and the ETA is not fooled by a cheap phase followed by an
expensive one. Planned phases that never show up (a LoRA found in the cache) are dropped when a
later phase starts; phases the plan did not foresee are added with the total they report.
Pure Python; the clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sdedit_desktop.core.plan import JobPlan, PlannedPhase
from sdedit_desktop.engine.types import JobProgress

__all__ = ["JobPlan", "PlannedPhase", "ProgressTracker"]

# Fraction of the job that must be done (and time that must pass) before an ETA is shown:
# the first steps include warm-up (kernels, caches) and would give wild estimates.
MIN_FRACTION_FOR_ETA = 0.02
MIN_SECONDS_FOR_ETA = 0.2


@dataclass
class _Entry:
    phase: PlannedPhase
    done_steps: int = 0
    seen_name: str | None = None


class ProgressTracker:
    def __init__(self, plan: JobPlan = (), clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._start = clock()
        self._entries: list[_Entry] = [_Entry(p) for p in plan]
        self._index = -1  # entry of the phase being reported; -1 before the first report
        self._fraction = 0.0

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._start

    def update(self, phase: str, step: int, total: int) -> JobProgress:
        entry = self._locate(phase, step, total)
        entry.done_steps = max(0, min(step, entry.phase.steps))
        total_cost = sum(e.phase.steps * e.phase.cost for e in self._entries)
        done_cost = sum(e.phase.steps * e.phase.cost for e in self._entries[:self._index])
        done_cost += entry.done_steps * entry.phase.cost
        fraction = done_cost / total_cost if total_cost > 0 else 0.0
        # Never move backwards (an unforeseen phase grows the total) and never claim "done"
        # before the edit has returned.
        self._fraction = max(self._fraction, min(fraction, 0.999))
        elapsed = self.elapsed_s
        eta = None
        if self._fraction >= MIN_FRACTION_FOR_ETA and elapsed >= MIN_SECONDS_FOR_ETA:
            eta = elapsed * (1.0 - self._fraction) / self._fraction
        return JobProgress(phase, step, total, elapsed, eta, self._fraction)

    def finish(self, phase: str = "done") -> JobProgress:
        self._fraction = 1.0
        return JobProgress(phase, 1, 1, self.elapsed_s, 0.0, 1.0)

    def _locate(self, phase: str, step: int, total: int) -> _Entry:
        if 0 <= self._index < len(self._entries):
            current = self._entries[self._index]
            # Same phase still running (a repeated name with a step that went back is a new
            # occurrence, e.g. "noising" before every drag step).
            if current.seen_name == phase and step > current.done_steps:
                return current
            if current.seen_name == phase and step == current.done_steps:
                return current
        for i in range(self._index + 1, len(self._entries)):
            if self._entries[i].phase.matches(phase):
                # Planned phases in between never ran (e.g. LoRA found in the cache): drop them.
                del self._entries[self._index + 1:i]
                self._index += 1
                entry = self._entries[self._index]
                if entry.phase.steps != total and total > 0:
                    # The edit knows its step count better than the plan.
                    entry.phase = PlannedPhase(entry.phase.prefix, total, entry.phase.cost)
                entry.seen_name = phase
                return entry
        # Not foreseen: insert it after the current phase with the total it reports.
        entry = _Entry(PlannedPhase(phase, max(total, 1)), seen_name=phase)
        self._index += 1
        self._entries.insert(self._index, entry)
        return entry
