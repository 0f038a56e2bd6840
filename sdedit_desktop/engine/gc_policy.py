"""Keeping Python's cyclic garbage collector from freezing the UI.

A full (generation 2) collection walks every tracked object while holding the GIL. With torch,
diffusers and a loaded model that is a few hundred thousand objects and 50-150 ms on a laptop
CPU: the UI thread stalls for that long whichever thread triggered it. Objects that live as long
as the app (modules, the loaded model) are therefore moved out of the collector's reach with
`gc.freeze()`; they are thawed before the model is released, so an unloaded model that sits in
a reference cycle is still freed.

The engine calls these on the UI thread only: a collection destroys whatever garbage exists,
and Qt objects caught in cycles (timers, event loops) must die on their own thread.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()


def freeze_long_lived() -> None:
    """Collect garbage now, then exempt everything still alive from future collections."""
    with _lock:
        gc.collect()
        gc.freeze()


def thaw() -> None:
    """Give frozen objects back to the collector (before releasing something long-lived)."""
    with _lock:
        gc.unfreeze()
