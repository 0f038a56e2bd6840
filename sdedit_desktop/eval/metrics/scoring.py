"""Per-task scores, computed by the process that ran the edit (it has the model loaded).

reconstruct: PSNR and SSIM against the input. drag: DragBench's DIFT mean distance, and image
fidelity 1-LPIPS when LPIPS can run. diffedit: CLIP score of the edit against the target prompt
when CLIP can run. A learned metric that cannot run is left out of the task's scores and named
with its reason in the run's summary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sdedit_desktop.eval.metrics import availability
from sdedit_desktop.eval.metrics.dift import drag_distance
from sdedit_desktop.eval.metrics.pixels import psnr, ssim


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


LEARNED = {"drag": ("lpips",), "diffedit": ("clip_score", "lpips"), "inpaint": ("lpips",)}


def unavailable_metrics(kind: str) -> dict[str, str]:
    """The learned per-task metrics of `kind` that cannot run here, with the reasons."""
    checks = {"lpips": availability.lpips_unavailable,
              "clip_score": availability.clip_unavailable}
    reasons = {name: checks[name]() for name in LEARNED.get(kind, ())}
    return {name: why for name, why in reasons.items() if why}


class Scorer:
    def __init__(self, kind: str, model, dift_ensemble: int = 8, feature_model=None):
        self.kind = kind
        # DIFT's features: from a named feature model, else from the edited model itself
        # (its own schedule and conditioning, whatever its family).
        self.model = feature_model if feature_model is not None else model
        self.dift_ensemble = dift_ensemble
        self.unavailable = unavailable_metrics(kind)
        if kind == "drag" and not hasattr(getattr(self.model, "unet", None), "up_blocks"):
            self.unavailable["dift_distance"] = "the model has no diffusers UNet for DIFT"
        self._lpips = self._clip = None

    def lpips(self, a: np.ndarray, b: np.ndarray) -> float:
        if self._lpips is None:
            from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

            self._lpips = LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True)
        return float(self._lpips(_chw(a).float() / 255.0, _chw(b).float() / 255.0))

    def clip_score(self, image: np.ndarray, prompt: str) -> float:
        if self._clip is None:
            from torchmetrics.multimodal.clip_score import CLIPScore

            self._clip = CLIPScore(model_name_or_path=availability.CLIP_MODEL)
        return float(self._clip(_chw(image), [prompt]))

    def score(self, inputs_image: np.ndarray, edited: np.ndarray,
              params: dict[str, Any]) -> dict[str, float]:
        scores: dict[str, float] = {}
        if self.kind == "reconstruct":
            scores["psnr"] = psnr(inputs_image, edited)
            scores["ssim"] = ssim(inputs_image, edited)
        if self.kind == "drag" and "dift_distance" not in self.unavailable:
            scores["dift_distance"] = drag_distance(
                self.model, inputs_image, edited, params.get("prompt", ""), params["points"],
                ensemble=self.dift_ensemble)
        if self.kind in ("drag", "diffedit", "inpaint") and "lpips" not in self.unavailable:
            scores["lpips"] = self.lpips(inputs_image, edited)
            if self.kind == "drag":
                scores["image_fidelity"] = 1.0 - scores["lpips"]
        if self.kind == "diffedit" and "clip_score" not in self.unavailable:
            scores["clip_score"] = self.clip_score(edited, params["target_prompt"])
        return scores
