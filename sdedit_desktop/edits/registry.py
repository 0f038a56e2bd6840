"""The edit kinds, in one table: for each its request type, title, how it uses the canvas mask,
its latent precision, its run function and its job plan (both next to the algorithm, in the
kind's module).

Everything that dispatches on the kind of an edit reads this table: `run_edit`, the engine's
job plan, the method panels and the CLI. Torch-free: the algorithm module of a kind is imported
only when its run function or plan is first asked for, so the UI can list kinds and build
requests without loading torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sdedit_desktop.core.plan import JobPlan
from sdedit_desktop.edits.composite import SeamSide
from sdedit_desktop.edits.requests import (
    DiffEditRequest,
    DragRequest,
    EditRequest,
    InpaintRequest,
    ReconstructRequest,
)

# How an edit uses the canvas mask: "optional" (drag: none = everything may change),
# "required" (inpaint), "by_mode" (DiffEdit: only with mask_mode "user"), "unused".
MaskUse = Literal["optional", "required", "by_mode", "unused"]


@dataclass(frozen=True)
class EditKind:
    kind: str
    title: str  # tab and CLI name
    request_type: type[EditRequest]
    module: str  # the algorithm: defines `run` and `plan` below
    run_name: str  # (session, request, reporter[, options, lora]) -> EditResult
    plan_name: str  # request -> JobPlan
    mask_use: MaskUse
    help: str  # one line for the CLI
    # Latent precision the request asks for ("float32"/"float64"), or None for the model's.
    latent_dtype: Callable[[EditRequest], str | None] = lambda request: None
    # The run function also takes the ExecutionOptions and the LoRA provider (drag only).
    takes_execution: bool = False
    # Which side of the mask the composite's seam lies on (edits/composite.py): OUTSIDE for
    # a mask that marks what is replaced, so none of the removed content survives in the hole.
    seam: SeamSide = SeamSide.INSIDE

    def _module(self) -> Any:
        return importlib.import_module(self.module)

    def run(self, session: Any, request: EditRequest, reporter: Any, options: Any,
            lora: Any) -> Any:
        """Run the algorithm on a prepared EditSession -> EditResult."""
        run = getattr(self._module(), self.run_name)
        if self.takes_execution:
            return run(session, request, reporter, options, lora)
        return run(session, request, reporter)

    def plan(self, request: EditRequest) -> JobPlan:
        return getattr(self._module(), self.plan_name)(request)

    @property
    def mask_required(self) -> bool:
        return self.request_type.mask_required


KINDS: dict[str, EditKind] = {k.kind: k for k in (
    EditKind("drag", "Drag", DragRequest, "sdedit_desktop.edits.drag", "run_drag", "plan_drag",
             "optional", "SDE-Drag / ODE-Drag: move content with point pairs",
             takes_execution=True),
    EditKind("inpaint", "Inpaint", InpaintRequest, "sdedit_desktop.edits.inpaint",
             "run_inpaint", "plan_inpaint", "required",
             "Inpaint-SDE / Inpaint-ODE with (SDE-)DPM-Solver++", seam=SeamSide.OUTSIDE),
    EditKind("diffedit", "DiffEdit", DiffEditRequest, "sdedit_desktop.edits.diffedit",
             "run_diffedit", "plan_diffedit", "by_mode",
             "DiffEdit-SDE / DiffEdit-ODE: rewrite with a prompt", seam=SeamSide.OUTSIDE),
    EditKind("reconstruct", "Reconstruct", ReconstructRequest,
             "sdedit_desktop.edits.reconstruct", "run_reconstruct", "plan_reconstruct",
             "unused", "invert and reconstruct without an edit (Table 3)",
             latent_dtype=lambda request: request.dtype),
)}


def kind_of(request: EditRequest) -> EditKind:
    """The table entry of a request (EditError-free: an unknown type is a programming error)."""
    entry = KINDS.get(request.kind)
    if entry is None or not isinstance(request, entry.request_type):
        raise KeyError(f"no edit kind for {type(request).__name__}")
    return entry
