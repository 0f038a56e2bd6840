"""What each method panel shows: one ParamSpec per request parameter, generated from the request
dataclasses' schema (edits/schema.py: label, range, tooltip with the paper's value), plus the
texts that belong to the panels themselves (method names and hints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdedit_desktop.edits.registry import KINDS
from sdedit_desktop.edits.requests import DragRequest, EditRequest
from sdedit_desktop.edits.schema import SchemaField, schema, schema_field


@dataclass(frozen=True)
class ParamSpec:
    name: str  # the request field
    label: str
    kind: str  # "float", "int", "text", "choice"
    tooltip: str
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 0.1
    decimals: int = 2
    choices: tuple[tuple[Any, str], ...] = ()
    advanced: bool = False  # shown under "Advanced" (collapsed by default)


def spec_of(entry: SchemaField) -> ParamSpec:
    """The widget description of one schema entry. A range open at its low end starts one
    display unit above it (t0 > 0 shows 0.01 as its minimum)."""
    info = entry.info
    choices = info.choices or tuple((v, str(v)) for v in entry.literal_values)
    if choices:
        kind = "choice"
    elif entry.base_type is float:
        kind = "float"
    elif entry.base_type is int:
        kind = "int"
    else:
        kind = "text"
    minimum = 0.0 if info.lo is None else float(info.lo)
    if info.lo_open:
        minimum += 10.0 ** -info.decimals if kind == "float" else 1
    maximum = 1e9 if info.hi is None else float(info.hi)
    return ParamSpec(entry.name, info.label, kind, info.tooltip(), minimum, maximum, info.step,
                     info.decimals, choices, info.advanced)


def panel_specs(request_cls: type[EditRequest]) -> tuple[ParamSpec, ...]:
    return tuple(spec_of(entry) for entry in schema(request_cls) if entry.info.panel)


PANELS: dict[str, tuple[type[EditRequest], tuple[ParamSpec, ...]]] = {
    kind: (entry.request_type, panel_specs(entry.request_type)) for kind, entry in KINDS.items()}

METHOD_TIPS = {
    "drag": ("SDE-Drag (the paper's method): noise the image up to t0 with fresh noise, paste the "
             "dragged content, then sample back with Cycle-SDE so everything you did not drag is "
             "reconstructed.",
             "ODE-Drag (the paper's baseline): DDIM inversion up to t0 and DDIM sampling back. "
             "Usually leaves more artefacts around the dragged content."),
    "inpaint": ("Inpaint-SDE: SDE-DPM-Solver++, injects fresh noise every step; the paper finds "
                "it blends the filled region better.",
                "Inpaint-ODE: DPM-Solver++ (deterministic)."),
    "diffedit": ("DiffEdit-SDE: noise-adding + Cycle-SDE (target prompt for sampling, source "
                 "prompt to solve the noise).",
                 "DiffEdit-ODE: DDIM inversion with the source prompt, DDIM sampling with the "
                 "target prompt (the original DiffEdit)."),
    "reconstruct": ("Cycle-SDE: noise-adding trajectory + Cycle-SDE back; reconstructs the input "
                    "exactly up to float error (paper Table 3).",
                    "DDIM inversion + DDIM sampling: the ODE round trip; with guidance it drifts "
                    "(lower PSNR)."),
}
METHOD_LABELS = {
    "drag": ("SDE-Drag", "ODE-Drag"),
    "inpaint": ("Inpaint-SDE", "Inpaint-ODE"),
    "diffedit": ("DiffEdit-SDE", "DiffEdit-ODE"),
    "reconstruct": ("Cycle-SDE", "DDIM inversion"),
}

SEED = spec_of(schema_field(EditRequest, "seed"))
MAX_SIDE = spec_of(schema_field(EditRequest, "max_side"))
SEED_TIP = SEED.tooltip
MAX_SIDE_TIP = MAX_SIDE.tooltip
LORA_TIP = schema_field(DragRequest, "lora").info.tooltip()

PANEL_HINTS = {
    "drag": "Points tool (P): click a source, then its target. Optional mask: if you paint one, "
            "only the masked region may change.",
    "inpaint": "Mask brush (B): paint the region to fill; everything else is kept.",
    "diffedit": "Describe the image as it is and as it should be. With the automatic mask the "
                "mask DiffEdit used appears on the canvas afterwards, ready to refine.",
    "reconstruct": "No edit: goes up to t0 and back to measure how exactly each method "
                   "reconstructs the input (PSNR, paper Table 3).",
}
