"""Conversions between uint8 images/masks and model tensors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sdedit_desktop.core.tensors import image_to_tensor, tensor_to_image

__all__ = ["blend", "image_to_tensor", "latent_mask", "psnr", "tensor_to_image"]


def latent_mask(mask: np.ndarray, latent_hw: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    """Pixel mask (0 = keep; anything painted, soft edges included, may change) -> [1,1,h,w]
    tensor of 0/1 in like's dtype/device: a latent pixel may change when at least half of its
    8x8 pixels are painted. The composite then blends by the mask's value (edits/composite.py)."""
    m = torch.from_numpy((mask > 0).astype(np.float32))[None, None]
    m = F.adaptive_avg_pool2d(m, latent_hw)
    return (m >= 0.5).to(like.device, like.dtype)


def blend(inside: torch.Tensor, outside: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """mask * inside + (1 - mask) * outside, exact where the mask is 0 or 1."""
    if mask is None:
        return inside
    return torch.where(mask.bool(), inside, outside)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
