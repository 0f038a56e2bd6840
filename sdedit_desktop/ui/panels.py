"""Method panels: one per edit kind, generated from the request schema (`params.py`) and the
kind's texts (`EditKind.methods`, `.hint`), bound to an `EditParams` (ui/model): widgets write
into it and show what it holds. The request Run sends is the editor model's `next_edit`."""

from __future__ import annotations

import random
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
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

from sdedit_desktop.edits.kinds import all_kinds, kind_named
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.edits.schema import schema_field
from sdedit_desktop.ui.model.edit_params import EditParams
from sdedit_desktop.ui.params import MAX_SIDE, SEED, ParamSpec, panel_specs

INT32_MAX = 2**31 - 1  # QSpinBox's limit: larger integer ranges use a QDoubleSpinBox


def make_spin(spec: ParamSpec) -> QAbstractSpinBox:
    """A spin box with the schema's range and step (integers past int32 in a 0-decimal
    QDoubleSpinBox)."""
    if spec.kind == "float" or spec.maximum > INT32_MAX:
        w = QDoubleSpinBox()
        w.setDecimals(spec.decimals if spec.kind == "float" else 0)
        w.setRange(spec.minimum, spec.maximum)
        w.setSingleStep(spec.step)
    else:
        w = QSpinBox()
        w.setRange(int(spec.minimum), int(spec.maximum))
        w.setSingleStep(int(spec.step))
    w.setToolTip(spec.tooltip)
    return w


