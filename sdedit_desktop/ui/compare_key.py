"""Hold C to compare, wherever the keyboard focus is: an application-level event filter sends
the compare key to the canvas whenever the main window is active (not only when the canvas
has focus): over the canvas, the history, a slider, a check box and a number box alike (a
number box cannot take a letter, so C there can only mean compare). Only a text field that is
being typed in (a prompt, a LoRA path, an editable list) keeps its C: there it types the letter
(documented in Help > Shortcuts; click the canvas or press Tab to leave the field). With the
working image on the canvas and it being a finished edit's result, holding C shows that edit's
input, and releasing it returns to the working image."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTextEdit,
    QWidget,
)

from sdedit_desktop.ui.canvas import COMPARE_KEY, CanvasView
from sdedit_desktop.ui.model.editor import EditorModel

_TEXT_FIELDS = (QLineEdit, QTextEdit, QPlainTextEdit)


def _typing_in(widget: QObject) -> bool:
    """Whether a C typed into `widget` is text: a text field, an editable combo box, or a
    number box whose digits include letters (base > 12). A number box's own line edit counts
    as the number box."""
    if isinstance(widget, QLineEdit) and isinstance(widget.parent(), QAbstractSpinBox):
        widget = widget.parent()
    if isinstance(widget, QAbstractSpinBox):
        return isinstance(widget, QSpinBox) and widget.displayIntegerBase() > 12
    if isinstance(widget, _TEXT_FIELDS):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


class CompareKeyFilter(QObject):
    def __init__(self, window: QWidget, canvas: CanvasView, editor: EditorModel,
                 below_canvas: QWidget | None = None):
        super().__init__(window)
        self.window, self.canvas, self.editor = window, canvas, editor
        # Shown for history entries (the trajectory player): kept hidden during a momentary
        # compare, so the canvas does not shrink and the image does not jump while C is held.
        self.below_canvas = below_canvas
        self._restore_working = False  # C showed the working image's source entry
        QApplication.instance().installEventFilter(self)
        window.destroyed.connect(self._uninstall)

    def _uninstall(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        assert isinstance(event, QKeyEvent)
        if event.key() != COMPARE_KEY or event.modifiers() != Qt.KeyboardModifier.NoModifier:
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self.window or _typing_in(obj):
            return False
        if kind == QEvent.Type.KeyPress:
            if not event.isAutoRepeat():
                self._press(event)
        elif not event.isAutoRepeat():
            self._release(event)
        return True

    def _press(self, event: QKeyEvent) -> None:
        editor = self.editor
        source = editor.working_source_id()
        if editor.shown_entry_id is None and source is not None and not editor.jobs.busy:
            editor.show_entry(source)  # input vs result of the edit the working image is
            self._restore_working = True
            if self.below_canvas is not None:
                self.below_canvas.setVisible(False)
        self.canvas.keyPressEvent(event)
        self.canvas.viewport().update()

    def _release(self, event: QKeyEvent) -> None:
        self.canvas.keyReleaseEvent(event)
        if self._restore_working:
            self._restore_working = False
            if self.editor.shown_entry_id == self.editor.working_source_id():
                self.editor.show_entry(None)
        self.canvas.viewport().update()
