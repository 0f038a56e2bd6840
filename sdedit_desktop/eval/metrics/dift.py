"""DragBench's drag accuracy: DIFT features from the loaded UNet itself (any family).

The features of an image are the output of one UNet up-block (index 1, as DIFT and DragBench
use) when the UNet denoises the image's latent noised to t=261, averaged over an ensemble of
noise draws. Each handle's feature in the input image is looked up in the edited image (cosine
similarity, features upsampled to image size); the mean distance from the match to the target
is the score (0 = every handle ended exactly on its target).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

DIFT_T = 261
DIFT_UP_BLOCK = 1
CHANNEL_CHUNK = 64  # channels upsampled at a time: full-size SD features would need GBs


@torch.no_grad()
def dift_features(model, image: np.ndarray, prompt: str, *, t: int = DIFT_T,
                  up_block: int = DIFT_UP_BLOCK, ensemble: int = 8, seed: int = 0,
                  ) -> torch.Tensor:
    """[C, h, w] float32 features of `image` (HxWx3 uint8). Needs `model.unet` (a diffusers
    UNet) besides the LatentDiffusionModel protocol."""
    unet = getattr(model, "unet", None)
    if unet is None or not hasattr(unet, "up_blocks"):
        raise ValueError("the model has no diffusers UNet to take DIFT features from")
    height, width = image.shape[:2]
    # The UNet halves the latent three times: sizes in multiples of 8 latent pixels.
    unit = model.vae_scale_factor * 8
    size = (max(unit, round(height / unit) * unit), max(unit, round(width / unit) * unit))
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False) / 127.5 - 1.0
    latent = model.encode_image(x).float()
    alpha = model.schedule.alpha_bar(t)  # the model's own training schedule
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((ensemble, *latent.shape[1:]), generator=generator)
    noisy = math.sqrt(alpha) * latent.cpu() + math.sqrt(1.0 - alpha) * noise
    captured: list[torch.Tensor] = []
    hook = unet.up_blocks[up_block].register_forward_hook(
        lambda _m, _i, out: captured.append(out[0] if isinstance(out, tuple) else out))
    try:
        model.predict_noise(noisy, t, model.encode_prompt(prompt))
    finally:
        hook.remove()
    return captured[0].float().mean(dim=0).cpu()


def match_points(source_features: torch.Tensor, edited_features: torch.Tensor,
                 handles: Sequence[tuple[int, int]], size: tuple[int, int],
                 ) -> list[tuple[int, int]]:
    """For each (x, y) handle: the pixel of the edited image (height, width = size) whose
    feature is most similar (cosine) to the handle's feature in the source image."""
    height, width = size
    channels = source_features.shape[0]
    dots = torch.zeros(len(handles), height * width, dtype=torch.float64)
    sq_norm = torch.zeros(height * width, dtype=torch.float64)
    for start in range(0, channels, CHANNEL_CHUNK):
        part = slice(start, start + CHANNEL_CHUNK)
        src = F.interpolate(source_features[None, part], size=size, mode="bilinear",
                            align_corners=False)[0]
        dst = F.interpolate(edited_features[None, part], size=size, mode="bilinear",
                            align_corners=False)[0].reshape(src.shape[0], -1).double()
        vectors = torch.stack([src[:, y, x] for x, y in handles]).double()  # [P, c]
        dots += vectors @ dst
        sq_norm += (dst * dst).sum(dim=0)
    # the handle's own norm does not change which pixel is best; the pixels' norms do
    similarity = dots / sq_norm.clamp_min(1e-12).sqrt()
    best = similarity.argmax(dim=1).tolist()
    return [(i % width, i // width) for i in best]


def mean_distance(points: Sequence[tuple[int, int]],
                  targets: Sequence[tuple[int, int]]) -> float:
    return float(np.mean([math.dist(p, t) for p, t in zip(points, targets, strict=True)]))


def drag_distance(model, source: np.ndarray, edited: np.ndarray, prompt: str,
                  pairs: Sequence[tuple[tuple[int, int], tuple[int, int]]],
                  ensemble: int = 8) -> float:
    """DragBench's mean distance (pixels of the input image) for one edited sample."""
    src = dift_features(model, source, prompt, ensemble=ensemble)
    dst = dift_features(model, edited, prompt, ensemble=ensemble)
    matched = match_points(src, dst, [h for h, _ in pairs], source.shape[:2])
    return mean_distance(matched, [t for _, t in pairs])
