"""DiffEdit metrics per task: the CLIP score of the result against the target prompt, as the
cosine of the CLIP embeddings (the scale of the paper's DiffEdit table, about 0.2; torchmetrics'
CLIPScore would report 100 x that), and LPIPS against the input."""

from __future__ import annotations

from typing import Any

from sdedit_desktop.eval.metrics.base import KindMetrics, MetricOptions, Scores, TaskImages


def diffedit_metrics(scorer: Any, task: TaskImages) -> Scores:
    scores = Scores()
    if scorer.available("clip_score"):
        scores.values["clip_score"] = scorer.learned.clip_text_similarity(
            task.edited, task.params["target_prompt"], scorer.options.clip_model)
    if scorer.available("lpips"):
        scores.values["lpips"] = scorer.learned.lpips(task.source, task.edited)
    return scores


def describe(options: MetricOptions) -> dict[str, str]:
    return {"clip_score": f"cosine of CLIP {options.clip_model} image and target-prompt "
                          "embeddings (0-1 scale, not x100)",
            "lpips": "LPIPS (AlexNet) vs the input, at the image's size"}


DIFFEDIT_METRICS = KindMetrics(score=diffedit_metrics, learned=("clip_score", "lpips"),
                               describe=describe)
