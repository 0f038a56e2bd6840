"""Reconstruct: invert and sample back without an edit — Cycle-SDE vs DDIM inversion, the paper's
Table 3 — as an edit kind. The algorithm is `edits/reconstruct.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from sdedit_desktop.core import phases
from sdedit_desktop.core.plan import JobPlan, PlannedPhase, guided_cost
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.core.types import GridKind
from sdedit_desktop.diffusion.grids import GridError, edit_window
from sdedit_desktop.edits.kind import CliSpec, EditKind, EvalSpec, MethodTexts
from sdedit_desktop.edits.requests import (
    GRID_CHOICES,
    GRID_TIP,
    MAX_STEPS,
    STEPS_TIP,
    EditRequest,
    EditResult,
)
from sdedit_desktop.edits.schema import param


@dataclass(frozen=True, kw_only=True)
class ReconstructRequest(EditRequest):
    """Encode -> noise/invert -> sample back without an edit (the paper's Table 3 check).
    method "sde" = Cycle-SDE, "ode" = DDIM inversion."""

    kind: ClassVar[str] = "reconstruct"
    prompt: str = param("", label="Prompt", tip="Prompt used for guidance on the way up and "
                        "down.")
    steps: int = param(50, label="Steps", tip=STEPS_TIP, lo=1, hi=MAX_STEPS, step=5, paper=50)
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
    grid: GridKind = param("uniform", label="Timestep grid", tip=GRID_TIP,
                           choices=GRID_CHOICES, advanced=True)

    def validate(self) -> None:
        super().validate()
        if round(self.t0 * self.steps) < 1:
            raise EditError(f"t0 {self.t0:g} x steps {self.steps} gives no sampling step: "
                            "raise t0 or steps")


def run(session: Any, request: ReconstructRequest, reporter: Any, _options: Any, _lora: Any
        ) -> EditResult:
    from sdedit_desktop.edits.reconstruct import run_reconstruct  # torch: when an edit runs

    return run_reconstruct(session, request, reporter)


def plan(request: ReconstructRequest) -> JobPlan:
    try:
        k = len(edit_window(request.grid, request.steps, request.t0))
    except (GridError, TypeError):
        k = 1  # an invalid request fails before its first step
    guided = guided_cost(request.guidance)
    if request.method == "sde":
        return (PlannedPhase(phases.RECONSTRUCTING, k, 2 * guided),)
    return (PlannedPhase(phases.INVERTING, k, guided),
            PlannedPhase(phases.RECONSTRUCTING, k, guided))


def bench_case(image: np.ndarray, _mask: np.ndarray, size: int) -> ReconstructRequest:
    return ReconstructRequest(image=image, prompt="a photo", max_side=None,
                              region=(0, 0, size, size))


def eval_samples(path: Any) -> list[Any]:
    from sdedit_desktop.eval.datasets.reconstruct import reconstruct_samples

    return reconstruct_samples(path)


def eval_metrics() -> Any:
    from sdedit_desktop.eval.metrics.reconstruct import RECONSTRUCT_METRICS

    return RECONSTRUCT_METRICS


RECONSTRUCT: EditKind[ReconstructRequest] = EditKind(
    name="reconstruct",
    title="Reconstruct",
    request_type=ReconstructRequest,
    run=run,
    plan=plan,
    methods=MethodTexts(
        "Cycle-SDE", "DDIM inversion",
        "Cycle-SDE: noise-adding trajectory + Cycle-SDE back; reconstructs the input exactly up "
        "to float error (paper Table 3).",
        "DDIM inversion + DDIM sampling: the ODE round trip; with guidance it drifts (lower "
        "PSNR)."),
    hint="No edit: goes up to t0 and back to measure how exactly each method reconstructs the "
         "input (PSNR, paper Table 3).",
    cli=CliSpec(help="invert and reconstruct without an edit (Table 3)",
                method_aliases={"cycle-sde": "sde", "ddim-inversion": "ode"},
                default_method="cycle-sde"),
    # A measurement, not an edit: it joins the history but the working image stays.
    applies_result=False,
    presets={"draft": {"steps": 20}},
    latent_dtype=lambda request: request.dtype,
    eval=EvalSpec(
        layout="a folder of images with optional <stem>.txt captions, or a JSONL/CSV list of "
               "image, caption",
        samples=eval_samples, metrics=eval_metrics, from_data=frozenset({"prompt"})),
    bench_case=bench_case,
)
