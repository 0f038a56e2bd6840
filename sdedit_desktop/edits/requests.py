"""Edit requests and results: plain dataclasses, the single source of truth for an edit.

A request carries every parameter (with the paper's defaults), the seed and the model identity;
the input image and the optional mask travel with it as uint8 numpy arrays. `params()` gives the
JSON-able part (images are referenced by their SHA-256) and `from_params()` rebuilds a request
from it plus the arrays, which is what `.sdeproj` files and `--json` records store.

Each tunable field is declared with `schema.param(...)`: label, range, tooltip, paper default.
The method panels and the CLI's options are generated from it. `validate()` checks a request
against that schema plus the checks that involve several fields (drag points inside the image,
a bounded number of drag steps); the panels, the CLI and `run_edit` all call it.
Torch-free: the UI imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Literal

import numpy as np

from sdedit_desktop.core.hashing import image_sha256
from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.core.types import GridKind, Point, PointPair
from sdedit_desktop.edits.drag_steps import (
    MAX_DRAG_STEPS,
    drag_step_count,
    longest_drag,
    too_many_steps_message,
)
from sdedit_desktop.edits.geometry import (
    LATENT_FACTOR,
    MIN_SIDE,
    validate_image,
    validate_mask,
    validate_points,
    working_size,
)
from sdedit_desktop.edits.schema import param, validate_fields
from sdedit_desktop.models.lora_defaults import LORA_TRAIN_STEPS

__all__ = ["REQUEST_TYPES", "DiffEditRequest", "DragRequest", "EditRequest", "EditResult",
           "GridKind", "InpaintRequest", "Point", "PointPair", "ReconstructRequest",
           "image_sha256"]

Method = Literal["sde", "ode"]
MAX_SEED = 2**32 - 1  # seeds are 32-bit unsigned: what spin boxes, numpy and torch all accept
MAX_STEPS = 1000  # sampling grid sizes: the models have 1000 training timesteps
MAX_SIDE_LIMIT = 4096  # the largest working size (px) one may ask for

# Fields a request gets from the canvas or the engine, not from the parameter panels.
NOT_PARAMS = frozenset({"image", "mask", "model", "points", "region"})

_STEPS_TIP = "Sampling grid size over the full diffusion time."
_GRID_CHOICES = (("uniform", "Uniform (default)"), ("reference", "Reference code grid"))
_GRID_TIP = ("Which timesteps the sampler visits. Uniform: t = k·(1000/N)+1, every step to its "
             "neighbour (the default). Reference: the paper's code grid round(linspace(0, 999, "
             "N+1)), for comparing with its published outputs.")


@dataclass(frozen=True, kw_only=True)
class EditRequest:
    """Fields common to every edit. `image` is HxWx3 uint8 RGB; `mask` is HxW uint8 (255 = may
    change) or None."""

    kind: ClassVar[str] = "base"
    mask_required: ClassVar[bool] = False  # the edit needs a painted mask
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
                         "edit into the untouched original, inside the mask (or, without one, "
                         "inside the edit region). 0 = a hard edge.", lo=0, hi=256,
                         advanced=True)

    def validate(self) -> None:
        """Raises EditError (naming the parameter) unless the image, the mask and every
        parameter are acceptable. The one check of a request: panel, CLI and run_edit."""
        validate_image(self.image)
        validate_fields(self)
        validate_mask(self.mask, self.image, required=self.mask_required)

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

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The panel parameters of a default request: every field but the arrays, the model and
        the points (JSON-able values)."""
        return {f.name: f.default for f in fields(cls) if f.name not in NOT_PARAMS}


