"""Keeps the method panels and the editor's `EditParams` equal, both ways: a widget change is
written to the params at once, and a params change (a project opened, DiffEdit switching its
mask mode) shows in the widgets. The model stays the truth a project is saved from."""

from __future__ import annotations

from PySide6.QtCore import QObject

from sdedit_desktop.ui.model.edit_params import COMMON, EditParams
from sdedit_desktop.ui.panels import PanelStack


class PanelParamsSync(QObject):
    def __init__(self, panels: PanelStack, params: EditParams, parent: QObject | None = None):
        super().__init__(parent)
        self.panels, self.params = panels, params
        self._applying = False  # params -> widgets in progress: their echoes are ignored
        self._kind_of: dict[QObject, str] = {}  # signal sender -> the kind it belongs to
        for kind, panel in panels.panels.items():
            self._kind_of[panel] = kind
            panel.changed.connect(self._on_widget_changed)
            lora_path = getattr(panel, "lora_path", None)
            if lora_path is not None:  # the LoRA file name does not emit `changed`
                self._kind_of[lora_path] = kind
                lora_path.textChanged.connect(self._on_widget_changed)
            self._push(kind)
        for common in (panels, panels.seed, panels.max_side):
            self._kind_of[common] = COMMON
        panels.methodChanged.connect(self._on_widget_changed)
        panels.seed.valueChanged.connect(self._on_widget_changed)
        panels.max_side.valueChanged.connect(self._on_widget_changed)
        self._push(COMMON)
        params.changed.connect(self._apply)

    def _on_widget_changed(self, *_args: object) -> None:
        kind = self._kind_of.get(self.sender())
        if kind is not None:
            self._push(kind)

    def _push(self, kind: str) -> None:
        if self._applying:
            return
        if kind == COMMON:
            self.params.replace(COMMON, {"method": self.panels.current_kind(),
                                         "seed": int(self.panels.seed.value()),
                                         "max_side": int(self.panels.max_side.value())})
        else:
            self.params.replace(kind, self.panels.panels[kind].values())

    def _apply(self, kind: str) -> None:
        if self._applying:
            return
        values = self.params.get(kind)
        self._applying = True
        try:
            if kind == COMMON:
                if values.get("method") in self.panels.panels:
                    self.panels.select(values["method"])
                if isinstance(values.get("seed"), int):
                    self.panels.seed.setValue(values["seed"])
                if isinstance(values.get("max_side"), int):
                    self.panels.max_side.setValue(values["max_side"])
            elif kind in self.panels.panels:
                self.panels.panels[kind].set_values(values)
        finally:
            self._applying = False
        self._push(kind)  # what the widgets accepted (a value out of range is clamped)
