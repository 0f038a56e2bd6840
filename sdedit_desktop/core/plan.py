"""A job plan: the phases an edit is expected to report and what their steps cost. Each edit
kind computes its plan in its kind module (edits/kinds/); the engine's progress tracker
consumes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedPhase:
    prefix: str  # matches a reported phase whose name starts with this (core/phases.py)
    steps: int
    cost: float = 1.0  # relative cost of one step (~ model calls x batch)

    def matches(self, phase: str) -> bool:
        return phase.startswith(self.prefix)


JobPlan = tuple[PlannedPhase, ...]


def guided_cost(scale: float) -> float:
    """UNet samples per guided prediction: classifier-free guidance doubles the batch unless the
    scale is 1."""
    return 1.0 if scale == 1.0 else 2.0
