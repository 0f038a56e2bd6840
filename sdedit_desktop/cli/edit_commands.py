"""`sdedit drag|inpaint|diffedit|reconstruct`: the edits, headless, on the GUI's code."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from sdedit_desktop.cli.common import CliError
from sdedit_desktop.cli.terminal_progress import TerminalProgress
from sdedit_desktop.edits import (
    DiffEditRequest,
    DragRequest,
    EditError,
    EditRequest,
    EditResult,
    ExecutionOptions,
    InpaintRequest,
    ReconstructRequest,
    run_edit,
)
from sdedit_desktop.imaging import ImageFileError, load_image, load_mask, save_image
from sdedit_desktop.models.interface import ModelSpec

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def parse_points(text: str) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
    """"x1,y1:x2,y2[;x1,y1:x2,y2...]" -> ((source, target), ...)."""
    pairs = []
    for n, chunk in enumerate((c for c in text.split(";") if c.strip()), start=1):
        try:
            src, tgt = chunk.split(":")
            (sx, sy), (tx, ty) = (tuple(int(v) for v in p.split(",")) for p in (src, tgt))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"point pair {n} ({chunk.strip()!r}) is not of the form x1,y1:x2,y2 with whole "
                "numbers") from None
        pairs.append(((sx, sy), (tx, ty)))
    if not pairs:
        raise argparse.ArgumentTypeError("no point pairs given: use x1,y1:x2,y2[;x1,y1:x2,y2...]")
    return tuple(pairs)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", type=Path, required=True, help="input image (any format PIL reads)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="hub id, diffusers folder, single .safetensors file, or 'tiny' "
                        f"(default {DEFAULT_MODEL}, from the local hub cache)")
    p.add_argument("--device", default="auto", help="auto, cuda, cuda:N, mps or cpu")
    p.add_argument("--dtype", default="auto",
                   help="auto, float16, bfloat16, float32 or float64 (auto: fp16 on GPUs)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="UNSAFE: allow .ckpt/.bin pickle checkpoints (they can run code)")
    p.add_argument("--download", action="store_true",
                   help="allow downloading the model from the Hugging Face hub")
    p.add_argument("--seed", type=int, default=None, help="random seed (method default if unset)")
    p.add_argument("--max-side", type=int, default=768,
                   help="scale the image so its longer side is at most this (0 = no limit)")
    p.add_argument("--out", type=Path, help="output image (.png keeps the parameters as text)")
    p.add_argument("--json", type=Path, dest="json_out", help="write request + result metadata")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("drag", help="SDE-Drag / ODE-Drag: move content with point pairs")
    _common(p)
    p.add_argument("--points", type=parse_points, required=True,
                   help="x1,y1:x2,y2[;x1,y1:x2,y2...] source:target pairs in image pixels")
    p.add_argument("--mask", type=Path, help="mask image, white = may change")
    p.add_argument("--method", choices=("sde", "ode"), default="sde")
    p.add_argument("--prompt", default="")
    p.add_argument("--t0", type=float, default=0.6)
    p.add_argument("--steps", type=_positive_int, default=200)
    p.add_argument("--step-size", type=float, default=2.0, help="latent pixels per drag step")
    p.add_argument("--source-scale", type=float, default=0.3)
    p.add_argument("--target-scale", type=float, default=1.1)
    p.add_argument("--half-size", type=int, default=5, help="patch half-size in latent pixels")
    p.add_argument("--cfg-min", type=float, default=1.0)
    p.add_argument("--cfg-max", type=float, default=3.0)
    p.add_argument("--lora", default="off", help="off, auto (train or reuse) or a LoRA file")
    p.add_argument("--lora-scale-min", type=float, default=0.5)
    p.add_argument("--lora-scale-max", type=float, default=1.0)
    p.add_argument("--grid", choices=("uniform", "reference"), default="uniform")
    p.add_argument("--trajectory-batch", type=int, default=None,
                   help="predict trajectory noise this many steps per UNet call (speed only; "
                        "default 16 on CUDA, off on the CPU)")
    p.add_argument("--save-trajectory", type=Path, metavar="DIR",
                   help="write one image per drag step, named in order")
    p.set_defaults(handler=lambda a: _run(a, DragRequest))

    p = sub.add_parser("inpaint", help="Inpaint-SDE / Inpaint-ODE with (SDE-)DPM-Solver++")
    _common(p)
    p.add_argument("--mask", type=Path, required=True, help="mask image, white = fill in")
    p.add_argument("--method", choices=("sde", "ode"), default="sde")
    p.add_argument("--prompt", default="")
    p.add_argument("--negative-prompt", default="")
    p.add_argument("--steps", type=_positive_int, default=50)
    p.add_argument("--order", type=int, choices=(1, 2), default=2)
    p.add_argument("--guidance", type=float, default=7.5)
    p.set_defaults(handler=lambda a: _run(a, InpaintRequest))

    p = sub.add_parser("diffedit", help="DiffEdit-SDE / DiffEdit-ODE: rewrite with a prompt")
    _common(p)
    p.add_argument("--method", choices=("sde", "ode"), default="sde")
    p.add_argument("--source-prompt", default="")
    p.add_argument("--target-prompt", required=True)
    p.add_argument("--encode-ratio", type=float, default=0.7)
    p.add_argument("--steps", type=_positive_int, default=50)
    p.add_argument("--guidance", type=float, default=7.5)
    p.add_argument("--mask-mode", choices=("auto", "user", "full"), default=None,
                   help="auto (DiffEdit's mask), user (--mask) or full (whole image)")
    p.add_argument("--mask", type=Path, help="mask image for --mask-mode user")
    p.add_argument("--mask-samples", type=_positive_int, default=10)
    p.add_argument("--save-mask", type=Path, help="write the mask used (auto mask included)")
    p.set_defaults(handler=lambda a: _run(a, DiffEditRequest))

    p = sub.add_parser("reconstruct", help="invert and reconstruct without an edit (Table 3)")
    _common(p)
    p.add_argument("--method", choices=("cycle-sde", "ddim-inversion", "sde", "ode"),
                   default="cycle-sde")
    p.add_argument("--prompt", default="")
    p.add_argument("--steps", type=_positive_int, default=50)
    p.add_argument("--cfg", type=float, default=7.5, dest="guidance")
    p.add_argument("--t0", type=float, default=1.0)
    p.add_argument("--grid", choices=("uniform", "reference"), default="uniform")
    p.set_defaults(handler=lambda a: _run(a, ReconstructRequest))


def _request(args: argparse.Namespace, kind: type[EditRequest], image: np.ndarray,
             mask: np.ndarray | None) -> EditRequest:
    names = {f.name for f in fields(kind)} - {"image", "mask", "model"}
    values: dict[str, Any] = {n: getattr(args, n) for n in names if hasattr(args, n)}
    if args.seed is None:
        values.pop("seed", None)
    values["max_side"] = args.max_side or None
    if kind is ReconstructRequest:
        values["method"] = {"cycle-sde": "sde", "ddim-inversion": "ode"}.get(args.method,
                                                                           args.method)
        values["dtype"] = "float64" if args.dtype == "float64" else "float32"
    if kind is DiffEditRequest:
        values["mask_mode"] = args.mask_mode or ("user" if mask is not None else "auto")
        if values["mask_mode"] == "user" and mask is None:
            raise CliError("--mask-mode user needs --mask")
    return kind(image=image, mask=mask, **values)


def _run(args: argparse.Namespace, kind: type[EditRequest]) -> int:
    try:
        image = load_image(args.image)
        mask_path = getattr(args, "mask", None)
        mask = load_mask(mask_path, (image.shape[1], image.shape[0])) if mask_path else None
    except ImageFileError as exc:
        raise CliError(str(exc)) from None
    request = _request(args, kind, image, mask)
    for path in (args.out, args.json_out, getattr(args, "save_mask", None)):
        if path is not None and not path.parent.exists():
            raise CliError(f"{path}: the folder {path.parent} does not exist")
    model = load_cli_model(args)
    request = request.with_changes(model=model.identity)
    progress = TerminalProgress(enabled=False if args.quiet else None)
    batch = getattr(args, "trajectory_batch", None)
    options = None if batch is None else ExecutionOptions(trajectory_batch=batch)
    from sdedit_desktop.models.errors import ModelError, is_out_of_memory

    try:
        result = run_edit(model, request, progress=progress, lora=cli_lora_provider(args),
                          options=options)
    except (EditError, ModelError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
    except (RuntimeError, MemoryError) as exc:
        if is_out_of_memory(exc):
            raise CliError(f"out of memory on {model.device}: try a smaller --max-side, "
                           "--dtype float16 or --device cpu") from None
        raise
    finally:
        progress.close()
    write_outputs(args, result)
    return 0


def load_cli_model(args: argparse.Namespace):
    from sdedit_desktop.models.errors import ModelError
    from sdedit_desktop.models.loading import load_model

    dtype = args.dtype
    spec = ModelSpec(source=args.model, device=args.device, dtype=dtype,
                     allow_pickle=args.allow_pickle, allow_download=args.download)
    try:
        return load_model(spec)
    except ModelError as exc:
        raise CliError(str(exc).splitlines()[0]) from None


def cli_lora_provider(args: argparse.Namespace):
    if getattr(args, "lora", "off") == "off":
        return None
    from sdedit_desktop.models.lora_provider import lora_provider

    return lora_provider()


def json_safe(value: Any) -> Any:
    """Strict JSON: numpy scalars to Python, non-finite floats (an exact reconstruction's PSNR)
    to the strings "inf"/"-inf"/"nan"."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_outputs(args: argparse.Namespace, result: EditResult) -> None:
    params = result.request.params()
    try:
        if args.out is not None:
            save_image(args.out, result.image, {"sdedit": json.dumps(params)})
        traj_dir = getattr(args, "save_trajectory", None)
        if traj_dir is not None:
            traj_dir.mkdir(parents=True, exist_ok=True)
            width = max(3, len(str(len(result.trajectory))))
            for i, img in enumerate(result.trajectory, start=1):
                save_image(traj_dir / f"step_{i:0{width}d}.png", img)
        save_mask = getattr(args, "save_mask", None)
        if save_mask is not None and result.mask is not None:
            save_image(save_mask, result.mask)
    except (ImageFileError, OSError) as exc:
        raise CliError(str(exc)) from None
    # metrics at the top level (latent errors, PSNR) next to the full request/result record
    summary = {**result.metrics, "seconds": result.timings.get("total"), **result.summary()}
    if args.json_out is not None:
        try:
            args.json_out.write_text(json.dumps(json_safe(summary), indent=2))
        except OSError as exc:
            raise CliError(f"{args.json_out}: cannot write: {exc.strerror}") from None
    if not args.quiet:
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
        print(f"{result.request.kind} ({result.request.method}): "
              f"{result.timings.get('total', 0):.1f}s, {result.unet_calls} UNet calls"
              + (f"  {metrics}" if metrics else ""))
