"""Keeping Python's cyclic garbage collector from freezing the UI or crashing Qt.

Two problems, one module:

* Stalls. A full (generation 2) collection walks every tracked object while holding the GIL.
  With torch, diffusers and a loaded model that is a few hundred thousand objects and 50-150 ms
  on a laptop CPU: the UI thread stalls for that long whichever thread triggered it. Objects that
  live as long as the app (modules, the loaded model) are moved out of the collector's reach
  with `gc.freeze()`; they are thawed before the model is released, so an unloaded model that
  sits in a reference cycle is still freed.
* Wrong-thread destruction. A collection frees whatever cyclic garbage exists, on the thread
  that happened to trigger it. Qt objects caught in cycles (an event loop's timers, a closed
  dialog) must die on their own (UI) thread; freed on the worker thread they corrupt Qt's state
  and crash the app later. So while the worker runs a job or loads a model, automatic
  collection is held off (`hold`), and the UI thread collects when the worker is done
  (`release`). Explicit collections are only made on the UI thread.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_holds = 0
_was_enabled = True


def freeze_long_lived() -> None:
    """Collect garbage now, then exempt everything still alive from future collections.
    UI thread only."""
    with _lock:
        gc.collect()
        gc.freeze()


def thaw() -> None:
    """Give frozen objects back to the collector (before releasing something long-lived).
    Any thread: it only moves objects between generations."""
    with _lock:
        gc.unfreeze()


def hold() -> None:
    """Worker thread, before a job or a model load: no automatic collections until the
    matching `release`."""
    global _holds, _was_enabled
    with _lock:
        if _holds == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holds += 1


def release() -> bool:
    """UI thread, after the worker finished what it held for: when nothing holds any more,
    collect here and switch automatic collection back on. Returns True if it collected."""
    global _holds
    with _lock:
        if _holds == 0:
            return False
        _holds -= 1
        if _holds or not _was_enabled:
            return False
        # Nothing was promoted while collection was off, so everything the worker allocated
        # meanwhile is still in the young generations: collecting those is enough and fast
        # (a full pass would stall the UI, see above).
        gc.collect(1)
        gc.enable()
        return True


def holds() -> int:
    with _lock:
        return _holds
