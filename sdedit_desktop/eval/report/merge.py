"""Merge every task record of a run (whichever process wrote it) into the run's reports.

Per group (method x setting): each metric's mean with a Student-t 95% interval (pooled over
items for metrics published that way: DragBench's distance over points), FID with its sample
size, time and UNet calls. Per setting and pair of methods: the paired difference on the
samples both have, with its interval (the same samples, so the comparison is much tighter than
two separate intervals suggest).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sdedit_desktop.edits.kinds import kind_named
from sdedit_desktop.eval.report.contact_sheet import write_contact_sheet
from sdedit_desktop.eval.report.html_page import write_html
from sdedit_desktop.eval.report.run_folder import ReportError, RunInfo, finite, load_rows
from sdedit_desktop.eval.report.tables import write_csv, write_markdown
from sdedit_desktop.eval.stats import mean_ci, paired_difference
from sdedit_desktop.eval.store import RunStore, write_json

__all__ = ["FID_MIN_SAMPLES", "ReportError", "load_rows", "merge_run", "setting_label",
           "summarise"]

# FID fits a 2048-dimensional Gaussian to each side's Inception features. With fewer images
# than dimensions the covariance estimate is singular and FID is biased upward by an amount
# that shrinks only like 1/N (Chong & Forsyth, CVPR 2020): such values compare groups of the
# same size at best, never with published FIDs (made on 10k-50k images).
FID_MIN_SAMPLES = 2048


def setting_label(setting: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in setting.items()) or "-"


def _metric_stats(ok: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names = sorted({k for r in ok for k in r["metrics"]})
    out = {}
    for name in names:
        with_items = [r for r in ok if name in r["metric_items"] and r["metric_items"][name]]
        if with_items and len(with_items) == sum(name in r["metrics"] for r in ok):
            stat = mean_ci([v for r in with_items for v in r["metric_items"][name]])
            stat["per"] = "item"  # DragBench: every point of every sample
            stat["samples"] = len(with_items)
        else:
            stat = mean_ci([r["metrics"][name] for r in ok if name in r["metrics"]])
            stat["per"] = "sample"
        out[name] = stat
    return out


def _paired(groups: dict[tuple[str, str], list[dict[str, Any]]], methods: list[str]
            ) -> list[dict[str, Any]]:
    """first - second on the samples both methods have, per setting, for each method pair."""
    out = []
    labels = list(dict.fromkeys(label for _, label in groups))
    for i, first in enumerate(methods):
        for second in methods[i + 1:]:
            for label in labels:
                a = {r["sample"]: r for r in groups.get((first, label), [])
                     if r["status"] == "ok"}
                b = {r["sample"]: r for r in groups.get((second, label), [])
                     if r["status"] == "ok"}
                both = [s for s in a if s in b]
                if not both:
                    continue
                names = sorted({k for s in both for k in a[s]["metrics"]
                                if k in b[s]["metrics"]})
                metrics = {}
                for name in names:
                    metrics[name] = _paired_metric(name, [(a[s], b[s]) for s in both])
                out.append({"setting": label, "first": first, "second": second,
                            "samples": len(both), "metrics": metrics})
    return out


def _paired_metric(name: str, pairs: list[tuple[dict, dict]]) -> dict[str, Any]:
    # Per-item metrics pair item by item (the same points in both results).
    items_a, items_b = {}, {}
    for ra, rb in pairs:
        ia, ib = ra["metric_items"].get(name), rb["metric_items"].get(name)
        if not ia or not ib or len(ia) != len(ib):
            items_a = items_b = None
            break
        for n, (x, y) in enumerate(zip(ia, ib, strict=True)):
            items_a[(ra["sample"], n)], items_b[(ra["sample"], n)] = x, y
    if items_a:
        return {**paired_difference(items_a, items_b), "per": "item"}
    return {**paired_difference({ra["sample"]: ra["metrics"][name] for ra, _ in pairs},
                                {ra["sample"]: rb["metrics"][name] for ra, rb in pairs}),
            "per": "sample"}


def _has_fid(kind: str) -> bool:
    """The kind's eval spec asks for FID of the edited images against the inputs."""
    try:
        spec = kind_named(kind).eval
    except KeyError:  # a run of a kind this version does not know: no FID
        return False
    return spec is not None and spec.fid


