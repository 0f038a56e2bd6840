"""Merge every task record of a run (whichever process wrote it) into the run's reports."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sdedit_desktop.eval.report.contact_sheet import write_contact_sheet
from sdedit_desktop.eval.report.html_page import write_html
from sdedit_desktop.eval.report.tables import write_csv, write_markdown
from sdedit_desktop.eval.stats import mean_ci
from sdedit_desktop.eval.store import RunStore, read_json, write_json

FID_KINDS = ("inpaint", "diffedit")  # FID of the edited images against the inputs


class ReportError(ValueError):
    """The folder is not a run folder (no run.json)."""


def load_rows(store: RunStore) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's description and one row per task (in task order); a task without a record
    (never reached) is a row with status "missing"."""
    run = read_json(store.config_path)
    if not isinstance(run, dict) or "tasks" not in run:
        raise ReportError(f"{store.root}: not an eval run folder (no readable run.json)")
    rows = []
    for task in run["tasks"]:
        record = store.record(task["sample"], task["task"]) or {
            "sample": task["sample"], "task": task["task"], "method": task["method"],
            "setting": task["setting"], "status": "missing", "reason": "not run yet"}
        rows.append(record)
    return run, rows


def setting_label(setting: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items()) or "-"


def summarise(run: dict[str, Any], rows: list[dict[str, Any]],
              unavailable: dict[str, str], store: RunStore) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["method"], setting_label(row["setting"]))].append(row)
    out_groups = []
    fid_reason = None
    if run["kind"] in FID_KINDS:
        from sdedit_desktop.eval.metrics.availability import fid_unavailable

        fid_reason = fid_unavailable()
        if fid_reason:
            unavailable = {**unavailable, "fid": fid_reason}
    for (method, label), members in groups.items():
        ok = [r for r in members if r["status"] == "ok"]
        names = sorted({k for r in ok for k in r.get("metrics", {})})
        group = {"method": method, "setting": label, "ok": len(ok),
                 "failed": len(members) - len(ok),
                 "metrics": {n: mean_ci([float(r["metrics"][n]) for r in ok
                                         if n in r["metrics"]]) for n in names},
                 "seconds": mean_ci([float(r["seconds"]) for r in ok if r.get("seconds")]),
                 "unet_calls": mean_ci([float(r["unet_calls"]) for r in ok])}
        if run["kind"] in FID_KINDS and not fid_reason:
            group["fid"] = _group_fid(store, ok)
        out_groups.append(group)
    failures = [{"sample": r["sample"], "task": r["task"], "reason": r.get("reason", "")}
                for r in rows if r["status"] != "ok"]
    failed_samples = sorted({f["sample"] for f in failures})
    return {"kind": run["kind"], "dataset": run["dataset"], "tasks": len(rows),
            "ok": len(rows) - len(failures), "failed": len(failures),
            "samples": len(run["samples"]), "failed_samples": len(failed_samples),
            "groups": out_groups, "failures": failures,
            "unavailable_metrics": unavailable}


def _group_fid(store: RunStore, ok: list[dict[str, Any]]) -> float | str:
    from sdedit_desktop.eval.metrics.fid import fid
    from sdedit_desktop.imaging import load_image

    try:
        return fid([load_image(store.root / r["input"]) for r in ok],
                   [load_image(store.root / r["image"]) for r in ok])
    except RuntimeError as exc:
        return f"unavailable: {exc}"


def merge_run(store: RunStore, unavailable: dict[str, str] | None = None,
              this_run: dict[str, int] | None = None) -> dict[str, Any]:
    """Write results.csv, summary.json, results.md, contact_sheet.png and index.html."""
    run, rows = load_rows(store)
    summary = summarise(run, rows, dict(unavailable or {}), store)
    if this_run is not None:
        summary["this_run"] = this_run
    write_json(store.root / "summary.json", summary)
    write_csv(store.root / "results.csv", rows)
    write_markdown(store.root / "results.md", summary)
    write_contact_sheet(store, run, rows, store.root / "contact_sheet.png")
    write_html(store, run, rows, summary, store.root / "index.html")
    return summary
