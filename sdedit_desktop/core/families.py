"""The model families as the UI, the project format and the region code see them (torch-free).

A family is a line of checkpoints that share an architecture and a training setup: SD 1.x
(1.4, 1.5 and fine-tunes), SD 2.x (512 px ε-prediction and 768 px v-prediction) and SDXL 1.0
(base and fine-tunes). What the editor needs to know before a model runs (the native side that
sizes the auto edit region, the default working size, the latent scaling) is here; how a
family loads, encodes prompts and calls its UNet is in `models/families/`, the one place that
knows each architecture. A model's `ModelIdentity` names its family and prediction type.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdedit_desktop.core.identity import ModelIdentity

DEFAULT_FAMILY = "sd1"  # what an identity without a family (older projects) means
PREDICTION_TYPES = ("epsilon", "v_prediction")  # what a UNet outputs: the noise, or v
PREDICTION_LABELS = {"epsilon": "ε-prediction", "v_prediction": "v-prediction"}


LatentRgb = tuple[tuple[float, float, float], ...]  # per latent channel: its R, G, B weight

# Least-squares fits of VAE decodes (latents as the UNet sees them -> RGB in [-1, 1]), the
# widely used ones: a live preview costs one tiny matmul instead of a VAE decode. SD 2.x shares
# SD 1.x's VAE.
_SD_LATENT_RGB: LatentRgb = ((0.3512, 0.2297, 0.3227), (0.3250, 0.4974, 0.2350),
                             (-0.2829, 0.1762, 0.2721), (-0.2120, -0.2616, -0.7177))
_SDXL_LATENT_RGB: LatentRgb = ((0.3920, 0.4054, 0.4549), (-0.2634, -0.0196, 0.0653),
                               (0.0568, 0.1687, -0.0755), (-0.3112, -0.2359, -0.2076))


@dataclass(frozen=True)
class FamilyInfo:
    name: str  # the key stored in identities and projects
    label: str  # for people
    native_side: int  # training resolution (px) of its ε-models
    latent_scaling: float  # the VAE latent scaling factor
    latent_rgb: LatentRgb  # the live preview's latent -> RGB map
    v_native_side: int | None = None  # training resolution of its v-prediction models, if other

    def side(self, prediction_type: str | None = None) -> int:
        """The native side of this family's models with that prediction type."""
        if prediction_type == "v_prediction" and self.v_native_side is not None:
            return self.v_native_side
        return self.native_side

    def default_max_side(self, prediction_type: str | None = None) -> int:
        """The default longest working side: 1.5x native (768 for SD 1.x, 1536 for SDXL), where
        these models still compose well and an auto region at native size stays at scale 1."""
        return self.side(prediction_type) * 3 // 2

    def describe(self, prediction_type: str | None = None) -> str:
        """"SDXL · 1024 px · ε-prediction"."""
        kind = PREDICTION_LABELS.get(prediction_type or "epsilon", prediction_type or "")
        return f"{self.label} · {self.side(prediction_type)} px · {kind}"


FAMILIES: dict[str, FamilyInfo] = {
    "sd1": FamilyInfo("sd1", "SD 1.x", 512, 0.18215, _SD_LATENT_RGB),
    "sd2": FamilyInfo("sd2", "SD 2.x", 512, 0.18215, _SD_LATENT_RGB, v_native_side=768),
    "sdxl": FamilyInfo("sdxl", "SDXL", 1024, 0.13025, _SDXL_LATENT_RGB),
}


class UnknownFamilyError(ValueError):
    """A family name this version does not know (a project from a newer version)."""


def family_info(name: str | None) -> FamilyInfo:
    """The family of that name; None means SD 1.x (identities written before families)."""
    info = FAMILIES.get(name or DEFAULT_FAMILY)
    if info is None:
        raise UnknownFamilyError(f"unknown model family {name!r} (known: "
                                 f"{', '.join(FAMILIES)})")
    return info


def family_of(identity: ModelIdentity | None) -> FamilyInfo:
    """The family of a model identity (None: no model known yet, SD 1.x)."""
    return family_info(None if identity is None else identity.family)


def native_side(identity: ModelIdentity | None) -> int:
    """The native side of the model an identity names (512 when none is known)."""
    return family_of(identity).side(None if identity is None else identity.prediction_type)


def default_max_side(identity: ModelIdentity | None) -> int:
    return family_of(identity).default_max_side(
        None if identity is None else identity.prediction_type)


def describe_model(identity: ModelIdentity | None) -> str:
    """"SD 2.x · 768 px · v-prediction" for an identity (the SD 1.x line when None)."""
    return family_of(identity).describe(None if identity is None else identity.prediction_type)


def same_family(a: ModelIdentity | None, b: ModelIdentity | None) -> bool:
    """Whether two identities are of one family (an unknown side matches anything)."""
    if a is None or b is None:
        return True
    return (a.family or DEFAULT_FAMILY) == (b.family or DEFAULT_FAMILY)
