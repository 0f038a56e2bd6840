"""The run box's line about the next edit: its estimated time (or model evaluations before any
measurement), what is missing when it cannot run yet, and, on a slow device, the draft preset.
Follows everything that changes the next edit: its parameters and kind, the image, the model and
finished edits."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from shiboken6 import isValid

from sdedit_desktop.edits.presets import DRAFT, PAPER
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.widgets import RunBox


class EstimatePresenter(QObject):
    def __init__(self, editor: EditorModel, run_box: RunBox, parent: QObject | None = None):
        super().__init__(parent)
        self.editor, self.run_box = editor, run_box
        editor.params.changed.connect(self.refresh)
        editor.editKindChanged.connect(self.refresh)
        editor.doc.imageChanged.connect(self.refresh)
        editor.doc.pointsChanged.connect(self.refresh)
        editor.modelStateChanged.connect(self.refresh)
        editor.jobs.ended.connect(self.refresh)
        # The auto edit region follows the mask: refresh once a stroke pauses, not per segment.
        self._mask_timer = QTimer(self)
        self._mask_timer.setSingleShot(True)
        self._mask_timer.setInterval(250)
        self._mask_timer.timeout.connect(self.refresh)
        editor.doc.maskChanged.connect(self._mask_changed)  # a method: gone with this object
        run_box.draft_button.toggled.connect(self._draft_toggled)
        self.refresh()

    def refresh(self, *_args: object) -> None:
        if not isValid(self.run_box):  # the window is being torn down; the model outlives it
            return
        edit = self.editor.next_edit()
        try:
            estimate = self.editor.next_edit_estimate()
        except Exception:
            estimate = None
        box = self.run_box
        if estimate is not None:
            box.estimate.setText(estimate.text())
            box.estimate.setToolTip(
                "Model evaluations of the edit's job plan (UNet samples: a guided step "
                "evaluates two)"
                + (" × the time per evaluation measured on this model, device and size."
                   if estimate.seconds is not None else
                   "; the time is shown once an edit has run on this model and device."))
        else:  # nothing to estimate: say what the edit still needs
            box.estimate.setText(edit.problem)
            box.estimate.setToolTip(edit.problem)
        draft = self.editor.params.preset(self.editor.edit_kind) == DRAFT
        # Offered on slow devices; once on, it stays visible so it can be switched off.
        box.draft_button.setVisible(estimate is not None and (estimate.slow or draft))
        box.draft_button.blockSignals(True)
        box.draft_button.setChecked(draft)
        box.draft_button.setText("Draft ✓" if draft else "Draft")
        box.draft_button.blockSignals(False)

    def _mask_changed(self, _box: object) -> None:
        self._mask_timer.start()

    def _draft_toggled(self, on: bool) -> None:
        self.editor.params.apply_preset(DRAFT if on else PAPER)
        self.editor.message.emit("Draft preset: fewer steps, a rough result fast." if on else
                                 "Paper defaults restored.", 4000)
