"""`sdedit-desktop`: the GUI entry point.

    sdedit-desktop [IMAGE_OR_PROJECT] [--model SOURCE] [--device D] [--dtype T]
                   [--config-dir DIR] [--self-test]

`--self-test` starts the real window offscreen-capable, loads the tiny model, runs a short
SDE-Drag on a bundled sample through the engine and checks the result reached the history;
exit code 0 on success (used by the packaging smoke test)."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from sdedit_desktop import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdedit-desktop",
                                     description="SDE-based diffusion image editor.")
    parser.add_argument("path", nargs="?", type=Path,
                        help="an image or .sdeproj project to open")
    parser.add_argument("--model", help='model source: "tiny", a hub id, a diffusers folder or '
                        'a .safetensors file (overrides the settings for this run)')
    parser.add_argument("--device", help="auto, cuda, cuda:1, mps or cpu")
    parser.add_argument("--dtype", help="auto, float16, bfloat16, float32 or float64")
    parser.add_argument("--config-dir", type=Path, help="folder of settings.json")
    parser.add_argument("--self-test", action="store_true",
                        help="run a short tiny-model edit through the GUI stack and exit")
    parser.add_argument("--version", action="version", version=f"sdedit-desktop {__version__}")
    return parser


def _application(argv: Sequence[str]):
    from PySide6.QtWidgets import QApplication

    from sdedit_desktop.ui import icons

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("sdedit-desktop")
    app.setOrganizationName("sdedit-desktop")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(icons.app_icon())
    return app


def _install_excepthook(window) -> None:
    """An unexpected exception in a slot becomes an error dialog, never a dead window."""
    from sdedit_desktop.ui.errors import show_exception

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        traceback.print_exception(exc_type, exc, tb)
        try:
            show_exception(window, "Unexpected error",
                           f"Something went wrong: {exc}. Your work is still open; please "
                           "save it and report the details below.", exc)
        except Exception:
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.config_dir:
        os.environ["SDEDIT_CONFIG_DIR"] = str(args.config_dir)
    if args.self_test:
        return self_test(args)

    from PySide6.QtCore import QTimer

    from sdedit_desktop.engine import Engine
    from sdedit_desktop.ui import project_io
    from sdedit_desktop.ui.errors import show_error
    from sdedit_desktop.ui.main_window import MainWindow
    from sdedit_desktop.ui.model_setup import ModelSetupDialog
    from sdedit_desktop.ui.settings import load_settings

    app = _application([])
    settings, problems = load_settings()
    _apply_overrides(settings, args)
    engine = Engine()
    window = MainWindow(engine, settings)
    _install_excepthook(window)
    window.show()

    def start() -> None:
        if problems:
            show_error(window, "Settings reset", "Some settings could not be read and were "
                       "reset to defaults.", "\n".join(problems))
        spec = window.model_spec()
        if spec is None:
            dialog = ModelSetupDialog(window.settings, window, first_run=True)
            if dialog.exec():
                window.persist_settings()
                spec = window.model_spec()
        if spec is not None:
            window.load_model(spec)
        if args.path is not None:
            window.open_image(args.path)
        else:
            project_io.offer_recovery(window)

    QTimer.singleShot(0, start)
    code = app.exec()
    engine.shutdown()
    return int(code)


def _apply_overrides(settings, args: argparse.Namespace) -> None:
    if args.model:
        settings.model_source = args.model
    if args.device:
        settings.device = args.device
    if args.dtype:
        settings.dtype = args.dtype


def self_test(args: argparse.Namespace, timeout_s: float = 300.0) -> int:
    """Tiny model + bundled sample + a short SDE-Drag through engine and window."""
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if not args.config_dir:  # never touch the user's real settings
        os.environ["SDEDIT_CONFIG_DIR"] = tempfile.mkdtemp(prefix="sdedit-selftest-")
    from PySide6.QtCore import QEventLoop, QTimer

    from sdedit_desktop.engine import Engine
    from sdedit_desktop.resources import sample_images
    from sdedit_desktop.ui.errors import error_handler
    from sdedit_desktop.ui.main_window import MainWindow
    from sdedit_desktop.ui.settings import AppSettings

    app = _application([])
    errors: list[str] = []
    engine = Engine()
    settings = AppSettings(model_source="tiny", device=args.device or "cpu",
                           dtype=args.dtype or "auto", autosave_minutes=0)
    start = time.monotonic()

    def wait_for(predicate, what: str) -> bool:
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: (predicate() or errors) and loop.quit())
        timer.start(20)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
        timer.stop()
        if not predicate():
            if not errors:
                errors.append(f"timed out waiting for {what}")
            return False
        return True

    with error_handler(lambda _parent, e: errors.append(f"{e.title}: {e.message}\n{e.detail}")):
        window = MainWindow(engine, settings)
        window.show()
        samples = sample_images()
        ok = bool(samples) or errors.append("no bundled sample images found")
        ok = ok and window.open_image(samples[0])
        window.load_model(window.model_spec())
        ok = ok and wait_for(lambda: getattr(window.model_state, "status", "") == "ready",
                             "the tiny model")
        if ok:
            w, h = window.doc.size
            window.doc.set_points([((w // 3, h // 2), (w // 3 + w // 8, h // 2))])
            panel = window.panels.select("drag")
            panel.widgets["steps"].setValue(20)
            window.panels.max_side.setValue(64)
            job = window.run_edit()
            ok = job is not None and wait_for(lambda: len(window.history.entries) == 1,
                                              "the drag to finish")
        if ok:
            entry = window.history.entries[0]
            if entry.result.image.shape != window.doc.image.shape:
                errors.append(f"result shape {entry.result.image.shape} != input "
                              f"{window.doc.image.shape}")
        window.close()
    engine.shutdown()
    app.processEvents()
    if errors:
        print("self-test FAILED:\n" + "\n".join(errors), file=sys.stderr)
        return 1
    print(f"self-test OK: tiny-model SDE-Drag through the GUI in "
          f"{time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
