"""Status-bar texts for the engine's model state: device, precision and which model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdedit_desktop.engine.types import ModelState


@dataclass(frozen=True)
class ModelStatusText:
    device: str
    dtype: str
    model: str
    tooltip: str


def model_status_text(state: ModelState) -> ModelStatusText:
    identity = state.identity
    if state.status == "ready" and identity is not None:
        name = identity.source if identity.kind != "tiny" else "tiny demo model"
        model = f"Model: {Path(name).name or name}"
    elif state.status == "loading":
        fraction = state.fraction
        model = "Model: loading…" + (f" {100 * fraction:.0f}%" if fraction else "")
    elif state.status == "error":
        model = "Model: failed to load"
    else:
        model = "Model: none"
    return ModelStatusText(f"Device: {state.device or '—'}", f"Precision: {state.dtype or '—'}",
                           model, state.message or "")
