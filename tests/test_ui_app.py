"""`sdedit-desktop` entry point: flags, first start with a model and an image, settings written
on close, errors in slots shown as dialogs instead of killing the app."""

from __future__ import annotations

import json
import sys

import numpy as np
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from sdedit_desktop.ui import app as app_module
from sdedit_desktop.ui.errors import error_handler
from sdedit_desktop.ui.main_window import MainWindow


def test_parser_flags():
    args = app_module.build_parser().parse_args(
        ["img.png", "--model", "tiny", "--device", "cpu", "--dtype", "float32"])
    assert (str(args.path), args.model, args.device, args.dtype) == ("img.png", "tiny", "cpu",
                                                                     "float32")


def test_main_opens_image_loads_model_and_saves_settings(qtbot, tmp_path, monkeypatch):
    image = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    path = tmp_path / "start.png"
    Image.fromarray(image).save(path)
    config = tmp_path / "config"
    seen: dict = {}
    errors = []

    earlier = {id(w) for w in QApplication.topLevelWidgets()}  # other tests' leftovers

    def check_and_close() -> None:
        window = next((w for w in QApplication.topLevelWidgets()
                       if isinstance(w, MainWindow) and id(w) not in earlier), None)
        if (window is None or getattr(window.model_state, "status", "") != "ready"
                or not window.doc.has_image):
            QTimer.singleShot(50, check_and_close)
            return
        seen["image"] = window.doc.image.copy()
        seen["model"] = window.model_label.text()
        # An exception escaping a slot becomes an error dialog; the window lives on.
        sys.excepthook(RuntimeError, RuntimeError("boom"), None)
        seen["alive"] = window.isVisible()
        window.close()

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setenv("SDEDIT_CONFIG_DIR", str(config))  # main() sets it; restored after
    QTimer.singleShot(50, check_and_close)
    guard = QTimer()  # never hang the suite if something is wrong; stopped afterwards
    guard.setSingleShot(True)
    guard.timeout.connect(QApplication.quit)
    guard.start(60000)
    with error_handler(lambda _p, e: errors.append(e)):
        code = app_module.main([str(path), "--model", "tiny", "--device", "cpu",
                                "--config-dir", str(config)])
    guard.stop()
    assert code == 0
    assert np.array_equal(seen["image"], image)
    assert "tiny" in seen["model"] and seen["alive"]
    assert [e.title for e in errors] == ["Unexpected error"]
    assert "boom" in errors[0].message
    saved = json.loads((config / "settings.json").read_text())
    assert saved["model_source"] == "tiny"
    assert saved["recent_files"] == [str(path.resolve())]
    assert saved["window_geometry"]


def test_self_test_flag_hands_over_with_its_options(monkeypatch):
    import sdedit_desktop.selftest as selftest

    calls = []
    monkeypatch.setattr(selftest, "run_self_test_cli", lambda argv: calls.append(argv) or 0)
    assert app_module.main(["--self-test", "--steps", "10"]) == 0
    assert calls == [["--steps", "10"]]
