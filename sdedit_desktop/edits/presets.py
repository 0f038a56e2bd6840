"""Named parameter presets for the next edit, defined next to the request schema so the
panels, the run box and any future CLI flag share one definition.

"paper" is the paper's defaults (each field's `param(...)` default) and stays the default;
"draft" trades quality for speed on slow devices (a CPU): fewer solver steps, so a first
result arrives in a fraction of the time. A preset lists only the fields it changes; applying
"paper" puts those fields back to their defaults. "paper study" is the settings of the paper's
own evaluation runs, as its official scripts ran them (`sdedit eval KIND --preset paper`).
Pure Python (no torch, no Qt)."""

from __future__ import annotations

from typing import Any

from sdedit_desktop.edits.requests import REQUEST_TYPES

PAPER = "paper"
DRAFT = "draft"
PAPER_STUDY = "paper study"

# kind -> field -> value. Drag's N sets the grid the t0 * N reverse steps per drag step come
# from (200 -> 50: 4x fewer model calls); the other kinds run `steps` solver steps.
_DRAFT: dict[str, dict[str, Any]] = {
    "drag": {"steps": 50},
    "inpaint": {"steps": 20},
    "diffedit": {"steps": 20},
    "reconstruct": {"steps": 20},
}

# kind -> field -> value: every field the official evaluation script fixes, so a later change
# of a default never changes what this preset reproduces (docs/algorithms.md, "SDE-Drag").
_PAPER_STUDY: dict[str, dict[str, Any]] = {
    # ML-GSAI/SDE-Drag sdedrag_dragbench.py: a rank-4 LoRA trained on every image (100 steps,
    # AdamW lr 2e-4: models/lora.LoraSettings), the whole image at 512 px, t0 = 0.6 on the
    # DPM-Solver "linspace" timesteps of N = 200, step size 2, r = 5, beta 0.3, alpha 1.1,
    # CFG 1 -> 3, LoRA scale 1 -> 0.5, seed 1234.
    "drag": {"lora": "auto", "lora_rank": 4, "grid": "reference", "region": "whole",
             "max_side": 512, "steps": 200, "t0": 0.6, "step_size": 2.0, "half_size": 5,
             "source_scale": 0.3, "target_scale": 1.1, "cfg_min": 1.0, "cfg_max": 3.0,
             "lora_scale_min": 0.5, "lora_scale_max": 1.0, "seed": 1234},
}

PRESET_LABELS = {PAPER: "Paper defaults", DRAFT: "Draft (fewer steps)",
                 PAPER_STUDY: "The paper's evaluation settings"}


def preset_fields(kind: str) -> tuple[str, ...]:
    """The fields a preset may change for `kind`."""
    return tuple(_DRAFT.get(kind, {}))


def study_kinds() -> tuple[str, ...]:
    """The kinds the paper-study preset has settings for."""
    return tuple(_PAPER_STUDY)


def preset_values(name: str, kind: str) -> dict[str, Any]:
    """The values preset `name` gives `kind` (only the fields the preset changes; the paper
    study also sets the CLI's "region" choice, "whole")."""
    if name == DRAFT:
        return dict(_DRAFT.get(kind, {}))
    if name == PAPER_STUDY:
        return dict(_PAPER_STUDY.get(kind, {}))
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
