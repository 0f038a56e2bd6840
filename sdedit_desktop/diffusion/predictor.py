"""The noise-predictor interface every solver runs on: `eps(x, t) -> Tensor`.

`t` is an int (one level for the whole batch) or a 1-D long tensor (one level per sample, used
to batch trajectory-side predictions across steps). Any callable works: the SD UNet with
guidance, or the analytic Gaussian-mixture model of the theory check.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Timestep = int | torch.Tensor
NoisePredictor = Callable[[torch.Tensor, Timestep], torch.Tensor]


def randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Gaussian noise shaped like x, drawn on the generator's device (so a CPU generator gives
    the same noise whatever device x lives on) in float32 and then cast to x's dtype, so one
    seed gives the same noise, hence the same edit up to rounding, in float32 and float64
    (docs/algorithms.md, "Noise and dtypes")."""
    device = generator.device if generator is not None else x.device
    z = torch.randn(x.shape, generator=generator, device=device, dtype=torch.float32)
    return z.to(x.device, x.dtype, non_blocking=True)
