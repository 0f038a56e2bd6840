"""Binds the edit region: the canvas frame and the status-bar label follow the region of the next
edit (`EditorModel.next_edit`: refreshed when the points, mask, kind, parameters or the user's
choice change; mask strokes are coalesced), and "Auto region" and "Whole image" set the choice.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel
from shiboken6 import isValid

from sdedit_desktop.edits.region import whole_image
from sdedit_desktop.ui.canvas import CanvasView
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.region import scale_text

MASK_DELAY_MS = 80  # a stroke changes the mask at every mouse move: bound it once it pauses


class RegionPresenter(QObject):
    def __init__(self, editor: EditorModel, canvas: CanvasView, parent: QObject | None = None):
        super().__init__(parent)
        self.editor, self.canvas = editor, canvas
        self.label = QLabel("")
        # Room for the longest usual text, so the status bar does not jump as it changes.
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(
            "Region 0000x0000 → 0000x0000 (0.00x) (auto)"))
        self.label.setToolTip("The part of the image the next edit changes and the size the "
                              "model works at")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(MASK_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        doc = editor.doc
        for signal in (doc.regionChanged, doc.pointsChanged, doc.imageChanged,
                       editor.params.changed, editor.editKindChanged, editor.shownChanged,
                       editor.modelStateChanged):
            signal.connect(self.refresh)
        doc.maskChanged.connect(self._mask_changed)  # a method: gone with this object
        self.refresh()

    def _mask_changed(self, _box: object) -> None:
        self._timer.start()

    # -- actions ----------------------------------------------------------------------------
    def auto(self) -> None:
        """Back to the region the edit picks itself (undoable)."""
        self.editor.set_region(None, "Auto edit region")

    def whole(self) -> None:
        """The whole image as the region (undoable)."""
        if self.editor.doc.has_image:
            self.editor.set_region(whole_image(*self.editor.doc.size), "Whole image region")

    # -- state --------------------------------------------------------------------------------
    def refresh(self, *_args: object) -> None:
        self._timer.stop()
        if not (isValid(self.label) and isValid(self.canvas)):  # the window is being torn down
            return
        editor = self.editor
        state = editor.next_edit()  # the loaded model's family sizes the auto region
        self.canvas.set_region_frame(state.region, state.explicit, state.shown,
                                     state.region_error)
        entry = editor.shown_entry()
        if entry is not None and entry.result.region is not None:
            # A history entry is shown: what its edit really used.
            text = scale_text(entry.result.region, entry.request.max_side,
                              entry.result.work_scale)
            self.label.setText(f"{text} (used)")
            self.label.setToolTip("The region and scale this history entry's edit used")
            return
        text = scale_text(state.region, state.max_side) if state.region else ""
        if state.region is not None and state.shown and not state.explicit:
            text += " (auto)"
        if state.region_error:
            text += " — not usable"
        self.label.setText(text)
        self.label.setToolTip(state.region_error or (
            "Your edit region: drag it, its edges or handles (Region tool, R); "
            "Edit > Auto region restores the automatic one" if state.explicit else
            "The region the next edit picks automatically; drag its handles to choose one"))
