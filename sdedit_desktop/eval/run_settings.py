"""One run folder, one configuration: rerunning into the same `--out` never silently replaces
results made with other settings.

What may differ between runs into the same folder are the methods and the swept settings (each
has its own tasks, so its own files and rows: `--method sde` after a run of both keeps the ODE
results in the reports, `--steps 100` after `--steps 25,50` adds a column). Everything else that
changes the numbers (the data set, the request options, the metric options, the model) must be
the same; a difference is refused with a message that names it, unless `--replace` says the
folder's run is to be redone with the new configuration.
"""

from __future__ import annotations

from typing import Any

from sdedit_desktop.textsafe import shown


class RunConflictError(ValueError):
    """The run folder holds a run made with another configuration."""


def _show(value: Any) -> str:
    return shown(repr(value), 60)


def differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """'name: old -> new' for every key whose value differs (nested dicts by their keys)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {_show(a)} -> {_show(b)}")
    return out


def check_same_configuration(folder: str, old: Any, new: dict[str, Any], replace: bool,
                             what: str = "settings") -> None:
    """RunConflictError unless the folder's recorded configuration `old` equals `new` (an
    older run folder that recorded none is accepted)."""
    if replace or not isinstance(old, dict):
        return
    changed = differences(old, new)
    if changed:
        listed = "; ".join(changed[:4]) + ("; ..." if len(changed) > 4 else "")
        raise RunConflictError(
            f"{folder} holds a run made with other {what} ({listed}): its results would be "
            "mixed with or replaced by these. Use another --out, or --replace to redo that run "
            "with the new settings")


def merged_list(old: Any, new: list[Any]) -> list[Any]:
    """`old`'s entries in their order, then `new`'s that it lacks."""
    out = list(old) if isinstance(old, list) else []
    for item in new:
        if item not in out:
            out.append(item)
    return out


def merged_tasks(old: Any, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The folder's earlier tasks (valid ones) then the new ones, one per (sample, task)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for task in (old if isinstance(old, list) else []):
        if isinstance(task, dict) and isinstance(task.get("sample"), str) \
                and isinstance(task.get("task"), str):
            out[(task["sample"], task["task"])] = task
    for task in new:
        out.setdefault((task["sample"], task["task"]), task)
    return list(out.values())
