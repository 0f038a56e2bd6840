"""Drag: SDE-Drag and the ODE-Drag baseline (paper Sec. 4.1, Algorithm 1) as an edit kind. The
algorithm is `edits/drag.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sdedit_desktop.core import phases
from sdedit_desktop.core.plan import JobPlan, PlannedPhase
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.core.types import GridKind, PlacedPair, Point, PointPair
from sdedit_desktop.diffusion.grids import GridError, edit_window
from sdedit_desktop.edits.drag_steps import (
    MAX_DRAG_STEPS,
    drag_step_count,
    longest_drag,
    too_many_steps_message,
)
from sdedit_desktop.edits.geometry import LATENT_FACTOR, validate_points, working_size
from sdedit_desktop.edits.kind import CliSpec, EditKind, EvalOption, EvalSpec, MethodTexts
from sdedit_desktop.edits.masks import MASK_OPTIONAL
from sdedit_desktop.edits.region import (
    CONTEXT,
    LATENT_PIXELS,
    Box,
    Region,
    auto_region,
    check_region,
    point_to_crop,
    points_bounds,
    points_to_crop,
)
from sdedit_desktop.edits.requests import GRID_CHOICES, GRID_TIP, MAX_STEPS, EditRequest, EditResult
from sdedit_desktop.edits.schema import param
from sdedit_desktop.models.lora_defaults import LORA_TRAIN_STEPS


@dataclass(frozen=True, kw_only=True)
class DragRequest(EditRequest):
    """SDE-Drag (method="sde") or the ODE-Drag baseline (method="ode"), Sec. 4.1 / Alg. 1."""

    kind: ClassVar[str] = "drag"
    mask_use: ClassVar = MASK_OPTIONAL  # none = everything may change
    uses_points: ClassVar[bool] = True
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
                      "weights (.safetensors).", panel=False)
    lora_rank: int = param(16, label="LoRA rank", tip="Rank of the per-image LoRA that 'auto' "
                           "trains (part of its cache key; a LoRA file brings its own). 16 as "
                           "DragDiffusion and the official interactive tool; the paper's "
                           "DragBench study trained rank 4.", lo=1, hi=128, advanced=True,
                           paper=4)
    lora_scale_min: float = param(0.5, label="LoRA scale at t0", tip="... to this value at t0.",
                                  lo=0.0, hi=2.0, step=0.05, advanced=True, paper=0.5)
    lora_scale_max: float = param(1.0, label="LoRA scale near t=0", tip="With a LoRA: its scale "
                                  "falls on a cosine from this value near t=0 ...", lo=0.0,
                                  hi=2.0, step=0.05, advanced=True, paper=1)
    grid: GridKind = param("uniform", label="Timestep grid", tip=GRID_TIP,
                           choices=GRID_CHOICES, advanced=True)

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
        """The point pairs in latent pixels of the edit region's working size, mapped as the
        edit maps them (edits/regional.py crops, the session scales)."""
        region = self._planned_region()
        size = working_size(region[2], region[3], self.max_side)
        return [tuple(size.point_to_latent(point_to_crop(p, region), factor) for p in pair)
                for pair in self.points]

    def _planned_region(self) -> Region:
        """The region the edit will crop to; an unusable explicit one (refused when the edit
        resolves it) counts as the whole image here."""
        height, width = self.image.shape[:2]
        if self.region is None:
            return auto_region(self)
        try:
            return check_region(self.region, width, height)
        except EditError:
            return (0, 0, width, height)

    def drag_step_count(self) -> int:
        """The number of drag steps m the edit will make (Alg. 1, step 1); 1 without points."""
        pairs = self.latent_points()
        if not pairs:
            return 1
        return drag_step_count(longest_drag(pairs), self.step_size)

    # -- the edit region: the points and the patch around them -----------------------------
    def focus(self) -> tuple[Box, int] | None:
        if not self.points:
            return super().focus()
        return points_bounds(self.points), self.half_size * LATENT_PIXELS + CONTEXT

    def region_problem(self, region: Region) -> str:
        x, y, w, h = region
        for n, pair in enumerate(self.points, start=1):
            for name, (px, py) in zip(("source", "target"), pair, strict=True):
                if not (x <= px < x + w and y <= py < y + h):
                    return (f"the edit region ({x}, {y}, {w}x{h}) does not contain the "
                            f"{name} ({px}, {py}) of point pair {n}")
        return super().region_problem(region)

    def in_region(self, region: Region) -> DragRequest:
        cropped = super().in_region(region)
        return cropped.with_changes(points=points_to_crop(self.points, region))


def run(session: Any, request: DragRequest, reporter: Any, options: Any, lora: Any
        ) -> EditResult:
    from sdedit_desktop.edits.drag import run_drag  # torch: loaded when an edit runs

    return run_drag(session, request, reporter, options, lora)


# Per-image LoRA training: each step a forward + backward pass of one sample (~3 samples).
LORA_STEP_COST = 3.0


def plan(request: DragRequest) -> JobPlan:
    """Expected phases: LoRA training (when on), then per drag step the reverse pass (and, for
    ODE-Drag, the inversion before it), each over the edit window's steps."""
    out: list[PlannedPhase] = []
    if request.lora != "off":
        out.append(PlannedPhase(phases.LORA, LORA_TRAIN_STEPS, LORA_STEP_COST))
    try:
        k = len(edit_window(request.grid, request.steps, request.t0))
        m = request.drag_step_count()
    except (GridError, ValueError, TypeError, ZeroDivisionError):
        k, m = 1, 1  # an invalid request fails before its first step
    # Guidance rises from 1 to 3 along the reverse pass: about 1.5 samples per prediction.
    for i in range(1, m + 1):
        if request.method == "sde":
            # Noise-adding makes no model call (no phase); each reverse step predicts on the
            # sample and on the recorded trajectory.
            out.append(PlannedPhase(phases.drag_step_prefix(i), k, 3.0))
        else:
            out.append(PlannedPhase(phases.drag_inverting_prefix(i), k, 1.5))
            out.append(PlannedPhase(phases.drag_step_prefix(i), k, 1.5))
    return tuple(out)


