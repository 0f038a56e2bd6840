"""Run an evaluation: this process's share of the samples, each task through `run_edit`,
outputs and records into the run folder; then the main process merges everything.

Resumable: a task whose record says "ok" for the same request hash (and whose image exists) is
skipped. One bad sample never ends a run: any failure while loading a sample or running or
scoring one of its tasks is recorded with its reason and tried again on the next run; the run
itself goes on. A folder holding a run of another configuration is refused before the model
loads (`run_settings`).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sdedit_desktop.core.families import default_max_side
from sdedit_desktop.edits import EditError, ExecutionOptions, run_edit
from sdedit_desktop.eval.datasets import list_samples
from sdedit_desktop.eval.metrics.base import MetricOptions, TaskImages
from sdedit_desktop.eval.metrics.scoring import Scorer
from sdedit_desktop.eval.processes import ProcessGroup
from sdedit_desktop.eval.progress import (
    Counters,
    ProgressDisplay,
    read_counters,
    write_counters,
)
from sdedit_desktop.eval.provenance import run_provenance
from sdedit_desktop.eval.run_settings import (
    check_same_configuration,
    merged_list,
    merged_tasks,
)
from sdedit_desktop.eval.samples import Sample, SampleError, SampleInputs
from sdedit_desktop.eval.store import RunStore, read_json, write_json, write_png
from sdedit_desktop.eval.tasks import (
    Task,
    array_sha256,
    build_request,
    expand_tasks,
    jsonable,
    request_hash,
    request_kwargs,
)
from sdedit_desktop.models.errors import ModelError, is_out_of_memory
from sdedit_desktop.textsafe import shown

RUN_FORMAT = 2  # run.json with configuration, provenance and metric notes


@dataclass
class EvalConfig:
    kind: str  # drag, inpaint, diffedit, reconstruct
    dataset: Path
    out: Path
    methods: tuple[str, ...] = ("sde", "ode")
    settings: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    common: dict[str, Any] = field(default_factory=dict)  # request kwargs from the CLI
    options: ExecutionOptions | None = None
    metrics: MetricOptions = field(default_factory=MetricOptions)
    model_source: str = ""  # what --model named (the identity is known once it loads)
    replace: bool = False  # redo the folder's run with this configuration
    show_progress: bool = True


def configuration(config: EvalConfig) -> dict[str, Any]:
    """What must be the same for two runs to share a folder (methods and sweeps may differ)."""
    model = Path(config.model_source).expanduser()
    return {"kind": config.kind, "dataset": str(Path(config.dataset).resolve()),
            "request": jsonable(config.common),
            "model": str(model.resolve()) if model.exists() else config.model_source,
            "metrics": jsonable(vars(config.metrics))}


def run_evaluation(config: EvalConfig, processes: ProcessGroup, load_model: Callable[[], Any],
                   lora: Any = None, poll_seconds: float = 0.5,
                   load_feature_model: Callable[[Any], Any] | None = None,
                   ) -> dict[str, Any] | None:
    """Run this process's share; on the main process, wait for all and return the summary of
    the merged report (None on the others). Raises RunConflictError (another configuration
    in the folder), DatasetError/SampleError (no data set) and OSError (cannot write)."""
    store = RunStore(config.out)
    samples = list_samples(config.kind, config.dataset)
    tasks = expand_tasks(samples, config.methods, config.settings)
    earlier = read_json(store.config_path)
    earlier = earlier if isinstance(earlier, dict) else {}
    check_same_configuration(str(config.out), earlier.get("configuration"),
                             configuration(config), config.replace)
    # Every process has read the old run.json before the main process replaces it.
    processes.wait_for_everyone()

    model = load_model()
    provenance = run_provenance(model)
    check_same_configuration(str(config.out), _recorded_identity(earlier),
                             provenance["model"]["identity"], config.replace,
                             what="model weights")
    scorer = Scorer(config.kind, model, config.metrics, load_model=load_feature_model)
    if processes.is_main:
        write_json(store.config_path, _run_description(config, samples, tasks, processes,
                                                       provenance, scorer, earlier))
    mine = processes.share(samples)
    counters = Counters(total=len(mine) * len(config.methods) * len(config.settings))
    write_counters(store, processes.index, counters)
    # Every process has written its fresh counters before anyone reads them.
    processes.wait_for_everyone()
    display = ProgressDisplay(store, processes.count, len(tasks), enabled=config.show_progress) \
        if processes.is_main else None

    def after_task() -> None:
        write_counters(store, processes.index, counters)
        if display is not None:
            display.show()

    worker = _Worker(config, store, model, scorer, lora, counters, processes.index, after_task,
                     provenance)
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
    return merge_run(store, this_run=this_run)


def _recorded_identity(run: dict[str, Any]) -> Any:
    """The model identity an earlier run.json recorded (None for a folder without one)."""
    provenance = run.get("provenance")
    model = provenance.get("model") if isinstance(provenance, dict) else None
    return model.get("identity") if isinstance(model, dict) else None


def all_finished(store: RunStore, count: int) -> bool:
    every = [read_counters(store, rank) for rank in range(count)]
    return all(c is not None and c.finished for c in every)


def _run_description(config: EvalConfig, samples: list[Sample], tasks: list[Task],
                     processes: ProcessGroup, provenance: dict[str, Any], scorer: Scorer,
                     earlier: dict[str, Any]) -> dict[str, Any]:
    new_tasks = [{"sample": t.sample.id, "task": t.name, "method": t.method,
                  "setting": t.setting} for t in tasks]
    keep = not config.replace  # --replace: the folder's run is this one from now on
    return {"format": RUN_FORMAT, "kind": config.kind, "dataset": str(config.dataset),
            "configuration": configuration(config), "provenance": provenance,
            "methods": merged_list(earlier.get("methods") if keep else [],
                                   list(config.methods)),
            "settings": merged_list(earlier.get("settings") if keep else [], config.settings),
            "common": jsonable(config.common), "processes": processes.count,
            "samples": merged_list(earlier.get("samples") if keep else [],
                                   [s.id for s in samples]),
            "tasks": merged_tasks(earlier.get("tasks") if keep else [], new_tasks),
            "metrics": {"unavailable": scorer.unavailable, "notes": scorer.notes,
                        **scorer.info}}


def failure_reason(exc: BaseException) -> str:
    """One safe line naming what went wrong, for a record and the reports."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, SampleError | EditError | ModelError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return shown(text or type(exc).__name__, 500)


