"""`sdedit eval` runs on the tiny model: reports, bad data, resume, and a real two-process
`accelerate launch` run that must equal the single-process one."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_data import drag_bench
from PIL import Image

import sdedit_desktop.eval.runner as runner
from sdedit_desktop.cli import main
from sdedit_desktop.edits import EditError

REPO = Path(__file__).resolve().parents[1]
FAST = ["--model", "tiny", "--steps", "4", "--dift-ensemble", "2", "--quiet"]
GOOD = 4  # samples that can run in drag_bench (3 SDE-Drag + 1 DragDiffusion); 4 are bad
REAL_RUN_EDIT = runner.run_edit


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return drag_bench(tmp_path_factory.mktemp("eval") / "DragBench")


@pytest.fixture(scope="module")
def single_run(bench, tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "run"
    assert main(["eval", "drag", str(bench), "--out", str(out), *FAST]) == 0
    return out


def csv_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.pop("seconds")  # wall-clock, the only thing allowed to differ
    return rows


def images(out: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(out).as_posix(): np.asarray(Image.open(p))
            for p in sorted((out / "samples").rglob("*.png"))}


def count_edits(monkeypatch, fail_after: int | None = None) -> list[int]:
    calls: list[int] = []

    def counting(*args, **kwargs):
        calls.append(1)
        if fail_after is not None and len(calls) > fail_after:
            raise KeyboardInterrupt  # what Ctrl-C (or a kill) does mid-run
        return REAL_RUN_EDIT(*args, **kwargs)

    monkeypatch.setattr(runner, "run_edit", counting)
    return calls


def test_run_writes_every_report_and_records_bad_data_as_failures(single_run):
    summary = json.loads((single_run / "summary.json").read_text())
    assert summary["tasks"] == 16 and summary["ok"] == 2 * GOOD and summary["failed"] == 8
    assert summary["failed_samples"] == 4 and summary["this_run"]["ran"] == 2 * GOOD
    reasons = {f["sample"]: f["reason"] for f in summary["failures"]}
    assert "io.open" in reasons["bad_hostile"] and "no such file" in reasons["bad_missing"]
    assert "outside" in reasons["bad_outside"] and "not an image" in reasons["bad_unreadable"]
    groups = {g["method"]: g for g in summary["groups"]}
    assert set(groups) == {"sde", "ode"}
    dift = groups["sde"]["metrics"]["dift_distance"]
    # DragBench averages over points: 3 one-point samples and the two-point DragDiffusion one
    assert dift["n"] == GOOD + 1 and dift["samples"] == GOOD and dift["per"] == "item"
    assert "NOT COMPARABLE" in summary["metric_notes"]["dift_distance"]
    assert summary["provenance"]["model"]["identity"]["kind"] == "tiny"
    assert "lpips" in summary["unavailable_metrics"] or "lpips" in groups["sde"]["metrics"]
    rows = csv_rows(single_run)
    assert len(rows) == 16 and sum(r["status"] == "ok" for r in rows) == 2 * GOOD
    assert all(float(r["dift_distance"]) >= 0 for r in rows if r["status"] == "ok")
    for name in ("results.md", "index.html", "contact_sheet.png", "run.json"):
        assert (single_run / name).is_file()
    sheet = Image.open(single_run / "contact_sheet.png")
    assert sheet.width >= 3 * 64  # input | SDE | ODE
    record = json.loads((single_run / "samples" / "sde_s0" / "sde.json").read_text())
    assert record["params"]["points"] == [[[16, 20], [28, 20]]] and record["unet_calls"] > 0
    assert record["params"]["steps"] == 4 and record["params"]["method"] == "sde"


def test_rerun_does_no_edit(single_run, bench, monkeypatch, capsys):
    calls = count_edits(monkeypatch)
    before = csv_rows(single_run)
    assert main(["eval", "drag", str(bench), "--out", str(single_run), *FAST]) == 0
    assert calls == []
    summary = json.loads((single_run / "summary.json").read_text())
    assert summary["this_run"] == {"ran": 0, "skipped": 2 * GOOD, "failed": 8}
    assert csv_rows(single_run) == before


def test_a_changed_option_is_refused_and_replace_reruns_the_edits(single_run, bench, monkeypatch,
                                                                  tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(single_run, out)
    calls = count_edits(monkeypatch)
    assert main(["eval", "drag", str(bench), "--out", str(out), *FAST, "--seed", "7"]) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "request.seed:" in err and "-> 7" in err
    assert "--replace" in err
    assert calls == [] and csv_rows(out) == csv_rows(single_run)  # nothing replaced
    assert main(["eval", "drag", str(bench), "--out", str(out), *FAST, "--seed", "7",
                 "--replace"]) == 0
    assert len(calls) == 2 * GOOD


def test_killed_run_resumes_where_it_stopped(single_run, bench, monkeypatch, tmp_path):
    out = tmp_path / "run"
    count_edits(monkeypatch, fail_after=3)
    assert main(["eval", "drag", str(bench), "--out", str(out), *FAST]) == 130
    done = sorted(p.name for p in (out / "samples").rglob("*.json")
                  if json.loads(p.read_text())["status"] == "ok")
    assert len(done) == 3
    calls = count_edits(monkeypatch)
    assert main(["eval", "drag", str(bench), "--out", str(out), *FAST]) == 0
    assert len(calls) == 2 * GOOD - 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["this_run"]["skipped"] == 3 and summary["ok"] == 2 * GOOD
    assert csv_rows(out) == csv_rows(single_run)
    assert images(out).keys() == images(single_run).keys()
    for name, array in images(single_run).items():
        assert np.array_equal(images(out)[name], array), name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_accelerate_run_equals_the_single_process_run(single_run, bench, tmp_path):
    out = tmp_path / "run2"
    accelerate = Path(sys.executable).parent / "accelerate"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1"}
    # --multi_gpu is accelerate's multi-process launcher (torchrun); without a GPU our process
    # state is CPU (gloo). accelerate's --cpu alone starts one process unless MPI is set up.
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()),
           "-m", "sdedit_desktop", "eval", "drag", str(bench), "--out", str(out), *FAST]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (out / "samples").rglob("*.json")]
    assert len(records) == 16  # every task once
    by_process = {r["process"] for r in records}
    assert by_process == {0, 1}  # both processes worked
    per_sample = {}
    for r in records:
        per_sample.setdefault(r["sample"], set()).add(r["process"])
    assert all(len(p) == 1 for p in per_sample.values())  # a sample belongs to one process
    progress = [json.loads((out / "progress" / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert sum(p["ran"] for p in progress) == 2 * GOOD and sum(p["total"] for p in progress) == 16
    assert csv_rows(out) == csv_rows(single_run)
    mine, theirs = images(out), images(single_run)
    assert mine.keys() == theirs.keys()
    for name, array in theirs.items():
        assert np.array_equal(mine[name], array), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] == 2 * GOOD and summary["failed"] == 8


def _page_data(page: str) -> dict:
    return json.loads(page.split("const DATA = ", 1)[1].split(";\n", 1)[0])


def test_user_study_pages_are_blind_per_participant_and_the_tally_maps_answers_to_methods(
        single_run, capsys):
    assert main(["eval", "study", str(single_run), "--seed", "3",
                 "--participants", "alice,bob"]) == 0
    study = single_run / "study"
    key = json.loads((study / "key.json").read_text())
    questions = key["questions"]
    assert len(questions) == GOOD  # one per sample with both an SDE and an ODE result
    for pid in ("alice", "bob"):
        page = (study / "p" / f"{pid}.html").read_text()
        assert "sde" not in page.lower() and "ode" not in page.lower().replace("code", "")
        data = _page_data(page)
        assert [q["id"] for q in data["questions"]] == key["participants"][pid]["order"]
        # a drag question shows what was asked: the drawn points and mask, and the prompt
        assert all(q["asked"] for q in data["questions"])
        assert {q["prompt"] for q in data["questions"]} == {"a cube", "a photo"}
    for qid, q in questions.items():  # the neutral copies are the right images
        for role in ("a", "b"):
            copy = (study / "images" / f"{qid}_{role}.png").read_bytes()
            assert copy == (single_run / "samples" / q["sample"] / f"{q[role]}.png").read_bytes()
    files = []
    for pid, side in (("alice", "left"), ("bob", "right")):
        path = single_run / f"answers-{pid}.json"
        path.write_text(json.dumps({"study": key["study"], "participant": pid,
                                    "answers": {qid: side for qid in questions}}))
        files.append(str(path))
    capsys.readouterr()
    # alice's file twice (sent twice by mistake) counts once
    assert main(["eval", "tally", str(single_run), *files, files[0]]) == 0
    tally = json.loads((study / "tally.json").read_text())
    expected = {"sde": 0, "ode": 0}
    for pid, side in (("alice", "left"), ("bob", "right")):
        for qid, q in questions.items():
            left = key["participants"][pid]["left"][qid]
            expected[q[left if side == "left" else ("b" if left == "a" else "a")]] += 1
    assert tally["votes"] == expected and tally["answers"] == 2 * GOOD
    assert tally["participants"] == 2 and tally["duplicates"] == {"alice": [files[0]]}
    out = capsys.readouterr().out
    assert "SDE preferred in" in out and "ODE preferred in" in out
    Path(files[0]).write_text(json.dumps({"study": "other", "participant": "alice",
                                          "answers": {}}))
    assert main(["eval", "tally", str(single_run), files[0]]) == 2
    assert "this run's study is" in capsys.readouterr().err


def test_report_command_rewrites_the_reports(single_run, capsys):
    (single_run / "results.md").unlink()
    assert main(["eval", "report", str(single_run)]) == 0
    assert "| sde |" in (single_run / "results.md").read_text()
    assert main(["eval", "report", str(single_run.parent / "nothing")]) == 2
    assert "not an eval run folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["eval", "drag", "{tmp}/missing", "--out", "{tmp}/o"], "no such file or folder"),
    (["eval", "drag", "{tmp}", "--out", "{tmp}/o"], "no drag samples"),
    (["eval", "inpaint", "{tmp}", "--out", "{tmp}/o", "--steps", "0"], "at least 1"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main([*argv, "--model", "tiny", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("error, reason", [
    (lambda: EditError("the mask is empty"), "the mask is empty"),
    (lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate"), "out of memory"),
])
def test_an_edit_that_fails_is_recorded_and_the_run_goes_on(bench, monkeypatch, tmp_path,
                                                            error, reason):
    def ode_fails(model, request, **kwargs):
        if request.method == "ode":
            raise error()
        return REAL_RUN_EDIT(model, request, **kwargs)

    monkeypatch.setattr(runner, "run_edit", ode_fails)
    out = tmp_path / "run"
    assert main(["eval", "drag", str(bench), "--out", str(out), *FAST]) == 0
    rows = [r for r in csv_rows(out) if not r["sample"].startswith("bad_")]
    assert {r["status"] for r in rows if r["method"] == "sde"} == {"ok"}
    assert all(r["status"] == "failed" and reason in r["reason"]
               for r in rows if r["method"] == "ode")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] == 8 + GOOD
