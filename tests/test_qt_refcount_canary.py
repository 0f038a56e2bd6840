"""Canary: the installed Qt binding must not lose references to None (or True/False).

PySide6 6.12.0 on CPython 3.11 drops one reference to None on every void Qt call, and the editor
aborts ("deallocating None") a few minutes into an edit. Each test makes thousands of void calls
of one kind and asserts that None's reference count did not fall; on a broken combination each
falls by about one per call. From Python 3.12 on None is immortal (its count never changes), so
these tests pass trivially there, which is correct: the defect cannot abort the interpreter.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, QPointF, QThread, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter

from sdedit_desktop.ui.qt_health import (
    CHECK_CALLS,
    none_refcount_drift,
    qt_binding_problem,
    singleton_refcounts,
)

CALLS = 1000
# References that other code takes or drops while a loop runs: a few, never thousands.
SLACK = 50


def _assert_no_loss(before: dict[str, int], what: str) -> None:
    after = singleton_refcounts()
    for name, count in before.items():
        lost = count - after[name]
        assert lost < SLACK, (
            f"{lost} references to {name} lost over {CALLS} {what}: this PySide6 build "
            "corrupts reference counts (see pyproject.toml); the editor would abort mid-edit")


def test_setters_keep_none_alive():
    point, color, obj = QPointF(1, 2), QColor(1, 2, 3), QObject()
    before = singleton_refcounts()
    for i in range(CALLS):
        point.setX(float(i))
        color.setRed(i % 256)
        obj.setObjectName("x")
    _assert_no_loss(before, "setter calls")


def test_painter_save_restore_keeps_none_alive():
    image = QImage(16, 16, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    before = singleton_refcounts()
    for _ in range(CALLS):
        painter.save()
        painter.setOpacity(0.5)
        painter.restore()
    painter.end()
    _assert_no_loss(before, "QPainter save/restore")


class _Emitter(QObject):
    ping = Signal(int)

    @Slot()
    def run(self) -> None:
        for i in range(CALLS):
            self.ping.emit(i)
        QThread.currentThread().quit()


def test_signals_across_the_worker_thread_keep_none_alive(qtbot):
    """The engine's pattern: a QObject in a worker QThread emitting to the UI thread."""
    received: list[int] = []
    thread = QThread()
    emitter = _Emitter()
    emitter.moveToThread(thread)
    emitter.ping.connect(received.append)  # queued: delivered on this (UI) thread
    thread.started.connect(emitter.run)
    before = singleton_refcounts()
    thread.start()
    qtbot.waitUntil(lambda: len(received) == CALLS, timeout=30000)
    thread.wait(10000)
    _assert_no_loss(before, "cross-thread signal emissions")
    assert received == list(range(CALLS))


def test_start_up_check_passes_on_the_installed_binding():
    assert qt_binding_problem() is None
    assert none_refcount_drift() > -SLACK


@pytest.mark.parametrize("drift", [-CHECK_CALLS, -CHECK_CALLS // 2])
def test_start_up_check_names_the_defect_and_the_fix(drift):
    message = qt_binding_problem(drift)
    if sys.version_info >= (3, 12):
        assert message is None  # immortal None: nothing to report
        return
    assert message is not None
    assert "PySide6" in message and "!=6.12.*" in message and "3.12" in message
