"""results.csv (one row per sample x method x setting) and results.md (means with 95% CIs)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from sdedit_desktop.eval.store import write_bytes_atomic

FIXED_COLUMNS = ("sample", "method", "setting", "status", "reason", "image", "seconds",
                 "unet_calls")


def _setting(setting: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items())


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    metric_names = sorted({k for r in rows for k in r.get("metrics", {})})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *metric_names, "request_hash"])
    for r in rows:
        metrics = r.get("metrics", {})
        writer.writerow([r["sample"], r["method"], _setting(r["setting"]), r["status"],
                         r.get("reason", ""), r.get("image", ""), r.get("seconds", ""),
                         r.get("unet_calls", ""),
                         *(metrics.get(n, "") for n in metric_names), r.get("request_hash", "")])
    write_bytes_atomic(path, lambda h: h.write(buffer.getvalue().encode("utf-8")))


def format_mean_ci(stat: dict[str, Any]) -> str:
    mean, ci = stat.get("mean"), stat.get("ci95")
    if mean is None:
        return "-"
    if isinstance(mean, str) or not math.isfinite(mean):
        return str(mean)
    return f"{mean:.4g}" if ci is None else f"{mean:.4g} ± {ci:.2g}"


def markdown_table(summary: dict[str, Any]) -> str:
    names = sorted({n for g in summary["groups"] for n in g["metrics"]})
    has_fid = any("fid" in g for g in summary["groups"])
    header = ["method", "setting", "ok", "failed", *names, *(["fid"] if has_fid else []),
              "seconds", "UNet calls"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for g in summary["groups"]:
        cells = [g["method"], g["setting"], str(g["ok"]), str(g["failed"]),
                 *(format_mean_ci(g["metrics"].get(n, {})) for n in names),
                 *([str(g.get("fid", "-"))] if has_fid else []),
                 format_mean_ci(g["seconds"]), format_mean_ci(g["unet_calls"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_markdown(path: Path, summary: dict[str, Any]) -> None:
    parts = [f"# {summary['kind']} on {summary['dataset']}", "",
             f"{summary['tasks']} tasks over {summary['samples']} samples: {summary['ok']} ok, "
             f"{summary['failed']} failed ({summary['failed_samples']} samples with failures). "
             "Means with 95% confidence intervals (Student's t).", "", markdown_table(summary)]
    if summary["unavailable_metrics"]:
        parts += ["", "Not computed (never estimated):", ""]
        parts += [f"* {name}: {why}"
                  for name, why in sorted(summary["unavailable_metrics"].items())]
    if summary["failures"]:
        parts += ["", "Failures:", ""]
        parts += [f"* {f['sample']} / {f['task']}: {f['reason']}" for f in summary["failures"]]
    text = "\n".join(parts) + "\n"
    write_bytes_atomic(path, lambda h: h.write(text.encode("utf-8")))
