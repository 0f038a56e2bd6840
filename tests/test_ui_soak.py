"""Soak: the real window, the real engine and the tiny model through a default-length edit.

Short tests miss defects that need tens of thousands of Qt calls (PySide6 6.12.0 on Python 3.11
lost one reference to None per void call and aborted the editor a few minutes into an edit while
every short test passed). This drives a paper-default SDE-Drag (N = 200, hundreds of UNet calls)
plus a queued second edit through the window while the canvas repaints continuously and the
window is grabbed, then checks that the app is alive, every result arrived, and no references to
None/True/False were lost. It runs in CI (about half a minute on 2 cores).
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QTimer
from ui_helpers import make_window

from sdedit_desktop.engine import Engine
from sdedit_desktop.ui.errors import error_handler
from sdedit_desktop.ui.qt_health import singleton_refcounts

pytestmark = pytest.mark.soak

SIZE = 128
# Loss tolerated from ordinary bookkeeping; the defect loses one per Qt call (tens of thousands).
SLACK = 200


def _photo() -> np.ndarray:
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    base = np.stack([x * 2, y * 2, (x * y) % 256], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


class _PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def test_long_edit_in_the_real_window_keeps_the_app_alive(qtbot, tmp_path, monkeypatch):
    errors: list = []
    engine = Engine()
    try:
        with error_handler(lambda _parent, e: errors.append(e)):
            window = make_window(qtbot, engine, tmp_path, monkeypatch)
            window.load_model(window.model_spec())
            qtbot.waitUntil(lambda: getattr(window.model_state, "status", "") == "ready",
                            timeout=120_000)
            window.start_project(_photo(), "soak.png", None)

            counter = _PaintCounter()
            window.canvas.viewport().installEventFilter(counter)
            grabs = [0]

            def churn() -> None:  # what a user's screen does: repaint, hover, redraw
                window.canvas.viewport().repaint()
                if grabs[0] % 10 == 0:
                    window.grab()
                grabs[0] += 1

            painter = QTimer()
            painter.setInterval(15)
            painter.timeout.connect(churn)

            before = singleton_refcounts()
            painter.start()
            # The paper's drag: N = 200, t0 = 0.6, two point pairs, 5 drag steps of 120 reverse
            # steps each; a second drag queued behind it while it runs.
            window.doc.set_points([((20, 50), (100, 50)), ((90, 100), (90, 80))])
            drag = window.panels.select("drag")
            drag.widgets["steps"].setValue(200)
            window.panels.max_side.setValue(0)
            first = window.run_edit()
            window.doc.set_points([((30, 100), (70, 100))])
            second = window.run_edit()
            assert first is not None and second is not None and first != second
            qtbot.waitUntil(lambda: len(window.history.entries) >= 2 or bool(errors),
                            timeout=280_000)
            painter.stop()
            after = singleton_refcounts()
    finally:
        engine.shutdown()

    assert not errors, [f"{e.title}: {e.message}" for e in errors]
    # Every result arrived, each a full edit of the full image.
    assert len(window.history.entries) == 2
    for entry in window.history.entries:
        assert entry.result.image.shape == (SIZE, SIZE, 3)
        assert entry.request.steps == 200
        assert len(entry.result.trajectory) >= 2
    assert window.history.entries[0].result.unet_calls >= 500  # 5 x 120 reverse steps
    # The UI kept painting and showing previews through the whole edit.
    assert window.preview_count >= 10
    assert counter.paints >= 100 and grabs[0] >= 100
    # No reference to None, True or False was lost (only matters before 3.12, where they can
    # reach zero and abort the interpreter; on 3.12+ their counts are immortal and constant).
    for name, count in before.items():
        assert count - after[name] < SLACK, f"{count - after[name]} references to {name} lost"
