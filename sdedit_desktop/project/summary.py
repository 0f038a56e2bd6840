"""A plain-data summary of a project (for `sdedit project info` and the UI's properties view)."""

from __future__ import annotations

from typing import Any

from sdedit_desktop.project import jsonio
from sdedit_desktop.project.model import HistoryEntry, Project
from sdedit_desktop.project.storage import FileInfo
from sdedit_desktop.textsafe import shown


def summarize(project: Project, info: FileInfo | None = None) -> dict[str, Any]:
    height, width = project.image.shape[:2]
    mask = project.mask
    out: dict[str, Any] = {}
    if info is not None:
        out["file"] = {"path": str(info.path), "bytes": info.size, "members": info.members,
                       "format_version": info.format_version, "written_by": info.app_version,
                       "upgraded_from_older_format": info.migrated}
    out.update({
        "project_id": project.id,
        "created": jsonio.format_time(project.created),
        "modified": jsonio.format_time(project.modified),
        "image": {"width": width, "height": height},
        "mask_fraction": None if mask is None else round(float((mask > 127).mean()), 4),
        "points": [[list(s), list(t)] for s, t in project.points],
        "embedded_loras": {k: len(v.weights) for k, v in project.loras.items()},
        "history": [_entry(e) for e in project.history],
    })
    return out


def _entry(entry: HistoryEntry) -> dict[str, Any]:
    request, result = entry.request, entry.result
    return {"id": entry.id, "label": entry.label, "kind": request.kind,
            "method": request.method, "seed": request.seed,
            "model": None if request.model is None else request.model.source,
            "created": jsonio.format_time(entry.created), "duration_s": entry.duration_s,
            "parent_id": entry.parent_id, "lora_id": result.lora_id,
            "trajectory_len": len(result.trajectory), "metrics": result.metrics}


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable lines; every string that came from the file is shown safely (one line,
    no control sequences)."""
    lines = []
    if "file" in summary:
        f = summary["file"]
        upgraded = " (upgraded from an older format)" if f["upgraded_from_older_format"] else ""
        lines.append(f"file: {shown(f['path'], None)} ({f['bytes']} bytes, "
                     f"{f['members']} members)")
        lines.append(f"format: version {f['format_version']}{upgraded}, written by "
                     f"sdedit-desktop {shown(f['written_by'] or '?', 40)}")
    image = summary["image"]
    lines.append(f"created: {summary['created']}  modified: {summary['modified']}")
    mask = summary["mask_fraction"]
    lines.append(f"image: {image['width']}x{image['height']}, mask: "
                 f"{'none' if mask is None else f'{mask:.1%} may change'}, "
                 f"points: {len(summary['points'])}")
    loras = summary["embedded_loras"]
    lines.append(f"embedded LoRAs: {len(loras)}" + (
        f" ({', '.join(f'{shown(k)}: {v} bytes' for k, v in loras.items())})" if loras else ""))
    lines.append(f"history: {len(summary['history'])} edit(s)")
    for i, e in enumerate(summary["history"], 1):
        extra = [f"seed {e['seed']}", f"{e['duration_s']:.1f} s"]
        if e["parent_id"]:
            extra.append(f"continues {shown(e['parent_id'])}")
        if e["trajectory_len"]:
            extra.append(f"{e['trajectory_len']} drag steps")
        if e["lora_id"]:
            extra.append(f"LoRA {shown(e['lora_id'])}")
        if e["metrics"]:
            extra.append(", ".join(f"{shown(k, 40)} {v:.4g}" for k, v in e["metrics"].items()))
        label = f" \"{shown(e['label'])}\"" if e["label"] else ""
        lines.append(f"  {i:3d}. {shown(e['id'])}{label}: {e['method']}-{e['kind']}, "
                     + ", ".join(extra))
    return "\n".join(lines)
