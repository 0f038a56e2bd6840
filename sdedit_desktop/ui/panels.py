"""Method panels: one per edit method, built from `params.py`. Each turns its widgets plus the
canvas state (image, mask, points) into an edit request, or refuses with a clear message."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QTabBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.ui.document import PointPair
from sdedit_desktop.ui.params import (
    LORA_TIP,
    MAX_SIDE_TIP,
    METHOD_LABELS,
    METHOD_TIPS,
    PANEL_HINTS,
    PANELS,
    SEED_TIP,
    ParamSpec,
    default_of,
)


class InputError(ValueError):
    """The panel cannot build a request from what is on screen; the message says what to do."""


class MethodPanel(QWidget):
    changed = Signal()

    def __init__(self, kind: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.request_cls, self.specs = PANELS[kind]
        self.widgets: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        method_row = QHBoxLayout()
        self.method_group = QButtonGroup(self)
        sde_label, ode_label = METHOD_LABELS[kind]
        sde_tip, ode_tip = METHOD_TIPS[kind]
        self.sde_button = QRadioButton(sde_label)
        self.ode_button = QRadioButton(ode_label)
        self.sde_button.setToolTip(sde_tip)
        self.ode_button.setToolTip(ode_tip)
        self.sde_button.setChecked(True)
        for button in (self.sde_button, self.ode_button):
            self.method_group.addButton(button)
            method_row.addWidget(button)
            button.toggled.connect(self.changed)
        method_row.addStretch(1)
        layout.addLayout(method_row)
        hint = QLabel(PANEL_HINTS[kind])
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #6b7280;")
        layout.addWidget(hint)

        basic = QFormLayout()
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced parameters")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        advanced_box = QWidget()
        advanced = QFormLayout(advanced_box)
        advanced.setContentsMargins(0, 0, 0, 0)
        for spec in self.specs:
            widget = self._make_widget(spec)
            self.widgets[spec.name] = widget
            label = QLabel(spec.label)
            label.setToolTip(spec.tooltip)
            (advanced if spec.advanced else basic).addRow(label, widget)
        layout.addLayout(basic)
        if self.kind == "drag":
            basic.addRow(self._lora_label(), self._lora_row())
        if advanced.rowCount():
            # Collapsing hides the rows but keeps their values.
            def toggle(on: bool) -> None:
                advanced_box.setVisible(on)
                self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on
                                                  else Qt.ArrowType.RightArrow)

            self.advanced_toggle.toggled.connect(toggle)
            advanced_box.setVisible(False)
            layout.addWidget(self.advanced_toggle)
            layout.addWidget(advanced_box)
        self.extra = QVBoxLayout()  # panel-specific info (PSNR) goes here
        layout.addLayout(self.extra)
        reset = QPushButton("Reset to paper defaults")
        reset.setToolTip("Set every parameter of this method back to the paper's default.")
        reset.clicked.connect(self.reset_defaults)
        layout.addWidget(reset, alignment=Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self.reset_defaults()

    # -- widgets ------------------------------------------------------------------------------
    def _make_widget(self, spec: ParamSpec) -> QWidget:
        if spec.kind == "float":
            w = QDoubleSpinBox()
            w.setRange(spec.minimum, spec.maximum)
            w.setSingleStep(spec.step)
            w.setDecimals(spec.decimals)
            w.valueChanged.connect(self.changed)
        elif spec.kind == "int":
            w = QSpinBox()
            w.setRange(int(spec.minimum), int(spec.maximum))
            w.setSingleStep(int(spec.step))
            w.valueChanged.connect(self.changed)
        elif spec.kind == "choice":
            w = QComboBox()
            for value, text in spec.choices:
                w.addItem(text, value)
            w.currentIndexChanged.connect(self.changed)
        else:
            w = QLineEdit()
            w.setClearButtonEnabled(True)
            w.textChanged.connect(self.changed)
        w.setToolTip(spec.tooltip)
        w.setObjectName(f"{self.kind}.{spec.name}")
        return w

    def _lora_label(self) -> QLabel:
        label = QLabel("LoRA")
        label.setToolTip(LORA_TIP)
        return label

    def _lora_row(self) -> QWidget:
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        self.lora_mode = QComboBox()
        for value, text in (("off", "Off"), ("auto", "Auto (train / cached)"),
                            ("file", "From file…")):
            self.lora_mode.addItem(text, value)
        self.lora_mode.setToolTip(LORA_TIP)
        self.lora_path = QLineEdit()
        self.lora_path.setPlaceholderText("LoRA .safetensors")
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose a LoRA .safetensors file")
        browse.clicked.connect(self._browse_lora)
        self.lora_mode.currentIndexChanged.connect(self._lora_mode_changed)
        h.addWidget(self.lora_mode)
        h.addWidget(self.lora_path, 1)
        h.addWidget(browse)
        self._lora_browse = browse
        self._lora_mode_changed()
        return row

    def _lora_mode_changed(self) -> None:
        is_file = self.lora_mode.currentData() == "file"
        self.lora_path.setVisible(is_file)
        self._lora_browse.setVisible(is_file)
        self.changed.emit()

    def _browse_lora(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "LoRA weights", "",
                                              "LoRA weights (*.safetensors)")
        if path:
            self.lora_path.setText(path)

    # -- values -------------------------------------------------------------------------------
    def method(self) -> str:
        return "sde" if self.sde_button.isChecked() else "ode"

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method()}
        for spec in self.specs:
            w = self.widgets[spec.name]
            if isinstance(w, QDoubleSpinBox):
                out[spec.name] = float(w.value())
            elif isinstance(w, QSpinBox):
                out[spec.name] = int(w.value())
            elif isinstance(w, QComboBox):
                out[spec.name] = w.currentData()
            else:
                assert isinstance(w, QLineEdit)
                out[spec.name] = w.text().strip()
        if self.kind == "drag":
            mode = self.lora_mode.currentData()
            out["lora"] = self.lora_path.text().strip() if mode == "file" else mode
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        """Show the parameters of a request (history: "load parameters")."""
        if "method" in values:
            (self.sde_button if values["method"] == "sde" else self.ode_button).setChecked(True)
        for spec in self.specs:
            if spec.name not in values:
                continue
            value, w = values[spec.name], self.widgets[spec.name]
            if isinstance(w, QDoubleSpinBox | QSpinBox):
                w.setValue(value)
            elif isinstance(w, QComboBox):
                index = w.findData(value)
                if index >= 0:
                    w.setCurrentIndex(index)
            elif isinstance(w, QLineEdit):
                w.setText(str(value))
        if self.kind == "drag" and "lora" in values:
            lora = str(values["lora"])
            mode = lora if lora in ("off", "auto") else "file"
            self.lora_mode.setCurrentIndex(self.lora_mode.findData(mode))
            self.lora_path.setText(lora if mode == "file" else "")

    def reset_defaults(self) -> None:
        values: dict[str, Any] = {"method": default_of(self.request_cls, "method")}
        for spec in self.specs:
            values[spec.name] = default_of(self.request_cls, spec.name)
        if self.kind == "drag":
            values["lora"] = default_of(self.request_cls, "lora")
        self.set_values(values)

    # -- requests -----------------------------------------------------------------------------
    def build_request(self, image: np.ndarray | None, mask: np.ndarray | None,
                      points: list[PointPair], seed: int, max_side: int | None,
                      model: ModelIdentity | None) -> EditRequest:
        """The request for what is on screen, or InputError saying what is missing."""
        if image is None:
            raise InputError("Open an image first (File > Open, drop a file, paste, or pick a "
                             "sample).")
        values = self.values()
        values.update(seed=seed, max_side=max_side, model=model)
        # The request owns copies: the canvas keeps painting into its mask while a job runs,
        # and a history entry must keep exactly what was sent.
        image = image.copy()
        mask = None if mask is None else mask.copy()
        mask_any = mask is not None and bool(mask.any())
        if self.kind == "drag":
            pairs = self._drag_pairs(points)
            values["points"] = pairs
            lora = values["lora"]
            if lora not in ("off", "auto"):
                if not lora:
                    raise InputError("LoRA 'From file' is selected but no file is chosen. Pick a "
                                     ".safetensors file or set LoRA to Off/Auto.")
                if not Path(lora).is_file():
                    raise InputError(f"The LoRA file does not exist: {lora}")
            # A drag mask is optional: without one the whole image may change.
            return self.request_cls(image=image, mask=mask if mask_any else None, **values)
        if self.kind == "inpaint":
            if not mask_any:
                raise InputError("Inpainting needs a mask: paint the region to fill with the "
                                 "brush (Brush tool, key B) before running.")
            return self.request_cls(image=image, mask=mask, **values)
        if self.kind == "diffedit":
            if not values["target_prompt"]:
                raise InputError("DiffEdit needs a target prompt describing the edited image.")
            if values["mask_mode"] == "auto" and values["source_prompt"] == values["target_prompt"]:
                raise InputError("The source and target prompts are identical, so the automatic "
                                 "mask would be empty. Describe what should change.")
            if values["mask_mode"] == "user" and not mask_any:
                raise InputError("Mask mode is 'Your mask' but the mask is empty: paint the "
                                 "region to edit, or switch the mask to Auto.")
            user_mask = mask if values["mask_mode"] == "user" else None
            return self.request_cls(image=image, mask=user_mask, **values)
        return self.request_cls(image=image, mask=None, **values)

    @staticmethod
    def _drag_pairs(points: list[PointPair]) -> tuple:
        if not points:
            raise InputError("Drag needs points: with the Points tool click a source, then "
                             "where it should go (the target).")
        for index, (_, target) in enumerate(points):
            if target is None:
                raise InputError(f"Point pair {index + 1} has a source but no target: click "
                                 "where it should go, or delete it.")
        pairs = tuple((tuple(s), tuple(t)) for s, t in points)
        if all(s == t for s, t in pairs):
            raise InputError("Every target equals its source, so nothing would move. Drag a "
                             "target point away from its source.")
        return pairs


class PanelStack(QWidget):
    """Method tabs, the panels and the settings every method shares (seed, max size)."""

    methodChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.tabs = QTabBar()
        self.tabs.setExpanding(True)
        self.stack = QStackedWidget()
        self.panels: dict[str, MethodPanel] = {}
        for kind, title in (("drag", "Drag"), ("inpaint", "Inpaint"), ("diffedit", "DiffEdit"),
                            ("reconstruct", "Reconstruct")):
            panel = MethodPanel(kind)
            self.panels[kind] = panel
            self.tabs.addTab(title)
            self.stack.addWidget(panel)
        self.tabs.currentChanged.connect(self._tab_changed)
        layout.addWidget(self.tabs)
        layout.addWidget(self.stack, 1)

        common = QGroupBox("Every method")
        form = QFormLayout(common)
        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(1234)
        self.seed.setToolTip(SEED_TIP)
        dice = QToolButton()
        dice.setText("New")
        dice.setToolTip("Pick a new random seed")
        dice.clicked.connect(self.new_seed)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(dice)
        form.addRow("Seed", seed_row)
        self.max_side = QSpinBox()
        self.max_side.setRange(0, 4096)
        self.max_side.setSingleStep(64)
        self.max_side.setValue(768)
        self.max_side.setSpecialValueText("keep size")
        self.max_side.setToolTip(MAX_SIDE_TIP)
        form.addRow("Max side (px)", self.max_side)
        layout.addWidget(common)

    def _tab_changed(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        self.methodChanged.emit(self.current_kind())

    def current_kind(self) -> str:
        return list(self.panels)[self.tabs.currentIndex()]

    def current(self) -> MethodPanel:
        return self.panels[self.current_kind()]

    def select(self, kind: str) -> MethodPanel:
        self.tabs.setCurrentIndex(list(self.panels).index(kind))
        return self.panels[kind]

    def new_seed(self) -> int:
        self.seed.setValue(random.randrange(0, 2**31 - 1))
        return int(self.seed.value())

    def max_side_value(self) -> int | None:
        return int(self.max_side.value()) or None

    def build_request(self, image: np.ndarray | None, mask: np.ndarray | None,
                      points: list[PointPair], model: ModelIdentity | None) -> EditRequest:
        return self.current().build_request(image, mask, points, int(self.seed.value()),
                                            self.max_side_value(), model)

    def show_request(self, request: EditRequest) -> None:
        """Put a past request's parameters back on screen."""
        panel = self.select(request.kind)
        panel.set_values(request.params())
        self.seed.setValue(request.seed)
        self.max_side.setValue(request.max_side or 0)
