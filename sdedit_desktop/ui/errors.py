"""Every error the user sees goes through `show_error`: a dialog with a clear message and the
technical detail behind "Show Details...". Tests install a handler with `error_handler(...)` to
capture errors instead of blocking on a modal dialog."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PySide6.QtWidgets import QMessageBox, QWidget


@dataclass(frozen=True)
class ShownError:
    title: str
    message: str
    detail: str | None
    warning: bool = False  # a problem the app worked around (the operation went on)


ErrorHandler = Callable[[QWidget | None, ShownError], None]
_handlers: list[ErrorHandler] = []


def build_error_box(parent: QWidget | None, error: ShownError) -> QMessageBox:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning if error.warning else QMessageBox.Icon.Critical)
    box.setWindowTitle(error.title)
    box.setText(error.message)
    if error.detail:
        box.setDetailedText(error.detail)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    return box


def _dialog_handler(parent: QWidget | None, error: ShownError) -> None:
    build_error_box(parent, error).exec()


def show_error(parent: QWidget | None, title: str, message: str,
               detail: str | None = None) -> ShownError:
    """Show an error to the user (modal dialog unless a handler is installed)."""
    error = ShownError(title, message, detail)
    handler = _handlers[-1] if _handlers else _dialog_handler
    handler(parent, error)
    return error


def show_warning(parent: QWidget | None, title: str, message: str) -> ShownError:
    """Tell the user about a problem the app worked around (same route as `show_error`)."""
    error = ShownError(title, message, None, warning=True)
    handler = _handlers[-1] if _handlers else _dialog_handler
    handler(parent, error)
    return error


def show_exception(parent: QWidget | None, title: str, message: str,
                   exc: BaseException) -> ShownError:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return show_error(parent, title, message, detail)


@contextmanager
def error_handler(handler: ErrorHandler) -> Iterator[None]:
    """Route `show_error` to `handler` for the duration (tests, the self-test, screenshots)."""
    _handlers.append(handler)
    try:
        yield
    finally:
        _handlers.remove(handler)
