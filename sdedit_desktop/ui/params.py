"""What each method panel shows: one ParamSpec per request parameter, generated from the request
dataclasses' schema (edits/schema.py: label, range, tooltip with the paper's value). The panel's
own texts (method names, tips, the hint) are the edit kind's (`EditKind.methods`, `.hint`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdedit_desktop.edits.requests import EditRequest
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


SEED = spec_of(schema_field(EditRequest, "seed"))
MAX_SIDE = spec_of(schema_field(EditRequest, "max_side"))