class MethodPanel(QWidget):
    changed = Signal()

    def __init__(self, kind: str, params: EditParams | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.params = params if params is not None else EditParams(self)
        edit_kind = kind_named(kind)
        self.request_cls = edit_kind.request_type
        self.specs = panel_specs(self.request_cls)
        self.widgets: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        method_row = QHBoxLayout()
        self.method_group = QButtonGroup(self)
        texts = edit_kind.methods
        self.sde_button = QRadioButton(texts.sde_label)
        self.ode_button = QRadioButton(texts.ode_label)
        self.sde_button.setToolTip(texts.sde_tip)
        self.ode_button.setToolTip(texts.ode_tip)
        self.sde_button.setChecked(True)
        for button in (self.sde_button, self.ode_button):
            self.method_group.addButton(button)
            method_row.addWidget(button)
        self.sde_button.toggled.connect(
            lambda on: self._write("method", "sde" if on else "ode"))
        method_row.addStretch(1)
        layout.addLayout(method_row)
        hint = QLabel(edit_kind.hint)
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
        self.has_lora = "lora" in self.params.get(kind)
        if self.has_lora:
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
        self.params.changed.connect(self._params_changed)
        self._show(self.params.get(kind))

    # -- widgets ------------------------------------------------------------------------------
    def _make_widget(self, spec: ParamSpec) -> QWidget:
        name = spec.name
        if spec.kind in ("float", "int"):
            w = make_spin(spec)
            as_type = float if spec.kind == "float" else int
            w.valueChanged.connect(lambda v: self._write(name, as_type(v)))
        elif spec.kind == "choice":
            w = QComboBox()
            for value, text in spec.choices:
                w.addItem(text, value)
            w.currentIndexChanged.connect(lambda _: self._write(name, w.currentData()))
        else:
            w = QLineEdit()
            w.setClearButtonEnabled(True)
            w.textChanged.connect(lambda text: self._write(name, text.strip()))
        w.setToolTip(spec.tooltip)
        w.setObjectName(f"{self.kind}.{spec.name}")
        return w

    def _lora_tip(self) -> str:
        return schema_field(self.request_cls, "lora").info.tooltip()

    def _lora_label(self) -> QLabel:
        label = QLabel("LoRA")
        label.setToolTip(self._lora_tip())
        return label

    def _lora_row(self) -> QWidget:
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        self.lora_mode = QComboBox()
        for value, text in (("off", "Off"), ("auto", "Auto (train / cached)"),
                            ("file", "From file…")):
            self.lora_mode.addItem(text, value)
        self.lora_mode.setToolTip(self._lora_tip())
        self.lora_path = QLineEdit()
        self.lora_path.setPlaceholderText("LoRA .safetensors")
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose a LoRA .safetensors file")
        browse.clicked.connect(self._browse_lora)
        self.lora_mode.currentIndexChanged.connect(self._lora_edited)
        self.lora_path.textChanged.connect(self._lora_edited)
        h.addWidget(self.lora_mode)
        h.addWidget(self.lora_path, 1)
        h.addWidget(browse)
        self._lora_browse = browse
        self._lora_visibility()
        return row

    def _lora_visibility(self) -> None:
        is_file = self.lora_mode.currentData() == "file"
        self.lora_path.setVisible(is_file)
        self._lora_browse.setVisible(is_file)

    def _lora_edited(self) -> None:
        self._lora_visibility()
        mode = self.lora_mode.currentData()
        self._write("lora", self.lora_path.text().strip() if mode == "file" else mode)

    def _browse_lora(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "LoRA weights", "",
                                              "LoRA weights (*.safetensors)")
        if path:
            self.lora_path.setText(path)

    # -- binding ------------------------------------------------------------------------------
    def _write(self, name: str, value: Any) -> None:
        """A widget changed: store it (the widgets' ranges are the schema's, so it is valid)."""
        if getattr(self, "_showing", False):
            return
        self.params.set(self.kind, name, value)

    def _params_changed(self, kind: str) -> None:
        if kind == self.kind:
            self._show(self.params.get(kind))
            self.changed.emit()

    def _show(self, values: dict[str, Any]) -> None:
        """Put the held parameters on the widgets (without writing them back)."""
        self._showing = True
        try:
            (self.sde_button if values["method"] == "sde" else self.ode_button).setChecked(True)
            for spec in self.specs:
                value, w = values[spec.name], self.widgets[spec.name]
                if isinstance(w, QDoubleSpinBox | QSpinBox):
                    if w.value() != value:
                        w.setValue(value)
                elif isinstance(w, QComboBox):
                    index = w.findData(value)
                    if index >= 0:
                        w.setCurrentIndex(index)
                elif isinstance(w, QLineEdit) and w.text().strip() != value:
                    w.setText(str(value))
            if self.has_lora:
                lora = str(values["lora"])
                mode = lora if lora in ("off", "auto") else "file"
                self.lora_mode.setCurrentIndex(self.lora_mode.findData(mode))
                if mode == "file" and self.lora_path.text().strip() != lora:
                    self.lora_path.setText(lora)
                self._lora_visibility()
        finally:
            self._showing = False

    # -- values -------------------------------------------------------------------------------
    def method(self) -> str:
        return str(self.params.value(self.kind, "method"))

    def values(self) -> dict[str, Any]:
        """The parameters this panel holds (request params without arrays, model, points)."""
        return self.params.get(self.kind)

    def set_values(self, values: dict[str, Any]) -> None:
        """Show the parameters of a request (history: "load parameters"); values that cannot
        be used are ignored."""
        self.params.from_json({self.kind: values})

    def reset_defaults(self) -> None:
        self.params.reset(self.kind)


class PanelStack(QWidget):
    """Method tabs, the panels and the settings every method shares (seed, max size), all bound
    to one EditParams (`self.params`)."""

    methodChanged = Signal(str)

    def __init__(self, params: EditParams | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.params = params if params is not None else EditParams(self)
        layout = QVBoxLayout(self)
        self.tabs = QTabBar()
        self.tabs.setExpanding(True)
        self.stack = QStackedWidget()
        self.panels: dict[str, MethodPanel] = {}
        for entry in all_kinds():
            panel = MethodPanel(entry.name, self.params)
            self.panels[entry.name] = panel
            self.tabs.addTab(entry.title)
            self.stack.addWidget(panel)
        self.tabs.currentChanged.connect(self._tab_changed)
        layout.addWidget(self.tabs)
        layout.addWidget(self.stack, 1)

        common = QGroupBox("Every method")
        form = QFormLayout(common)
        seed_row = QHBoxLayout()
        self.seed = make_spin(SEED)
        dice = QToolButton()
        dice.setText("New")
        dice.setToolTip("Pick a new random seed")
        dice.clicked.connect(self.new_seed)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(dice)
        form.addRow(SEED.label, seed_row)
        # 0 = keep the size (the request's None); otherwise the schema's range.
        self.max_side = make_spin(MAX_SIDE)
        self.max_side.setMinimum(0)
        self.max_side.setSpecialValueText("keep size")
        form.addRow(MAX_SIDE.label, self.max_side)
        layout.addWidget(common)
        self._show_shared()
        self.seed.valueChanged.connect(
            lambda v: self.params.set(self.current_kind(), "seed", int(v)))
        self.max_side.valueChanged.connect(self._max_side_edited)
        self.params.changed.connect(self._show_shared)

    def _max_side_edited(self, value: float) -> None:
        value = int(value)
        if 0 < value < MAX_SIDE.minimum:  # typed below the smallest working size
            return
        self.params.set(self.current_kind(), "max_side", value or None)

    def _show_shared(self, _kind: str = "") -> None:
        values = self.params.get(self.current_kind())
        for widget, value in ((self.seed, values["seed"]), (self.max_side,
                                                            values["max_side"] or 0)):
            if widget.value() != value:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)

    def _tab_changed(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        self.methodChanged.emit(self.current_kind())

    def current_kind(self) -> str:
        return list(self.panels)[max(0, self.tabs.currentIndex())]

    def current(self) -> MethodPanel:
        return self.panels[self.current_kind()]

    def select(self, kind: str) -> MethodPanel:
        self.tabs.setCurrentIndex(list(self.panels).index(kind))
        return self.panels[kind]

    def new_seed(self) -> int:
        seed = random.randrange(0, INT32_MAX)
        self.params.set(self.current_kind(), "seed", seed)
        return seed

    def max_side_value(self) -> int | None:
        return int(self.max_side.value()) or None

    def show_request(self, request: EditRequest) -> None:
        """Put a past request's parameters back on screen."""
        panel = self.select(request.kind)
        try:
            self.params.replace(request.kind, request.params())
        except ValueError:  # e.g. from an older version with other ranges: take what fits
            panel.set_values(request.params())
