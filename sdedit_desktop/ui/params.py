"""What each method panel shows: one ParamSpec per request field, with the paper's defaults
(read from the request dataclasses themselves) and a tooltip that says what the value does."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any

from sdedit_desktop.edits.requests import (
    DiffEditRequest,
    DragRequest,
    EditRequest,
    InpaintRequest,
    ReconstructRequest,
)


@dataclass(frozen=True)
class ParamSpec:
    name: str  # the request field
    label: str
    kind: str  # "float", "int", "text", "choice"
    tooltip: str
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 0.1
    decimals: int = 2
    choices: tuple[tuple[Any, str], ...] = ()
    advanced: bool = False  # shown under "Advanced" (collapsed by default)


def default_of(request_cls: type[EditRequest], name: str) -> Any:
    for f in fields(request_cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            raise KeyError(f"{request_cls.__name__}.{name} has no default")
    raise KeyError(f"{request_cls.__name__} has no field {name!r}")


GRID = ParamSpec(
    "grid", "Timestep grid", "choice",
    "Which timesteps the sampler visits. Uniform: t = k·(1000/N)+1, every step to its neighbour "
    "(the default). Reference: the paper's code grid round(linspace(0, 999, N+1)), for comparing "
    "with its published outputs.",
    choices=(("uniform", "Uniform (default)"), ("reference", "Reference code grid")),
    advanced=True)

METHOD_TIPS = {
    "drag": ("SDE-Drag (the paper's method): noise the image up to t0 with fresh noise, paste the "
             "dragged content, then sample back with Cycle-SDE so everything you did not drag is "
             "reconstructed.",
             "ODE-Drag (the paper's baseline): DDIM inversion up to t0 and DDIM sampling back. "
             "Usually leaves more artefacts around the dragged content."),
    "inpaint": ("Inpaint-SDE: SDE-DPM-Solver++, injects fresh noise every step; the paper finds "
                "it blends the filled region better.",
                "Inpaint-ODE: DPM-Solver++ (deterministic)."),
    "diffedit": ("DiffEdit-SDE: noise-adding + Cycle-SDE (target prompt for sampling, source "
                 "prompt to solve the noise).",
                 "DiffEdit-ODE: DDIM inversion with the source prompt, DDIM sampling with the "
                 "target prompt (the original DiffEdit)."),
    "reconstruct": ("Cycle-SDE: noise-adding trajectory + Cycle-SDE back; reconstructs the input "
                    "exactly up to float error (paper Table 3).",
                    "DDIM inversion + DDIM sampling: the ODE round trip; with guidance it drifts "
                    "(lower PSNR)."),
}
METHOD_LABELS = {
    "drag": ("SDE-Drag", "ODE-Drag"),
    "inpaint": ("Inpaint-SDE", "Inpaint-ODE"),
    "diffedit": ("DiffEdit-SDE", "DiffEdit-ODE"),
    "reconstruct": ("Cycle-SDE", "DDIM inversion"),
}

DRAG_PARAMS = (
    ParamSpec("prompt", "Prompt", "text",
              "Describes the image. Conditions the model (classifier-free guidance) and the "
              "per-image LoRA. May be empty."),
    ParamSpec("t0", "t0 (noise level)", "float",
              "How far up the image is noised before each drag step, as a fraction of the "
              "diffusion time (paper: 0.6). Higher = bigger changes possible, less faithful.",
              0.05, 1.0, 0.05, 2),
    ParamSpec("steps", "Steps (N)", "int",
              "Size of the sampling grid over the full diffusion time (paper: 200). Each drag "
              "step runs int(t0·N) steps up and down.", 10, 1000, 10),
    ParamSpec("step_size", "Drag step size", "float",
              "Latent pixels (8 image px) the content moves per drag step (paper: 2). The number "
              "of drag steps is the longest drag divided by this.", 0.5, 64.0, 0.5, 1),
    ParamSpec("half_size", "Patch half-size r", "int",
              "Half the side of the square patch copied from source to target, in latent pixels "
              "(paper: 5, i.e. an 88x88 image-pixel patch).", 1, 32, 1),
    ParamSpec("source_scale", "Source feature scale", "float",
              "What is left at the source after the copy: 0.3·content + sqrt(1-0.09)·noise "
              "(paper: 0.3). Lower erases the source more.", 0.0, 1.0, 0.05, 2, advanced=True),
    ParamSpec("target_scale", "Target amplification", "float",
              "The copied patch is multiplied by this at the target (paper: 1.1) so the moved "
              "content survives the sampling.", 0.5, 2.0, 0.05, 2, advanced=True),
    ParamSpec("cfg_min", "Guidance near t=0", "float",
              "Classifier-free guidance rises linearly from this value near t=0 (paper: 1) ...",
              0.0, 20.0, 0.5, 1, advanced=True),
    ParamSpec("cfg_max", "Guidance at t0", "float",
              "... to this value at t0 (paper: 3).", 0.0, 20.0, 0.5, 1, advanced=True),
    ParamSpec("lora_scale_max", "LoRA scale near t=0", "float",
              "With a LoRA: its scale falls on a cosine from this value near t=0 (paper: 1) ...",
              0.0, 2.0, 0.05, 2, advanced=True),
    ParamSpec("lora_scale_min", "LoRA scale at t0", "float",
              "... to this value at t0 (paper: 0.5).", 0.0, 2.0, 0.05, 2, advanced=True),
    GRID,
)

INPAINT_PARAMS = (
    ParamSpec("prompt", "Prompt", "text", "What should appear in the masked region."),
    ParamSpec("negative_prompt", "Negative prompt", "text",
              "What the fill should avoid (used as the unconditional prompt of guidance)."),
    ParamSpec("order", "Solver order", "choice",
              "DPM-Solver++ order: 2 (default) converges in fewer steps; 1 is the simple "
              "first-order solver (the paper reports both).",
              choices=((2, "2nd order"), (1, "1st order"))),
    ParamSpec("steps", "Steps", "int",
              "Solver steps from noise to image (paper: 25, 50 or 100).", 5, 500, 5),
    ParamSpec("guidance", "Guidance scale", "float",
              "Classifier-free guidance (paper: 7.5). Higher follows the prompt more closely.",
              0.0, 30.0, 0.5, 1),
)

DIFFEDIT_PARAMS = (
    ParamSpec("source_prompt", "Source prompt", "text",
              "Describes the image as it is (e.g. 'a bowl of apples')."),
    ParamSpec("target_prompt", "Target prompt", "text",
              "Describes the image you want (e.g. 'a bowl of pears')."),
    ParamSpec("encode_ratio", "Encode ratio", "float",
              "How far the image is noised/inverted before sampling with the target prompt "
              "(paper: 0.7). Higher allows bigger changes.", 0.05, 1.0, 0.05, 2),
    ParamSpec("mask_mode", "Mask", "choice",
              "Auto: DiffEdit computes the region from the two prompts (shown on the canvas "
              "afterwards, editable). Your mask: the mask painted on the canvas. Whole image: "
              "prompt-to-prompt translation of everything (DDIB-style).",
              choices=(("auto", "Auto (from prompts)"), ("user", "Your mask"),
                       ("full", "Whole image"))),
    ParamSpec("steps", "Steps", "int", "Sampling grid size (paper: 50).", 5, 500, 5),
    ParamSpec("guidance", "Guidance scale", "float", "Classifier-free guidance (paper: 7.5).",
              0.0, 30.0, 0.5, 1),
    ParamSpec("mask_samples", "Auto-mask samples", "int",
              "Noise draws averaged for the auto mask (DiffEdit: 10).", 1, 64, 1, advanced=True),
    ParamSpec("mask_strength", "Auto-mask noise", "float",
              "Noise level of the auto-mask estimate (DiffEdit: 0.5).", 0.05, 1.0, 0.05, 2,
              advanced=True),
    ParamSpec("mask_threshold", "Auto-mask threshold", "float",
              "Normalised difference above which a pixel joins the mask (DiffEdit: 0.5).",
              0.0, 1.0, 0.05, 2, advanced=True),
)

RECONSTRUCT_PARAMS = (
    ParamSpec("prompt", "Prompt", "text", "Prompt used for guidance on the way up and down."),
    ParamSpec("steps", "Steps", "int", "Sampling grid size (paper Table 3: 50).", 5, 1000, 5),
    ParamSpec("guidance", "Guidance scale", "float",
              "Classifier-free guidance (7.5). DDIM inversion drifts more with higher guidance; "
              "Cycle-SDE stays exact.", 0.0, 30.0, 0.5, 1),
    ParamSpec("t0", "Depth t0", "float",
              "Fraction of the grid to go up before coming back (1.0 = all the way to noise).",
              0.05, 1.0, 0.05, 2),
    ParamSpec("dtype", "Latent precision", "choice",
              "float64 latents make Cycle-SDE exact even with guidance (paper Table 3); float32 "
              "shows the small float error.",
              choices=(("float32", "float32"), ("float64", "float64"))),
    GRID,
)

PANELS: dict[str, tuple[type[EditRequest], tuple[ParamSpec, ...]]] = {
    "drag": (DragRequest, DRAG_PARAMS),
    "inpaint": (InpaintRequest, INPAINT_PARAMS),
    "diffedit": (DiffEditRequest, DIFFEDIT_PARAMS),
    "reconstruct": (ReconstructRequest, RECONSTRUCT_PARAMS),
}

SEED_TIP = ("Random seed of every noise draw. The same request with the same seed and model "
            "gives the same result (paper: 1234).")
MAX_SIDE_TIP = ("The image is scaled down so its longer side is at most this many pixels for the "
                "edit (SD 1.5 works best at 512-768), then the result is scaled back. 0 keeps "
                "the size (rounded to multiples of 8).")
LORA_TIP = ("Per-image LoRA (paper: optional, improves faithfulness of drags). Off: base model. "
            "Auto: train a LoRA on this image and prompt (100 steps) or reuse the cached one. "
            "File: use LoRA weights from a .safetensors file.")

PANEL_HINTS = {
    "drag": "Points tool (P): click a source, then its target. Optional mask: if you paint one, "
            "only the masked region may change.",
    "inpaint": "Mask brush (B): paint the region to fill; everything else is kept.",
    "diffedit": "Describe the image as it is and as it should be. With the automatic mask the "
                "mask DiffEdit used appears on the canvas afterwards, ready to refine.",
    "reconstruct": "No edit: goes up to t0 and back to measure how exactly each method "
                   "reconstructs the input (PSNR, paper Table 3).",
}
