"""Named parameter presets for the next edit, so the panels, the run box and any CLI flag share
one definition.

"paper" is the paper's defaults (each field's `param(...)` default) and stays the default;
"draft" trades quality for speed on slow devices (a CPU): fewer solver steps, so a first
result arrives in a fraction of the time. Each kind lists, per preset, only the fields the preset
changes (`EditKind.presets`); applying "paper" puts the fields any preset changes back to their
defaults. Pure Python (no torch, no Qt)."""

from __future__ import annotations

from typing import Any

from sdedit_desktop.edits.kinds import kind_named

PAPER = "paper"
DRAFT = "draft"

PRESET_LABELS = {PAPER: "Paper defaults", DRAFT: "Draft (fewer steps)"}


def preset_fields(kind: str) -> tuple[str, ...]:
    """The fields a preset may change for `kind`."""
    names: dict[str, None] = {}
    for values in kind_named(kind).presets.values():
        names.update(dict.fromkeys(values))
    return tuple(names)


def preset_values(name: str, kind: str) -> dict[str, Any]:
    """The values preset `name` gives `kind` (only the fields presets change)."""
    if name == PAPER:
        defaults = kind_named(kind).request_type.defaults()
        return {f: defaults[f] for f in preset_fields(kind)}
    if name not in PRESET_LABELS:
        raise KeyError(f"unknown preset {name!r} (known: {', '.join(PRESET_LABELS)})")
    return dict(kind_named(kind).presets.get(name, {}))


def preset_of(kind: str, params: dict[str, Any]) -> str | None:
    """The preset whose values `params` holds for `kind`, or None (custom values)."""
    if not preset_fields(kind):
        return PAPER
    for name in PRESET_LABELS:
        if all(params.get(f) == v for f, v in preset_values(name, kind).items()):
            return name
    return None
