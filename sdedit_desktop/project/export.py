"""Exports for use outside the app: one result as a PNG that carries its edit parameters in PNG
text chunks, or the whole history as a folder of plain images and JSON.

Text chunks (iTXt, UTF-8) of an exported result:
    Software          "sdedit-desktop <version>"
    Description       one human line: method, kind, seed, prompt
    sdedit:request    JSON: the complete request parameters (`EditRequest.params()`)
    sdedit:result     JSON: metrics, timings, UNet calls/samples, LoRA id
    sdedit:entry      JSON: history entry id, created, duration, parent id, label
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from sdedit_desktop import __version__
from sdedit_desktop.filesave import temp_path
from sdedit_desktop.project import jsonio
from sdedit_desktop.project.errors import ProjectError
from sdedit_desktop.project.model import HistoryEntry, Project
from sdedit_desktop.project.pngcodec import encode_png
from sdedit_desktop.project.storage import write_bytes_atomic
from sdedit_desktop.textsafe import shown


def entry_text(entry: HistoryEntry) -> dict[str, str]:
    """The PNG text chunks describing one history entry."""
    request = entry.request
    params = request.params()
    prompt = params.get("prompt") or params.get("target_prompt") or ""
    line = f"{request.method.upper()} {request.kind}, seed {request.seed}"
    if prompt:
        line += f", prompt {prompt!r}"
    return {
        "Software": f"sdedit-desktop {__version__}",
        "Description": line,
        "sdedit:request": jsonio.dumps(params).decode("utf-8"),
        "sdedit:result": jsonio.dumps(_result_info(entry)).decode("utf-8"),
        "sdedit:entry": jsonio.dumps(_entry_info(entry)).decode("utf-8"),
    }


def export_result_png(entry: HistoryEntry, path: str | Path) -> Path:
    """Writes the entry's result image as a lossless PNG with its parameters embedded. The
    file name must end in .png: the parameters live in PNG text chunks, and a PNG under
    another extension would mislead every program that opens it."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ProjectError(f"{shown(path.name)}: a result is exported as PNG (with its "
                           "parameters); give the file name the .png extension")
    write_bytes_atomic(path, encode_png(entry.result.image, entry_text(entry)))
    return path


def export_history(project: Project, folder: str | Path) -> Path:
    """Writes the whole project as plain files into `folder` (which must not exist or be
    empty): index.json, source.png, source-mask.png, one sub-folder per history entry with
    input.png, input-mask.png, result.png (with text chunks), trajectory-NN.png, auto-mask.png,
    edit.json, and loras/ with the embedded LoRA weights. All or nothing: it is assembled in a
    temporary folder beside the target and renamed into place."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ProjectError(f"{folder} already exists and is not an empty folder; choose a new "
                           "one (nothing is overwritten)")
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = _new_folder(parent)
    except OSError as exc:
        raise ProjectError(f"cannot create {folder}: {exc}") from exc
    try:
        _write_history(project, staging)
        if folder.exists():
            folder.rmdir()
        os.replace(staging, folder)
    except OSError as exc:
        raise ProjectError(f"could not export to {folder}: {exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _new_folder(parent: Path) -> Path:
    """A new, exclusively created folder in `parent` (mkdir never follows a planted name) with
    the permissions any new folder gets (umask; mkdtemp's would be 0700)."""
    for _ in range(100):
        folder = temp_path(parent / "export")
        try:
            folder.mkdir(0o777)
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {parent}")


def _write_history(project: Project, out: Path) -> None:
    def png(name: str, array: np.ndarray | None, sub: Path = out,
            text: dict[str, str] | None = None) -> str | None:
        if array is None:
            return None
        (sub / name).write_bytes(encode_png(array, text))
        return str((sub / name).relative_to(out).as_posix())

    index: dict[str, Any] = {
        "format": "sdeproj-export", "app_version": __version__, "project_id": project.id,
        "created": jsonio.format_time(project.created),
        "modified": jsonio.format_time(project.modified),
        "source": {"image": png("source.png", project.image),
                   "mask": png("source-mask.png", project.mask),
                   "points": [[list(s), list(t)] for s, t in project.points]},
        "ui": project.ui, "history": [], "loras": {},
    }
    for i, entry in enumerate(project.history):
        sub = out / f"{i + 1:03d}-{_safe(entry.id)}"
        sub.mkdir()
        result = entry.result
        files = {
            "input": png("input.png", entry.request.image, sub),
            "input_mask": png("input-mask.png", entry.request.mask, sub),
            "result": png("result.png", result.image, sub, entry_text(entry)),
            "trajectory": [png(f"trajectory-{j + 1:02d}.png", frame, sub)
                           for j, frame in enumerate(result.trajectory)],
            "result_mask": png("auto-mask.png", result.mask, sub),
        }
        record = {**_entry_info(entry), "request": entry.request.params(),
                  "result": _result_info(entry), "files": files}
        (sub / "edit.json").write_bytes(jsonio.dumps(record))
        index["history"].append({**record, "folder": sub.name})
    if project.loras:
        (out / "loras").mkdir()
    for lora_id, lora in project.loras.items():
        name = hashlib.sha256(lora.weights).hexdigest()[:32]
        (out / "loras" / f"{name}.safetensors").write_bytes(lora.weights)
        index["loras"][lora_id] = {"file": f"loras/{name}.safetensors",
                                   "metadata": lora.metadata}
    try:
        data = jsonio.dumps(index)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"cannot export: the UI settings or LoRA metadata are not plain "
                           f"JSON ({exc})") from exc
    (out / "index.json").write_bytes(data)


def _entry_info(entry: HistoryEntry) -> dict[str, Any]:
    return {"id": entry.id, "created": jsonio.format_time(entry.created),
            "duration_s": entry.duration_s, "parent_id": entry.parent_id, "label": entry.label}


def _result_info(entry: HistoryEntry) -> dict[str, Any]:
    result = entry.result
    return {"metrics": result.metrics, "timings": result.timings,
            "unet_calls": result.unet_calls, "unet_samples": result.unet_samples,
            "lora_id": result.lora_id, "trajectory_len": len(result.trajectory)}


def _safe(text: str) -> str:
    # Entry ids come from files: never let one name a path outside the export folder.
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", text)[:40].strip("_")
    return cleaned or "entry"
