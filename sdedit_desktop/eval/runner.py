"""Run an evaluation: this process's share of the samples, each task through `run_edit`,
outputs and records into the run folder; then the main process merges everything.

Resumable: a task whose record says "ok" for the same request hash (and whose image exists) is
skipped. Failed tasks (bad data, an edit error) are recorded with the reason and tried again on
the next run; the run itself goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdedit_desktop.edits import EditError, ExecutionOptions, run_edit
from sdedit_desktop.eval.datasets import list_samples
from sdedit_desktop.eval.metrics.scoring import Scorer
from sdedit_desktop.eval.processes import ProcessGroup
from sdedit_desktop.eval.progress import (
    Counters,
    ProgressDisplay,
    read_counters,
    write_counters,
)
from sdedit_desktop.eval.samples import Sample, SampleError, SampleInputs
from sdedit_desktop.eval.store import RunStore, write_json, write_png
from sdedit_desktop.eval.tasks import (
    Task,
    build_request,
    expand_tasks,
    jsonable,
    request_hash,
    request_kwargs,
)


@dataclass
class EvalConfig:
    kind: str  # drag, inpaint, diffedit, reconstruct
    dataset: Path
    out: Path
    methods: tuple[str, ...] = ("sde", "ode")
    settings: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    common: dict[str, Any] = field(default_factory=dict)  # request kwargs from the CLI
    options: ExecutionOptions | None = None
    dift_ensemble: int = 8
    show_progress: bool = True


def run_evaluation(config: EvalConfig, processes: ProcessGroup, load_model: Callable[[], Any],
                   lora: Any = None, poll_seconds: float = 0.5) -> dict[str, Any] | None:
    """Run this process's share; on the main process, wait for all and return the summary of
    the merged report (None on the others)."""
    store = RunStore(config.out)
    samples = list_samples(config.kind, config.dataset)
    tasks = expand_tasks(samples, config.methods, config.settings)
    if processes.is_main:
        write_json(store.config_path, _run_description(config, samples, tasks, processes))
    mine = processes.share(samples)
    counters = Counters(total=len(mine) * len(config.methods) * len(config.settings))
    write_counters(store, processes.index, counters)
    # Every process has written its fresh counters before anyone reads them.
    processes.wait_for_everyone()
    display = ProgressDisplay(store, processes.count, len(tasks), enabled=config.show_progress) \
        if processes.is_main else None

    model = load_model()
    scorer = Scorer(config.kind, model, config.dift_ensemble)

    def after_task() -> None:
        write_counters(store, processes.index, counters)
        if display is not None:
            display.show()

    for sample in mine:
        _run_sample(config, store, sample, model, scorer, lora, counters, after_task)
    counters.finished = True
    write_counters(store, processes.index, counters)
    if display is not None:
        while not display.show():
            time.sleep(poll_seconds)
        display.show(final=True)
    processes.wait_for_everyone()
    if not processes.is_main:
        return None
    from sdedit_desktop.eval.report.merge import merge_run

    every = [read_counters(store, rank) or Counters() for rank in range(processes.count)]
    this_run = {name: sum(getattr(c, name) for c in every)
                for name in ("ran", "skipped", "failed")}
    return merge_run(store, scorer.unavailable, this_run)


def _run_description(config: EvalConfig, samples: list[Sample], tasks: list[Task],
                     processes: ProcessGroup) -> dict[str, Any]:
    return {"kind": config.kind, "dataset": str(config.dataset),
            "methods": list(config.methods), "settings": config.settings,
            "common": jsonable(config.common), "processes": processes.count,
            "samples": [s.id for s in samples],
            "tasks": [{"sample": t.sample.id, "task": t.name, "method": t.method,
                       "setting": t.setting} for t in tasks]}


def _base_record(task: Task) -> dict[str, Any]:
    return {"sample": task.sample.id, "source": task.sample.source, "task": task.name,
            "method": task.method, "setting": task.setting}


def _fail(store: RunStore, task: Task, reason: str, counters: Counters,
          extra: dict[str, Any] | None = None) -> None:
    record = {**_base_record(task), **(extra or {}), "status": "failed", "reason": reason}
    write_json(store.record_path(task.sample.id, task.name), record)
    counters.failed += 1


def _run_sample(config: EvalConfig, store: RunStore, sample: Sample, model, scorer: Scorer,
                lora, counters: Counters, after_task: Callable[[], None]) -> None:
    tasks = [Task(sample, m, dict(s)) for s in config.settings for m in config.methods]
    try:
        inputs = sample.load()
    except SampleError as exc:
        for task in tasks:
            _fail(store, task, str(exc), counters)
            after_task()
        return
    if not store.input_path(sample.id).is_file():
        write_png(store.input_path(sample.id), inputs.image)
    identity = model.identity
    for task in tasks:
        _run_task(config, store, task, inputs, model, identity, scorer, lora, counters)
        after_task()


def _run_task(config: EvalConfig, store: RunStore, task: Task, inputs: SampleInputs, model,
              identity, scorer: Scorer, lora, counters: Counters) -> None:
    kwargs = request_kwargs(task, inputs, config.common)
    digest = request_hash(config.kind, kwargs, inputs, identity.to_dict())
    if store.is_done(task.sample.id, task.name, digest):
        counters.skipped += 1
        return
    hashed = {"request_hash": digest, "params": jsonable(kwargs)}
    try:
        request = build_request(config.kind, inputs, kwargs, identity)
        result = run_edit(model, request, lora=lora, options=config.options)
    except (EditError, ValueError, TypeError) as exc:
        # EditError: the edit refused this request; ValueError/TypeError: the request itself
        # (its constructor's checks) refused a value from the data.
        _fail(store, task, str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
              counters, hashed)
        return
    started = time.perf_counter()
    scores = scorer.score(inputs.image, result.image, kwargs)
    image_path = store.image_path(task.sample.id, task.name)
    write_png(image_path, result.image)
    write_json(store.record_path(task.sample.id, task.name), {
        **_base_record(task), **hashed, "status": "ok", "image": store.relative(image_path),
        "input": store.relative(store.input_path(task.sample.id)),
        "seconds": result.timings.get("total"), "timings": result.timings,
        "unet_calls": result.unet_calls, "edit_metrics": result.metrics, "metrics": scores,
        "metric_seconds": time.perf_counter() - started})
    counters.ran += 1
