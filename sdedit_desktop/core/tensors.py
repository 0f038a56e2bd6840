"""Conversions between uint8 images and model tensors (the one module of `core` that needs
torch; the edits and the LoRA trainer share it)."""

from __future__ import annotations

import numpy as np
import torch


def image_to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 -> [1,3,H,W] float32 in [-1, 1]."""
    t = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float() / 127.5 - 1.0
    return t.unsqueeze(0).to(device)


def tensor_to_image(t: torch.Tensor) -> np.ndarray:
    """[1,3,H,W] in [-1, 1] -> HxWx3 uint8."""
    arr = ((t[0].detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round()
    return arr.permute(1, 2, 0).to(torch.uint8).numpy()
