"""Issue 15, classes 6 (out-of-memory recognition) and 7 (engine): one `is_out_of_memory` that
knows every way torch and numpy run out of memory; a BaseException inside an edit still ends the
job; a bad request value found deep inside an edit is reported as itself, not as a bug."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_helpers import FakeRunner, make_request, wait_end

from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.engine import failures
from sdedit_desktop.engine.failures import classify_failure
from sdedit_desktop.models import errors

pytest_plugins = ["test_engine_jobs"]  # its make_engine fixture


def _raised(make):
    try:
        make()
    except BaseException as exc:  # whatever it raised, with its traceback
        return exc
    raise AssertionError("nothing was raised")


def _huge_cpu_tensor():  # what --mask-samples 100000 on a big image runs into
    return torch.empty(2 ** 50, dtype=torch.uint8)


def _huge_numpy_array():
    return np.empty(2 ** 50, np.uint8)


def _wrapped(inner):
    def make():
        try:
            inner()
        except BaseException as exc:
            raise ValueError("decoder failed") from exc
    return make


@pytest.mark.parametrize("make", [_huge_cpu_tensor, _huge_numpy_array, _wrapped(_huge_cpu_tensor),
                                  _wrapped(_huge_numpy_array)])
def test_one_out_of_memory_test_for_every_allocator(make):
    exc = _raised(make)
    assert failures.is_out_of_memory is errors.is_out_of_memory
    assert errors.is_out_of_memory(exc)
    assert classify_failure(exc, "cpu").kind == "out-of-memory"
    assert not errors.is_out_of_memory(_raised(lambda: torch.ones(2) @ torch.ones(3)))


def test_cli_reports_a_failed_huge_allocation_as_out_of_memory(tmp_path, capsys, monkeypatch):
    from PIL import Image

    from sdedit_desktop.cli import main
    from sdedit_desktop.edits import run as edits_run

    def run_edit(*args, **kwargs):
        _huge_numpy_array()

    # The CLI imports run_edit when an edit runs (so `sdedit --help` needs no torch).
    monkeypatch.setattr(edits_run, "run_edit", run_edit)
    image = tmp_path / "in.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    code = main(["reconstruct", "--model", "tiny", "--device", "cpu", "--image", str(image),
                 "--out", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "out of memory" in err


class _Interrupting(FakeRunner):
    def __call__(self, model, request, progress=None, cancel=None, lora=None, options=None):
        if request.prompt == "interrupt":
            raise KeyboardInterrupt
        if request.prompt == "exit":
            raise SystemExit(3)
        if request.prompt == "wrapped-bad":
            try:
                raise EditError("the drag step size must be at least 0.01")
            except EditError as exc:
                raise RuntimeError("cleanup failed") from exc
        return super().__call__(model, request, progress, cancel, lora, options)


@pytest.mark.parametrize("prompt", ["interrupt", "exit"])
def test_base_exception_in_an_edit_ends_the_job_and_the_worker_goes_on(qtbot, make_engine,
                                                                       prompt):
    engine, rec, _, _ = make_engine(runner=_Interrupting())
    job = engine.submit(make_request(seed=5, steps=4, prompt=prompt))
    wait_end(qtbot, rec, job)
    ((_, failure),) = rec.of("jobFailed", job)
    assert "interrupted" in failure.message
    after = engine.submit(make_request(seed=6, steps=4))
    wait_end(qtbot, rec, after)
    ((_, result),) = rec.of("jobFinished", after)
    assert int(result.image[0, 0, 0]) == 6


def test_bad_request_inside_another_error_is_a_clear_bad_request(qtbot, make_engine):
    engine, rec, _, _ = make_engine(runner=_Interrupting())
    job = engine.submit(make_request(prompt="wrapped-bad"))
    wait_end(qtbot, rec, job)
    ((_, failure),) = rec.of("jobFailed", job)
    assert failure.kind == "bad-request"
    assert failure.message == "The drag step size must be at least 0.01"
