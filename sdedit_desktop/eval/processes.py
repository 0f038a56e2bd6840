"""The processes of a run, from accelerate's process state: which share is ours, who merges.

Under `accelerate launch` (one node or many) every process sees the same index/count that
accelerate set up; a plain `sdedit eval` is process 0 of 1.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class ProcessGroup:
    index: int
    count: int
    wait_for_everyone: Callable[[], None]
    device: str | None = None  # this process's accelerator under accelerate, e.g. "cuda:3"

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def share(self, items: list) -> list:
        """This process's items: every count-th one from its index, so the shares are disjoint,
        cover everything, and stay balanced whatever the order of sample sizes."""
        return items[self.index::self.count]


def single_process() -> ProcessGroup:
    return ProcessGroup(index=0, count=1, wait_for_everyone=lambda: None)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_process(cores: int, local_processes: int) -> int:
    """CPU threads each of `local_processes` processes on one machine may use: the cores
    shared out. Every process taking all cores (torch's default) oversubscribes the machine:
    two such processes on 2 cores ran 5-20x slower than two single-threaded ones."""
    return max(1, cores // max(1, local_processes))


def local_process_count(count: int) -> int:
    """Processes of this run on this machine (torchrun/accelerate set LOCAL_WORLD_SIZE)."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", count)))
    except ValueError:
        return count


def accelerate_processes(device: str) -> ProcessGroup:
    """accelerate's PartialState. Without a GPU (or with --device cpu) it must be told `cpu`,
    else processes started by `accelerate launch` each believe they are alone."""
    import torch
    from accelerate import PartialState

    cpu = device == "cpu" or (device in ("auto", "cuda") and not torch.cuda.is_available())
    state = PartialState(cpu=cpu)
    local = local_process_count(state.num_processes)
    if local > 1:
        torch.set_num_threads(threads_per_process(available_cores(), local))
    return ProcessGroup(index=state.process_index, count=state.num_processes,
                        wait_for_everyone=state.wait_for_everyone,
                        device=None if state.num_processes == 1 else str(state.device))
