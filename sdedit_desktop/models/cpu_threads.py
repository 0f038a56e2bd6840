"""How many CPU threads torch may use inside one operation (intra-op), for the editor's engine,
the CLI and the benchmark alike.

torch's default is one thread per core. Its thread pool (OpenMP) waits for every thread at the
end of each operation, so when another process takes a core the whole pool waits for the thread
that lost it. Measured with `sdedit bench`'s CPU-threads section on a shared 2-core machine
(tiny model, 512 px, batch 4; nine runs, README "Performance"): a UNet call took a median of
51 ms with one thread and 400 ms with two (35 ms at best, 2.6 s at worst), and beside one busy
process 86 ms against 1.6 s. One core left free costs at most that core's parallel
speed-up on an idle machine, and it keeps the editor's UI thread (and everything else the user
runs) responsive while an edit runs on the CPU. So the policy is: every usable core but one, at
least one. `OMP_NUM_THREADS` (torch's own knob), when the user sets it, wins.

Pure torch, no Qt."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

ENV_OVERRIDE = "OMP_NUM_THREADS"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def override_threads(env: Mapping[str, str] | None = None) -> int | None:
    """The thread count the user set in `OMP_NUM_THREADS`, or None (unset or not a count)."""
    text = (os.environ if env is None else env).get(ENV_OVERRIDE, "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def policy_threads(cores: int | None = None, env: Mapping[str, str] | None = None) -> int:
    """Intra-op threads for edits: the user's `OMP_NUM_THREADS`, else every usable core but
    one (at least one)."""
    chosen = override_threads(env)
    if chosen is not None:
        return chosen
    return max(1, (usable_cores() if cores is None else cores) - 1)


def apply_thread_policy(threads: int | None = None) -> int:
    """Set torch's intra-op threads to `threads` (default: `policy_threads()`) for the calling
    thread and every thread that starts computing later; returns the count. Call it on the
    thread that runs the edits (the engine's worker, the CLI's main thread): torch keeps the
    setting per thread once a thread has computed."""
    count = policy_threads() if threads is None else max(1, int(threads))
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
