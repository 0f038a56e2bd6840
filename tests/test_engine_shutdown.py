"""Quitting the app while a job runs: the job is cancelled, the worker thread joined and the model
released; the process exits 0 without "QThread: Destroyed while thread is still running" (which
Qt turns into an abort). Runs a real app in a subprocess, as a user would quit it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

APP = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from sdedit_desktop.edits.kinds import DragRequest
    from sdedit_desktop.engine import Engine
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model

    app = QApplication(sys.argv)
    models = []
    log = {"events": [], "calls": []}

    def loader(spec, progress=None):
        model = load_model(spec, progress)
        predict = model.predict_noise

        def counted(*args, **kwargs):  # when each model call starts
            log["calls"].append(time.monotonic())
            return predict(*args, **kwargs)

        model.predict_noise = counted
        models.append(model)
        return model

    # Connected before the engine's own: the moment the engine is told to stop.
    app.aboutToQuit.connect(lambda: log.setdefault("stop_at", time.monotonic()))
    engine = Engine(model_loader=loader)  # no explicit shutdown: quitting must be enough
    for name in ("jobStarted", "jobFinished", "jobFailed", "jobCancelled"):
        getattr(engine, name).connect(lambda job, *_, n=name: log["events"].append([n, job]))
    image = (np.random.default_rng(0).random((128, 128, 3)) * 255).astype(np.uint8)
    engine.load_model(ModelSpec("tiny", device="cpu"))
    running = engine.submit(DragRequest(image=image, points=(((20, 20), (90, 60)),), steps=400))
    waiting = engine.submit(DragRequest(image=image, points=(((20, 20), (90, 60)),)))

    def on_progress(job, progress):
        if progress.step >= 3 and "quit_at" not in log:
            log["quit_at"] = time.monotonic()
            app.quit()  # the user closes the window mid-edit

    engine.progress.connect(on_progress)
    QTimer.singleShot(60000, lambda: app.exit(3))  # safety net: never hang the test run
    code = app.exec()
    log["code"] = code
    log["thread_running"] = engine.is_running()
    log["released"] = models[0].unet is None
    log["ids"] = [running, waiting]
    print("RESULT " + json.dumps(log))
""")


@pytest.mark.slow  # a fresh interpreter importing torch and Qt: ~4 s
def test_quitting_with_a_job_in_flight_exits_cleanly(tmp_path: Path):
    script = tmp_path / "app.py"
    script.write_text(APP)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONFAULTHANDLER="1")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=240, env=env, cwd=tmp_path)
    assert "Destroyed while thread" not in proc.stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    log = json.loads(line.removeprefix("RESULT "))
    running, waiting = log["ids"]
    assert log["code"] == 0 and not log["thread_running"] and log["released"]
    # The running job was cancelled within a model call, the waiting one never started.
    assert ["jobStarted", running] in log["events"]
    assert ["jobCancelled", running] in log["events"]
    assert ["jobCancelled", waiting] in log["events"]
    assert ["jobStarted", waiting] not in log["events"]
    assert not any(name in ("jobFinished", "jobFailed") for name, _ in log["events"])
    # Cancelled within a model call, not at the end of the drag step (240 calls per step): at
    # most the call whose cancel check had just passed started after the engine was stopped.
    started_after_stop = [t for t in log["calls"] if t > log["stop_at"]]
    assert len(started_after_stop) <= 1, started_after_stop
