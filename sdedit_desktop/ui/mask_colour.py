"""The mask overlay's colour: a "#rrggbb" setting (Settings > Mask colour, picked with
settings_dialog.MaskColourButton), read with a fallback so a damaged settings value never
breaks the canvas. No widgets.

A red overlay vanishes over a red object; the user picks a colour that stands out on their
photo. The drag points do not depend on it: they carry their own dark and light rings
(canvas_items.PointsItem)."""

from __future__ import annotations

import re

DEFAULT_MASK_COLOUR = "#ff325a"
# Offered first in the colour dialog: colours that stand out on most photos.
SUGGESTED = ("#ff325a", "#00d2ff", "#3cff50", "#ffdc00", "#b450ff", "#ffffff")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def is_mask_colour(text: object) -> bool:
    """Whether `text` is a colour the setting can hold ("#rrggbb")."""
    return isinstance(text, str) and _HEX.fullmatch(text) is not None


def mask_rgb(text: str) -> tuple[int, int, int]:
    """The setting as (r, g, b); the default colour for anything that is not "#rrggbb"."""
    value = text if is_mask_colour(text) else DEFAULT_MASK_COLOUR
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def colour_text(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
