"""`sdedit-desktop`: the GUI entry point.

    sdedit-desktop [IMAGE_OR_PROJECT] [--model SOURCE] [--device D] [--dtype T]
                   [--config-dir DIR] [--self-test]

`--self-test` is dispatched by the entry point `sdedit_desktop.gui` to `sdedit_desktop.selftest`
(window + engine + tiny model + one SDE-Drag, offscreen; exit code 0 on success), which the
packaging smoke test also runs; this module only lists it in --help."""

from __future__ import annotations

import argparse
import os
import sys
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
                        help="check the whole stack offscreen (window, engine, tiny model, one "
                        "SDE-Drag) and exit; see `sdedit-desktop --self-test --help`")
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
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:  # listed for --help; the entry point (sdedit_desktop.gui) runs it
        parser.error("--self-test is run by the sdedit-desktop entry point "
                     "(python -m sdedit_desktop.gui --self-test)")
    if args.config_dir:
        os.environ["SDEDIT_CONFIG_DIR"] = str(args.config_dir)

    from sdedit_desktop.ui import system_libs

    missing = system_libs.xcb_problem()
    if missing is not None:  # Qt would abort with a misleading message: say what to install
        print(f"sdedit-desktop: {missing}", file=sys.stderr)
        return 2

    from PySide6.QtCore import QTimer

    from sdedit_desktop.engine import Engine
    from sdedit_desktop.ui.errors import show_error
    from sdedit_desktop.ui.main_window import MainWindow
    from sdedit_desktop.ui.model_setup import ModelSetupDialog
    from sdedit_desktop.ui.settings import load_settings

    app = _application([])
    if not _qt_binding_usable():
        return 2
    settings, problems = load_settings()
    _apply_overrides(settings, args)
    engine = Engine()
    window = MainWindow(engine, settings)
    # Closing the main window ends the app even if a dialog or another window is still open.
    window.closed.connect(app.quit)
    _install_excepthook(window)
    if not settings.window_geometry:  # first start: the default size, or what the screen has
        fit_to_screen(window)
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
            # Read off the UI thread: the window paints and says what it opens meanwhile.
            window.files.open_in_background(args.path)
        else:
            window.files.offer_recovery()

    QTimer.singleShot(0, start)
    code = app.exec()
    engine.shutdown()
    return int(code)


def _qt_binding_usable() -> bool:
    """Refuse to start on a Qt binding that would abort the app mid-edit (ui/qt_health.py)."""
    from PySide6.QtWidgets import QMessageBox

    from sdedit_desktop.ui.qt_health import qt_binding_problem

    problem = qt_binding_problem()
    if problem is None:
        return True
    print(f"sdedit-desktop: {problem}", file=sys.stderr)
    QMessageBox.critical(None, "sdedit-desktop cannot start", problem)
    return False


def _apply_overrides(settings, args: argparse.Namespace) -> None:
    if args.model:
        settings.model_source = args.model
    if args.device:
        settings.device = args.device
    if args.dtype:
        settings.dtype = args.dtype


if __name__ == "__main__":
    sys.exit(main())


def fit_to_screen(window) -> None:
    """Shrink `window` to the free area of its screen when its size does not fit there (a
    1280x800 laptop), centred: a first start must not open with the edit panel off-screen."""
    screen = window.screen()
    if screen is None:
        return
    free = screen.availableGeometry()
    # The frame (title bar, borders) is not known before the window is shown: keep room for it.
    width = min(window.width(), free.width() - 16)
    height = min(window.height(), free.height() - 48)
    window.resize(width, height)
    window.move(free.x() + (free.width() - width) // 2, free.y() + (free.height() - height) // 2)
