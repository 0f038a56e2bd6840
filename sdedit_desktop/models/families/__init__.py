"""The model families, each one object that owns what is specific to it (models/families/base.py);
nothing outside this package names a family's architecture. The torch-free description the UI
and the region code read is `core/families.py`."""

from __future__ import annotations

from sdedit_desktop.core.families import DEFAULT_FAMILY
from sdedit_desktop.models.families.base import FamilyConfigs, ModelFamily, TextEncoderSpec
from sdedit_desktop.models.families.sd1 import SD1Family
from sdedit_desktop.models.families.sd2 import SD2Family
from sdedit_desktop.models.families.sdxl import SDXLFamily

SD1, SD2, SDXL = SD1Family(), SD2Family(), SDXLFamily()
MODEL_FAMILIES: dict[str, ModelFamily] = {f.name: f for f in (SD1, SD2, SDXL)}

__all__ = ["MODEL_FAMILIES", "SD1", "SD2", "SDXL", "FamilyConfigs", "ModelFamily",
           "TextEncoderSpec", "model_family"]


def model_family(name: str | None) -> ModelFamily:
    """The family object of that name (None: SD 1.x)."""
    try:
        return MODEL_FAMILIES[name or DEFAULT_FAMILY]
    except KeyError:
        raise ValueError(f"unknown model family {name!r} (known: "
                         f"{', '.join(MODEL_FAMILIES)})") from None
