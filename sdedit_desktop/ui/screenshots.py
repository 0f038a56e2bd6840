"""Render the main states of the editor to PNG, offscreen, for the README and for review:

    python -m sdedit_desktop.ui.screenshots OUTDIR [--size 1440x900]

Uses the real window, the real engine and the tiny demo model on a bundled CC0 sample (the tiny
model has random weights, so its results are not meaningful pictures; the UI is what is shown).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def _wait(app: Any, predicate: Callable[[], bool], timeout_s: float = 120.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def render_screenshots(outdir: Path, engine: Any = None, size: tuple[int, int] = (1440, 900),
                       log: Callable[[str], None] = print) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("SDEDIT_CONFIG_DIR", tempfile.mkdtemp(prefix="sdedit-shots-"))
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

    from sdedit_desktop.engine import Engine
    from sdedit_desktop.filesave import write_bytes
    from sdedit_desktop.resources import sample_images
    from sdedit_desktop.ui.canvas import Tool
    from sdedit_desktop.ui.errors import ShownError, build_error_box, error_handler
    from sdedit_desktop.ui.help_dialog import ShortcutsDialog
    from sdedit_desktop.ui.main_window import MainWindow
    from sdedit_desktop.ui.model_setup import ModelSetupDialog
    from sdedit_desktop.ui.settings import AppSettings
    from sdedit_desktop.ui.settings_dialog import SettingsDialog

    app = QApplication.instance() or QApplication([sys.argv[0]])
    outdir.mkdir(parents=True, exist_ok=True)
    own_engine = engine is None
    engine = engine or Engine()
    written: list[Path] = []
    errors: list[ShownError] = []

    def shot(widget: Any, name: str) -> None:
        app.processEvents()
        path = outdir / f"{name}.png"
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        widget.grab().save(buffer, "PNG")
        write_bytes(path, bytes(buffer.data()))
        written.append(path)
        log(f"wrote {path}")

    # The user's defaults (autosave every 2 minutes included: the settings shot shows them);
    # any autosave goes to a throwaway folder.
    settings = AppSettings(model_source="tiny", device="cpu")
    with error_handler(lambda _p, e: errors.append(e)):
        window = MainWindow(engine, settings)
        window.autosave_dir = Path(tempfile.mkdtemp(prefix="sdedit-shots-autosave-"))
        window.resize(*size)
        window.show()
        shot(window, "01-start")

        setup = ModelSetupDialog(AppSettings(), window, first_run=True)
        setup.show()
        shot(setup, "02-first-run-model-setup")
        setup.close()

        window.load_model(window.model_spec())
        _wait(app, lambda: getattr(window.model_state, "status", "") == "ready")
        sample = next((p for p in sample_images() if p.stem == "chelsea"), sample_images()[0])
        window.open_image(sample)
        w, h = window.doc.size
        window.set_tool(Tool.POINTS)
        window.doc.set_points([((int(w * 0.30), int(h * 0.45)), (int(w * 0.42), int(h * 0.35))),
                               ((int(w * 0.62), int(h * 0.55)), (int(w * 0.70), int(h * 0.62)))])
        window.set_tool(Tool.BRUSH)
        window.canvas.brush_radius = max(w, h) * 0.06
        for y in (0.30, 0.40, 0.50):
            window.doc.stroke((w * 0.22, h * y), (w * 0.78, h * (y + 0.15)),
                              window.canvas.brush())
        window.canvas.fit_to_window()
        panel = window.panels.select("drag")
        panel.widgets["prompt"].setText("a photo of a cat")
        window.panels.max_side.setValue(256)
        # On the CPU, before any run: the paper preset's model calls and the draft offer (the
        # demo model starts with the draft preset on: models/demo.py).
        window.run_box.draft_button.setChecked(False)
        shot(window, "03a-estimate-and-draft-offer")
        window.run_box.draft_button.setChecked(True)  # the draft preset: N = 50 drag steps
        shot(window, "03-drag-points-and-mask")

        # The edit region: the user's frame around the points (solid, with handles); the drag
        # below runs on it. Starts and sizes on multiples of 8, as the frame snaps them.
        def snap(v: float) -> int:
            return round(v / 8) * 8

        window.set_tool(Tool.REGION)
        window.editor.set_region((snap(w * 0.2), snap(h * 0.2), snap(w * 0.6), snap(h * 0.55)))
        shot(window, "03b-edit-region-frame")

        window.run_edit()
        _wait(app, lambda: window.preview_count >= 3 and window.run_box.bar.value() > 250)
        shot(window, "04-drag-running-live-preview")
        _wait(app, lambda: len(window.history.entries) == 1 or bool(errors), 300)
        window.compare.check.setChecked(True)
        window.compare.slider.setValue(450)
        shot(window, "05-result-before-after-split")
        window.compare.check.setChecked(False)
        # The result is the working image; hold C (focus anywhere) shows the input.
        window.show_working_image()
        shot(window, "05a-applied-result-is-the-working-image")
        window.history_panel.list.setFocus()
        QTest.keyPress(window.history_panel.list, Qt.Key.Key_C)
        shot(window, "05b-hold-c-compare-without-canvas-focus")
        QTest.keyRelease(window.history_panel.list, Qt.Key.Key_C)
        if window.player.slider.maximum() > 1:
            window.player.slider.setValue(1)
            shot(window, "06-drag-trajectory-step")
            window.player.slider.setValue(window.player.slider.maximum())

        window.show_working_image()
        window.panels.select("drag")
        shot(window, "07a-estimate-measured-after-a-run")
        window.panels.select("inpaint").widgets["prompt"].setText("a red ball")
        shot(window, "07-inpaint-panel")

        rec = window.panels.select("reconstruct")
        rec.widgets["steps"].setValue(20)
        window.run_edit()
        _wait(app, lambda: len(window.history.entries) == 2 or bool(errors), 300)
        shot(window, "08-reconstruct-psnr-and-history")

        box = build_error_box(window, ShownError(
            "Edit failed", "The drag edit failed: point pair 1 lies outside the image "
            "(512x384). Move the point inside the image and run again.",
            "EditError: target (700, 20) outside 512x384\n  File edits/drag.py, line 88"))
        box.show()
        app.processEvents()
        for button in box.findChildren(QPushButton):
            if box.buttonRole(button) == QMessageBox.ButtonRole.ActionRole:
                button.click()  # "Show Details..."
        shot(box, "09-error-dialog-with-details")
        box.close()

        settings_dialog = SettingsDialog(window.settings, window)
        settings_dialog.show()
        shot(settings_dialog, "10-settings")
        settings_dialog.close()
        help_dialog = ShortcutsDialog(window.shortcuts, window)
        help_dialog.show()
        shot(help_dialog, "11-keyboard-shortcuts")
        help_dialog.close()
        window.close()
    if own_engine:
        engine.shutdown()
    for e in errors:
        log(f"error shown while rendering: {e.title}: {e.message}")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdedit_desktop.ui.screenshots")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--size", default="1440x900", help="window size WxH")
    args = parser.parse_args(argv)
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        if len(size) != 2:
            raise ValueError
    except ValueError:
        parser.error(f"--size must look like 1440x900, got {args.size!r}")
    written = render_screenshots(args.outdir, size=size)  # type: ignore[arg-type]
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
