"""`sdedit lora train|list|clear`: the per-image LoRA cache from the command line."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from sdedit_desktop.cli.common import CliError, Output, check_outputs
from sdedit_desktop.cli.edit_commands import add_prediction_type_option

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def register(subparsers: argparse._SubParsersAction) -> None:
    lora = subparsers.add_parser("lora", help="per-image LoRA: train, list, clear the cache",
                                 description="Per-image LoRA cache.")
    sub = lora.add_subparsers(dest="lora_command", required=True, parser_class=type(lora))
    p = sub.add_parser("train", help="train (or reuse) the LoRA for an image + prompt")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="hub id, diffusers folder, .safetensors file or 'tiny'")
    p.add_argument("--image", type=Path, required=True, help="the image to edit later")
    p.add_argument("--prompt", default="", help="the edit prompt (the training condition)")
    p.add_argument("--max-side", type=int, default=None,
                   help="scale the image as the edit will (default: the model's, as the "
                        "edits: 768 for SD 1.x, 1536 for SDXL)")
    p.add_argument("--rank", type=int, default=16, help="LoRA rank (paper: 16)")
    p.add_argument("--lr", type=float, default=2e-4, help="AdamW learning rate (paper: 2e-4)")
    p.add_argument("--steps", type=int, default=100, help="training steps (paper: 100)")
    p.add_argument("--batch-size", type=int, default=1, help="noise samples per step (paper: 1)")
    p.add_argument("--seed", type=int, default=0, help="training seed (noise, timesteps)")
    p.add_argument("--device", default="auto", help="auto, cuda, cuda:N, mps or cpu")
    p.add_argument("--dtype", default="auto",
                   help="auto, float16, bfloat16, float32 or float64")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow .ckpt/.bin pickle checkpoints (they can run code)")
    p.add_argument("--download", action="store_true", help="download the model if missing")
    add_prediction_type_option(p)
    p.add_argument("--export", type=Path, default=None,
                   help="also copy the LoRA here, a .safetensors file (usable with --lora PATH); "
                        "its metadata goes beside it as NAME.json")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="LoRA cache folder (default: the user cache dir)")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("list", help="cached LoRAs, most recently used first")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="LoRA cache folder (default: the user cache dir)")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("clear", help="delete every cached LoRA")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="LoRA cache folder (default: the user cache dir)")
    p.set_defaults(handler=cmd_clear)


def _cache(args: argparse.Namespace):
    from sdedit_desktop.models.lora import LoraCache

    return LoraCache(args.cache_dir)


def cmd_train(args: argparse.Namespace) -> int:
    from safetensors import SafetensorError

    from sdedit_desktop.cli.terminal_progress import TerminalProgress
    from sdedit_desktop.core.families import default_max_side
    from sdedit_desktop.edits.geometry import working_size
    from sdedit_desktop.edits.progress import EditError, StepReporter
    from sdedit_desktop.imaging import ImageFileError, load_image
    from sdedit_desktop.models.errors import ModelError
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model
    from sdedit_desktop.models.lora import LoraSettings, ensure_lora

    try:
        settings = LoraSettings(rank=args.rank, learning_rate=args.lr, steps=args.steps,
                                batch_size=args.batch_size, seed=args.seed)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.export is not None:  # both files it writes, before the model loads
        check_outputs(Output(args.export, "--export", (".safetensors",)),
                      Output(args.export.with_suffix(".json"), "--export (its metadata)"))
    try:
        image = load_image(args.image)
        height, width = image.shape[:2]
        if args.max_side is not None:  # checked before the model loads
            working_size(width, height, args.max_side)
    except (ImageFileError, EditError) as exc:
        raise CliError(str(exc)) from None
    cache = _cache(args)
    bar = TerminalProgress()
    steps_run: list[int] = []

    def progress(p) -> None:  # counts training steps: none run on a cache hit
        steps_run.append(p.step)
        bar(p)

    try:
        model = load_model(ModelSpec(args.model, args.device, args.dtype, args.allow_pickle,
                                     args.download, args.prediction_type))
        max_side = default_max_side(model.identity) if args.max_side is None else args.max_side
        image = working_size(width, height, max_side).to_work(image)
        key = ensure_lora(model, image, args.prompt, settings, cache, StepReporter(progress))
    except ModelError as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()
    meta = cache.read_metadata(key) or {}
    losses = meta.get("losses") or []
    print(f"{'trained' if steps_run else 'reused cached'} LoRA {key}")
    if losses:
        print(f"  loss: first 10 steps {sum(losses[:10]) / len(losses[:10]):.4f}, "
              f"last 10 {sum(losses[-10:]) / len(losses[-10:]):.4f}; probe "
              f"{meta.get('probe_loss_before', float('nan')):.4f} -> "
              f"{meta.get('probe_loss_after', float('nan')):.4f}")
    if cache.has(key):
        print(f"  {cache.weights_path(key)}")
    else:
        print("  not cached (the cache folder cannot be written); use --export to keep it")
    if args.export is not None:
        try:
            cache.export(key, args.export)
        except (OSError, SafetensorError) as exc:
            raise CliError(f"cannot write {args.export}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
        print(f"  exported to {args.export}")
    model.detach_lora()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from sdedit_desktop.textsafe import shown

    cache = _cache(args)
    entries = cache.entries()
    total = sum(e.size_bytes for e in entries)
    print(f"LoRA cache {cache.dir}: {len(entries)} entries, {total / 1e6:.1f} MB "
          f"of {cache.max_bytes / 1e9:.1f} GB")
    for e in entries:
        used = datetime.datetime.fromtimestamp(e.last_used).strftime("%Y-%m-%d %H:%M")
        # Everything but the size and time comes from the entry's JSON file: shown safely.
        print(f"  {e.key[:16]}  {e.size_bytes / 1e6:6.1f} MB  used {used}  "
              f"rank {shown(e.settings.get('rank'), 8)}  "
              f"steps {shown(e.settings.get('steps'), 8)}  "
              f"base {shown(e.base.get('source', '?'), 80)}  prompt {shown(repr(e.prompt), 200)}")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    from sdedit_desktop.models.errors import LoraError

    cache = _cache(args)
    try:
        count = cache.clear()
    except LoraError as exc:
        raise CliError(str(exc)) from None
    print(f"removed {count} cached LoRA(s) from {cache.dir}")
    return 0
