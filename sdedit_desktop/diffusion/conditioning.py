"""The conditioning a model is given, as a value guidance can batch without knowing its content.

SD 1.x / 2.x are conditioned on one tensor of token embeddings [B, 77, D]; SDXL on the token
embeddings plus a pooled text embedding (models/families/sdxl.py). Either is batch-first, so
classifier-free guidance only needs to repeat a conditioning to a batch size and to stack the
unconditional and conditional ones: `expand_batch` and `concat` do that for both kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Conditioning:
    """Named tensors, batch first (every tensor has the same batch size)."""

    tensors: Mapping[str, torch.Tensor]

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]

    @property
    def batch(self) -> int:
        return int(next(iter(self.tensors.values())).shape[0])

    def map(self, fn) -> Conditioning:
        return Conditioning({name: fn(t) for name, t in self.tensors.items()})


Cond = torch.Tensor | Conditioning


def batch_of(cond: Cond) -> int:
    return cond.batch if isinstance(cond, Conditioning) else int(cond.shape[0])


def expand_batch(cond: Cond, n: int) -> Cond:
    """`cond` (batch 1 or n) repeated to batch n (a view where possible)."""
    def one(t: torch.Tensor) -> torch.Tensor:
        return t.expand(n, *t.shape[1:])

    return cond.map(one) if isinstance(cond, Conditioning) else one(cond)


def concat(items: Sequence[Cond]) -> Cond:
    """The conditionings stacked along the batch (all of one kind)."""
    first = items[0]
    if isinstance(first, Conditioning):
        return Conditioning({name: torch.cat([c[name] for c in items])  # type: ignore[index]
                             for name in first.tensors})
    return torch.cat(list(items))  # type: ignore[arg-type]


def to_device(cond: Cond, device: torch.device | str, dtype: torch.dtype | None = None) -> Cond:
    def one(t: torch.Tensor) -> torch.Tensor:
        return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

    return cond.map(one) if isinstance(cond, Conditioning) else one(cond)
