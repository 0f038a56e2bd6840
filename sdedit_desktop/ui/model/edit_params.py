"""The parameters of the next edit, for every edit kind, as request parameters.

One `EditParams` holds, per kind, what the method panel shows: the request's JSON-able
parameters (every field but the image, the mask, the model and the points; see
`EditRequest.defaults`). Panels write into it and update from `changed`; a project saves
`to_json()`; `build_request` turns it plus the canvas state into a request. Values are checked by
the request schema (`edits/schema.read_params`), so what is held here is always of the field's
type and in its schema range.

`seed` and `max_side` are shared by every kind (the panel shows them once): setting them for one
kind sets them for all, and `changed` is emitted for every kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from sdedit_desktop.core.types import PlacedPair
from sdedit_desktop.edits.kinds import all_kinds, kind_named
from sdedit_desktop.edits.presets import preset_of, preset_values
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.edits.schema import read_params

SHARED = ("seed", "max_side")  # one value for every kind


class EditParams(QObject):
    changed = Signal(str)  # the kind whose parameters changed

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._params: dict[str, dict[str, Any]] = {
            kind.name: kind.request_type.defaults() for kind in all_kinds()}

    # -- reading -------------------------------------------------------------------------------
    def kinds(self) -> list[str]:
        return list(self._params)

    def get(self, kind: str) -> dict[str, Any]:
        """A copy of the kind's parameters."""
        return dict(self._params[self._known(kind)])

    def value(self, kind: str, name: str) -> Any:
        return self._params[self._known(kind)][name]

    # -- writing -------------------------------------------------------------------------------
    def set(self, kind: str, name: str, value: Any) -> None:
        """Set one parameter; ValueError (naming it) when the value is not acceptable."""
        clean = self._check(kind, {name: value})
        self._apply(kind, clean)

    def replace(self, kind: str, params: dict[str, Any]) -> None:
        """Set every parameter of `kind` from `params` (e.g. a past request's `params()`; its
        kind, hashes, points and model are ignored); names it lacks get their defaults. Shared
        values it holds apply to every kind. ValueError when any value is not acceptable (then
        nothing changes)."""
        clean = self._check(kind, params)
        full = kind_named(kind).request_type.defaults()
        for name in SHARED:  # not given: keep the shared value every kind has now
            full[name] = self._params[kind][name]
        full.update(clean)
        self._apply(kind, full, replace=True)

    def reset(self, kind: str) -> None:
        """The paper's defaults for `kind` (the shared seed and max side are kept)."""
        defaults = kind_named(self._known(kind)).request_type.defaults()
        for name in SHARED:
            defaults.pop(name, None)
        self._apply(kind, defaults)

    def apply_preset(self, name: str) -> None:
        """Preset `name` (edits/presets.py) for every kind; fields it does not name keep their
        values. KeyError for an unknown preset."""
        for kind in self.kinds():
            values = preset_values(name, kind)
            if values:
                self._apply(kind, self._check(kind, values))

    def preset(self, kind: str) -> str | None:
        """The preset `kind`'s parameters match ("paper", "draft"), or None (custom)."""
        return preset_of(kind, self._params[self._known(kind)])

    # -- project -------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """{kind: params} - plain JSON values."""
        return {kind: dict(params) for kind, params in self._params.items()}

    def from_json(self, data: Any) -> list[str]:
        """Load what `to_json` wrote (or an older project's panel values, see
        `legacy_panel_json`). Lenient: every value that can be read is taken, anything else is
        ignored and described in the returned list; kinds or names it lacks keep their
        values."""
        if not isinstance(data, dict):
            return [f"edit parameters should be an object, found {type(data).__name__}"]
        problems: list[str] = []
        for kind, params in data.items():
            clean, issues = self._read(kind, params)
            problems += issues
            if clean:
                self._apply(kind, clean)
        return problems

    # -- requests ------------------------------------------------------------------------------
    def build_request(self, kind: str, image: np.ndarray, mask: np.ndarray | None,
                      points: tuple[PlacedPair, ...] | list[PlacedPair] = (),
                      **extra: Any) -> EditRequest:
        """The request these parameters describe for the given canvas state (`points` are used
        by drag only, pairs without a target are left out; `extra` sets any other field, e.g.
        model=). Not validated: call `request.validate()`."""
        cls = kind_named(self._known(kind)).request_type
        values = {**self._params[kind], **extra}
        if cls.uses_points:
            values["points"] = tuple((tuple(s), tuple(t)) for s, t in points if t is not None)
        return cls(image=image, mask=mask, **values)

    # -- internals -----------------------------------------------------------------------------
    def _known(self, kind: str) -> str:
        if kind not in self._params:
            raise KeyError(f"unknown edit kind {kind!r}")
        return kind

    def _read(self, kind: Any, params: Any) -> tuple[dict[str, Any], list[str]]:
        where = f"edit parameters.{kind}"
        if not isinstance(kind, str) or kind not in self._params:
            return {}, [f"{where}: {kind!r} is not an edit this version knows"]
        return read_params(kind_named(kind).request_type, params, where)

    def _check(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """The values of `params`, each checked; ValueError (naming it) for any that is not
        acceptable."""
        clean, problems = read_params(kind_named(self._known(kind)).request_type, params, kind)
        if problems:
            raise ValueError(problems[0])
        return clean

    def _apply(self, kind: str, values: dict[str, Any], replace: bool = False) -> None:
        touched: set[str] = set()
        for name, value in values.items():
            targets = self.kinds() if name in SHARED else [kind]
            for target in targets:
                if self._params[target].get(name, object()) != value or \
                        type(self._params[target].get(name)) is not type(value):
                    self._params[target][name] = value
                    touched.add(target)
        for target in self.kinds():  # in a stable order
            if target in touched:
                self.changed.emit(target)


def legacy_panel_json(ui: dict[str, Any]) -> dict[str, Any]:
    """An older project's `ui` (panel values under "panels", one seed and max side with 0 =
    keep the size) in `EditParams.to_json` form, for `from_json`."""
    panels = ui.get("panels")
    out: dict[str, Any] = {}
    if isinstance(panels, dict):
        out = {kind: dict(values) for kind, values in panels.items() if isinstance(values, dict)}
    shared: dict[str, Any] = {}
    if "seed" in ui:
        shared["seed"] = ui["seed"]
    if "max_side" in ui:
        shared["max_side"] = ui["max_side"] or None
    if shared:
        for kind in (k.name for k in all_kinds()):
            out.setdefault(kind, {}).update(shared)
    return out
