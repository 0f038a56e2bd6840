"""Status-bar texts for the engine's model state: device, precision and which model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.models.demo import demo_settings


@dataclass(frozen=True)
class ModelStatusText:
    device: str
    dtype: str
    model: str
    tooltip: str


def model_status_text(state: ModelState) -> ModelStatusText:
    identity = state.identity
    tooltip = state.message or ""
    if state.status == "ready" and identity is not None:
        name = identity.source if identity.kind != "tiny" else "tiny demo model"
        model = f"Model: {Path(name).name or name}"
        demo = demo_settings(identity)
        if demo is not None:  # why the editor chose draft and a small size for it
            tooltip = demo.note
    elif state.status == "loading":
        fraction = state.fraction
        model = "Model: loading…" + (f" {100 * fraction:.0f}%" if fraction else "")
    elif state.status == "error":
        model = "Model: failed to load"
    else:
        model = "Model: none"
    return ModelStatusText(f"Device: {state.device or '—'}", f"Precision: {state.dtype or '—'}",
                           model, tooltip)
