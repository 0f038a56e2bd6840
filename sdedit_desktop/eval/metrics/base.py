"""What a per-kind metric function gets and returns, and how a kind declares its metrics.

Each edit kind's metrics live in their own module (`drag.py`, `diffedit.py`, `inpaint.py`,
`reconstruct.py`) as a `KindMetrics`; `scoring.Scorer` runs the one of the run's kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sdedit_desktop.eval.metrics.availability import CLIP_MODEL


@dataclass(frozen=True)
class MetricOptions:
    """Metric choices from the command line (all have the published protocols' defaults)."""

    dift_ensemble: int = 8
    feature_model: str | None = None  # None: SD 2.1 when local, else the loaded model
    clip_model: str = CLIP_MODEL  # DiffEdit's CLIP score backbone


@dataclass(frozen=True)
class TaskImages:
    source: np.ndarray  # the input as edited, HxWx3 uint8
    edited: np.ndarray
    params: dict[str, Any]  # the request's keyword arguments (points, prompts, ...)
    edit_metrics: dict[str, Any]  # what the edit itself measured (reconstruction's latent error)


@dataclass
class Scores:
    values: dict[str, float] = field(default_factory=dict)  # one number per metric
    # Metrics whose published protocol averages over items, not samples (DragBench's distance
    # over points): every item's value, so the summary can pool them.
    items: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class KindMetrics:
    score: Callable[[Any, TaskImages], Scores]  # (the Scorer, the task) -> scores
    learned: tuple[str, ...] = ()  # learned metrics used (names in scoring.LEARNED_CHECKS)
    # metric -> how it is computed (protocol, backbone, scale), for records and reports
    describe: Callable[[MetricOptions], dict[str, str]] = lambda _options: {}
    prepare: Callable[[Any], None] | None = None  # once per run, before any task (Scorer)