def _same_image(path: Path, image: np.ndarray, store: RunStore) -> bool:
    try:
        with Image.open(io.BytesIO(store.read_bytes(path))) as old:
            return np.array_equal(np.asarray(old.convert("RGB")), image)
    except (OSError, ValueError, SyntaxError):
        return False


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
    provenance: dict[str, Any]

    def base_record(self, task: Task) -> dict[str, Any]:
        return {"sample": task.sample.id, "source": task.sample.source, "task": task.name,
                "method": task.method, "setting": task.setting, "process": self.rank,
                "provenance": self.provenance}

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
        except Exception as exc:  # any bad data fails this sample only
            reason = failure_reason(exc)
            for path in (self.store.input_path(sample.id),
                         self.store.instruction_path(sample.id)):
                path.unlink(missing_ok=True)  # the data changed: no stale input in reports
            for task in tasks:
                self.fail(task, reason)
                self.after_task()
            return
        self._write_inputs(sample, inputs)
        for task in tasks:
            try:
                self.run_task(task, inputs)
            except Exception as exc:  # recorded; the other tasks still run
                self.fail(task, failure_reason(exc))
            self.after_task()

    def _write_inputs(self, sample: Sample, inputs: SampleInputs) -> None:
        """input.png and instruction.png follow the data: rewritten when the data set's image
        changed in place (the sheets, pages and FID read them)."""
        for path, image in ((self.store.input_path(sample.id), inputs.image),
                            (self.store.instruction_path(sample.id), inputs.instruction_image)):
            if image is None:
                path.unlink(missing_ok=True)
            elif not path.is_file() or not _same_image(path, image, self.store):
                write_png(path, image)

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
        hashed = {"request_hash": digest, "params": jsonable(kwargs),
                  "input_sha256": array_sha256(inputs.image),
                  "instruction": inputs.instruction_text}
        try:
            request = build_request(config.kind, inputs, kwargs, identity)
            result = run_edit(self.model, request, lora=self.lora, options=config.options)
        except (EditError, ModelError, ValueError, TypeError) as exc:
            # EditError: the edit refused this request; ModelError: e.g. out of memory on a
            # large image, or a LoRA that cannot load; ValueError/TypeError: the request's own
            # checks refused a value that came from the data. The other samples still run.
            self.fail(task, failure_reason(exc), hashed)
            return
        except RuntimeError as exc:
            reason = f"out of memory on {self.model.device}" if is_out_of_memory(exc) \
                else failure_reason(exc)
            self.fail(task, reason, hashed)
            return
        started = time.perf_counter()
        image_path = store.image_path(task.sample.id, task.name)
        write_png(image_path, result.image)  # the image first: a record means it exists
        try:
            scores = self.scorer.score(TaskImages(inputs.image, result.image, kwargs,
                                                  dict(result.metrics)))
        except Exception as exc:  # a metric that fails fails this task only
            self.fail(task, f"scoring failed: {failure_reason(exc)}", hashed)
            return
        write_json(store.record_path(task.sample.id, task.name), {
            **self.base_record(task), **hashed, "status": "ok",
            "image": store.relative(image_path),
            "input": store.relative(store.input_path(task.sample.id)),
            "seconds": result.timings.get("total"), "timings": result.timings,
            "unet_calls": result.unet_calls, "edit_metrics": result.metrics,
            "metrics": scores.values, "metric_items": scores.items,
            "metric_notes": self.scorer.notes_for(scores),
            "metric_seconds": time.perf_counter() - started})
        self.counters.ran += 1
