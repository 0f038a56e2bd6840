"""Inpainting metrics per task: LPIPS of the result against the input (FID is per group, in
the report)."""

from __future__ import annotations

from typing import Any

from sdedit_desktop.eval.metrics.base import KindMetrics, MetricOptions, Scores, TaskImages


def inpaint_metrics(scorer: Any, task: TaskImages) -> Scores:
    scores = Scores()
    if scorer.available("lpips"):
        scores.values["lpips"] = scorer.learned.lpips(task.source, task.edited)
    return scores


def describe(_options: MetricOptions) -> dict[str, str]:
    return {"lpips": "LPIPS (AlexNet) vs the input, at the image's size"}


INPAINT_METRICS = KindMetrics(score=inpaint_metrics, learned=("lpips",), describe=describe)
