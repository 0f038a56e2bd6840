"""The registered edit kinds, in display order (the editor's tabs, the CLI's sub-commands).

Everything that used to keep its own table of kinds reads this list. A new kind is one module
here (its request type and `EditKind`) plus its method module; `register()` adds a kind from
elsewhere (a plug-in, a test). Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sdedit_desktop.edits.kind import EditKind
from sdedit_desktop.edits.kinds.diffedit import DIFFEDIT, DiffEditRequest
from sdedit_desktop.edits.kinds.drag import DRAG, DragRequest
from sdedit_desktop.edits.kinds.inpaint import INPAINT, InpaintRequest
from sdedit_desktop.edits.kinds.reconstruct import RECONSTRUCT, ReconstructRequest
from sdedit_desktop.edits.requests import EditRequest

__all__ = ["DiffEditRequest", "DragRequest", "EditKind", "InpaintRequest", "ReconstructRequest",
           "all_kinds", "kind_named", "kind_of", "register", "registered", "request_types"]

_KINDS: dict[str, EditKind] = {k.name: k for k in (DRAG, INPAINT, DIFFEDIT, RECONSTRUCT)}


def all_kinds() -> tuple[EditKind, ...]:
    return tuple(_KINDS.values())


def kind_named(name: str) -> EditKind:
    """The kind called `name`; KeyError naming the known ones otherwise."""
    try:
        return _KINDS[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown edit kind {name!r} (known: {', '.join(_KINDS)})") from None


def kind_of(request: EditRequest) -> EditKind:
    """The kind of a request (KeyError for a request type no kind owns)."""
    entry = _KINDS.get(request.kind)
    if entry is None or not isinstance(request, entry.request_type):
        raise KeyError(f"no edit kind for {type(request).__name__}")
    return entry


def request_types() -> dict[str, type[EditRequest]]:
    return {name: kind.request_type for name, kind in _KINDS.items()}


def register(kind: EditKind) -> None:
    """Add a kind (after the built-in ones). ValueError when its name is taken."""
    if kind.name in _KINDS:
        raise ValueError(f"an edit kind {kind.name!r} is registered already")
    _KINDS[kind.name] = kind


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


@contextmanager
def registered(kind: EditKind) -> Iterator[EditKind]:
    """`kind` registered for the duration of a `with` block."""
    register(kind)
    try:
        yield kind
    finally:
        unregister(kind.name)
