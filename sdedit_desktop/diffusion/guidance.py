"""Classifier-free guidance as a wrapper that turns a conditional predictor into `eps(x, t)`.

The guidance and LoRA scales may vary per step: they are functions of the level t. Samples of one
batch may sit at different levels (batched trajectory predictions); guidance is then applied per
sample and samples are grouped by LoRA scale, which is one setting per model call.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sdedit_desktop.diffusion.conditioning import Cond, concat, expand_batch
from sdedit_desktop.diffusion.predictor import NoisePredictor, Timestep

# predict(x [B,...], t (int or [B]), conditioning of batch B, lora_scale) -> eps [B,...]
ConditionalPredictor = Callable[[torch.Tensor, Timestep, Cond, float], torch.Tensor]
Scale = float | Callable[[int], float]


def _at(scale: Scale, t: int) -> float:
    return float(scale(t)) if callable(scale) else float(scale)


def guided(predict: ConditionalPredictor, cond: Cond, uncond: Cond | None,
           guidance: Scale = 1.0, lora_scale: Scale = 1.0,
           skip_uncond_at_one: bool = True) -> NoisePredictor:
    """eps(x, t) = u + g(t) (c - u). With g == 1 (or no unconditional embedding) only the
    conditional prediction is computed, unless `skip_uncond_at_one` is False."""

    def eps(x: torch.Tensor, t: Timestep) -> torch.Tensor:
        if isinstance(t, torch.Tensor) and t.ndim > 0:
            levels = [int(v) for v in t.tolist()]
            groups: dict[float, list[int]] = {}
            for i, lv in enumerate(levels):
                groups.setdefault(_at(lora_scale, lv), []).append(i)
            if len(groups) > 1:  # one LoRA scale per model call
                out = torch.empty_like(x)
                for scale, idx in groups.items():
                    sel = torch.tensor(idx, device=x.device)
                    t_sel = t[torch.tensor(idx, device=t.device)]  # t may stay on the host
                    out[sel] = _predict(x[sel], t_sel, [levels[i] for i in idx], scale)
                return out
            return _predict(x, t, levels, next(iter(groups)))
        return _predict(x, int(t), [int(t)] * x.shape[0], _at(lora_scale, int(t)))

    def _predict(x: torch.Tensor, t: Timestep, levels: list[int], lscale: float) -> torch.Tensor:
        n = x.shape[0]
        g = [_at(guidance, lv) for lv in levels]
        if uncond is None or (skip_uncond_at_one and all(v == 1.0 for v in g)):
            return predict(x, t, expand_batch(cond, n), lscale)
        t2 = torch.cat([t, t]) if isinstance(t, torch.Tensor) else t
        both = concat([expand_batch(uncond, n), expand_batch(cond, n)])
        u, c = predict(torch.cat([x, x]), t2, both, lscale).chunk(2)
        if len(set(g)) == 1:
            return u + g[0] * (c - u)
        gt = torch.tensor(g, dtype=x.dtype, device=x.device).view(-1, *([1] * (x.ndim - 1)))
        return u + gt * (c - u)

    return eps
