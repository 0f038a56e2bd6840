"""The benchmark's "CPU threads" section: seconds per UNet call of the loaded model for several
thread counts, on the machine as it is ("idle") and beside competing busy processes that this
section starts itself ("busy"). These are the figures behind the thread policy
(models/cpu_threads.py): torch's thread pool waits for all its threads after every operation,
so one thread that loses its core to another process stalls the rest.

Idle and busy phases alternate round by round, so a change of the machine's load during the
run touches both. A competing process is a plain Python busy loop; it ends by itself after a
bounded time even if the benchmark is killed, and is killed as soon as its phase is over."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from sdedit_desktop.models.cpu_threads import apply_thread_policy, policy_threads, usable_cores

HOG_SOURCE = ("import sys, time\n"
              "end = time.monotonic() + float(sys.argv[1])\n"
              "while time.monotonic() < end:\n"
              "    pass\n")
# A competing process lives at most this many times the idle phase's duration (and at least
# MIN_BUSY_S): long enough for a busy phase many times slower than the idle one.
BUSY_BOUND_FACTOR = 40
MIN_BUSY_S = 60.0


@contextmanager
def competing_processes(count: int, seconds: float) -> Iterator[list[subprocess.Popen]]:
    """`count` busy-looping Python processes that end by themselves after `seconds`, and are
    killed when the block ends."""
    procs = [subprocess.Popen([sys.executable, "-c", HOG_SOURCE, f"{seconds:.1f}"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def thread_counts(cores: int | None = None) -> tuple[int, ...]:
    """One thread, the policy's count and torch's default (every core)."""
    cores = usable_cores() if cores is None else cores
    return tuple(sorted({1, policy_threads(cores), cores}))


def _seconds_per_call(call: Callable[[], Any], threads: int, calls: int) -> float:
    torch.set_num_threads(threads)
    call()  # the first call after a thread change pays for the pool's start
    began = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - began) / calls


def measure_threads(model: Any, latent_hw: tuple[int, int], *, batch: int = 4,
                    counts: tuple[int, ...] | None = None, calls: int = 3, rounds: int = 2,
                    busy_processes: int = 1, log: Callable[[str], None] = print
                    ) -> dict[str, Any]:
    """Mean seconds per UNet call (`batch` latents of `latent_hw`, as a drag's guided call)
    per thread count, idle and beside `busy_processes` competing processes; the median over
    `rounds`. Leaves the policy's thread count set."""
    counts = counts or thread_counts()
    cond = model.encode_prompt("a photo")  # batch 1: the model expands it
    latent = torch.randn(batch, 4, *latent_hw, device=model.device, dtype=model.dtype)

    def call() -> None:
        with torch.inference_mode():
            model.predict_noise(latent, 500, cond)

    seen: dict[str, dict[int, list[float]]] = {"idle": {}, "busy": {}}
    try:
        for round_index in range(rounds):
            log(f"CPU threads, round {round_index + 1}/{rounds}: idle ...")
            began = time.perf_counter()
            for n in counts:
                seen["idle"].setdefault(n, []).append(_seconds_per_call(call, n, calls))
            bound = max(MIN_BUSY_S, BUSY_BOUND_FACTOR * (time.perf_counter() - began))
            log(f"CPU threads, round {round_index + 1}/{rounds}: beside {busy_processes} "
                "busy process(es) ...")
            with competing_processes(busy_processes, bound):
                for n in counts:
                    seen["busy"].setdefault(n, []).append(_seconds_per_call(call, n, calls))
    finally:
        policy = apply_thread_policy()
    return {
        "cores": usable_cores(), "policy_threads": policy, "busy_processes": busy_processes,
        "batch": batch, "latent": list(latent_hw), "calls": calls, "rounds": rounds,
        "seconds_per_call": {phase: {str(n): statistics.median(v) for n, v in sorted(by.items())}
                             for phase, by in seen.items()},
    }


def format_threads(section: dict[str, Any]) -> list[str]:
    idle, busy = section["seconds_per_call"]["idle"], section["seconds_per_call"]["busy"]
    lines = [f"CPU threads ({section['cores']} usable cores; edits use "
             f"{section['policy_threads']}): seconds per UNet call, batch {section['batch']}, "
             f"idle and beside {section['busy_processes']} busy process(es)"]
    for n in idle:
        ratio = busy[n] / idle[n] if idle[n] > 0 else float("inf")
        lines.append(f"  {n} thread(s): idle {idle[n] * 1000:.0f} ms, busy "
                     f"{busy[n] * 1000:.0f} ms ({ratio:.1f}x)")
    return lines
