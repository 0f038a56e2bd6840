"""Edit > Settings…: the persistent preferences (saved as JSON in the user config folder)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sdedit_desktop.ui.mask_colour import SUGGESTED, colour_text, is_mask_colour, mask_rgb
from sdedit_desktop.ui.model_setup import DEVICES, DTYPES, ModelSetupDialog
from sdedit_desktop.ui.settings import AppSettings, settings_path


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Settings")
        self.setMinimumWidth(480)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        model_row = QHBoxLayout()
        self.model_label = QLabel(settings.model_source or "none")
        self.model_label.setWordWrap(True)
        change = QPushButton("Change…")
        change.clicked.connect(self._change_model)
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(change)
        form.addRow("Model", model_row)
        self.device = QComboBox()
        for value, text in DEVICES:
            self.device.addItem(text, value)
        self.device.setCurrentIndex(max(self.device.findData(settings.device), 0))
        form.addRow("Device", self.device)
        self.dtype = QComboBox()
        for value, text in DTYPES:
            self.dtype.addItem(text, value)
        self.dtype.setCurrentIndex(max(self.dtype.findData(settings.dtype), 0))
        form.addRow("Precision", self.dtype)
        self.max_side = QSpinBox()
        self.max_side.setRange(0, 4096)
        self.max_side.setSingleStep(64)
        self.max_side.setSpecialValueText("keep size")
        self.max_side.setValue(settings.max_side)
        self.max_side.setToolTip("Default longest side the image is scaled to for an edit.")
        form.addRow("Default max side (px)", self.max_side)
        self.opacity = QDoubleSpinBox()
        self.opacity.setRange(0.0, 1.0)
        self.opacity.setSingleStep(0.05)
        self.opacity.setValue(settings.overlay_opacity)
        form.addRow("Mask overlay opacity", self.opacity)
        self.mask_colour = MaskColourButton(settings.mask_colour)
        form.addRow("Mask colour", self.mask_colour)
        self.autosave = QSpinBox()
        self.autosave.setRange(0, 60)
        self.autosave.setSpecialValueText("off")
        self.autosave.setSuffix(" min")
        self.autosave.setValue(settings.autosave_minutes)
        self.autosave.setToolTip("How often unsaved work is copied to the recovery folder.")
        form.addRow("Autosave every", self.autosave)
        self.export_quality = QSpinBox()
        self.export_quality.setRange(1, 100)
        self.export_quality.setValue(settings.export_quality)
        self.export_quality.setToolTip("Quality of exported JPEG and WebP images (PNG is "
                                       "lossless).")
        form.addRow("JPEG/WebP quality", self.export_quality)
        self.embed_loras = QCheckBox("Save projects with the LoRA weights their edits used")
        self.embed_loras.setChecked(settings.embed_loras)
        self.embed_loras.setToolTip(
            "A drag with LoRA 'Auto' trains per-image weights into the local LoRA cache. With "
            "this on, saving a project copies them into the .sdeproj (a few MB each), and "
            "opening it on another machine puts them into that machine's cache.")
        form.addRow("LoRAs", self.embed_loras)
        clear_recent = QPushButton("Clear recent files")
        clear_recent.setEnabled(bool(settings.recent_files))
        clear_recent.clicked.connect(self._clear_recent)
        self.clear_recent_button = clear_recent
        form.addRow("", clear_recent)
        layout.addLayout(form)
        where = QLabel(f"Settings file: {settings_path()}")
        where.setWordWrap(True)
        where.setStyleSheet("color: gray")
        layout.addWidget(where)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._source = settings.model_source
        self._pickle = settings.allow_pickle
        self._prediction = settings.prediction_type
        self._recent = list(settings.recent_files)

    def _change_model(self) -> None:
        probe = AppSettings(model_source=self._source, device=self.device.currentData(),
                            dtype=self.dtype.currentData(), allow_pickle=self._pickle,
                            prediction_type=self._prediction)
        dialog = ModelSetupDialog(probe, self)
        if dialog.exec():
            self._source, self._pickle = probe.model_source, probe.allow_pickle
            self._prediction = probe.prediction_type
            self.device.setCurrentIndex(max(self.device.findData(probe.device), 0))
            self.dtype.setCurrentIndex(max(self.dtype.findData(probe.dtype), 0))
            self.model_label.setText(self._source or "none")

    def _clear_recent(self) -> None:
        self._recent = []
        self.clear_recent_button.setText("Recent files will be cleared")
        self.clear_recent_button.setEnabled(False)

    def accept(self) -> None:
        s = self.settings
        s.model_source, s.allow_pickle = self._source, self._pickle
        s.prediction_type = self._prediction
        s.device, s.dtype = self.device.currentData(), self.dtype.currentData()
        s.max_side = int(self.max_side.value())
        s.overlay_opacity = float(self.opacity.value())
        s.mask_colour = self.mask_colour.colour()
        s.autosave_minutes = int(self.autosave.value())
        s.export_quality = int(self.export_quality.value())
        s.embed_loras = self.embed_loras.isChecked()
        s.recent_files = self._recent
        super().accept()


class MaskColourButton(QPushButton):
    """Shows the colour as a swatch with its name; a click opens the colour dialog."""

    colourChanged = Signal(str)

    def __init__(self, colour: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip("Colour of the mask overlay on the canvas: pick one that stands out "
                        "on your photo.")
        self._colour = colour_text(mask_rgb(colour))
        self.clicked.connect(self._choose)
        self._show()

    def colour(self) -> str:
        return self._colour

    def set_colour(self, colour: str) -> None:
        """Set "#rrggbb"; ValueError naming the value for anything else."""
        if not is_mask_colour(colour):
            raise ValueError(f"a mask colour is #rrggbb, got {colour!r}")
        colour = colour.lower()
        if colour != self._colour:
            self._colour = colour
            self._show()
            self.colourChanged.emit(colour)

    def _show(self) -> None:
        r, g, b = mask_rgb(self._colour)
        text = "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"
        self.setText(self._colour)
        self.setStyleSheet(f"background-color: {self._colour}; color: {text};")

    def _choose(self) -> None:
        for index, suggestion in enumerate(SUGGESTED):
            QColorDialog.setCustomColor(index, QColor(suggestion))
        chosen = QColorDialog.getColor(QColor(self._colour), self, "Mask colour")
        if chosen.isValid():
            self.set_colour(chosen.name())
