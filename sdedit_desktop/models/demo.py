"""Which models are demos, and how an edit should run on one (torch-free: the editor reads it).

The tiny model has random weights: it shows that every feature works, but its pictures are
noise, so nothing is gained by the paper's full step count at full size. On a 2-core machine the
paper's default drag on a 512 px sample made 600 UNet calls and took minutes; the draft preset
(4x fewer calls) at a 256 px working size (4x fewer latent pixels) finishes in seconds (README,
"Performance"). A demo model therefore asks the editor for those settings while it is loaded;
real weights ask for nothing, so the paper's defaults stay the default there."""

from __future__ import annotations

from dataclasses import dataclass

from sdedit_desktop.core.identity import ModelIdentity


@dataclass(frozen=True)
class DemoSettings:
    """What the editor applies while a demo model is loaded."""

    preset: str  # a preset's name in edits/presets.py (a layer above: named, not imported)
    max_side: int  # the working size's longer side, px
    note: str  # what the user is told


TINY_DEMO = DemoSettings(
    preset="draft", max_side=256,
    note="The tiny demo model has random weights (its pictures are noise), so the editor "
         "picked the Draft preset and a 256 px max side: a demo edit takes seconds. Real "
         "weights use the paper's defaults.")


def demo_settings(identity: ModelIdentity | None) -> DemoSettings | None:
    """The settings a demo model asks for, or None for real weights (or no model)."""
    if identity is not None and identity.kind == "tiny":
        return TINY_DEMO
    return None