def summarise(run: RunInfo, rows: list[dict[str, Any]], store: RunStore,
              unavailable: dict[str, str] | None = None) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["method"], setting_label(row["setting"]))].append(row)
    recorded = run.raw.get("metrics") if isinstance(run.raw.get("metrics"), dict) else {}
    if unavailable is None:
        unavailable = recorded.get("unavailable") if isinstance(
            recorded.get("unavailable"), dict) else {}
    unavailable = {str(k): str(v) for k, v in unavailable.items()}
    fid_reason = None
    with_fid = _has_fid(run.kind)
    if with_fid:
        from sdedit_desktop.eval.metrics.availability import fid_unavailable

        fid_reason = fid_unavailable()
        if fid_reason:
            unavailable["fid"] = fid_reason
    out_groups = []
    for (method, label), members in groups.items():
        ok = [r for r in members if r["status"] == "ok"]
        group = {"method": method, "setting": label, "ok": len(ok),
                 "failed": len(members) - len(ok), "metrics": _metric_stats(ok),
                 "seconds": mean_ci([float(r["seconds"]) for r in ok if finite(r["seconds"])]),
                 "unet_calls": mean_ci([float(r["unet_calls"]) for r in ok
                                        if finite(r["unet_calls"])])}
        if with_fid and not fid_reason:
            group["fid"] = _group_fid(store, ok)
        out_groups.append(group)
    notes: dict[str, str] = {}
    for row in rows:
        for name, note in row.get("metric_notes", {}).items():
            if note not in notes.get(name, ""):
                notes[name] = f"{notes[name]} | {note}" if name in notes else note
    failures = [{"sample": r["sample"], "task": r["task"], "reason": r.get("reason", "")}
                for r in rows if r["status"] != "ok"]
    failed_samples = sorted({f["sample"] for f in failures})
    provenance = run.raw.get("provenance") if isinstance(run.raw.get("provenance"),
                                                         dict) else None
    from sdedit_desktop.eval.provenance import describe_model

    return {"kind": run.kind, "dataset": run.dataset, "tasks": len(rows),
            "ok": len(rows) - len(failures), "failed": len(failures),
            "samples": len(run.samples), "failed_samples": len(failed_samples),
            "model": describe_model(provenance) if provenance else "not recorded",
            "provenance": provenance, "groups": out_groups,
            "paired": _paired(groups, run.methods), "metric_notes": notes,
            "fid_min_samples": FID_MIN_SAMPLES, "failures": failures,
            "unavailable_metrics": unavailable}


def _decoded(store: RunStore, relative: str):
    from sdedit_desktop.imaging import load_image_bytes

    return load_image_bytes(store.read_bytes(store.root / relative), relative)


def _group_fid(store: RunStore, ok: list[dict[str, Any]]) -> dict[str, Any]:
    from sdedit_desktop.eval.metrics.fid import fid

    n = len(ok)
    result: dict[str, Any] = {"n": n}
    if n < FID_MIN_SAMPLES:
        result["warning"] = (f"only {n} images per side (fewer than {FID_MIN_SAMPLES}, the "
                             "feature dimension): biased upward, not comparable with "
                             "published FIDs")
    try:
        result["value"] = fid([_decoded(store, r["input"]) for r in ok],
                              [_decoded(store, r["image"]) for r in ok])
    except (RuntimeError, OSError, ValueError) as exc:
        result["unavailable"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return result


def merge_run(store: RunStore, unavailable: dict[str, str] | None = None,
              this_run: dict[str, int] | None = None) -> dict[str, Any]:
    """Write results.csv, summary.json, results.md, contact_sheet.png and index.html."""
    run, rows = load_rows(store)
    summary = summarise(run, rows, store, unavailable)
    if this_run is not None:
        summary["this_run"] = this_run
    write_json(store.root / "summary.json", summary)
    write_csv(store.root / "results.csv", rows, summary)
    write_markdown(store.root / "results.md", summary)
    write_contact_sheet(store, run, rows, store.root / "contact_sheet.png")
    write_html(store, run, rows, summary, store.root / "index.html")
    return summary

