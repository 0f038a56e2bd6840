"""Edit requests and results: plain dataclasses, the single source of truth for an edit.

A request carries every parameter (with the paper's defaults), the seed and the model identity;
the input image and the optional mask travel with it as uint8 numpy arrays. `params()` gives the
JSON-able part (images are referenced by their SHA-256) and `from_params()` rebuilds a request
from it plus the arrays, which is what `.sdeproj` files and `--json` records store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal

import numpy as np

from sdedit_desktop.models.interface import ModelIdentity

Method = Literal["sde", "ode"]
GridKind = Literal["uniform", "reference"]
Point = tuple[int, int]  # image pixels (x, y)
PointPair = tuple[Point, Point]  # (source, target)


def image_sha256(array: np.ndarray | None) -> str | None:
    if array is None:
        return None
    digest = hashlib.sha256()
    digest.update(str((array.shape, str(array.dtype))).encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class EditRequest:
    """Fields common to every edit. `image` is HxWx3 uint8 RGB; `mask` is HxW uint8 (255 = may
    change) or None."""

    kind: ClassVar[str] = "base"
    image: np.ndarray = field(repr=False, compare=False)
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    method: Method = "sde"
    seed: int = 1234
    model: ModelIdentity | None = None
    # Images are scaled (down) so the longer side is at most this many pixels before editing,
    # then the result is scaled back; None keeps the size (rounded to multiples of 8).
    max_side: int | None = 768
    # Edit region x, y, w, h in image pixels (None = "auto", resolved when the edit runs) and
    # the width in pixels of the seam blending the edit into the original (edits/region.py).
    region: tuple[int, int, int, int] | None = None
    feather: int = 8

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
        target = REQUEST_TYPES.get(params.get("kind", ""))
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


def _listify(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class DragRequest(EditRequest):
    """SDE-Drag (method="sde") or the ODE-Drag baseline (method="ode"), Sec. 4.1 / Alg. 1."""

    kind: ClassVar[str] = "drag"
    points: tuple[PointPair, ...] = ()
    prompt: str = ""
    t0: float = 0.6
    steps: int = 200
    step_size: float = 2.0  # latent pixels per drag step
    source_scale: float = 0.3
    target_scale: float = 1.1
    half_size: int = 5  # latent pixels
    cfg_min: float = 1.0  # guidance near t = 0
    cfg_max: float = 3.0  # guidance at t0
    lora: str = "off"  # "off", "auto" (train or reuse from cache) or a path to LoRA weights
    lora_scale_min: float = 0.5  # LoRA scale at t0
    lora_scale_max: float = 1.0  # LoRA scale near t = 0
    grid: GridKind = "uniform"


@dataclass(frozen=True, kw_only=True)
class InpaintRequest(EditRequest):
    """Inpaint-SDE / Inpaint-ODE with (SDE-)DPM-Solver++ (Sec. 5.1). The mask is required."""

    kind: ClassVar[str] = "inpaint"
    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 50
    order: int = 2
    guidance: float = 7.5


@dataclass(frozen=True, kw_only=True)
class DiffEditRequest(EditRequest):
    """DiffEdit-SDE / DiffEdit-ODE (Sec. 5.2). mask_mode: "auto" (DiffEdit's mask from the two
    prompts), "user" (the request's mask) or "full" (whole image: DDIB-style translation)."""

    kind: ClassVar[str] = "diffedit"
    source_prompt: str = ""
    target_prompt: str = ""
    encode_ratio: float = 0.7
    steps: int = 50
    guidance: float = 7.5
    mask_mode: Literal["auto", "user", "full"] = "auto"
    mask_samples: int = 10
    mask_strength: float = 0.5
    mask_threshold: float = 0.5


@dataclass(frozen=True, kw_only=True)
class ReconstructRequest(EditRequest):
    """Encode -> noise/invert -> sample back without an edit (the paper's Table 3 check).
    method "sde" = Cycle-SDE, "ode" = DDIM inversion."""

    kind: ClassVar[str] = "reconstruct"
    prompt: str = ""
    steps: int = 50
    guidance: float = 7.5
    t0: float = 1.0  # fraction of the grid to go up (1.0 = the whole grid)
    dtype: Literal["float32", "float64"] = "float32"
    grid: GridKind = "uniform"


REQUEST_TYPES: dict[str, type[EditRequest]] = {
    cls.kind: cls for cls in (DragRequest, InpaintRequest, DiffEditRequest, ReconstructRequest)
}


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
        return {
            "request": self.request.params(),
            "image_sha256": image_sha256(self.image),
            "trajectory_len": len(self.trajectory),
            "metrics": self.metrics,
            "timings": self.timings,
            "unet_calls": self.unet_calls,
            "unet_samples": self.unet_samples,
            "lora_id": self.lora_id,
            "region": None if self.region is None else list(self.region),
            "work_scale": self.work_scale,
        }
