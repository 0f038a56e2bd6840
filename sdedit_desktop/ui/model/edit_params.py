"""The parameters of the next edit, per edit kind, as plain JSON-able values.

Placeholder with the interface the editor model relies on (the full schema-driven version comes
with the parameter-schema work): `changed(kind)`, `get`, `set`, `replace`, `to_json`/`from_json`
and `build_request`. The pseudo-kind "common" holds what every method shares: the selected
`method` (edit kind), `seed` and `max_side`. `to_json()` is the `project.ui` layout the project
files have always used ({"panels": {kind: params}, "method", "seed", "max_side"})."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from sdedit_desktop.edits.requests import REQUEST_TYPES, EditRequest

COMMON = "common"
_COMMON_KEYS = ("method", "seed", "max_side")


class EditParams(QObject):
    changed = Signal(str)  # the kind whose parameters changed ("common" for the shared ones)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._params: dict[str, dict[str, Any]] = {kind: {} for kind in REQUEST_TYPES}
        self._params[COMMON] = {"method": "drag", "seed": 1234, "max_side": 768}

    def get(self, kind: str) -> dict[str, Any]:
        """A copy of the parameters of `kind` (changing it changes nothing here)."""
        return copy.deepcopy(self._params[self._check(kind)])

    def set(self, kind: str, name: str, value: Any) -> None:
        params = self._params[self._check(kind)]
        if params.get(name, object()) == value:
            return
        params[name] = copy.deepcopy(value)
        self.changed.emit(kind)

    def replace(self, kind: str, params: dict[str, Any]) -> None:
        if self._params[self._check(kind)] == params:
            return
        self._params[kind] = copy.deepcopy(dict(params))
        self.changed.emit(kind)

    def to_json(self) -> dict[str, Any]:
        common = self._params[COMMON]
        out: dict[str, Any] = {"panels": {kind: copy.deepcopy(self._params[kind])
                                          for kind in REQUEST_TYPES}}
        out.update({key: common[key] for key in _COMMON_KEYS if key in common})
        return out

    def from_json(self, data: dict[str, Any]) -> None:
        """Take what `to_json` wrote; unknown kinds and ill-typed values are skipped (files
        from other versions must still open)."""
        panels = data.get("panels")
        if isinstance(panels, dict):
            for kind, values in panels.items():
                if kind in REQUEST_TYPES and isinstance(values, dict):
                    self.replace(kind, values)
        common = dict(self._params[COMMON])
        if isinstance(data.get("method"), str) and data["method"] in REQUEST_TYPES:
            common["method"] = data["method"]
        for key in ("seed", "max_side"):
            if isinstance(data.get(key), int) and not isinstance(data.get(key), bool):
                common[key] = data[key]
        self.replace(COMMON, common)

    def build_request(self, kind: str, image: np.ndarray, mask: np.ndarray | None,
                      points: list, **extra: Any) -> EditRequest:
        """The request of `kind` from these parameters; `extra` (seed, max_side, model, ...)
        wins over them."""
        cls = REQUEST_TYPES[kind]
        values = self.get(kind)
        common = self._params[COMMON]
        values.setdefault("seed", common.get("seed", 1234))
        values.setdefault("max_side", common.get("max_side") or None)
        if kind == "drag":
            values["points"] = tuple((tuple(s), tuple(t)) for s, t in points)
        values.update(extra)
        return cls(image=image.copy(), mask=None if mask is None else mask.copy(), **values)

    @staticmethod
    def _check(kind: str) -> str:
        if kind != COMMON and kind not in REQUEST_TYPES:
            raise KeyError(f"unknown edit kind {kind!r}")
        return kind
