"""index.html: a static page with the summary table and every sample (input | methods)."""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path
from typing import Any

from sdedit_desktop.eval.report.tables import markdown_table
from sdedit_desktop.eval.store import RunStore, write_bytes_atomic

STYLE = ("body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
         "td,th{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}"
         "img{max-height:192px}.failed{color:#a00}")


def _summary_table(summary: dict[str, Any]) -> str:
    lines = [line.strip("|").split("|") for line in markdown_table(summary).splitlines()]
    head, body = lines[0], lines[2:]
    out = ["<table><tr>", *(f"<th>{html.escape(c.strip())}</th>" for c in head), "</tr>"]
    for row in body:
        out += ["<tr>", *(f"<td>{html.escape(c.strip())}</td>" for c in row), "</tr>"]
    return "".join(out) + "</table>"


def _cell(record: dict[str, Any]) -> str:
    if record.get("status") != "ok":
        return f'<td class="failed">{html.escape(record.get("reason", "not run"))}</td>'
    metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in record.get("metrics", {}).items())
    return (f'<td><img src="{html.escape(record["image"])}" alt=""><br>'
            f"{html.escape(metrics)}</td>")


def write_html(store: RunStore, run: dict[str, Any], rows: list[dict[str, Any]],
               summary: dict[str, Any], path: Path) -> None:
    methods = list(run["methods"])
    grouped: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        grouped[(r["sample"], " ".join(f"{k}={v}" for k, v in r["setting"].items()))][
            r["method"]] = r
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             f"<title>sdedit eval {html.escape(run['kind'])}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(run['kind'])} on {html.escape(run['dataset'])}</h1>",
             f"<p>{summary['ok']} of {summary['tasks']} tasks ok, {summary['failed']} failed. "
             "Means with 95% confidence intervals.</p>", _summary_table(summary)]
    if summary["unavailable_metrics"]:
        parts.append("<p>Not computed: " + "; ".join(
            f"{html.escape(k)} ({html.escape(v)})"
            for k, v in sorted(summary["unavailable_metrics"].items())) + "</p>")
    parts.append("<h2>Samples</h2><table><tr><th>sample</th><th>input</th>"
                 + "".join(f"<th>{html.escape(m.upper())}</th>" for m in methods) + "</tr>")
    for (sample, label), by_method in grouped.items():
        src = store.relative(store.input_path(sample))
        input_cell = (f'<img src="{html.escape(src)}" alt="">'
                      if store.input_path(sample).is_file() else "")
        parts.append(f"<tr><td>{html.escape(sample)}<br>{html.escape(label)}</td>"
                     f"<td>{input_cell}</td>"
                     + "".join(_cell(by_method.get(m, {})) for m in methods) + "</tr>")
    parts.append("</table></body></html>\n")
    text = "".join(parts)
    write_bytes_atomic(path, lambda h: h.write(text.encode("utf-8")))
