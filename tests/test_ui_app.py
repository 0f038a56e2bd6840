"""`sdedit-desktop` entry point: flags, first start with a model and an image, settings written
on close, errors in slots shown as dialogs instead of killing the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sdedit_desktop.ui import app as app_module


def test_parser_flags():
    args = app_module.build_parser().parse_args(
        ["img.png", "--model", "tiny", "--device", "cpu", "--dtype", "float32"])
    assert (str(args.path), args.model, args.device, args.dtype) == ("img.png", "tiny", "cpu",
                                                                     "float32")


_DRIVER = r"""
import json, sys
import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from sdedit_desktop.ui import app as app_module
from sdedit_desktop.ui.errors import error_handler
from sdedit_desktop.ui.main_window import MainWindow

path, config, out = sys.argv[1:4]
seen, errors = {}, []
qapp = QApplication(["sdedit-desktop"])  # timers need the application before main() runs

def check_and_close():
    window = next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None)
    if (window is None or getattr(window.model_state, "status", "") != "ready"
            or not window.doc.has_image):
        QTimer.singleShot(50, check_and_close)
        return
    seen["image_sum"] = int(window.doc.image.astype(np.int64).sum())
    seen["model"] = window.model_label.text()
    # An exception escaping a slot becomes an error dialog; the window lives on.
    sys.excepthook(RuntimeError, RuntimeError("boom"), None)
    seen["alive"] = window.isVisible()
    window.close()

QTimer.singleShot(50, check_and_close)
QTimer.singleShot(120000, QApplication.quit)
with error_handler(lambda _p, e: errors.append([e.title, e.message])):
    seen["code"] = app_module.main([path, "--model", "tiny", "--device", "cpu",
                                    "--config-dir", config])
seen["errors"] = errors
open(out, "w").write(json.dumps(seen))
"""


@pytest.mark.slow
def test_main_opens_image_loads_model_and_saves_settings(tmp_path):
    # In a subprocess: QApplication.exec() may run only once per process, and the rest of
    # the test session needs a live event loop.
    image = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    path = tmp_path / "start.png"
    Image.fromarray(image).save(path)
    config, out = tmp_path / "config", tmp_path / "seen.json"
    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(driver), str(path), str(config), str(out)],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(out.read_text())
    assert seen["code"] == 0
    assert seen["image_sum"] == int(image.astype(np.int64).sum())
    assert "tiny" in seen["model"] and seen["alive"]
    assert [e[0] for e in seen["errors"]] == ["Unexpected error"]
    assert "boom" in seen["errors"][0][1]
    saved = json.loads((config / "settings.json").read_text())
    assert saved["model_source"] == "tiny"
    assert saved["recent_files"] == [str(path.resolve())]
    assert saved["window_geometry"]


def test_self_test_flag_hands_over_with_its_options(monkeypatch):
    import sdedit_desktop.selftest as selftest
    from sdedit_desktop import gui

    calls = []
    monkeypatch.setattr(selftest, "run_self_test_cli", lambda argv: calls.append(argv) or 0)
    assert gui.main(["--self-test", "--steps", "10"]) == 0
    assert calls == [["--steps", "10"]]


def test_the_ui_never_imports_the_self_test():
    """The self-test drives the window, so it sits above the UI: no UI module imports it (the
    entry point `sdedit_desktop.gui` dispatches --self-test)."""
    import ast
    from pathlib import Path

    ui = Path(app_module.__file__).parent
    importers = []
    for path in sorted(ui.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.startswith("sdedit_desktop.selftest") for n in names):
                importers.append(path.name)
    assert importers == []


def test_only_entry_points_import_the_main_window():
    """The window is layout and wiring at the top: nothing below it may import it (that was an
    import cycle through the project I/O). Entry points and the screenshot tool may."""
    import ast
    from pathlib import Path

    package = Path(app_module.__file__).parent.parent
    allowed = {"ui/app.py", "ui/screenshots.py", "selftest.py"}
    importers = set()
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            names = {f"{node.module}.{a.name}" for a in node.names} | {node.module}
            if "sdedit_desktop.ui.main_window" in names:
                importers.add(path.relative_to(package).as_posix())
    assert importers <= allowed, importers - allowed
    assert "ui/app.py" in importers


def test_a_first_start_fits_the_window_to_a_small_screen(qtbot, monkeypatch):
    """The default 1400x900 window on a smaller screen is shrunk to its free area (centred), so
    the edit panel is never off-screen; a window that fits keeps its size."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QWidget

    window = QWidget()
    qtbot.addWidget(window)
    window.resize(1400, 900)
    screen = window.screen()
    monkeypatch.setattr(screen, "availableGeometry", lambda: QRect(0, 0, 1280, 768),
                        raising=False)
    monkeypatch.setattr(window, "screen", lambda: screen)
    app_module.fit_to_screen(window)
    assert (window.width(), window.height()) == (1264, 720)
    assert (window.x(), window.y()) == (8, 24)
    monkeypatch.setattr(screen, "availableGeometry", lambda: QRect(0, 0, 2560, 1440),
                        raising=False)
    window.resize(1400, 900)
    app_module.fit_to_screen(window)
    assert (window.width(), window.height()) == (1400, 900)
