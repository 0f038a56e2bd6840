"""Drag metrics per task, as DragBench's published evaluation computes them
(DragDiffusion's `drag_bench_evaluation/run_eval_point_matching.py` and
`run_eval_similarity.py`):

* dift_distance: the point-matching distance (`dift.py`), kept per point so the summary
  averages over points as DragBench does;
* lpips: LPIPS (AlexNet) with both images resized to 224 x 224 first; image_fidelity = 1 - it;
* clip_similarity: cosine of the CLIP ViT-B/32 image embeddings of input and result.
The result is resized to the input's size first (bilinear) in every metric, as the scripts do.
"""

from __future__ import annotations

from typing import Any

from sdedit_desktop.eval.metrics.base import KindMetrics, MetricOptions, Scores, TaskImages
from sdedit_desktop.eval.metrics.dift import DiftMatcher, has_dift_parts, resized_like
from sdedit_desktop.eval.metrics.dift_model import feature_model_for

LPIPS_SIZE = 224


def prepare(scorer: Any) -> None:
    """Choose and load the DIFT feature model (before any task: a --feature-model that cannot
    load stops the run before hours of editing)."""
    options = scorer.options
    chosen = feature_model_for(options.feature_model, scorer.model, str(scorer.model.device),
                               load=scorer.load_model)
    if not has_dift_parts(chosen.model):
        scorer.unavailable["dift_distance"] = "the feature model has no diffusers UNet and VAE"
        return
    scorer.dift = DiftMatcher(chosen.model, options.dift_ensemble)
    scorer.notes["dift_distance"] = (
        f"{chosen.note}; t=261, up-block 1, ensemble {options.dift_ensemble}, posterior "
        "sample, no resizing; summary: mean over points")
    scorer.info["dift_feature_model"] = {"comparable": chosen.comparable, **chosen.identity}


def drag_metrics(scorer: Any, task: TaskImages) -> Scores:
    scores = Scores()
    edited = resized_like(task.edited, task.source)
    if getattr(scorer, "dift", None) is not None:
        distances = scorer.dift.distances(task.source, edited, task.params.get("prompt", ""),
                                          task.params["points"])
        scores.items["dift_distance"] = distances
        scores.values["dift_distance"] = sum(distances) / len(distances)
    if scorer.available("lpips"):
        scores.values["lpips"] = scorer.learned.lpips(task.source, edited, size=LPIPS_SIZE)
        scores.values["image_fidelity"] = 1.0 - scores.values["lpips"]
    if scorer.available("clip_similarity"):
        scores.values["clip_similarity"] = scorer.learned.clip_image_similarity(
            task.source, edited)
    return scores


def describe(_options: MetricOptions) -> dict[str, str]:
    return {"lpips": "LPIPS (AlexNet), both images resized to 224x224 (DragBench)",
            "image_fidelity": "1 - LPIPS at 224x224 (DragBench)",
            "clip_similarity": "cosine of CLIP ViT-B/32 image embeddings, input vs result "
                               "(DragBench)"}


DRAG_METRICS = KindMetrics(score=drag_metrics, learned=("lpips", "clip_similarity"),
                           describe=describe, prepare=prepare)
