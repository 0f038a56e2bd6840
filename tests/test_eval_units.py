"""`sdedit eval` parts: process shares, the progress line over all processes, the request hash
and the resume check."""

from __future__ import annotations

import io

import numpy as np
import pytest

import sdedit_desktop.eval.progress as progress
from sdedit_desktop.eval.processes import ProcessGroup
from sdedit_desktop.eval.samples import Sample, SampleInputs
from sdedit_desktop.eval.store import RunStore, write_json, write_png
from sdedit_desktop.eval.tasks import Task, request_hash, request_kwargs, setting_grid


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_process_shares_are_disjoint_and_cover_every_sample(count):
    items = list(range(10))
    shares = [ProcessGroup(i, count, lambda: None).share(items) for i in range(count)]
    assert sorted(x for s in shares for x in s) == items
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_progress_line_sums_every_process_and_estimates_the_rest(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    progress.write_counters(store, 0, progress.Counters(total=6, ran=2, skipped=1))
    progress.write_counters(store, 1, progress.Counters(total=6, ran=2, failed=1))
    clock = iter([100.0, 140.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    display = progress.ProgressDisplay(store, 2, 12, stream=stream)
    counters, finished = display.poll()
    assert not finished
    # 4 edits in 40 s over both processes; 6 tasks left -> 60 s
    assert display.line(counters) == ("eval: 6/12 done (4 edited, 1 already done, 1 failed)  "
                                      "ETA 0:01:00")


def _inputs(value: int = 0) -> SampleInputs:
    return SampleInputs(image=np.full((8, 8, 3), value, np.uint8),
                        fields={"points": (((1, 2), (3, 4)),), "prompt": "p"})


def test_request_hash_changes_with_params_pixels_and_weights():
    task = Task(Sample("a", "a", lambda: _inputs()), "sde")
    kwargs = request_kwargs(task, _inputs(), {"steps": 4})
    base = request_hash("drag", kwargs, _inputs(), {"kind": "tiny"})
    assert base == request_hash("drag", dict(kwargs), _inputs(), {"kind": "tiny"})
    assert base != request_hash("drag", {**kwargs, "steps": 5}, _inputs(), {"kind": "tiny"})
    assert base != request_hash("drag", {**kwargs, "method": "ode"}, _inputs(), {"kind": "tiny"})
    assert base != request_hash("drag", kwargs, _inputs(1), {"kind": "tiny"})
    assert base != request_hash("drag", kwargs, _inputs(), {"kind": "hub"})


def test_request_kwargs_sample_fields_then_setting_then_method():
    task = Task(Sample("a", "a", lambda: _inputs()), "ode", {"steps": 7})
    kwargs = request_kwargs(task, _inputs(), {"steps": 4, "prompt": "cli", "seed": 3})
    assert kwargs == {"steps": 7, "prompt": "p", "seed": 3, "method": "ode",
                      "points": (((1, 2), (3, 4)),)}
    assert setting_grid({"steps": [1, 2], "order": [1]}) == [{"steps": 1, "order": 1},
                                                             {"steps": 2, "order": 1}]


def test_a_task_is_done_only_with_an_ok_record_of_the_same_hash_and_its_image(tmp_path):
    store = RunStore(tmp_path)
    write_json(store.record_path("a", "sde"), {"status": "ok", "request_hash": "h"})
    assert not store.is_done("a", "sde", "h")  # record without its image
    write_png(store.image_path("a", "sde"), np.zeros((8, 8, 3), np.uint8))
    assert store.is_done("a", "sde", "h") and not store.is_done("a", "sde", "other")
    write_json(store.record_path("a", "sde"), {"status": "failed", "request_hash": "h"})
    assert not store.is_done("a", "sde", "h")  # failures are tried again
    store.record_path("a", "sde").write_text("{half a rec")  # torn write from elsewhere
    assert not store.is_done("a", "sde", "h")
