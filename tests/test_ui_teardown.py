"""Closing a window while its presenters have work pending (a mask stroke's delayed refresh)
must not touch widgets that are already gone: the editor model outlives its views briefly."""

from __future__ import annotations

import numpy as np
import shiboken6
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from test_ui_model import FakeEngine

from sdedit_desktop.ui.brush import BrushSpec
from sdedit_desktop.ui.main_window import MainWindow
from sdedit_desktop.ui.settings import AppSettings


def test_deleting_the_window_with_a_pending_mask_refresh_raises_nothing(qtbot, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("SDEDIT_CONFIG_DIR", str(tmp_path))
    window = MainWindow(FakeEngine(), AppSettings(autosave_minutes=0))
    window.show()
    window.start_project(np.zeros((64, 96, 3), np.uint8), "x.png", None)
    window.editor.paint((5, 5), (30, 20), BrushSpec(radius=4))  # starts the delayed refreshes
    editor = window.editor
    editor.setParent(None)  # the model outlives its views, as during a real teardown
    shiboken6.delete(window)
    editor.paint((10, 10), (40, 30), BrushSpec(radius=4))  # more signals into dead views
    loop = QEventLoop()
    QTimer.singleShot(400, loop.quit)  # past every presenter's delay
    loop.exec()
    QCoreApplication.processEvents()
