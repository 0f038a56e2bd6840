"""`sdedit KIND`, one sub-command per edit kind (drag, inpaint, diffedit, reconstruct): the edits,
headless, on the GUI's code. Each sub-command is generated from its kind (`edits/kinds/`): the
options from the request schema, the rest from `EditKind.cli` and the kind's mask use."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from sdedit_desktop.cli.common import (
    CliError,
    Output,
    check_outputs,
    shown_value,
    trajectory_batch,
    whole_number,
)
from sdedit_desktop.cli.terminal_progress import TerminalProgress
from sdedit_desktop.core.families import PREDICTION_TYPES, default_max_side
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.edits.kind import EditKind
from sdedit_desktop.edits.kinds import all_kinds
from sdedit_desktop.edits.region import region_choice
from sdedit_desktop.edits.regional import plan_region
from sdedit_desktop.edits.requests import EditRequest, EditResult
from sdedit_desktop.edits.schema import SchemaField, schema, schema_field
from sdedit_desktop.filesave import fitted_name, write_text
from sdedit_desktop.imaging import (
    IMAGE_SUFFIXES,
    ImageFileError,
    load_image,
    load_mask,
    save_image,
)

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
        negative = [v for v in (sx, sy, tx, ty) if v < 0]
        if negative:
            raise argparse.ArgumentTypeError(
                f"point pair {n} ({chunk.strip()!r}): {negative[0]} is out of range; points "
                "are image pixels counted from 0,0 at the top left, so no coordinate is "
                "negative")
        pairs.append(((sx, sy), (tx, ty)))
    if not pairs:
        raise argparse.ArgumentTypeError("no point pairs given: use x1,y1:x2,y2[;x1,y1:x2,y2...]")
    return tuple(pairs)


def _number(text: str) -> float:
    # NaN, infinities and out-of-range values parse here and are refused, naming the option's
    # parameter, by the request's validate() (one message for the CLI, the GUI and the engine).
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number, got {shown_value(text)}") from None


def _help(entry: SchemaField, default_text: str | None = None) -> str:
    default = entry.default if default_text is None else default_text
    if default == "":
        default = "empty"
    allowed = entry.info.range_text()
    text = f"{entry.info.tooltip()} (default: {default}{'; ' + allowed if allowed else ''})"
    return text.replace("%", "%%")  # argparse formats help with %


def add_schema_option(p: argparse.ArgumentParser, entry: SchemaField,
                      required: bool = False) -> None:
    """One `--option` generated from a request parameter: type, choices, default and help from
    the schema."""
    info = entry.info
    flag = info.cli_flag or "--" + entry.name.replace("_", "-")
    kwargs: dict[str, Any] = {"dest": entry.name, "help": _help(entry)}
    choices = entry.literal_values or tuple(v for v, _ in info.choices)
    if choices:
        kwargs["choices"] = tuple(sorted(choices)) if all(isinstance(c, int) for c in choices) \
            else choices
    base = entry.base_type
    if base is int or (choices and all(isinstance(c, int) for c in choices)):
        kwargs["type"] = whole_number
    elif base is float:
        kwargs["type"] = _number
    if required:
        kwargs["required"] = True
    else:
        kwargs["default"] = entry.default
    p.add_argument(flag, **kwargs)


def add_prediction_type_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prediction-type", choices=PREDICTION_TYPES, default=None,
                   help="what the model's UNet predicts: epsilon (the noise; SD 2.x 512 px "
                        "models) or v_prediction (SD 2.x 768 px models). Needed once for a "
                        "single SD 2.x .safetensors file, whose weights do not say; remembered "
                        "for that file (default: what the model says)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", type=Path, required=True, help="input image (any format PIL reads)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="hub id, diffusers folder, single .safetensors file, or 'tiny' "
                        f"(default {DEFAULT_MODEL}, from the local hub cache)")
    p.add_argument("--device", default="auto", help="auto, cuda, cuda:N, mps or cpu "
                                                    "(default: auto)")
    p.add_argument("--dtype", default="auto",
                   help="auto, float16, bfloat16, float32 or float64 (default: auto = fp16 on "
                        "GPUs)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="UNSAFE: allow .ckpt/.bin pickle checkpoints (they can run code)")
    p.add_argument("--download", action="store_true",
                   help="allow downloading the model from the Hugging Face hub")
    add_prediction_type_option(p)
    seed = schema_field(EditRequest, "seed")
    p.add_argument("--seed", type=whole_number, default=seed.default,
                   help=_help(seed))
    max_side = schema_field(EditRequest, "max_side")
    p.add_argument("--max-side", type=whole_number, default=None,
                   help=_help(max_side, "the model's: 768 for SD 1.x, 1152 for SD 2.x 768-v, "
                                        "1536 for SDXL"))
    p.add_argument("--out", type=Path,
                   help="output image: .png (keeps the parameters as text), .jpg or .webp "
                        "(default: next to the input, e.g. photo.png -> photo.sdedrag.png)")
    p.add_argument("--json", type=Path, dest="json_out", help="write request + result metadata")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_region(text: str) -> str | tuple[int, int, int, int]:
    """"auto", "whole" or "X,Y,W,H" (image pixels)."""
    if text in ("auto", "whole"):
        return text
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(
            f"expected auto, whole or X,Y,W,H in whole pixels, got {shown_value(text)}")
    return values  # type: ignore[return-value]


def register(sub: argparse._SubParsersAction) -> None:
    for kind in all_kinds():
        p = sub.add_parser(kind.name, help=kind.cli.help)
        _common(p)
        _register_kind(p, kind)
        p.set_defaults(handler=lambda a, kind=kind: _run(a, kind))


def _register_kind(p: argparse.ArgumentParser, kind: EditKind) -> None:
    cls, cli, mask_use = kind.request_type, kind.cli, kind.mask_use
    if kind.uses_points:
        p.add_argument("--points", type=parse_points, required=True,
                       help="x1,y1:x2,y2[;x1,y1:x2,y2...] source:target pairs in image pixels "
                            "(0,0 = top left; required)")
    if mask_use.used:
        p.add_argument("--mask", type=Path, required=mask_use.required,
                       help=mask_use.cli_help())
    method = schema_field(cls, "method")
    default_method = cli.default_method or method.default
    p.add_argument("--method", choices=(*cli.method_aliases, *method.literal_values),
                   default=default_method, help=_help(method, default_method))
    for entry in schema(cls):
        if not entry.info.cli or entry.name in ("seed", "max_side", "method"):
            continue
        if mask_use.use == "when" and entry.name == mask_use.field:
            # Not given: the mask decides (with --mask the mask's mode, else the other one).
            p.add_argument("--" + entry.name.replace("_", "-"), choices=entry.literal_values,
                           default=None, help=_help(entry, f"{mask_use.value} with --mask, "
                                                           f"else {mask_use.otherwise}"))
            continue
        add_schema_option(p, entry, required=entry.name in cli.required)
    if mask_use.used:  # the edits that change part of an image
        p.add_argument("--region", type=parse_region, default="auto",
                       help="the part of the image the model edits: auto (around the points / "
                            "mask), whole, or X,Y,W,H in image pixels; the rest stays untouched "
                            "(default auto)")
    if cli.trajectory_batch:
        p.add_argument("--trajectory-batch", type=trajectory_batch, default=None,
                       help="predict trajectory noise this many steps per UNet call (speed only; "
                            "default 16 on CUDA, off on the CPU)")
    if cli.saves_trajectory:
        p.add_argument("--save-trajectory", type=Path, metavar="DIR",
                       help="write one image per step, named in order")
    if cli.saves_mask:
        p.add_argument("--save-mask", type=Path, help="write the mask used (auto mask included)")


def _request(args: argparse.Namespace, kind: EditKind, image: np.ndarray,
             mask: np.ndarray | None) -> EditRequest:
    cls = kind.request_type
    names = {f.name for f in fields(cls)} - {"image", "mask", "model"}
    values: dict[str, Any] = {n: getattr(args, n) for n in names if hasattr(args, n)}
    # --max-side 0 keeps the size; none given: the model's default, set once it is loaded
    # (checked here with the SD 1.x one: the region does not depend on it).
    values["max_side"] = default_max_side(None) if args.max_side is None else \
        (args.max_side or None)
    values["method"] = kind.cli.method_of(args.method)
    if "dtype" in names:
        # A request's latent precision follows the model's --dtype (float64 only on request).
        values["dtype"] = "float64" if args.dtype == "float64" else "float32"
    use = kind.mask_use
    if use.use == "when":
        chosen = getattr(args, use.field) or (use.value if mask is not None else use.otherwise)
        values[use.field] = chosen
        if chosen == use.value and mask is None:
            raise CliError(f"--{use.field.replace('_', '-')} {use.value} needs --mask")
    values["region"] = region_choice(getattr(args, "region", "auto"), image.shape[1],
                                     image.shape[0])
    request = cls(image=image, mask=mask, **values)
    try:
        plan_region(request)  # request.validate() and the region, before the model loads
    except EditError as exc:
        raise CliError(str(exc)) from None
    return request


def _run(args: argparse.Namespace, kind: EditKind) -> int:
    try:
        image = load_image(args.image)
        mask_path = getattr(args, "mask", None)
        mask = load_mask(mask_path, (image.shape[1], image.shape[0])) if mask_path else None
    except ImageFileError as exc:
        raise CliError(str(exc)) from None
    request = _request(args, kind, image, mask)
    if args.out is None:
        args.out = default_output(args.image, kind.name)
        print(f"no --out given: the result will be written to {args.out}", flush=True)
    # Every output checked before minutes of computing, not after.
    check_outputs(Output(args.out, "--out", IMAGE_SUFFIXES), Output(args.json_out, "--json"),
                  Output(getattr(args, "save_mask", None), "--save-mask", IMAGE_SUFFIXES),
                  Output(getattr(args, "save_trajectory", None), "--save-trajectory",
                         folder=True))
    # torch is imported only here, when an edit runs: `sdedit --help` stays instant.
    from sdedit_desktop.edits.options import ExecutionOptions
    from sdedit_desktop.edits.run import run_edit

    model = load_cli_model(args)
    request = request.with_changes(model=model.identity)
    if args.max_side is None:
        request = request.with_changes(max_side=default_max_side(model.identity))
    progress = TerminalProgress(enabled=False if args.quiet else None)
    batch = getattr(args, "trajectory_batch", None)
    options = None if batch is None else ExecutionOptions(trajectory_batch=batch)
    from sdedit_desktop.models.errors import ModelError, is_out_of_memory

    try:
        result = run_edit(model, request, progress=progress,
                          lora=cli_lora_provider(getattr(request, "lora", "off")),
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


def default_output(image: Path, kind: str) -> Path:
    """Where an edit without --out writes: next to its input, named after the input and the
    edit (photo.png -> photo.sdedrag.png), never over an existing file (-2, -3, ...)."""
    def named(tail: str) -> Path:  # a long input name is shortened so the output's fits
        return image.with_name(fitted_name("", image.stem, f".sde{kind}{tail}.png"))

    candidate, n = named(""), 2
    while candidate.exists() or candidate.is_symlink():
        candidate, n = named(f"-{n}"), n + 1
    return candidate


def load_cli_model(args: argparse.Namespace):
    from sdedit_desktop.models.cpu_threads import apply_thread_policy
    from sdedit_desktop.models.errors import ModelError
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model

    apply_thread_policy()  # on the thread that runs the edit (models/cpu_threads.py)
    dtype = args.dtype
    spec = ModelSpec(source=args.model, device=args.device, dtype=dtype,
                     allow_pickle=args.allow_pickle, allow_download=args.download,
                     prediction_type=getattr(args, "prediction_type", None))
    try:
        return load_model(spec)
    except ModelError as exc:
        raise CliError(str(exc).splitlines()[0]) from None


def cli_lora_provider(setting: str):
    """The LoRA hook for a request whose `lora` is `setting` (None for "off")."""
    if setting == "off":
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
            write_text(args.json_out, json.dumps(json_safe(summary), indent=2))
        except OSError as exc:
            raise CliError(str(exc)) from None
    if args.out is not None:
        print(f"wrote {args.out}")
    if not args.quiet:
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
        print(f"{result.request.kind} ({result.request.method}): "
              f"{result.timings.get('total', 0):.1f}s, {result.unet_calls} UNet calls"
              + (f"  {metrics}" if metrics else ""))
