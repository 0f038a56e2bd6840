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

from sdedit_desktop.core.families import default_max_side
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
from sdedit_desktop.models.errors import ModelError, is_out_of_memory


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
    dift_model: str | None = None  # DIFT features from this model (None: the edited one)


def run_evaluation(config: EvalConfig, processes: ProcessGroup, load_model: Callable[[], Any],
                   lora: Any = None, poll_seconds: float = 0.5,
                   load_feature_model: Callable[[], Any] | None = None) -> dict[str, Any] | None:
    """Run this process's share; on the main process, wait for all and return the summary of
    the merged report (None on the others). `load_feature_model` loads the model DIFT takes
    its features from (default: the edited model itself, whatever its family)."""
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
    features = load_feature_model() if load_feature_model is not None and \
        config.kind == "drag" else None
    scorer = Scorer(config.kind, model, config.dift_ensemble, features)

    def after_task() -> None:
        write_counters(store, processes.index, counters)
        if display is not None:
            display.show()

    worker = _Worker(config, store, model, scorer, lora, counters, processes.index, after_task)
    for sample in mine:
        worker.run_sample(sample)
    counters.finished = True
    write_counters(store, processes.index, counters)
    # Wait on the shared run folder, not in a barrier: a process may finish its share hours
    # before the others, far beyond the distributed backend's collective timeout. The barrier
    # after it only meets processes that are all already there.
    while not all_finished(store, processes.count):
        if display is not None:
            display.show()
        time.sleep(poll_seconds)
    if display is not None:
        display.show(final=True)
    processes.wait_for_everyone()
    if not processes.is_main:
        return None
    from sdedit_desktop.eval.report.merge import merge_run

    every = [read_counters(store, rank) or Counters() for rank in range(processes.count)]
    this_run = {name: sum(getattr(c, name) for c in every)
                for name in ("ran", "skipped", "failed")}
    return merge_run(store, scorer.unavailable, this_run)


def all_finished(store: RunStore, count: int) -> bool:
    every = [read_counters(store, rank) for rank in range(count)]
    return all(c is not None and c.finished for c in every)


def _run_description(config: EvalConfig, samples: list[Sample], tasks: list[Task],
                     processes: ProcessGroup) -> dict[str, Any]:
    return {"kind": config.kind, "dataset": str(config.dataset),
            "methods": list(config.methods), "settings": config.settings,
            "common": jsonable(config.common), "processes": processes.count,
            "dift_model": config.dift_model,
            "samples": [s.id for s in samples],
            "tasks": [{"sample": t.sample.id, "task": t.name, "method": t.method,
                       "setting": t.setting} for t in tasks]}


@dataclass
class _Worker:
    """What one process needs to run its tasks."""

    config: EvalConfig
    store: RunStore
    model: Any
    scorer: Scorer
    lora: Any
    counters: Counters
    rank: int
    after_task: Callable[[], None]

    def base_record(self, task: Task) -> dict[str, Any]:
        return {"sample": task.sample.id, "source": task.sample.source, "task": task.name,
                "method": task.method, "setting": task.setting, "process": self.rank}

    def fail(self, task: Task, reason: str, extra: dict[str, Any] | None = None) -> None:
        record = {**self.base_record(task), **(extra or {}), "status": "failed",
                  "reason": reason}
        write_json(self.store.record_path(task.sample.id, task.name), record)
        self.counters.failed += 1

    def run_sample(self, sample: Sample) -> None:
        """Every task of one sample (its input is loaded once)."""
        tasks = [Task(sample, m, dict(s)) for s in self.config.settings
                 for m in self.config.methods]
        try:
            inputs = sample.load()
        except SampleError as exc:
            for task in tasks:
                self.fail(task, str(exc))
                self.after_task()
            return
        if not self.store.input_path(sample.id).is_file():
            write_png(self.store.input_path(sample.id), inputs.image)
        for task in tasks:
            self.run_task(task, inputs)
            self.after_task()

    def run_task(self, task: Task, inputs: SampleInputs) -> None:
        config, store = self.config, self.store
        identity = self.model.identity
        kwargs = request_kwargs(task, inputs, config.common)
        if "max_side" not in kwargs and default_max_side(identity) != default_max_side(None):
            # The model family's working size (SD 1.x's is the request default, so its
            # request hashes stay what they were).
            kwargs["max_side"] = default_max_side(identity)
        digest = request_hash(config.kind, kwargs, inputs, identity.to_dict())
        if store.is_done(task.sample.id, task.name, digest):
            self.counters.skipped += 1
            return
        hashed = {"request_hash": digest, "params": jsonable(kwargs)}
        try:
            request = build_request(config.kind, inputs, kwargs, identity)
            result = run_edit(self.model, request, lora=self.lora, options=config.options)
        except (EditError, ModelError, ValueError, TypeError) as exc:
            # EditError: the edit refused this request; ModelError: e.g. out of memory on a
            # large image, or a LoRA that cannot load; ValueError/TypeError: the request's own
            # checks refused a value that came from the data. The other samples still run.
            self.fail(task, str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                      hashed)
            return
        except RuntimeError as exc:
            if not is_out_of_memory(exc):
                raise
            self.fail(task, f"out of memory on {self.model.device}", hashed)
            return
        started = time.perf_counter()
        scores = self.scorer.score(inputs.image, result.image, kwargs)
        image_path = store.image_path(task.sample.id, task.name)
        write_png(image_path, result.image)  # the image first: a record means it exists
        write_json(store.record_path(task.sample.id, task.name), {
            **self.base_record(task), **hashed, "status": "ok",
            "image": store.relative(image_path),
            "input": store.relative(store.input_path(task.sample.id)),
            "seconds": result.timings.get("total"), "timings": result.timings,
            "unet_calls": result.unet_calls, "edit_metrics": result.metrics, "metrics": scores,
            "metric_seconds": time.perf_counter() - started})
        self.counters.ran += 1
