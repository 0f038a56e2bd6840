"""Seconds per UNet call as the edit itself makes them: wraps the model's `predict_noise` for
the length of one edit and times every call with its batch size.

On CUDA each call is bracketed by CUDA events (no synchronisation inside the loop, so the edit
runs as it always does); on the CPU a call's wall time is its cost. Reported per batch size as
the median, which a warm-up call or a stray hiccup of the machine cannot move.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


class UnetCallTimer:
    def __init__(self, model: Any):
        self.model = model
        self._cuda = model.device.type == "cuda"
        self._events: list[tuple[int, Any, Any]] = []  # CUDA: (batch, start, end)
        self._seconds: dict[int, list[float]] = defaultdict(list)  # CPU and others

    def _timed(self, original):
        def predict_noise(latent: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            batch = int(latent.shape[0])
            if self._cuda:
                start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
                start.record()
                out = original(latent, *args, **kwargs)
                end.record()
                self._events.append((batch, start, end))
                return out
            began = time.perf_counter()
            out = original(latent, *args, **kwargs)
            self._seconds[batch].append(time.perf_counter() - began)
            return out
        return predict_noise

    @contextmanager
    def active(self) -> Iterator[UnetCallTimer]:
        own = vars(self.model).get("predict_noise")  # an instance attribute, if any
        self.model.predict_noise = self._timed(self.model.predict_noise)
        try:
            yield self
        finally:
            if own is None:
                del self.model.predict_noise  # back to the class's method
            else:
                self.model.predict_noise = own

    def median_seconds(self) -> dict[str, float]:
        """Median seconds per call for each batch size the edit used."""
        seconds = {b: list(v) for b, v in self._seconds.items()}
        if self._events:
            torch.cuda.synchronize(self.model.device)
            for batch, start, end in self._events:
                seconds.setdefault(batch, []).append(start.elapsed_time(end) / 1000)
        return {str(b): statistics.median(v) for b, v in sorted(seconds.items())}
