"""The benchmark: every edit kind's paper-default case (`EditKind.bench_case`) with our execution,
and the kinds marked for it (drag) also the way the reference code executes them, in the same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from sdedit_desktop.bench.call_timer import UnetCallTimer
from sdedit_desktop.bench.kinds import bench_kinds
from sdedit_desktop.core.families import family_info
from sdedit_desktop.core.progress import StepReporter
from sdedit_desktop.edits import EditRequest, ExecutionOptions, Progress, run_edit
from sdedit_desktop.edits.kinds import kind_named
from sdedit_desktop.models.acceleration import synchronize
from sdedit_desktop.models.interface import LatentDiffusionModel
from sdedit_desktop.resources import sample_images


@dataclass
class BenchSettings:
    size: int = 512
    # Step counts instead of the paper's: kind -> steps ("" = every kind without its own).
    steps: dict[str, int] = field(default_factory=dict)
    trajectory_batch: int = 16
    methods: tuple[str, ...] = field(default_factory=bench_kinds)
    repeats: int = 1
    lora: bool = True
    lora_steps: int = 100
    reference: bool = True
    unet_batches: tuple[int, ...] = (1, 2, 4, 16)


@dataclass
class Measurement:
    name: str
    seconds: float
    unet_calls: int
    unet_batch_sizes: dict[int, int]
    peak_memory_bytes: int | None
    first_preview_seconds: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds, "unet_calls": self.unet_calls,
            "unet_batch_sizes": {str(k): v for k, v in sorted(self.unet_batch_sizes.items())},
            "peak_memory_bytes": self.peak_memory_bytes,
            "first_preview_seconds": self.first_preview_seconds, **self.extra,
        }


def bench_image(size: int) -> np.ndarray:
    path = next((p for p in sample_images() if p.stem == "astronaut"), None)
    if path is None:
        rng = np.random.default_rng(0)
        return (rng.random((size, size, 3)) * 255).astype(np.uint8)
    img = Image.open(path).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(img)


def bench_requests(size: int, s: BenchSettings) -> dict[str, EditRequest]:
    """Each benchmarked kind's paper-default case on a size x size image (the whole image: the
    workload is a size x size edit, not an auto region), with the settings' step counts."""
    image = bench_image(size)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 255
    out = {}
    for name in s.methods:
        request = kind_named(name).bench_case(image, mask, size)
        steps = s.steps.get(name, s.steps.get(""))
        if steps is not None and hasattr(request, "steps"):
            request = request.with_changes(steps=steps)
        out[name] = request
    return out


def measure_edit(model: LatentDiffusionModel, name: str, request: EditRequest,
                 options: ExecutionOptions) -> Measurement:
    device = model.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    first: list[float] = []
    start = time.perf_counter()

    def on_progress(p: Progress) -> None:
        # what the GUI does for a preview: bring the latent to the host
        if not first and p.latent is not None:
            p.latent.float().cpu()
            first.append(time.perf_counter() - start)

    timer = UnetCallTimer(model)
    with timer.active():
        result = run_edit(model, request, progress=on_progress, options=options)
        synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return Measurement(name, seconds, result.unet_calls, result.unet_batch_sizes, peak,
                       first[0] if first else None,
                       {"method": request.method, "drag_steps": len(result.trajectory) or None,
                        "unet_call_seconds": timer.median_seconds()})


def unet_call_seconds(model: LatentDiffusionModel, latent_hw: tuple[int, int],
                      batches: tuple[int, ...], prompt: str = "a photo", repeats: int = 10,
                      warm_up: int = 3) -> dict[str, float]:
    """Median seconds of one UNet call per batch size, called as the edits call it (a prompt
    embedding, an integer timestep), after warm-up calls: the first calls of a shape pay for
    kernel selection and allocation, which the edit pays once, not per call."""
    embeds = model.encode_prompt(prompt)
    out = {}
    for batch in batches:
        x = torch.randn(batch, 4, *latent_hw, device=model.device, dtype=model.dtype)
        for _ in range(warm_up):
            model.predict_noise(x, 500, embeds)
        timer = UnetCallTimer(model)
        with timer.active():
            for _ in range(repeats):
                model.predict_noise(x, 500, embeds)
        out.update(timer.median_seconds())
    return out


def measure_lora(model: LatentDiffusionModel, image: np.ndarray, steps: int) -> dict[str, float]:
    import tempfile
    from pathlib import Path

    from sdedit_desktop.models.lora import LoraCache, LoraSettings, ensure_lora

    settings = LoraSettings(steps=steps)
    with tempfile.TemporaryDirectory() as tmp:
        cache = LoraCache(Path(tmp))
        if model.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(model.device)
        start = time.perf_counter()
        ensure_lora(model, image, "a photo", settings, cache)
        synchronize(model.device)
        train = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated(model.device) if model.device.type == "cuda" \
            else None
        model.detach_lora()
        trained_again: list[int] = []  # training steps the second call reports (0: a cache hit)
        start = time.perf_counter()
        ensure_lora(model, image, "a photo", settings, cache,
                    StepReporter(lambda p: trained_again.append(p.step)))
        cached = time.perf_counter() - start
        model.detach_lora()
    return {"train_seconds": train, "cached_seconds": cached, "steps": steps,
            "cached_training_steps": len(trained_again), "peak_memory_bytes": peak}


