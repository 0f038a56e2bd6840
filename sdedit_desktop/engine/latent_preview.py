"""A cheap live preview of a latent: a fixed linear map from the 4 latent channels to RGB.

Decoding with the VAE costs about as much as a UNet call; this costs one tiny matmul, so it can run
on every sampling step. The factors are the model family's least-squares fit of its VAE decodes
(core/families.py; latents as the UNet sees them, i.e. already multiplied by the scaling factor)
to RGB in [-1, 1]; the result is a recognisable low-resolution (1/8 size) thumbnail.
No Qt here: numpy/torch in, numpy out.
"""

from __future__ import annotations

import numpy as np
import torch

from sdedit_desktop.core.families import FAMILIES, LatentRgb

# Rows: latent channels 0..3; columns: R, G, B contribution. The default: SD 1.x's.
DEFAULT_LATENT_RGB: LatentRgb = FAMILIES["sd1"].latent_rgb


def latent_to_rgb(latent: torch.Tensor | np.ndarray,
                  factors: LatentRgb = DEFAULT_LATENT_RGB) -> np.ndarray:
    """Latent [1,4,h,w] or [4,h,w] (any float dtype, any device) -> hxwx3 uint8 RGB.

    Uses only the first sample of a batch. Raises ValueError for anything that is not a
    4-channel latent, so a wrong tensor never silently becomes a garbage preview.
    """
    if isinstance(latent, torch.Tensor):
        array = latent.detach().to("cpu", torch.float32).numpy()
    else:
        array = np.asarray(latent, dtype=np.float32)
    if array.ndim == 4:
        array = array[0]
    if array.ndim != 3 or array.shape[0] != 4:
        raise ValueError(
            f"latent preview needs a [1,4,h,w] or [4,h,w] latent, got shape {tuple(array.shape)}")
    weights = np.asarray(factors, dtype=np.float32)
    # [4,h,w] -> [h,w,4] @ [4,3] -> [h,w,3] in roughly [-1, 1].
    rgb = np.tensordot(array.transpose(1, 2, 0), weights, axes=([2], [0]))
    rgb = np.nan_to_num(rgb, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip((rgb + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
