"""Named parameter presets for the next edit, defined next to the request schema so the
panels, the run box and any future CLI flag share one definition.

"paper" is the paper's defaults (each field's `param(...)` default) and stays the default;
"draft" trades quality for speed on slow devices (a CPU): fewer solver steps, so a first
result arrives in a fraction of the time. A preset lists only the fields it changes; applying
"paper" puts those fields back to their defaults. Pure Python (no torch, no Qt)."""

from __future__ import annotations

from typing import Any

from sdedit_desktop.edits.requests import REQUEST_TYPES

PAPER = "paper"
DRAFT = "draft"

# kind -> field -> value. Drag's N sets the grid the t0 * N reverse steps per drag step come
# from (200 -> 50: 4x fewer model calls); the other kinds run `steps` solver steps.
_DRAFT: dict[str, dict[str, Any]] = {
    "drag": {"steps": 50},
    "inpaint": {"steps": 20},
    "diffedit": {"steps": 20},
    "reconstruct": {"steps": 20},
}

PRESET_LABELS = {PAPER: "Paper defaults", DRAFT: "Draft (fewer steps)"}


def preset_fields(kind: str) -> tuple[str, ...]:
    """The fields a preset may change for `kind`."""
    return tuple(_DRAFT.get(kind, {}))


def preset_values(name: str, kind: str) -> dict[str, Any]:
    """The values preset `name` gives `kind` (only the fields presets change)."""
    if name == DRAFT:
        return dict(_DRAFT.get(kind, {}))
    if name == PAPER:
        defaults = REQUEST_TYPES[kind].defaults()
        return {f: defaults[f] for f in preset_fields(kind)}
    raise KeyError(f"unknown preset {name!r} (known: {', '.join(PRESET_LABELS)})")


def preset_of(kind: str, params: dict[str, Any]) -> str | None:
    """The preset whose values `params` holds for `kind`, or None (custom values)."""
    if not preset_fields(kind):
        return PAPER
    for name in (PAPER, DRAFT):
        if all(params.get(f) == v for f, v in preset_values(name, kind).items()):
            return name
    return None
