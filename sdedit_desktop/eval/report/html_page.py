"""index.html: a static page with the summary, the paired differences and every sample
(input | instruction | methods). Every text from the data or the run folder is escaped."""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path
from typing import Any

from sdedit_desktop.eval.report.run_folder import RunInfo
from sdedit_desktop.eval.report.tables import paired_table, summary_table
from sdedit_desktop.eval.store import RunStore, write_bytes_atomic
from sdedit_desktop.textsafe import shown

STYLE = ("body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}"
         "img{max-height:192px;max-width:384px}.failed{color:#a00}.note{color:#555}")


def esc(text: Any, limit: int | None = 300) -> str:
    return html.escape(shown(text, limit))


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["<table><tr>", *(f"<th>{esc(c)}</th>" for c in header), "</tr>"]
    for row in rows:
        out += ["<tr>", *(f"<td>{esc(c)}</td>" for c in row), "</tr>"]
    return "".join(out) + "</table>"


def _cell(record: dict[str, Any]) -> str:
    if record.get("status") != "ok":
        return f'<td class="failed">{esc(record.get("reason", "not run"))}</td>'
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in record.get("metrics", {}).items())
    return f'<td><img src="{esc(record["image"])}" alt=""><br>{esc(metrics)}</td>'


def write_html(store: RunStore, run: RunInfo, rows: list[dict[str, Any]],
               summary: dict[str, Any], path: Path) -> None:
    methods = run.methods
    grouped: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        grouped[(r["sample"], " ".join(f"{k}={v}" for k, v in r["setting"].items()))][
            r["method"]] = r
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             f"<title>sdedit eval {esc(run.kind)}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>{esc(run.kind)} on {esc(run.dataset)}</h1>",
             f"<p>Model: {esc(summary.get('model', 'not recorded'), None)}</p>",
             f"<p>{summary['ok']} of {summary['tasks']} tasks ok, {summary['failed']} failed. "
             "Means with 95% confidence intervals (Student's t).</p>",
             _table(*summary_table(summary))]
    paired = paired_table(summary)
    if paired:
        parts += ["<h2>Paired differences (same samples)</h2>", _table(*paired)]
    notes = [f"<li>{esc(name)}: {esc(note, None)}</li>"
             for name, note in sorted(summary.get("metric_notes", {}).items())]
    notes += [f"<li>FID of {esc(g['method'])} {esc(g['setting'])}: {esc(g['fid']['warning'])}"
              "</li>" for g in summary["groups"]
              if isinstance(g.get("fid"), dict) and g["fid"].get("warning")]
    if notes:
        parts.append(f"<ul class='note'>{''.join(notes)}</ul>")
    if summary["unavailable_metrics"]:
        parts.append("<p>Not computed: " + "; ".join(
            f"{esc(k)} ({esc(v)})" for k, v in sorted(summary["unavailable_metrics"].items()))
            + "</p>")
    parts.append("<h2>Samples</h2><table><tr><th>sample</th><th>input</th><th>asked</th>"
                 + "".join(f"<th>{esc(m.upper())}</th>" for m in methods) + "</tr>")
    for (sample, label), by_method in grouped.items():
        cells = []
        for picture in (store.input_path(sample), store.instruction_path(sample)):
            cells.append(f'<img src="{esc(store.relative(picture))}" alt="">'
                         if picture.is_file() else "")
        parts.append(f"<tr><td>{esc(sample)}<br>{esc(label)}</td>"
                     + "".join(f"<td>{c}</td>" for c in cells)
                     + "".join(_cell(by_method.get(m, {})) for m in methods) + "</tr>")
    parts.append("</table></body></html>\n")
    text = "".join(parts)
    write_bytes_atomic(path, lambda h: h.write(text.encode("utf-8")))
