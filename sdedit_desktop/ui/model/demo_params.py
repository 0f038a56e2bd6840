"""The next edit's parameters follow the loaded model's demo settings (models/demo.py).

When a demo model (the tiny one) becomes ready, its preset and max side are applied to every
kind, once per load (`active` holds them, and the window tells the user why); the values they
replaced are kept. When real weights become ready, the kept values come back - except the
ones the user changed meanwhile, which are theirs; a max side that was the family default
follows the new model's family (the editor's family rule, ui/model/editor.py). The model
decides what a demo is; this only applies it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from sdedit_desktop.core.families import default_max_side
from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.edits.presets import preset_fields
from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.models.demo import DemoSettings, demo_settings
from sdedit_desktop.ui.model.edit_params import EditParams
from sdedit_desktop.ui.model.lifetime import while_alive

if TYPE_CHECKING:
    from sdedit_desktop.ui.model.editor import EditorModel

SHARED_FIELD = "max_side"  # shared by every kind (edit_params.SHARED)


class DemoParams(QObject):
    def __init__(self, editor: EditorModel, parent: QObject | None = None):
        super().__init__(parent or editor)
        self.editor = editor
        self.params: EditParams = editor.params
        self.active: DemoSettings | None = None  # the demo settings applied now
        self._identity: ModelIdentity | None = None  # the demo model they were applied for
        self._kept: dict[str, dict[str, Any]] = {}  # kind -> the values the demo replaced
        self._applied: dict[str, dict[str, Any]] = {}  # kind -> the values the demo set
        editor.modelStateChanged.connect(while_alive(self, self._on_model_state))
        self._on_model_state(editor.model_state)  # the engine may hold a model already

    def _on_model_state(self, state: ModelState, _previous: str = "") -> None:
        if state.status != "ready":
            return
        demo = demo_settings(state.identity)
        if demo is None:
            self.restore(state.identity)
        elif state.identity != self._identity:
            self.apply(demo, state.identity)

    def _fields(self, kind: str) -> tuple[str, ...]:
        return (*preset_fields(kind), SHARED_FIELD)

    def _values(self) -> dict[str, dict[str, Any]]:
        return {kind: {name: self.params.value(kind, name) for name in self._fields(kind)}
                for kind in self.params.kinds()}

    def apply(self, demo: DemoSettings, identity: ModelIdentity | None = None) -> None:
        """Apply `demo` (keeping the values it replaces, unless a demo is applied already)."""
        if self.active is None:
            self._kept = self._values()
        self.params.apply_preset(demo.preset)
        self.params.set(self.params.kinds()[0], SHARED_FIELD, demo.max_side)
        self._applied = self._values()
        self.active, self._identity = demo, identity  # the window tells the user (note)

    def restore(self, identity: ModelIdentity | None = None) -> None:
        """Put back the values the demo replaced, where the user has not changed them. A max
        side that was the demo model's family default becomes the default of `identity`'s
        family (the model now loaded), as the editor's family rule would have made it."""
        if self.active is None:
            return
        family_side = default_max_side(self._identity), default_max_side(identity)
        for kind, kept in self._kept.items():
            for name, value in kept.items():
                if name == SHARED_FIELD and value == family_side[0]:
                    value = family_side[1]
                if self.params.value(kind, name) == self._applied[kind][name]:
                    self.params.set(kind, name, value)
        self.active, self._identity = None, None
        self._kept, self._applied = {}, {}