def canvas_check(values: Mapping[str, Any], points: list[PlacedPair], _painted: bool) -> str:
    if not points:
        return ("Drag needs points: with the Points tool click a source, then where it should "
                "go (the target).")
    for index, (_, target) in enumerate(points):
        if target is None:
            return (f"Point pair {index + 1} has a source but no target: click where it should "
                    "go, or delete it.")
    if all(tuple(s) == tuple(t) for s, t in points):
        return ("Every target equals its source, so nothing would move. Drag a target point "
                "away from its source.")
    lora = values["lora"]
    if lora not in ("off", "auto"):
        if not lora:
            return ("LoRA 'From file' is selected but no file is chosen. Pick a .safetensors "
                    "file or set LoRA to Off/Auto.")
        if not Path(lora).is_file():
            return f"The LoRA file does not exist: {lora}"
    return ""


def bench_case(image: np.ndarray, _mask: np.ndarray, size: int) -> DragRequest:
    """The paper's defaults; the drag moves 80 pixels = 10 latent pixels, so m = 5 drag steps
    (less on images too small for that)."""
    c, d = size // 2, min(80, size - 16)
    return DragRequest(image=image, points=(((c - d // 2, c), (c + d // 2, c)),),
                       prompt="a photo of an astronaut", max_side=None,
                       region=(0, 0, size, size))


# Every field the official DragBench script (ML-GSAI/SDE-Drag sdedrag_dragbench.py) fixes, so a
# later change of a default never changes what `sdedit eval drag --preset paper` reproduces: a
# rank-4 LoRA trained on every image (100 steps, AdamW lr 2e-4: models/lora.LoraSettings), the
# whole image at 512 px, t0 = 0.6 on the DPM-Solver "linspace" timesteps of N = 200, step size 2,
# r = 5, beta 0.3, alpha 1.1, CFG 1 -> 3, LoRA scale 1 -> 0.5, seed 1234 (docs/algorithms.md).
PAPER_STUDY: dict[str, Any] = {
    "lora": "auto", "lora_rank": 4, "grid": "reference", "region": "whole", "max_side": 512,
    "steps": 200, "t0": 0.6, "step_size": 2.0, "half_size": 5, "source_scale": 0.3,
    "target_scale": 1.1, "cfg_min": 1.0, "cfg_max": 3.0, "lora_scale_min": 0.5,
    "lora_scale_max": 1.0, "seed": 1234}


def eval_samples(path: Any) -> list[Any]:
    from sdedit_desktop.eval.datasets.drag import drag_samples

    return drag_samples(path)


def eval_metrics() -> Any:
    from sdedit_desktop.eval.metrics.drag import DRAG_METRICS

    return DRAG_METRICS


DRAG: EditKind[DragRequest] = EditKind(
    name="drag",
    title="Drag",
    request_type=DragRequest,
    run=run,
    plan=plan,
    methods=MethodTexts(
        "SDE-Drag", "ODE-Drag",
        "SDE-Drag (the paper's method): noise the image up to t0 with fresh noise, paste the "
        "dragged content, then sample back with Cycle-SDE so everything you did not drag is "
        "reconstructed.",
        "ODE-Drag (the paper's baseline): DDIM inversion up to t0 and DDIM sampling back. "
        "Usually leaves more artefacts around the dragged content."),
    hint="Points tool (P): click a source, then its target. Optional mask: if you paint one, "
         "only the masked region may change.",
    cli=CliSpec(help="SDE-Drag / ODE-Drag: move content with point pairs",
                trajectory_batch=True, saves_trajectory=True),
    canvas_check=canvas_check,
    eval=EvalSpec(
        layout="folders (at any depth) in SDE-Drag's DragBench layout (origin_image.png, "
               "prompt.json, optional mask.png) or DragDiffusion's (original_image.png, "
               "meta_data.pkl)",
        samples=eval_samples, metrics=eval_metrics, from_data=frozenset({"prompt"}),
        options=(
            EvalOption("dift_ensemble", "noise draws averaged for the DIFT features "
                       "(DragBench: 8)", default=8, type=int, bounds=(1, 64)),
            EvalOption("feature_model", "model whose DIFT features give the drag distance: a "
                       "hub id, folder or file, or 'loaded' for the edit model (default: "
                       "DragBench's stabilityai/stable-diffusion-2-1 when it is in the local "
                       "cache, else the edit model, marked not comparable)", metavar="SOURCE"),
        ),
        presets={"paper": PAPER_STUDY}),
    # N sets the grid the t0·N reverse steps per drag step come from: 200 -> 50 is 4x fewer
    # model calls.
    presets={"draft": {"steps": 50}},
    history_detail=lambda request: [f"{len(request.points)} pt"],
    bench_case=bench_case,
    bench_reference=True,
)
