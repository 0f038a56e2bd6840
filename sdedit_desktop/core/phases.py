"""The progress phases edits report, named once: the edits report them, their job plans expect
them (engine/progress_tracker matches a report to a planned phase by its name or, for numbered
phases, by the name up to the "/"), and the LoRA trainer reports LORA."""

from __future__ import annotations

LORA = "LoRA"  # training the per-image LoRA (models/lora.py)
INPAINTING = "inpainting"
COMPUTING_MASK = "computing mask"  # DiffEdit's automatic mask
INVERTING = "inverting"  # DDIM inversion (ODE methods)
EDITING = "editing"  # DiffEdit's sampling pass
RECONSTRUCTING = "reconstructing"


def drag_step(i: int, m: int) -> str:
    """Drag step i of m (1-based): the reverse pass of one drag step."""
    return f"{drag_step_prefix(i)}{m}"


def drag_step_prefix(i: int) -> str:
    return f"drag step {i}/"


def drag_inverting(i: int, m: int) -> str:
    """ODE-Drag: the inversion before drag step i of m."""
    return f"{drag_inverting_prefix(i)}{m}"


def drag_inverting_prefix(i: int) -> str:
    return f"{INVERTING} {i}/"
