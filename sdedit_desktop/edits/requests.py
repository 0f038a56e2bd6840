"""The request every edit kind extends, and the result every edit returns: plain dataclasses,
the single source of truth for an edit.

A request carries every parameter (with the paper's defaults), the seed and the model identity;
the input image and the optional mask travel with it as uint8 numpy arrays. `params()` gives the
JSON-able part (images are referenced by their SHA-256) and `from_params()` rebuilds a request
from it plus the arrays, which is what `.sdeproj` files and `--json` records store.

Each kind's request type lives with its kind object (`edits/kinds/<kind>.py`). Each tunable
field is declared with `schema.param(...)`: label, range, tooltip, paper default; the method
panels and the CLI's options are generated from it. `validate()` checks a request against that
schema plus the checks that involve several fields; the panels, the CLI and `run_edit` all call
it. What a kind means for the edit region (which mask bounds it, what the auto region centres
on, what a crop keeps) is a method of its request type. Torch-free: the UI imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal

import numpy as np

from sdedit_desktop.core.hashing import image_sha256
from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.core.types import GridKind, Point, PointPair
from sdedit_desktop.edits.geometry import (
    MAX_SIDE_LIMIT,
    MIN_SIDE,
    validate_image,
    validate_mask,
)
from sdedit_desktop.edits.masks import MASK_UNUSED, MaskUse
from sdedit_desktop.edits.region import (
    CONTEXT,
    Box,
    Region,
    crop,
    mask_bounds,
)
from sdedit_desktop.edits.schema import NOT_PARAMS, param, validate_fields

__all__ = ["EditRequest", "EditResult", "GridKind", "Point", "PointPair", "image_sha256"]

Method = Literal["sde", "ode"]
MAX_SEED = 2**32 - 1  # seeds are 32-bit unsigned: what spin boxes, numpy and torch all accept
MAX_STEPS = 1000  # sampling grid sizes: the models have 1000 training timesteps

STEPS_TIP = "Sampling grid size over the full diffusion time."
GRID_CHOICES = (("uniform", "Uniform (default)"), ("reference", "Reference code grid"))
GRID_TIP = ("Which timesteps the sampler visits. Uniform: t = k·(1000/N)+1, every step to its "
            "neighbour (the default). Reference: the paper's code grid round(linspace(0, 999, "
            "N+1)), for comparing with its published outputs.")


@dataclass(frozen=True, kw_only=True)
class EditRequest:
    """Fields common to every edit. `image` is HxWx3 uint8 RGB; `mask` is HxW uint8 (255 = may
    change) or None."""

    kind: ClassVar[str] = "base"
    mask_use: ClassVar[MaskUse] = MASK_UNUSED  # how the edit uses the canvas mask
    uses_points: ClassVar[bool] = False  # the edit takes drag points from the canvas
    image: np.ndarray = field(repr=False, compare=False)
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    method: Method = param("sde", label="Method", tip="sde (the paper's method) or ode (the "
                           "baseline)", panel=False, cli=False)
    seed: int = param(1234, label="Seed", tip="Random seed of every noise draw. The same request "
                      "with the same seed and model gives the same result.", lo=0, hi=MAX_SEED,
                      paper=1234, panel=False, cli=False)
    model: ModelIdentity | None = None
    # Images are scaled (down) so the longer side is at most this many pixels before editing,
    # then the result is scaled back; None keeps the size (rounded to multiples of 8).
    max_side: int | None = param(768, label="Max side (px)", tip="The image is scaled down so "
                                 "its longer side is at most this many pixels for the edit, then "
                                 "the result is scaled back. The default follows the loaded "
                                 "model: 1.5x its native side (768 for a 512 px model). 0 keeps "
                                 "the size (rounded to multiples of 8).",
                                 lo=MIN_SIDE, hi=MAX_SIDE_LIMIT, step=64, panel=False, cli=False)
    # Edit region x, y, w, h in image pixels (None = "auto", resolved when the edit runs;
    # edits/region.py). A canvas value like the points, not a panel parameter.
    region: tuple[int, int, int, int] | None = None
    feather: int = param(8, label="Seam feather (px)", tip="Width of the seam that blends the "
                         "edit into the untouched original: outside the mask for inpainting "
                         "and DiffEdit (nothing of what is replaced survives), inside it for "
                         "drag; without a mask, inside the edit region. 0 = a hard edge.",
                         lo=0, hi=256, advanced=True)

    def validate(self) -> None:
        """Raises EditError (naming the parameter) unless the image, the mask and every
        parameter are acceptable. The one check of a request: panel, CLI and run_edit."""
        validate_image(self.image)
        validate_fields(self)
        validate_mask(self.mask, self.image, required=self.mask_use.required)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            if f.name in ("image", "mask"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, ModelIdentity):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = _listify(value)
            out[f.name] = value
        out["image_sha256"] = image_sha256(self.image)
        out["mask_sha256"] = image_sha256(self.mask)
        return out

    @classmethod
    def from_params(cls, params: dict[str, Any], image: np.ndarray,
                    mask: np.ndarray | None = None) -> EditRequest:
        from sdedit_desktop.edits.kinds import request_types  # the kinds import this module

        target = request_types().get(params.get("kind", ""))
        if target is None:
            raise ValueError(f"unknown edit kind {params.get('kind')!r}")
        known = {f.name for f in fields(target)} - {"image", "mask"}
        kwargs: dict[str, Any] = {}
        for name, value in params.items():
            if name not in known:
                continue
            if name == "model" and value is not None:
                value = ModelIdentity.from_dict(value)
            elif name == "points":
                value = tuple((tuple(a), tuple(b)) for a, b in value)
            elif name == "region" and value is not None:
                value = tuple(value)
            kwargs[name] = value
        return target(image=image, mask=mask, **kwargs)

    def with_changes(self, **changes: Any) -> EditRequest:
        return replace(self, **changes)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The panel parameters of a default request: every field but the arrays, the model and
        the points (JSON-able values)."""
        return {f.name: f.default for f in fields(cls) if f.name not in NOT_PARAMS}

    # -- what the kind means for the edit region (edits/region.py) -------------------------
    def limiting_mask(self) -> np.ndarray | None:
        """The mask the edit limits itself to (only its white pixels may change), or None."""
        return self.mask if self.mask_use.limits(self) else None

    def focus(self) -> tuple[Box, int] | None:
        """What the auto region is centred on and how much context (px) it adds around it; None
        = the whole image. Default: the limiting mask's painted pixels."""
        mask = self.limiting_mask()
        bounds = None if mask is None else mask_bounds(mask)
        return None if bounds is None else (bounds, CONTEXT)

    def region_problem(self, region: Region) -> str:
        """Why `region` cannot serve this request ("" when it can)."""
        mask = self.limiting_mask()
        x, y, w, h = region
        if mask is not None and not mask[y:y + h, x:x + w].any():
            return (f"the mask lies entirely outside the edit region ({x}, {y}, {w}x{h}): "
                    "nothing could change")
        return ""

    def in_region(self, region: Region) -> EditRequest:
        """The request the method runs on the crop: image and mask (and anything else placed
        in image pixels) in crop coordinates."""
        changes: dict[str, Any] = {"image": crop(self.image, region), "region": None}
        if self.mask is not None:
            changes["mask"] = crop(self.mask, region)
        return self.with_changes(**changes)


