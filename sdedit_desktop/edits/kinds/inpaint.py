"""Inpaint: Inpaint-SDE / Inpaint-ODE with (SDE-)DPM-Solver++ (paper Sec. 5.1) as an edit kind.
The algorithm is `edits/inpaint.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sdedit_desktop.core import phases
from sdedit_desktop.core.plan import JobPlan, PlannedPhase, guided_cost
from sdedit_desktop.core.types import PlacedPair
from sdedit_desktop.diffusion.grids import GridError, uniform_grid
from sdedit_desktop.edits.composite import SeamSide
from sdedit_desktop.edits.kind import CliSpec, EditKind, EvalSpec, MethodTexts
from sdedit_desktop.edits.masks import MASK_REQUIRED, MaskUse
from sdedit_desktop.edits.requests import MAX_STEPS, EditRequest, EditResult
from sdedit_desktop.edits.schema import param


@dataclass(frozen=True, kw_only=True)
class InpaintRequest(EditRequest):
    """Inpaint-SDE / Inpaint-ODE with (SDE-)DPM-Solver++ (Sec. 5.1). The mask is required."""

    kind: ClassVar[str] = "inpaint"
    mask_use: ClassVar[MaskUse] = MASK_REQUIRED
    prompt: str = param("", label="Prompt", tip="What should appear in the masked region.")
    negative_prompt: str = param("", label="Negative prompt", tip="What the fill should avoid "
                                 "(used as the unconditional prompt of guidance).")
    steps: int = param(50, label="Steps", tip="Solver steps from noise to image (the paper uses "
                       "25, 50 or 100).", lo=1, hi=MAX_STEPS, step=5, paper=50)
    order: int = param(1, label="Solver order", tip="DPM-Solver++ order: 1 is the first-order "
                       "solver of the paper's main results (Tab. 2) and the official code; 2 "
                       "converges in fewer steps (the paper's App. G ablation).",
                       choices=((1, "1st order"), (2, "2nd order")), paper=1)
    guidance: float = param(7.5, label="Guidance scale", tip="Classifier-free guidance. Higher "
                            "follows the prompt more closely.", lo=0.0, hi=30.0, step=0.5,
                            decimals=1, paper=7.5)


def run(session: Any, request: InpaintRequest, reporter: Any, _options: Any, _lora: Any
        ) -> EditResult:
    from sdedit_desktop.edits.inpaint import run_inpaint  # torch: loaded when an edit runs

    return run_inpaint(session, request, reporter)


def plan(request: InpaintRequest) -> JobPlan:
    try:
        steps = len(uniform_grid(request.steps))
    except (GridError, TypeError):
        steps = 1  # an invalid request fails before its first step
    return (PlannedPhase(phases.INPAINTING, steps, guided_cost(request.guidance)),)


def canvas_check(_values: Mapping[str, Any], _points: list[PlacedPair], painted: bool) -> str:
    if not painted:
        return ("Inpainting needs a mask: paint the region to fill with the brush (Brush tool, "
                "key B) before running.")
    return ""


def bench_case(image: np.ndarray, mask: np.ndarray, size: int) -> InpaintRequest:
    return InpaintRequest(image=image, mask=mask, prompt="a photo", max_side=None,
                          region=(0, 0, size, size))


# The paper's fixed prompt for its Places inpainting benchmark (every sample the same).
PAPER_EVAL_PROMPT = "photograph of a beautiful empty scene, highest quality settings"


def eval_samples(path: Any) -> list[Any]:
    from sdedit_desktop.eval.datasets.inpaint import inpaint_samples

    return inpaint_samples(path)


def eval_metrics() -> Any:
    from sdedit_desktop.eval.metrics.inpaint import INPAINT_METRICS

    return INPAINT_METRICS


INPAINT: EditKind[InpaintRequest] = EditKind(
    name="inpaint",
    title="Inpaint",
    request_type=InpaintRequest,
    run=run,
    plan=plan,
    methods=MethodTexts(
        "Inpaint-SDE", "Inpaint-ODE",
        "Inpaint-SDE: SDE-DPM-Solver++, injects fresh noise every step; the paper finds it "
        "blends the filled region better.",
        "Inpaint-ODE: DPM-Solver++ (deterministic)."),
    hint="Mask brush (B): paint the region to fill; everything else is kept.",
    cli=CliSpec(help="Inpaint-SDE / Inpaint-ODE with (SDE-)DPM-Solver++"),
    canvas_check=canvas_check,
    seam=SeamSide.OUTSIDE,
    eval=EvalSpec(
        layout="images/ + masks/ paired by stem, or a.png + a_mask.png in one folder",
        samples=eval_samples, metrics=eval_metrics,
        sweeps={"steps": ((25, 50, 100), "step counts"), "order": ((1, 2), "solver orders")},
        defaults={"prompt": (PAPER_EVAL_PROMPT, "prompt of every sample (default: the paper's "
                                                f"fixed prompt {PAPER_EVAL_PROMPT!r})")},
        fid=True),
    presets={"draft": {"steps": 20}},
    bench_case=bench_case,
)
