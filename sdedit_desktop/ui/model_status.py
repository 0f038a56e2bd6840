"""Status-bar texts for the engine's model state: device, precision, which model and its family
(the Model menu shows the same description)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdedit_desktop.core.families import describe_model, family_of
from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.models.demo import demo_settings


@dataclass(frozen=True)
class ModelStatusText:
    device: str
    dtype: str
    model: str
    tooltip: str
    family: str = ""  # "SDXL · 1024 px · ε-prediction" of a loaded model, else ""


def model_status_text(state: ModelState) -> ModelStatusText:
    identity = state.identity
    family = ""
    demo = None
    if state.status == "ready" and identity is not None:
        name = identity.source if identity.kind != "tiny" else "tiny demo model"
        model = f"Model: {Path(name).name or name} ({family_of(identity).label})"
        family = describe_model(identity)
        demo = demo_settings(identity)
    elif state.status == "loading":
        fraction = state.fraction
        model = "Model: loading…" + (f" {100 * fraction:.0f}%" if fraction else "")
    elif state.status == "error":
        model = "Model: failed to load"
    else:
        model = "Model: none"
    tooltip = state.message or ""
    if demo is not None:  # why the editor chose draft and a small size for it
        tooltip = demo.note
    if family:
        tooltip = f"{family}\n{tooltip}".strip()
    return ModelStatusText(f"Device: {state.device or '—'}", f"Precision: {state.dtype or '—'}",
                           model, tooltip, family)
