"""PSNR and SSIM between two uint8 RGB images (torchmetrics' functional forms; no weights)."""

from __future__ import annotations

import numpy as np
import torch


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].double() / 255.0


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """In dB over [0, 255]; inf for identical images."""
    mse = float(np.mean((reference.astype(np.float64) - image.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0 ** 2 / mse))


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """Gaussian-window SSIM (11 px, sigma 1.5), averaged over channels and pixels."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    return float(structural_similarity_index_measure(_tensor(image), _tensor(reference),
                                                     data_range=1.0))
