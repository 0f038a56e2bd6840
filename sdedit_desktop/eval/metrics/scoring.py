"""Per-task scores, computed by the process that ran the edit (it has the model loaded).

Each kind's metrics are a `KindMetrics` in its own module (drag.py, diffedit.py, inpaint.py,
reconstruct.py), which the kind's eval spec names (`EditKind.eval.metrics`). A learned metric
whose weights are not on this machine is left out of the task's scores and named with its reason
in the run's summary; every computed metric carries a note saying how it was computed (protocol,
backbone, scale) into the records and reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdedit_desktop.edits.kinds import kind_named
from sdedit_desktop.eval.metrics import availability
from sdedit_desktop.eval.metrics.base import KindMetrics, MetricOptions, Scores, TaskImages
from sdedit_desktop.eval.metrics.learned import LearnedMetrics


def kind_metrics(kind: str) -> KindMetrics:
    return kind_named(kind).eval.metrics()

# learned metric -> why it cannot run here (None: it can)
LEARNED_CHECKS: dict[str, Callable[[MetricOptions], str | None]] = {
    "lpips": lambda _o: availability.lpips_unavailable(),
    "clip_similarity": lambda _o: availability.clip_unavailable(
        availability.DRAGBENCH_CLIP_MODEL),
    "clip_score": lambda o: availability.clip_unavailable(o.clip_model),
}


def unavailable_metrics(kind: str, options: MetricOptions | None = None) -> dict[str, str]:
    """The learned per-task metrics of `kind` that cannot run here, with the reasons."""
    options = options or MetricOptions()
    reasons = {name: LEARNED_CHECKS[name](options) for name in kind_metrics(kind).learned}
    return {name: why for name, why in reasons.items() if why}


class Scorer:
    def __init__(self, kind: str, model: Any, options: MetricOptions | None = None,
                 learned: LearnedMetrics | None = None,
                 load_model: Callable[[Any], Any] | None = None):
        self.kind = kind
        self.model = model
        self.options = options or MetricOptions()
        self.metrics = kind_metrics(kind)
        self.load_model = load_model
        self.learned = learned or LearnedMetrics(getattr(model, "device", "cpu"))
        self.unavailable = unavailable_metrics(kind, self.options)
        self.notes = dict(self.metrics.describe(self.options))  # metric -> how computed
        self.info: dict[str, Any] = {}  # run-level facts (which feature model)
        self.dift = None
        if self.metrics.prepare is not None:
            self.metrics.prepare(self)

    def available(self, name: str) -> bool:
        return name not in self.unavailable

    def score(self, task: TaskImages) -> Scores:
        return self.metrics.score(self, task)

    def notes_for(self, scores: Scores) -> dict[str, str]:
        """How each metric in `scores` was computed."""
        return {name: self.notes[name] for name in scores.values if name in self.notes}
