"""The learned per-task metrics, with weights that are already local: LPIPS (AlexNet, through
torchmetrics), CLIP image-image similarity (DragBench) and CLIP image-text similarity (DiffEdit's
CLIP score). Each model is built on first use and kept for the run.

CLIP similarities are plain cosines of the CLIP embeddings (the scale DragBench and the
paper's DiffEdit table report), not torchmetrics' CLIPScore, which is 100 x max(cosine, 0).
They are computed from the CLIP model and processor directly: torchmetrics 1.9's CLIP score
divides the output of `get_image_features`, which transformers 5 returns as a model output
object rather than a tensor, and fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sdedit_desktop.eval.metrics import availability

ClipFactory = Callable[[str], tuple[Any, Any]]  # model name -> (CLIP model, CLIP processor)


def _local_clip(name: str) -> tuple[Any, Any]:
    """torchmetrics' CLIP model and processor for `name`, from the local cache only."""
    from transformers import CLIPModel, CLIPProcessor

    return (CLIPModel.from_pretrained(name, local_files_only=True),
            CLIPProcessor.from_pretrained(name, local_files_only=True))


def unit_range(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 -> [1, 3, H, W] float32 in [-1, 1]."""
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)[None].float()
    return x / 127.5 - 1.0


def lpips_inputs(a: np.ndarray, b: np.ndarray, size: int | None) -> tuple[torch.Tensor,
                                                                            torch.Tensor]:
    """Both images in [-1, 1], resized to size x size first when `size` is given (DragBench's
    LPIPS: bilinear, as F.interpolate's default, to 224 x 224)."""
    x, y = unit_range(a), unit_range(b)
    if size is not None:
        x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False)
        y = F.interpolate(y, (size, size), mode="bilinear", align_corners=False)
    return x, y


class LearnedMetrics:
    def __init__(self, device: torch.device | str = "cpu",
                 clip_factory: ClipFactory | None = None,
                 lpips_factory: Callable[[], Any] | None = None):
        self.device = torch.device(device)
        self._clip_factory = clip_factory or _local_clip
        self._lpips_factory = lpips_factory
        self._lpips = None
        self._clips: dict[str, tuple[Any, Any]] = {}

    # -- LPIPS --------------------------------------------------------------------------------
    def lpips(self, a: np.ndarray, b: np.ndarray, size: int | None = None) -> float:
        if self._lpips is None:
            if self._lpips_factory is not None:
                self._lpips = self._lpips_factory()
            else:
                from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

                self._lpips = LearnedPerceptualImagePatchSimilarity(
                    net_type="alex", normalize=False).to(self.device)
        x, y = lpips_inputs(a, b, size)
        with torch.no_grad():
            return float(self._lpips(x.to(self.device), y.to(self.device)))

    # -- CLIP ---------------------------------------------------------------------------------
    def _clip(self, name: str) -> tuple[Any, Any]:
        if name not in self._clips:
            model, processor = self._clip_factory(name)
            self._clips[name] = (model.to(self.device).eval(), processor)
        return self._clips[name]

    def _embeddings(self, name: str, images: list[np.ndarray] | None = None,
                    texts: list[str] | None = None) -> torch.Tensor:
        """Unit-length CLIP embeddings of `images` (HxWx3 uint8) or `texts`."""
        model, processor = self._clip(name)
        with torch.no_grad():
            if images is not None:
                inputs = processor(images=[np.array(i, dtype=np.uint8) for i in images],
                                   return_tensors="pt")
                out = model.get_image_features(pixel_values=inputs["pixel_values"].to(
                    self.device))
            else:
                inputs = processor(text=texts, return_tensors="pt", padding=True,
                                   truncation=True, max_length=77)
                out = model.get_text_features(input_ids=inputs["input_ids"].to(self.device),
                                              attention_mask=inputs["attention_mask"].to(
                                                  self.device))
        embeds = out if isinstance(out, torch.Tensor) else out.pooler_output
        embeds = embeds.float()
        return embeds / embeds.norm(dim=-1, keepdim=True)

    def clip_image_similarity(self, a: np.ndarray, b: np.ndarray,
                              name: str = availability.DRAGBENCH_CLIP_MODEL) -> float:
        """Cosine of the CLIP image embeddings of `a` and `b` (DragBench: ViT-B/32)."""
        embeds = self._embeddings(name, images=[a, b])
        return float((embeds[0] * embeds[1]).sum())

    def clip_text_similarity(self, image: np.ndarray, text: str, name: str) -> float:
        """Cosine of the CLIP embeddings of `image` and `text`."""
        picture = self._embeddings(name, images=[image])
        words = self._embeddings(name, texts=[text])
        return float((picture[0] * words[0]).sum())
