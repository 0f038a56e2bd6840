"""What a network predicts, turned into what the solvers use: the noise eps.

ε-models predict eps. v-models (SD 2.x 768-v and v fine-tunes) predict the velocity
v = sqrt(ab_t) eps - sqrt(1 - ab_t) x0; with x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps this gives
eps = sqrt(ab_t) v + sqrt(1 - ab_t) x_t. Converting at the predictor keeps every solver (DDIM,
DDPM, Cycle-SDE, DPM-Solver++) and the theory code unchanged (docs/models.md).
"""

from __future__ import annotations

import torch

from sdedit_desktop.core.families import PREDICTION_TYPES

__all__ = ["PREDICTION_TYPES", "eps_from_prediction", "training_target"]


def _per_sample(alpha_bar: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[B] alpha_bar values shaped to broadcast against a [B, ...] latent, in its dtype."""
    return alpha_bar.to(device=like.device, dtype=like.dtype).view(-1, *([1] * (like.ndim - 1)))


def eps_from_prediction(output: torch.Tensor, x_t: torch.Tensor, alpha_bar: torch.Tensor,
                        prediction_type: str) -> torch.Tensor:
    """The noise eps from a network's `output` at the noisy latent `x_t` whose levels have the
    given [B] (or [1]) alpha_bar values. Computed in x_t's dtype (float64 stays exact)."""
    if prediction_type == "epsilon":
        return output
    if prediction_type == "v_prediction":
        ab = _per_sample(alpha_bar, x_t)
        return ab.sqrt() * output.to(x_t.dtype) + (1.0 - ab).sqrt() * x_t
    raise ValueError(f"unknown prediction type {prediction_type!r}")


def training_target(clean: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor,
                    prediction_type: str) -> torch.Tensor:
    """What the network is trained to output for x_t = sqrt(ab) clean + sqrt(1 - ab) noise:
    the noise, or the velocity sqrt(ab) noise - sqrt(1 - ab) clean (diffusers' get_velocity)."""
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "v_prediction":
        ab = _per_sample(alpha_bar, clean)
        return ab.sqrt() * noise - (1.0 - ab).sqrt() * clean
    raise ValueError(f"unknown prediction type {prediction_type!r}")
