"""The processes of a run, from accelerate's process state: which share is ours, who merges.

Under `accelerate launch` (one node or many) every process sees the same index/count that
accelerate set up; a plain `sdedit eval` is process 0 of 1.
"""

from __future__ import annotations

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


def accelerate_processes(device: str) -> ProcessGroup:
    """accelerate's PartialState. Without a GPU (or with --device cpu) it must be told `cpu`,
    else processes started by `accelerate launch` each believe they are alone."""
    import torch
    from accelerate import PartialState

    cpu = device == "cpu" or (device in ("auto", "cuda") and not torch.cuda.is_available())
    state = PartialState(cpu=cpu)
    return ProcessGroup(index=state.process_index, count=state.num_processes,
                        wait_for_everyone=state.wait_for_everyone,
                        device=None if state.num_processes == 1 else str(state.device))
