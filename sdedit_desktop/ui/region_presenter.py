"""Binds the edit region: the canvas frame and the status-bar label follow the region the next
edit would use (recomputed when the points, mask, kind, parameters or the user's choice change;
mask strokes are coalesced), "Auto region" and "Whole image" set the choice, and `apply` puts the
choice into the request Run sends (checked before anything is queued)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel
from shiboken6 import isValid

from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.edits.region import resolve_region, whole_image
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.ui.canvas import CanvasView
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.region import NextRegion, next_region, scale_text, uses_region
from sdedit_desktop.ui.panels import InputError

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
        self.state = NextRegion(None, False, False)
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

    def apply(self, request: EditRequest) -> EditRequest:
        """`request` with the user's region (kinds that use one; None = auto), or InputError
        when the edit would refuse it (a point outside the frame, the mask outside it)."""
        if not uses_region(request.kind):
            return request
        request = request.with_changes(region=self.editor.doc.region)
        try:
            resolve_region(request)
        except EditError as exc:
            raise InputError(f"{str(exc)[:1].upper()}{str(exc)[1:]}. Move or resize the frame, "
                             "or use Edit > Auto region.") from None
        return request

    # -- state --------------------------------------------------------------------------------
    def refresh(self, *_args: object) -> None:
        self._timer.stop()
        if not (isValid(self.label) and isValid(self.canvas)):  # the window is being torn down
            return
        editor = self.editor
        # The loaded model's family sizes the auto region (its native side).
        self.state = state = next_region(editor.doc, editor.params, editor.edit_kind,
                                         editor.model_state.identity)
        self.canvas.set_region_frame(state.region, state.explicit, state.shown, state.error)
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
        if state.error:
            text += " — not usable"
        self.label.setText(text)
        self.label.setToolTip(state.error or (
            "Your edit region: drag it, its edges or handles (Region tool, R); "
            "Edit > Auto region restores the automatic one" if state.explicit else
            "The region the next edit picks automatically; drag its handles to choose one"))