def _listify(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    return value


@dataclass
class EditResult:
    """What an edit produced. `image` is HxWx3 uint8 at the input image's size."""

    request: EditRequest
    image: np.ndarray
    trajectory: list[np.ndarray] = field(default_factory=list)  # drag: one image per drag step
    mask: np.ndarray | None = None  # DiffEdit: the mask used (auto mask included), HxW uint8
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. psnr, latent errors
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase + "total"
    unet_calls: int = 0  # UNet forward calls
    unet_samples: int = 0  # samples pushed through the UNet (sum of batch sizes)
    unet_batch_sizes: dict[int, int] = field(default_factory=dict)  # batch size -> calls
    lora_id: str | None = None  # cache key of the LoRA used, if any
    region: tuple[int, int, int, int] | None = None  # the region edited (x, y, w, h), image px
    work_scale: float = 1.0  # model pixels per image pixel in that region (1.0 = not scaled)

    def summary(self) -> dict[str, Any]:
        """A JSON-able record: the request's parameters, the arrays by digest or length, and
        every other field as it is (a field added later is included without listing it)."""
        out: dict[str, Any] = {
            "request": self.request.params(),
            "image_sha256": image_sha256(self.image),
            "trajectory_len": len(self.trajectory),
        }
        for f in fields(self):
            if f.name not in RESULT_ARRAY_FIELDS and f.name != "request":
                out[f.name] = getattr(self, f.name)
        return out


RESULT_ARRAY_FIELDS = ("image", "trajectory", "mask")  # EditResult fields holding images
# EditResult fields a project does not keep (execution bookkeeping of the benchmark).
RESULT_TRANSIENT_FIELDS = ("unet_batch_sizes",)
