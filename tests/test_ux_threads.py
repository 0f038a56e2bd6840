"""The CPU thread policy (models/cpu_threads.py) and where it applies: the engine's worker
thread, the CLI, and the benchmark's idle/busy section (bench/threads.py)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from sdedit_desktop.bench.threads import (
    competing_processes,
    format_threads,
    measure_threads,
    thread_counts,
)
from sdedit_desktop.models.cpu_threads import apply_thread_policy, policy_threads


@pytest.fixture(autouse=True)
def one_thread_afterwards():
    """Tests here set other counts; torch keeps the last one as the default of threads that
    have not computed yet, so the rest of the suite gets its one thread back."""
    yield
    torch.set_num_threads(1)


def test_policy_leaves_one_core_free_and_follows_omp_num_threads():
    assert policy_threads(2, env={}) == 1
    assert policy_threads(1, env={}) == 1
    assert policy_threads(16, env={}) == 15
    assert policy_threads(2, env={"OMP_NUM_THREADS": "3"}) == 3
    # Not a count: ignored.
    for text in ("", "0", "-2", "two", "1.5"):
        assert policy_threads(8, env={"OMP_NUM_THREADS": text}) == 7


def test_policy_applies_to_the_thread_that_computes(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    seen = []

    def work():
        seen.append(apply_thread_policy())
        seen.append(torch.get_num_threads())

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert seen == [2, 2]


def test_the_engine_worker_runs_edits_with_the_policy(qapp, qtbot, monkeypatch):
    from sdedit_desktop.edits.kinds import DragRequest
    from sdedit_desktop.edits.requests import EditResult
    from sdedit_desktop.engine import Engine
    from sdedit_desktop.models.interface import ModelSpec

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    seen = []

    def runner(_model, request, **_hooks):  # progress, cancel, lora, options
        seen.append((threading.current_thread() is not threading.main_thread(),
                     torch.get_num_threads()))
        return EditResult(request=request, image=request.image)

    engine = Engine(edit_runner=runner, model_loader=lambda spec, progress=None: object())
    try:
        engine.load_model(ModelSpec("tiny"))
        image = np.zeros((16, 16, 3), np.uint8)
        done = []
        engine.jobFinished.connect(lambda job_id, _r: done.append(job_id))
        engine.submit(DragRequest(image=image, points=(((2, 2), (6, 2)),)))
        qtbot.waitUntil(lambda: bool(done), timeout=30000)
    finally:
        engine.shutdown()
    assert seen == [(True, 2)]  # on the worker thread, with the policy's count


def test_the_cli_loads_its_model_under_the_policy(monkeypatch):
    """Every CLI edit (and `sdedit eval`) loads its model through load_cli_model, on the
    thread that then runs the edit."""
    import argparse

    from sdedit_desktop.cli.edit_commands import load_cli_model
    from sdedit_desktop.models import loading

    seen = []
    monkeypatch.setattr(loading, "load_model", lambda spec: seen.append(
        (spec.source, torch.get_num_threads())) or "model")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    args = argparse.Namespace(model="tiny", device="cpu", dtype="auto", allow_pickle=False,
                              download=False)
    assert load_cli_model(args) == "model"
    assert seen == [("tiny", 2)]


def test_competing_processes_run_while_asked_and_end_by_themselves():
    with competing_processes(2, 600) as procs:
        assert all(p.poll() is None for p in procs)  # busy now
    assert all(p.poll() is not None for p in procs)  # killed when the block ends
    with competing_processes(1, 0.2) as procs:
        procs[0].wait(timeout=60)  # the bound ends it without us
        assert procs[0].returncode == 0


def test_thread_section_measures_idle_and_busy_and_restores_the_policy():
    from sdedit_desktop.models.tiny import build_tiny_model

    model = build_tiny_model()
    logs: list[str] = []
    section = measure_threads(model, (8, 8), batch=2, counts=(1,), calls=1, rounds=1,
                              log=logs.append)
    assert section["busy_processes"] == 1 and section["policy_threads"] == policy_threads()
    idle, busy = section["seconds_per_call"]["idle"], section["seconds_per_call"]["busy"]
    assert set(idle) == set(busy) == {"1"} and idle["1"] > 0 and busy["1"] > 0
    assert torch.get_num_threads() == policy_threads()
    assert any("busy process" in line for line in logs)
    lines = format_threads(section)
    assert "idle" in lines[1] and "busy" in lines[1]
    json.dumps(section)  # goes into the --json report as it is


def test_thread_counts_are_one_the_policy_and_every_core():
    assert thread_counts(2) == (1, 2)  # the tests' policy: OMP_NUM_THREADS=1
    assert thread_counts(1) == (1,)


@pytest.mark.slow
def test_bench_reports_the_cpu_thread_section(tmp_path, capsys):
    from sdedit_desktop.cli import main

    out = tmp_path / "bench.json"
    code = main(["bench", "--model", "tiny", "--size", "64", "--steps", "10", "--no-lora",
                 "--no-reference", "--method", "reconstruct", "--cpu-threads", "--json",
                 str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["threads"] == policy_threads()
    section = report["cpu_threads"]
    assert set(section["seconds_per_call"]) == {"idle", "busy"}
    assert set(section["seconds_per_call"]["idle"]) == {str(n) for n in thread_counts()}
    assert "CPU threads" in capsys.readouterr().out