def run_benchmark(model: LatentDiffusionModel, settings: BenchSettings,
                  reference_model: LatentDiffusionModel | None = None,
                  log=print) -> dict[str, Any]:
    """Each method with our execution; then (reference_model given) the drag the way the
    reference code runs it: float32, eager, one batch-4 UNet call per reverse step (for the
    kinds marked `bench_reference`)."""
    requests = bench_requests(settings.size, settings)
    ours = ExecutionOptions(trajectory_batch=settings.trajectory_batch)
    factor = model.vae_scale_factor
    latent_hw = (settings.size // factor, settings.size // factor)
    report: dict[str, Any] = {
        "device": str(model.device), "dtype": str(model.dtype).replace("torch.", ""),
        "model": model.identity.to_dict(), "size": settings.size, "methods": {},
        "family": model.identity.family, "prediction_type": model.identity.prediction_type,
        "torch": torch.__version__,
    }
    if model.device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(model.device)
    log("timing single UNet calls ...")
    report["unet_call_seconds"] = unet_call_seconds(model, latent_hw, settings.unet_batches)
    for name in settings.methods:
        runs = []
        for _ in range(settings.repeats):
            log(f"{name} ...")
            runs.append(measure_edit(model, name, requests[name], ours))
        best = min(runs, key=lambda m: m.seconds)
        report["methods"][name] = best.as_dict()
    lora_case = next((r for r in requests.values() if hasattr(r, "lora")), None)
    if settings.lora and lora_case is not None:
        log("LoRA training ...")
        report["lora"] = measure_lora(model, lora_case.image, settings.lora_steps)
    if reference_model is not None:
        for name in settings.methods:
            if not kind_named(name).bench_reference:
                continue
            log(f"{name}, reference execution ...")
            ref = measure_edit(reference_model, f"{name}-reference", requests[name],
                               ExecutionOptions(trajectory_batch=0, always_batch_uncond=True))
            report[f"reference_{name}"] = ref.as_dict()
            report[f"reference_{name}"]["dtype"] = str(reference_model.dtype).replace(
                "torch.", "")
            report[f"{name}_speedup"] = ref.seconds / report["methods"][name]["seconds"]
    return report


def format_table(report: dict[str, Any]) -> str:
    rows = [("edit", "seconds", "UNet calls", "batches", "peak GB", "first preview s")]

    def row(name: str, m: dict[str, Any]) -> tuple[str, ...]:
        peak = m.get("peak_memory_bytes")
        first = m.get("first_preview_seconds")
        batches = ",".join(f"{k}x{v}" for k, v in m["unet_batch_sizes"].items())
        return (name, f"{m['seconds']:.2f}", str(m["unet_calls"]), batches,
                f"{peak / 1e9:.2f}" if peak else "-", f"{first:.2f}" if first else "-")

    for name, m in report["methods"].items():
        rows.append(row(f"{name} ({m['method']})", m))
    for name in report["methods"]:
        if f"reference_{name}" in report:
            rows.append(row(f"{name}, reference execution", report[f"reference_{name}"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    if "family" in report:
        lines.insert(0, f"{family_info(report['family']).describe(report.get('prediction_type'))}"
                        f", {report['size']}x{report['size']}, {report['dtype']} on "
                        f"{report['device']}")
    calls = ", ".join(f"B={k}: {v * 1000:.1f} ms" for k, v in report["unet_call_seconds"].items())
    lines.append(f"UNet call, alone (median): {calls}")
    for name, m in report["methods"].items():
        in_edit = m.get("unet_call_seconds") or {}
        calls = ", ".join(f"B={k}: {v * 1000:.1f} ms" for k, v in in_edit.items())
        lines.append(f"UNet call inside {name} (median): {calls}")
    if "lora" in report:
        lora = report["lora"]
        lines.append(f"LoRA ({lora['steps']} steps): {lora['train_seconds']:.2f} s to train, "
                     f"{lora['cached_seconds']:.3f} s from the cache")
    if "ui" in report:
        ui = report["ui"]
        first = ui["first_preview_seconds"]
        lines.append(
            f"editor engine: longest UI-thread stall {ui['longest_ui_stall_seconds']:.3f} s "
            f"(heartbeat every {ui['heartbeat_interval_seconds'] * 1000:.0f} ms); "
            + (f"first preview after {first:.2f} s" if first is not None else "no preview"))
    if "cpu_threads" in report:
        from sdedit_desktop.bench.threads import format_threads

        lines += format_threads(report["cpu_threads"])
    for name in report["methods"]:
        if f"{name}_speedup" in report:
            lines.append(f"{name} speed-up over the reference execution: "
                         f"{report[f'{name}_speedup']:.2f}x")
    return "\n".join(lines)
