"""Helpers shared by the UI test modules: a fake engine for the editor model, a test image,
and a main window set up for tests."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.ui.main_window import MainWindow
from sdedit_desktop.ui.settings import AppSettings

H, W = 32, 48
IMAGE = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


class FakeEngine(QObject):
    """The signals and methods of `EditEngine`; the test plays the worker."""

    jobQueued = Signal(int, object)
    jobStarted = Signal(int)
    progress = Signal(int, object)
    preview = Signal(int, object)
    jobFinished = Signal(int, object)
    jobFailed = Signal(int, object)
    jobCancelled = Signal(int)
    jobWarning = Signal(int, str)
    modelStateChanged = Signal(object)
    queueChanged = Signal(int)

    def __init__(self):
        super().__init__()
        self.model_state = ModelState("ready", device="cpu", dtype="float32")
        self.submitted: list[tuple[int, object]] = []
        self.cancels = 0
        self.cleared = 0
        self.refuse = False

    def submit(self, request):
        if self.refuse:
            raise RuntimeError("engine is shut down")
        job_id = len(self.submitted) + 1
        self.submitted.append((job_id, request))
        self.jobQueued.emit(job_id, request)
        return job_id

    def cancel(self, job_id=None):
        self.cancels += 1
        return True

    def clear_queue(self):
        self.cleared += 1
        return []

    def waiting_jobs(self):
        return 0

    def load_model(self, spec):
        pass

    def unload_model(self):
        pass

    def cancel_model_load(self):
        return False


def make_window(qtbot, engine, tmp_path, monkeypatch) -> MainWindow:
    monkeypatch.setenv("SDEDIT_CONFIG_DIR", str(tmp_path / "config"))
    settings = AppSettings(model_source="tiny", device="cpu", autosave_minutes=0)
    window = MainWindow(engine, settings, settings_file=tmp_path / "config" / "settings.json")
    window.autosave_dir = tmp_path / "autosave"
    window.confirm = lambda *_: True
    window.ask_unsaved = lambda: "discard"
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    return window


class Refused(Exception):
    """The next edit cannot run; the message says what to do (what Run shows)."""


def next_request(params, kind: str, image, mask, points, model=None):
    """The request Run would send for this canvas state with these parameters
    (`ui.model.next_edit`), or Refused with the message Run would show."""
    from sdedit_desktop.ui.model.document import EditorDocument
    from sdedit_desktop.ui.model.next_edit import build_next_edit

    doc = EditorDocument()
    if image is not None:
        doc.set_image(image, mask=mask, points=list(points))
    edit = build_next_edit(doc, params, kind, model)
    if edit.problem:
        raise Refused(edit.problem)
    return edit.request