def _listify(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class DragRequest(EditRequest):
    """SDE-Drag (method="sde") or the ODE-Drag baseline (method="ode"), Sec. 4.1 / Alg. 1."""

    kind: ClassVar[str] = "drag"
    points: tuple[PointPair, ...] = ()
    prompt: str = param("", label="Prompt", tip="Describes the image. Conditions the model "
                        "(classifier-free guidance) and the per-image LoRA. May be empty.")
    t0: float = param(0.6, label="t0 (noise level)", tip="How far up the image is noised before "
                      "each drag step, as a fraction of the diffusion time. Higher = bigger "
                      "changes possible, less faithful.", lo=0.0, lo_open=True, hi=1.0,
                      step=0.05, paper=0.6)
    steps: int = param(200, label="Steps (N)", tip="Size of the sampling grid over the full "
                       "diffusion time. Each drag step runs int(t0·N) steps up and down.",
                       lo=1, hi=MAX_STEPS, step=10, paper=200)
    step_size: float = param(2.0, label="Drag step size", tip="Latent pixels (8 image px) the "
                             "content moves per drag step. The number of drag steps is the "
                             f"longest drag divided by this (at most {MAX_DRAG_STEPS}).",
                             lo=0.5, hi=64.0, step=0.5, decimals=1, paper=2)
    source_scale: float = param(0.3, label="Source feature scale", tip="What is left at the "
                                "source after the copy: s·content + sqrt(1-s²)·noise. Lower "
                                "erases the source more.", lo=0.0, hi=1.0, step=0.05,
                                advanced=True, paper=0.3)
    target_scale: float = param(1.1, label="Target amplification", tip="The copied patch is "
                                "multiplied by this at the target so the moved content survives "
                                "the sampling.", lo=0.5, hi=2.0, step=0.05, advanced=True,
                                paper=1.1)
    half_size: int = param(5, label="Patch half-size r", tip="Half the side of the square patch "
                           "copied from source to target, in latent pixels (5 = an 88x88 "
                           "image-pixel patch).", lo=1, hi=32, paper=5)
    cfg_min: float = param(1.0, label="Guidance near t=0", tip="Classifier-free guidance rises "
                           "linearly from this value near t=0 ...", lo=0.0, hi=20.0, step=0.5,
                           decimals=1, advanced=True, paper=1)
    cfg_max: float = param(3.0, label="Guidance at t0", tip="... to this value at t0.", lo=0.0,
                           hi=20.0, step=0.5, decimals=1, advanced=True, paper=3)
    lora: str = param("off", label="LoRA", tip="Per-image LoRA (optional, improves faithfulness "
                      "of drags): off = base model; auto = train a LoRA on this image and prompt "
                      f"({LORA_TRAIN_STEPS} steps) or reuse the cached one; or the path of LoRA "
                      "weights "
                      "(.safetensors).", panel=False)
    lora_scale_min: float = param(0.5, label="LoRA scale at t0", tip="... to this value at t0.",
                                  lo=0.0, hi=2.0, step=0.05, advanced=True, paper=0.5)
    lora_scale_max: float = param(1.0, label="LoRA scale near t=0", tip="With a LoRA: its scale "
                                  "falls on a cosine from this value near t=0 ...", lo=0.0,
                                  hi=2.0, step=0.05, advanced=True, paper=1)
    grid: GridKind = param("uniform", label="Timestep grid", tip=_GRID_TIP,
                           choices=_GRID_CHOICES, advanced=True)

    def validate(self) -> None:
        super().validate()
        if not self.lora.strip():
            raise EditError("lora must be 'off', 'auto' or the path of a LoRA file")
        if int(self.t0 * self.steps) < 1:
            raise EditError(f"t0 {self.t0:g} x steps {self.steps} gives no sampling step: "
                            "raise t0 or steps")
        height, width = self.image.shape[:2]
        validate_points(self.points, width, height)
        m = self.drag_step_count()
        if m > MAX_DRAG_STEPS:
            raise EditError(too_many_steps_message(m, self.step_size))

    def latent_points(self, factor: int = LATENT_FACTOR) -> list[tuple[Point, Point]]:
        """The point pairs in latent pixels, mapped as the edit maps them (through the working
        size)."""
        height, width = self.image.shape[:2]
        size = working_size(width, height, self.max_side)
        return [tuple((x // factor, y // factor) for x, y in map(size.point_to_work, pair))
                for pair in self.points]

    def drag_step_count(self) -> int:
        """The number of drag steps m the edit will make (Alg. 1, step 1); 1 without points."""
        pairs = self.latent_points()
        if not pairs:
            return 1
        return drag_step_count(longest_drag(pairs), self.step_size)


@dataclass(frozen=True, kw_only=True)
class InpaintRequest(EditRequest):
    """Inpaint-SDE / Inpaint-ODE with (SDE-)DPM-Solver++ (Sec. 5.1). The mask is required."""

    kind: ClassVar[str] = "inpaint"
    mask_required: ClassVar[bool] = True
    prompt: str = param("", label="Prompt", tip="What should appear in the masked region.")
    negative_prompt: str = param("", label="Negative prompt", tip="What the fill should avoid "
                                 "(used as the unconditional prompt of guidance).")
    steps: int = param(50, label="Steps", tip="Solver steps from noise to image (the paper uses "
                       "25, 50 or 100).", lo=1, hi=MAX_STEPS, step=5, paper=50)
    order: int = param(2, label="Solver order", tip="DPM-Solver++ order: 2 converges in fewer "
                       "steps; 1 is the simple first-order solver (the paper reports both).",
                       choices=((2, "2nd order"), (1, "1st order")), paper=2)
    guidance: float = param(7.5, label="Guidance scale", tip="Classifier-free guidance. Higher "
                            "follows the prompt more closely.", lo=0.0, hi=30.0, step=0.5,
                            decimals=1, paper=7.5)


@dataclass(frozen=True, kw_only=True)
class DiffEditRequest(EditRequest):
    """DiffEdit-SDE / DiffEdit-ODE (Sec. 5.2). mask_mode: "auto" (DiffEdit's mask from the two
    prompts), "user" (the request's mask) or "full" (whole image: DDIB-style translation)."""

    kind: ClassVar[str] = "diffedit"
    source_prompt: str = param("", label="Source prompt", tip="Describes the image as it is "
                               "(e.g. 'a bowl of apples').")
    target_prompt: str = param("", label="Target prompt", tip="Describes the image you want "
                               "(e.g. 'a bowl of pears').")
    encode_ratio: float = param(0.7, label="Encode ratio", tip="How far the image is "
                                "noised/inverted before sampling with the target prompt. Higher "
                                "allows bigger changes.", lo=0.0, lo_open=True, hi=1.0,
                                step=0.05, paper=0.7)
    steps: int = param(50, label="Steps", tip=_STEPS_TIP, lo=1, hi=MAX_STEPS, step=5, paper=50)
    guidance: float = param(7.5, label="Guidance scale", tip="Classifier-free guidance.",
                            lo=0.0, hi=30.0, step=0.5, decimals=1, paper=7.5)
    mask_mode: Literal["auto", "user", "full"] = param(
        "auto", label="Mask", tip="Auto: DiffEdit computes the region from the two prompts "
        "(shown on the canvas afterwards, editable). Your mask (user): the mask painted on the "
        "canvas. Whole image (full): prompt-to-prompt translation of everything (DDIB-style).",
        choices=(("auto", "Auto (from prompts)"), ("user", "Your mask"), ("full", "Whole image")))
    mask_samples: int = param(10, label="Auto-mask samples", tip="Noise draws averaged for the "
                              "auto mask.", lo=1, hi=100, advanced=True, paper=10)
    mask_strength: float = param(0.5, label="Auto-mask noise", tip="Noise level of the auto-mask "
                                 "estimate.", lo=0.0, lo_open=True, hi=1.0, step=0.05,
                                 advanced=True, paper=0.5)
    mask_threshold: float = param(0.5, label="Auto-mask threshold", tip="Normalised difference "
                                  "above which a pixel joins the mask.", lo=0.0, hi=1.0,
                                  step=0.05, advanced=True, paper=0.5)

    def validate(self) -> None:
        super().validate()
        if not self.target_prompt.strip():
            raise EditError("DiffEdit needs a target prompt describing the edited image")
        if int(self.encode_ratio * self.steps) < 1:
            raise EditError(f"encode_ratio {self.encode_ratio:g} x steps {self.steps} gives no "
                            "sampling step: raise the encode ratio or the steps")


@dataclass(frozen=True, kw_only=True)
class ReconstructRequest(EditRequest):
    """Encode -> noise/invert -> sample back without an edit (the paper's Table 3 check).
    method "sde" = Cycle-SDE, "ode" = DDIM inversion."""

    kind: ClassVar[str] = "reconstruct"
    prompt: str = param("", label="Prompt", tip="Prompt used for guidance on the way up and "
                        "down.")
    steps: int = param(50, label="Steps", tip=_STEPS_TIP, lo=1, hi=MAX_STEPS, step=5, paper=50)
    guidance: float = param(7.5, label="Guidance scale", tip="Classifier-free guidance. DDIM "
                            "inversion drifts more with higher guidance; Cycle-SDE stays exact.",
                            lo=0.0, hi=30.0, step=0.5, decimals=1, paper=7.5, cli_flag="--cfg")
    t0: float = param(1.0, label="Depth t0", tip="Fraction of the grid to go up before coming "
                      "back (1.0 = all the way to noise).", lo=0.0, lo_open=True, hi=1.0,
                      step=0.05)
    dtype: Literal["float32", "float64"] = param(
        "float32", label="Latent precision", tip="float64 latents make Cycle-SDE exact even with "
        "guidance (paper Table 3); float32 shows the small float error.",
        choices=(("float32", "float32"), ("float64", "float64")), cli=False)
    grid: GridKind = param("uniform", label="Timestep grid", tip=_GRID_TIP,
                           choices=_GRID_CHOICES, advanced=True)

    def validate(self) -> None:
        super().validate()
        if round(self.t0 * self.steps) < 1:
            raise EditError(f"t0 {self.t0:g} x steps {self.steps} gives no sampling step: "
                            "raise t0 or steps")


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
