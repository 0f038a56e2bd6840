"""Reading a run folder back for the reports, the study and resume: run.json and the task
records, checked field by field. A folder this program did not write (or one edited by hand or
by an attacker) gives a clear ReportError, never a traceback; a malformed record is a failed
row that says what is wrong with it; paths are never taken from the files (they are derived
from checked sample ids and task names, inside the run folder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sdedit_desktop.edits.kinds import all_kinds
from sdedit_desktop.eval.store import (
    RunStore,
    is_number,
    is_plain_name,
    load_json_file,
    record_problem,
)


class ReportError(ValueError):
    """The folder is not a readable run folder (no run.json, or one of the wrong shape)."""


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or (
        is_number(value) and (not isinstance(value, int) or value.bit_length() < 64))


@dataclass(frozen=True)
class RunInfo:
    kind: str
    dataset: str
    methods: list[str]
    samples: list[str]
    tasks: list[dict[str, Any]]  # sample, task, method, setting (all checked)
    raw: dict[str, Any]  # the whole run.json (provenance, metric notes, ...)


def read_run(store: RunStore) -> RunInfo:
    where = store.config_path
    try:
        run = load_json_file(store.inside(where))
    except FileNotFoundError:
        raise ReportError(f"{store.root}: not an eval run folder (no run.json)") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{where}: not a readable run.json ({exc})") from None

    def bad(what: str) -> ReportError:
        return ReportError(f"{where}: {what} (not a run.json written by `sdedit eval`)")

    if not isinstance(run, dict):
        raise bad("not a JSON object")
    known = [k.name for k in all_kinds() if k.eval is not None]
    if run.get("kind") not in known:
        raise bad(f"'kind' must be one of {', '.join(known)}")
    tasks = run.get("tasks")
    if not isinstance(tasks, list):
        raise bad("'tasks' must be a list of tasks")
    checked = []
    for n, task in enumerate(tasks, start=1):
        if not isinstance(task, dict):
            raise bad(f"task {n} is not an object")
        if not is_plain_name(task.get("sample")) or not is_plain_name(task.get("task")):
            raise bad(f"task {n} has a sample id or task name that is not a plain file name")
        setting = task.get("setting", {})
        if not isinstance(task.get("method"), str) or not isinstance(setting, dict) or not all(
                isinstance(k, str) and _is_scalar(v) for k, v in setting.items()):
            raise bad(f"task {n} has no method or a malformed setting")
        checked.append({"sample": task["sample"], "task": task["task"],
                        "method": task["method"], "setting": setting})
    methods = run.get("methods", [])
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise bad("'methods' must be a list of names")
    methods = list(dict.fromkeys([*methods, *(t["method"] for t in checked)]))
    samples = run.get("samples", [])
    if not isinstance(samples, list):
        raise bad("'samples' must be a list")
    samples = list(dict.fromkeys([s for s in samples if isinstance(s, str)]
                                 + [t["sample"] for t in checked]))
    dataset = run.get("dataset", "")
    return RunInfo(kind=run["kind"], dataset=dataset if isinstance(dataset, str) else "",
                   methods=methods, samples=samples, tasks=checked, raw=run)


def _number(value: Any) -> float:
    return float(value)  # "inf"/"nan" strings (strict JSON) become floats again


def load_rows(store: RunStore) -> tuple[RunInfo, list[dict[str, Any]]]:
    """The run and one checked row per task, in task order. A task without a record is a row
    with status "missing"; a record that is not one this program writes is a "failed" row
    saying so."""
    run = read_run(store)
    rows = []
    for task in run.tasks:
        base = {**task, "image": store.relative(store.image_path(task["sample"], task["task"])),
                "input": store.relative(store.input_path(task["sample"]))}
        raw = store.record(task["sample"], task["task"])
        if raw is None:
            missing = not store.record_path(task["sample"], task["task"]).exists()
            rows.append({**base, "status": "missing" if missing else "failed",
                         "reason": "not run yet" if missing else "unreadable record"})
            continue
        problem = record_problem(raw)
        if problem:
            rows.append({**base, "status": "failed", "reason": f"malformed record: {problem}"})
            continue
        row = {**base, "status": raw["status"], "reason": raw.get("reason", ""),
               "request_hash": raw.get("request_hash", "")
               if isinstance(raw.get("request_hash"), str) else "",
               "seconds": raw.get("seconds"), "unet_calls": raw.get("unet_calls"),
               "metrics": {k: _number(v) for k, v in raw.get("metrics", {}).items()},
               "metric_items": {k: [float(x) for x in v]
                                for k, v in raw.get("metric_items", {}).items()},
               "metric_notes": dict(raw.get("metric_notes", {})),
               "provenance": raw.get("provenance"),
               "instruction": raw.get("instruction")
               if isinstance(raw.get("instruction"), str) else ""}
        if row["status"] == "ok" and not store.image_path(task["sample"], task["task"]).is_file():
            row.update(status="failed", reason="its image is missing")
        rows.append(row)
    return run, rows


def finite(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)
