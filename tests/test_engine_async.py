"""`await engine.run(request)` under a qasync event loop on the Qt main thread."""

from __future__ import annotations

import asyncio
import gc

import numpy as np
import pytest
import qasync
from engine_helpers import FakeLoader, FakeRunner, make_request

from sdedit_desktop.engine import Engine, EngineJobCancelled, EngineJobFailed
from sdedit_desktop.models.interface import ModelSpec


@pytest.fixture
def loop(qapp):
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    # Back to a pristine asyncio state (set_event_loop(None) would make a later
    # asyncio.get_event_loop() raise in other tests).
    asyncio.set_event_loop_policy(None)
    # qasync's loop holds Qt objects in reference cycles: collect them here, on the main
    # thread, not whenever a later allocation on some worker thread triggers the collector.
    del loop
    gc.collect()


@pytest.fixture
def engine(qapp):
    engine = Engine(edit_runner=FakeRunner(), model_loader=FakeLoader(work=256, repeats=8))
    engine.load_model(ModelSpec("fake-a"))
    yield engine
    engine.shutdown()


def test_run_returns_the_result(loop, engine):
    async def main():
        first = await engine.run(make_request(seed=77, steps=5))
        second = await engine.run(make_request(seed=78, steps=5))
        return first, second

    first, second = loop.run_until_complete(asyncio.wait_for(main(), 20))
    assert int(first.image[0, 0, 0]) == 77 and first.unet_calls == 5
    assert int(second.image[0, 0, 0]) == 78


def test_concurrent_runs_resolve_in_queue_order(loop, engine):
    finished: list[int] = []

    async def one(seed: int) -> int:
        result = await engine.run(make_request(seed=seed, steps=3))
        finished.append(seed)
        return int(result.image[0, 0, 0])

    async def main():
        return await asyncio.gather(one(1), one(2), one(3))

    assert loop.run_until_complete(asyncio.wait_for(main(), 20)) == [1, 2, 3]
    assert finished == [1, 2, 3]


def test_run_raises_typed_failure_then_engine_still_works(loop, engine):
    async def main():
        with pytest.raises(EngineJobFailed) as info:
            await engine.run(make_request(prompt="bad"))
        assert info.value.failure.kind == "bad-request"
        assert "mask is empty" in str(info.value)
        return await engine.run(make_request(seed=9, steps=3))

    result = loop.run_until_complete(asyncio.wait_for(main(), 20))
    assert int(result.image[0, 0, 0]) == 9


def test_cancelled_job_raises_and_cancelling_the_task_cancels_the_job(loop, engine):
    cancelled: list[int] = []
    engine.jobCancelled.connect(cancelled.append)
    engine.jobStarted.connect(lambda job_id: engine.cancel() if job_id == 1 else None)

    async def main():
        with pytest.raises(EngineJobCancelled) as info:
            await engine.run(make_request(seed=1, steps=500))
        assert info.value.job_id == 1
        # Cancelling the awaiting task cancels the engine job too.
        task = asyncio.ensure_future(engine.run(make_request(seed=2, steps=500)))
        while engine.running_job != 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        while 2 not in cancelled:
            await asyncio.sleep(0.01)
        return await engine.run(make_request(seed=3, steps=3))

    result = loop.run_until_complete(asyncio.wait_for(main(), 20))
    assert cancelled == [1, 2]
    assert int(result.image[0, 0, 0]) == 3


def test_run_with_the_real_edit_and_tiny_model(loop, qapp):
    from engine_helpers import drag_request as _drag

    from sdedit_desktop.edits import run_edit
    from sdedit_desktop.models.loading import load_model

    engine = Engine()
    try:
        engine.load_model(ModelSpec("tiny", device="cpu"))
        request = _drag()
        result = loop.run_until_complete(asyncio.wait_for(engine.run(request), 60))
        model = load_model(ModelSpec("tiny", device="cpu"))
        np.testing.assert_array_equal(result.image, run_edit(model, request).image)
        assert len(result.trajectory) == 2
    finally:
        engine.shutdown()
