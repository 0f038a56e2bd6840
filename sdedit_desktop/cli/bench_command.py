"""`sdedit bench`: timings of every method on a real architecture (SD 1.5's by default, SD 2.1's
or SDXL's on request; random weights: speed does not depend on weight values), against the
reference code's execution."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sdedit_desktop.bench.kinds import bench_kinds
from sdedit_desktop.cli.common import (
    CliError,
    Output,
    check_outputs,
    check_range,
    trajectory_batch,
)
from sdedit_desktop.filesave import write_text


def parse_steps(text: str) -> tuple[str, int]:
    """"N" (every kind) or "KIND=N" (one kind) -> (kind or "", N)."""
    kind, _, number = text.rpartition("=")
    try:
        steps = int(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or KIND=N, got {text!r:.40}") from None
    if kind and kind not in bench_kinds():
        raise argparse.ArgumentTypeError(
            f"unknown kind {kind!r:.40}: expected one of {', '.join(bench_kinds())}")
    return kind, steps


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark every method (real architectures, random "
                       "weights)")
    p.add_argument("--model", default="random-sd15",
                   help="random-sd15 (default), random-sd21, random-sd21v, random-sdxl (the "
                        "real architectures with random weights, no download), tiny, or any "
                        "--model of the edits")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto", help="our precision (auto: float16 on CUDA)")
    p.add_argument("--method", action="append", choices=bench_kinds(), dest="methods",
                   help="repeatable; default: all")
    p.add_argument("--size", type=int, default=None,
                   help="image side in pixels (default: the model's native side, 512 for SD "
                        "1.5, 768 for SD 2.1-v, 1024 for SDXL)")
    p.add_argument("--steps", type=parse_steps, action="append", default=[], metavar="[KIND=]N",
                   help="steps instead of the paper's: N for every kind, KIND=N for one "
                        "(repeatable; e.g. --steps drag=50)")
    p.add_argument("--trajectory-batch", type=trajectory_batch, default=16)
    p.add_argument("--lora-steps", type=int, default=100)
    p.add_argument("--no-lora", action="store_true")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the reference-execution drag")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the UNet (CUDA graphs); compile time reported apart")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--ui", action="store_true",
                   help="also run the first --method (default: drag) through the editor's "
                   "engine (worker thread, previews) and report the longest UI-thread stall "
                   "and the time to the first preview")
    p.add_argument("--cpu-threads", action=argparse.BooleanOptionalAction, default=None,
                   help="time UNet calls with 1, the policy's and all CPU threads, idle and "
                   "beside competing busy processes this section starts (and stops) itself "
                   "(default: on when the model runs on the CPU)")
    p.add_argument("--busy-processes", type=int, default=1,
                   help="competing busy processes of the CPU threads section (default 1)")
    p.add_argument("--json", type=Path, dest="json_out", help="write the report here")
    p.set_defaults(handler=run)


def _load(source: str, device: str, dtype: str):
    from sdedit_desktop.models.errors import ModelError

    try:
        from sdedit_desktop.models.random_model import RANDOM_MODELS, build_random_model

        if source in RANDOM_MODELS:
            return build_random_model(source, device, dtype)
        from sdedit_desktop.models.interface import ModelSpec
        from sdedit_desktop.models.loading import load_model

        return load_model(ModelSpec(source=source, device=device, dtype=dtype))
    except ModelError as exc:
        raise CliError(str(exc).splitlines()[0]) from None


def _check_numbers(args: argparse.Namespace) -> None:
    """Every number in range before anything loads (0 steps would divide by zero, a huge
    count would run for days)."""
    if args.size is not None and (args.size % 8 or not 64 <= args.size <= 4096):
        raise CliError(f"--size must be a multiple of 8 between 64 and 4096, got {args.size}")
    for _kind, steps in args.steps:
        check_range("--steps", steps, 1, 1000)
    check_range("--lora-steps", args.lora_steps, 1, 10_000)
    check_range("--repeats", args.repeats, 1, 100)
    check_range("--busy-processes", args.busy_processes, 1, 64)


def run(args: argparse.Namespace) -> int:
    _check_numbers(args)
    check_outputs(Output(args.json_out, "--json"))

    import torch

    from sdedit_desktop.bench.runner import BenchSettings, format_table, run_benchmark
    from sdedit_desktop.models.cpu_threads import apply_thread_policy

    threads = apply_thread_policy()  # as the editor and the CLI run edits
    model = _load(args.model, args.device, args.dtype)
    size = args.size or model.native_side
    settings = BenchSettings(
        size=size, steps=dict(args.steps), trajectory_batch=args.trajectory_batch,
        methods=tuple(args.methods or bench_kinds()), repeats=max(1, args.repeats),
        lora=not args.no_lora, lora_steps=args.lora_steps, reference=not args.no_reference)
    compile_seconds = None
    if args.compile:
        from sdedit_desktop.models.acceleration import compile_unet, warm_up

        compile_unet(model)
        f = model.vae_scale_factor
        compile_seconds = warm_up(model, (size // f, size // f),
                                  (1, 2, 4, args.trajectory_batch * 2))
    reference = None
    if settings.reference:
        reference = model if model.dtype == torch.float32 and not args.compile else \
            _load(args.model, str(model.device), "float32")
    report = run_benchmark(model, settings, reference, log=lambda m: print(m, flush=True))
    report["threads"] = threads
    if args.cpu_threads or (args.cpu_threads is None and model.device.type == "cpu"):
        from sdedit_desktop.bench.threads import measure_threads

        f = model.vae_scale_factor
        report["cpu_threads"] = measure_threads(
            model, (size // f, size // f), busy_processes=args.busy_processes,
            log=lambda m: print(m, flush=True))
    if compile_seconds is not None:
        report["compile_seconds"] = compile_seconds
    if args.ui:
        from sdedit_desktop.bench.runner import bench_requests
        from sdedit_desktop.engine.responsiveness import measure_ui_during_edit

        first = settings.methods[0]
        print(f"{first} through the engine, UI heartbeat ...", flush=True)
        # Last: the engine releases the model when it shuts down.
        report["ui"] = measure_ui_during_edit(model, bench_requests(size, settings)[first])
    print(format_table(report))
    if args.json_out is not None:
        try:
            write_text(args.json_out, json.dumps(report, indent=2))
        except OSError as exc:
            raise CliError(str(exc)) from None
    return 0
