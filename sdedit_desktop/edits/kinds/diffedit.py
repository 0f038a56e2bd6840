"""DiffEdit: DiffEdit-SDE / DiffEdit-ODE (paper Sec. 5.2) with DiffEdit's automatic mask, as an
edit kind. The algorithm is `edits/diffedit.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from sdedit_desktop.core import phases
from sdedit_desktop.core.plan import JobPlan, PlannedPhase, guided_cost
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.core.types import GridKind, PlacedPair
from sdedit_desktop.diffusion.grids import (
    GridError,
    Step,
    diffusers_ddim_window,
    edit_window,
    official_diffedit_sde_window,
)
from sdedit_desktop.edits.composite import SeamSide
from sdedit_desktop.edits.kind import CliSpec, EditKind, EvalOption, EvalSpec, MethodTexts
from sdedit_desktop.edits.masks import MaskUse, mask_when
from sdedit_desktop.edits.requests import (
    GRID_CHOICES,
    MAX_STEPS,
    STEPS_TIP,
    EditRequest,
    EditResult,
)
from sdedit_desktop.edits.schema import param

_GRID_TIP = ("Uniform: SDE and ODE on the same 50-step grid, reset to the right level outside "
             "the mask (the default). Reference: exactly the official code: DiffEdit-SDE on the "
             "DDIM timesteps (701 -> 1 at 50 steps, ratio 0.7), DiffEdit-ODE as diffusers' "
             "DiffEdit pipeline (outside the mask reset one level too high, the level-1 latent "
             "kept there).")


@dataclass(frozen=True, kw_only=True)
class DiffEditRequest(EditRequest):
    """DiffEdit-SDE / DiffEdit-ODE (Sec. 5.2). mask_mode: "auto" (DiffEdit's mask from the two
    prompts), "user" (the request's mask) or "full" (whole image: DDIB-style translation)."""

    kind: ClassVar[str] = "diffedit"
    # The canvas mask is used in mask mode "user"; a CLI run without --mask computes one.
    mask_use: ClassVar[MaskUse] = mask_when("mask_mode", "user", otherwise="auto")
    source_prompt: str = param("", label="Source prompt", tip="Describes the image as it is "
                               "(e.g. 'a bowl of apples').")
    target_prompt: str = param("", label="Target prompt", tip="Describes the image you want "
                               "(e.g. 'a bowl of pears').")
    encode_ratio: float = param(0.7, label="Encode ratio", tip="How far the image is "
                                "noised/inverted before sampling with the target prompt. Higher "
                                "allows bigger changes.", lo=0.0, lo_open=True, hi=1.0,
                                step=0.05, paper=0.7)
    steps: int = param(50, label="Steps", tip=STEPS_TIP, lo=1, hi=MAX_STEPS, step=5, paper=50)
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

    grid: GridKind = param("uniform", label="Timestep grid", tip=_GRID_TIP,
                           choices=GRID_CHOICES, advanced=True)

    def validate(self) -> None:
        super().validate()
        if not self.target_prompt.strip():
            raise EditError("DiffEdit needs a target prompt describing the edited image")
        if int(self.encode_ratio * self.steps) < 1:
            raise EditError(f"encode_ratio {self.encode_ratio:g} x steps {self.steps} gives no "
                            "sampling step: raise the encode ratio or the steps")


def diffedit_window(req: DiffEditRequest, levels: int = 1000) -> list[Step]:
    """The edit's reverse steps on a schedule of `levels` training timesteps. Uniform (the
    default): both forms from the highest level not above the encode ratio (681 -> … -> 1 ->
    clean at 50 steps, 0.7). Reference: what the official code runs, the SDE 701 -> … -> 1 on
    the DDIM timesteps, the ODE diffusers' 681 -> … -> 1 -> clean (docs/algorithms.md,
    "DiffEdit")."""
    if req.grid == "uniform":
        return edit_window("uniform", req.steps, req.encode_ratio, levels)
    if req.method == "sde":
        return official_diffedit_sde_window(req.steps, req.encode_ratio, levels)
    return diffusers_ddim_window(req.steps, req.encode_ratio, levels)


def auto_mask_level(req: DiffEditRequest, levels: int = 1000) -> int:
    """The level the automatic mask noises to: 481 for strength 0.5 at 50 steps on either grid
    (the reference: the first of diffusers' DDIM timesteps at that strength, `generate_mask`)."""
    if req.grid == "uniform":
        return edit_window("uniform", req.steps, req.mask_strength, levels)[0].t
    return diffusers_ddim_window(req.steps, req.mask_strength, levels)[0].t


def run(session: Any, request: DiffEditRequest, reporter: Any, _options: Any, _lora: Any
        ) -> EditResult:
    from sdedit_desktop.edits.diffedit import run_diffedit  # torch: loaded when an edit runs

    return run_diffedit(session, request, reporter)


def plan(request: DiffEditRequest) -> JobPlan:
    out: list[PlannedPhase] = []
    if request.mask_mode == "auto":
        # Reported as one step; it predicts under both prompts for every noise sample.
        out.append(PlannedPhase(phases.COMPUTING_MASK, 1, 2.0 * max(1, request.mask_samples)))
    try:
        k = len(diffedit_window(request))
    except (GridError, TypeError):
        k = 1  # an invalid request fails before its first step
    guided = guided_cost(request.guidance)
    if request.method == "sde":
        out.append(PlannedPhase(phases.EDITING, k, 2 * guided))
    else:
        out += [PlannedPhase(phases.INVERTING, k, 1.0), PlannedPhase(phases.EDITING, k, guided)]
    return tuple(out)


def canvas_check(values: Mapping[str, Any], _points: list[PlacedPair], painted: bool) -> str:
    if not values["target_prompt"]:
        return "DiffEdit needs a target prompt describing the edited image."
    if values["mask_mode"] == "auto" and values["source_prompt"] == values["target_prompt"]:
        return ("The source and target prompts are identical, so the automatic mask would be "
                "empty. Describe what should change.")
    if values["mask_mode"] == "user" and not painted:
        return ("Mask mode is 'Your mask' but the mask is empty: paint the region to edit, or "
                "switch the mask to Auto.")
    return ""


def bench_case(image: np.ndarray, _mask: np.ndarray, size: int) -> DiffEditRequest:
    return DiffEditRequest(image=image, source_prompt="an astronaut", target_prompt="a robot",
                           max_side=None, region=(0, 0, size, size))


def eval_samples(path: Any) -> list[Any]:
    from sdedit_desktop.eval.datasets.diffedit import diffedit_samples

    return diffedit_samples(path)


def eval_metrics() -> Any:
    from sdedit_desktop.eval.metrics.diffedit import DIFFEDIT_METRICS

    return DIFFEDIT_METRICS


DIFFEDIT: EditKind[DiffEditRequest] = EditKind(
    name="diffedit",
    title="DiffEdit",
    request_type=DiffEditRequest,
    run=run,
    plan=plan,
    methods=MethodTexts(
        "DiffEdit-SDE", "DiffEdit-ODE",
        "DiffEdit-SDE: noise-adding + Cycle-SDE (target prompt for sampling, source prompt to "
        "solve the noise).",
        "DiffEdit-ODE: DDIM inversion with the source prompt, DDIM sampling with the target "
        "prompt (the original DiffEdit)."),
    hint="Describe the image as it is and as it should be. With the automatic mask the mask "
         "DiffEdit used appears on the canvas afterwards, ready to refine.",
    cli=CliSpec(help="DiffEdit-SDE / DiffEdit-ODE: rewrite with a prompt",
                required=frozenset({"target_prompt"}), saves_mask=True),
    canvas_check=canvas_check,
    seam=SeamSide.OUTSIDE,
    eval=EvalSpec(
        layout="a JSONL/CSV list (or a folder with samples.jsonl/.csv) of image, source_prompt, "
               "target_prompt[, mask]",
        samples=eval_samples, metrics=eval_metrics,
        from_data=frozenset({"source_prompt", "target_prompt"}),
        sweeps={"encode_ratio": ((0.7,), "encode ratios")},
        options=(EvalOption("clip_model", "CLIP backbone of the CLIP score, from the local "
                            "Hugging Face cache (default openai/clip-vit-large-patch14); "
                            "reported as the cosine (0-1), not x100", metavar="HUB_ID"),),
        fid=True),
    presets={"draft": {"steps": 20}},
    bench_case=bench_case,
)
