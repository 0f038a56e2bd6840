"""The history panel: every edit of the `model.history.HistoryModel` with a thumbnail, method,
parameters, seed and duration."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sdedit_desktop.edits.kinds import kind_of
from sdedit_desktop.engine.qimage import rgb_to_qimage
from sdedit_desktop.project.model import HistoryEntry
from sdedit_desktop.textsafe import shown
from sdedit_desktop.ui.model.history import HistoryModel, method_label
from sdedit_desktop.ui.model.original import ORIGINAL_ID, Original

THUMB = 72


def entry_summary(entry: HistoryEntry, number: int, parent_number: int | None = None) -> str:
    """Two lines for the list; `parent_number` = the entry whose result this edit changed."""
    request = entry.request
    parts = [f"#{number} {method_label(entry)}"]
    if entry.label:
        parts[0] += f" — {entry.label}"
    detail = [f"seed {request.seed}", f"{entry.duration_s:.1f} s"]
    if "psnr" in entry.result.metrics:
        detail.append(f"PSNR {entry.result.metrics['psnr']:.2f} dB")
    detail += kind_of(request).history_detail(request)
    if parent_number is not None:
        detail.append(f"from #{parent_number}")
    elif entry.parent_id:
        detail.append("continued")
    return parts[0] + "\n" + " · ".join(detail)


def entry_tooltip(entry: HistoryEntry) -> str:
    params = entry.request.params()
    params.pop("image_sha256", None)
    params.pop("mask_sha256", None)
    lines = [f"{k}: {json.dumps(v)}" for k, v in params.items()]
    if entry.result.timings:
        lines.append("timings: " + ", ".join(f"{k} {v:.2f} s"
                                             for k, v in entry.result.timings.items()))
    if entry.result.unet_samples:
        lines.append(f"model evaluations: {entry.result.unet_samples} "
                     f"(in {entry.result.unet_calls} UNet calls)")
    if entry.lora_id:
        lines.append(f"LoRA: {entry.lora_id[:16]}…")
    return "\n".join(lines)


def thumbnail(image: np.ndarray, size: int = THUMB) -> QPixmap:
    # Every n-th pixel first (still 4x the thumbnail, smoothed below): converting a whole
    # 12 MP photo only to shrink it cost a third of a second on the UI thread.
    step = max(1, max(image.shape[:2]) // (4 * size))
    pixmap = QPixmap.fromImage(rgb_to_qimage(np.ascontiguousarray(image[::step, ::step])))
    return pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                         Qt.TransformationMode.SmoothTransformation)


class HistoryPanel(QWidget):
    entrySelected = Signal(object)  # entry id or None
    continueRequested = Signal(str)
    rerunRequested = Signal(str)
    paramsRequested = Signal(str)
    autoMaskRequested = Signal(str)

    def __init__(self, model: HistoryModel, parent: QWidget | None = None,
                 original: Callable[[], Original | None] = lambda: None):
        """`original()` gives the photo the session started from, listed first."""
        super().__init__(parent)
        self.model = model
        self.original = original
        self._thumbs: dict[str, QIcon] = {}
        self._original_thumb: tuple[np.ndarray, QIcon] | None = None
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setSpacing(2)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        # Selection, not the current item: Qt makes the first row current (without selecting
        # it) when the empty list area gets focus, and that must not show entry #1.
        self.list.itemSelectionChanged.connect(self._current_changed)
        layout.addWidget(self.list, 1)
        self.continue_button = QPushButton("Continue from this result")
        self.continue_button.setToolTip(
            "Make the selected result the working image (a finished edit already is; this "
            "goes back to an older one).")
        self.rerun_button = QPushButton("Re-run with new seed")
        self.rerun_button.setToolTip("Run the selected edit again with a fresh random seed.")
        self.params_button = QPushButton("Load parameters")
        self.params_button.setToolTip("Put the selected edit's parameters back in the panel.")
        self.continue_button.clicked.connect(lambda: self._emit(self.continueRequested))
        self.rerun_button.clicked.connect(lambda: self._emit(self.rerunRequested))
        self.params_button.clicked.connect(lambda: self._emit(self.paramsRequested))
        self.auto_mask_button = QPushButton("Use auto mask")
        self.auto_mask_button.setToolTip(
            "Put the mask this DiffEdit computed on the canvas (replaces the painted mask; "
            "undoable).")
        self.auto_mask_button.clicked.connect(lambda: self._emit(self.autoMaskRequested))
        layout.addWidget(self.continue_button)
        layout.addWidget(self.auto_mask_button)
        row = QHBoxLayout()
        row.addWidget(self.rerun_button)
        row.addWidget(self.params_button)
        layout.addLayout(row)
        model.changed.connect(self.rebuild)
        self.rebuild()

    def _emit(self, signal) -> None:
        entry_id = self.selected_id()
        if entry_id is not None:
            signal.emit(entry_id)

    def selected_id(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select(self, entry_id: str | None) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == entry_id:
                self.list.setCurrentItem(item)
                return
        self.list.setCurrentItem(None)
        self.list.clearSelection()

    def rebuild(self) -> None:
        selected = self.selected_id()
        self.list.blockSignals(True)
        self.list.clear()
        numbers = {e.id: n for n, e in enumerate(self.model.entries, start=1)}
        original = self.original()
        if original is not None:
            self.list.addItem(self._original_item(original))
        for number, entry in enumerate(self.model.entries, start=1):
            icon = self._thumbs.get(entry.id)
            if icon is None:
                icon = self._thumbs[entry.id] = QIcon(thumbnail(entry.result.image))
            item = QListWidgetItem(icon, entry_summary(entry, number,
                                                       numbers.get(entry.parent_id)))
            item.setToolTip(entry_tooltip(entry))
            item.setData(Qt.ItemDataRole.UserRole, entry.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        if selected is not None and (self.model.find(selected) is not None or (
                selected == ORIGINAL_ID and original is not None)):
            self.select(selected)
        elif selected is not None:
            self.entrySelected.emit(None)
        self._update_buttons()

    def _original_item(self, original: Original) -> QListWidgetItem:
        if self._original_thumb is None or self._original_thumb[0] is not original.image:
            self._original_thumb = (original.image, QIcon(thumbnail(original.image)))
        height, width = original.image.shape[:2]
        item = QListWidgetItem(self._original_thumb[1],
                               f"Original — {shown(original.label, 60)}\n{width}×{height}")
        item.setToolTip("The photo this session started from. Continue from it to edit it "
                        "again from the start (undoable).")
        item.setData(Qt.ItemDataRole.UserRole, ORIGINAL_ID)
        return item

    def _current_changed(self, *_: object) -> None:
        self._update_buttons()
        self.entrySelected.emit(self.selected_id())

    def _update_buttons(self) -> None:
        entry = self.model.find(self.selected_id())
        for button in (self.continue_button, self.rerun_button, self.params_button):
            button.setEnabled(entry is not None)
        if self.selected_id() == ORIGINAL_ID:  # the photo: no edit to re-run or read
            self.continue_button.setEnabled(True)
        self.auto_mask_button.setVisible(entry is not None and entry.result.mask is not None)
