"""results.csv (one row per sample x method x setting) and results.md (means with 95% CIs,
paired differences, how each metric was computed, which model made the run).

Text that came from the data or the run folder (sample ids, failure reasons, the data set's
path) is escaped in results.md as index.html escapes it: a file name cannot open a link, an
HTML tag or break the table.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from pathlib import Path
from typing import Any

from sdedit_desktop.eval.store import write_bytes_atomic
from sdedit_desktop.textsafe import shown

FIXED_COLUMNS = ("sample", "method", "setting", "status", "reason", "image", "seconds",
                 "unet_calls")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(text: Any, limit: int | None = 300) -> str:
    """`text` safe inside markdown (a table cell included): one line, HTML escaped, markdown
    punctuation backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(shown(text, limit), quote=False))


def _setting(setting: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items())


def write_csv(path: Path, rows: list[dict[str, Any]], summary: dict[str, Any] | None = None
              ) -> None:
    metric_names = sorted({k for r in rows for k in r.get("metrics", {})})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *metric_names, "request_hash"])
    for r in rows:
        metrics = r.get("metrics", {})
        writer.writerow([r["sample"], r["method"], _setting(r["setting"]), r["status"],
                         r.get("reason", ""), r.get("image", "") if r["status"] == "ok" else "",
                         _plain(r.get("seconds")), _plain(r.get("unet_calls")),
                         *(_plain(metrics.get(n)) for n in metric_names),
                         r.get("request_hash", "")])
    write_bytes_atomic(path, lambda h: h.write(buffer.getvalue().encode("utf-8")))


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


def format_mean_ci(stat: dict[str, Any]) -> str:
    mean, ci = stat.get("mean"), stat.get("ci95")
    if mean is None:
        return "-"
    if isinstance(mean, str) or not math.isfinite(mean):
        return str(mean)
    return f"{mean:.4g}" if ci is None else f"{mean:.4g} ± {ci:.2g}"


def format_fid(fid: Any) -> str:
    if not isinstance(fid, dict):
        return "-" if fid is None else str(fid)
    if "value" not in fid:
        return f"unavailable (n={fid.get('n')})"
    return f"{fid['value']:.4g} (n={fid.get('n')}{', too few' if fid.get('warning') else ''})"


def summary_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The summary as a header and rows of plain (unescaped) cells."""
    names = sorted({n for g in summary["groups"] for n in g["metrics"]})
    per_item = {n for g in summary["groups"] for n, s in g["metrics"].items()
                if s.get("per") == "item"}
    has_fid = any("fid" in g for g in summary["groups"])
    header = ["method", "setting", "ok", "failed",
              *(f"{n} (mean over points)" if n in per_item else n for n in names),
              *(["FID"] if has_fid else []), "seconds", "UNet calls"]
    rows = []
    for g in summary["groups"]:
        rows.append([g["method"], g["setting"], str(g["ok"]), str(g["failed"]),
                     *(format_mean_ci(g["metrics"].get(n, {})) for n in names),
                     *([format_fid(g.get("fid"))] if has_fid else []),
                     format_mean_ci(g["seconds"]), format_mean_ci(g["unet_calls"])])
    return header, rows


def paired_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    paired = summary.get("paired") or []
    names = sorted({n for p in paired for n in p["metrics"]})
    if not paired or not names:
        return None
    header = ["setting", "difference", "samples", *names]
    rows = [[p["setting"], f"{p['first']} - {p['second']}", str(p["samples"]),
             *(format_mean_ci(p["metrics"].get(n, {})) for n in names)] for p in paired]
    return header, rows


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(md(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return lines


def markdown_table(summary: dict[str, Any]) -> str:
    return "\n".join(_markdown(*summary_table(summary)))


def write_markdown(path: Path, summary: dict[str, Any]) -> None:
    parts = [f"# {md(summary['kind'])} on {md(summary['dataset'])}", "",
             f"Model: {md(summary.get('model', 'not recorded'), None)}", "",
             f"{summary['tasks']} tasks over {summary['samples']} samples: {summary['ok']} ok, "
             f"{summary['failed']} failed ({summary['failed_samples']} samples with failures). "
             "Means with 95% confidence intervals (Student's t).", "",
             markdown_table(summary)]
    paired = paired_table(summary)
    if paired:
        parts += ["", "Paired differences on the samples both methods have (mean ± 95% "
                  "interval; an interval that excludes 0 is a difference the data support):",
                  "", *_markdown(*paired)]
    warnings = [f"* FID of {md(g['method'])} {md(g['setting'])}: {md(g['fid']['warning'])}"
                for g in summary["groups"] if isinstance(g.get("fid"), dict)
                and g["fid"].get("warning")]
    if warnings:
        parts += ["", "FID sample sizes:", "", *warnings]
    if summary.get("metric_notes"):
        parts += ["", "How each metric was computed:", ""]
        parts += [f"* {md(name)}: {md(note, None)}"
                  for name, note in sorted(summary["metric_notes"].items())]
    if summary["unavailable_metrics"]:
        parts += ["", "Not computed (never estimated):", ""]
        parts += [f"* {md(name)}: {md(why)}"
                  for name, why in sorted(summary["unavailable_metrics"].items())]
    if summary["failures"]:
        parts += ["", "Failures:", ""]
        parts += [f"* {md(f['sample'])} / {md(f['task'])}: {md(f['reason'])}"
                  for f in summary["failures"]]
    text = "\n".join(parts) + "\n"
    write_bytes_atomic(path, lambda h: h.write(text.encode("utf-8")))
