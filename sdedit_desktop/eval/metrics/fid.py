"""FID between two image sets through torchmetrics: the Fréchet distance of the Inception
feature Gaussians. `frechet_distance` is the formula torchmetrics itself uses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sdedit_desktop.eval.metrics.availability import fid_unavailable


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor,
                     sigma2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2), computed by torchmetrics' FID code."""
    from torchmetrics.image.fid import _compute_fid

    return float(_compute_fid(mu1.double(), sigma1.double(), mu2.double(), sigma2.double()))


def gaussian_of(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased) covariance of [N, D] features."""
    features = features.double()
    return features.mean(dim=0), torch.cov(features.T)


def fid(reference: Sequence[np.ndarray], images: Sequence[np.ndarray]) -> float:
    """FID of `images` against `reference` (HxWx3 uint8 each). Raises RuntimeError with the
    reason when the Inception network cannot run here."""
    reason = fid_unavailable()
    if reason:
        raise RuntimeError(reason)
    if len(reference) < 2 or len(images) < 2:
        raise RuntimeError("FID needs at least two images on each side")
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=2048, normalize=False)
    for real, batch in ((True, reference), (False, images)):
        for image in batch:
            metric.update(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None],
                          real=real)
    return float(metric.compute())
