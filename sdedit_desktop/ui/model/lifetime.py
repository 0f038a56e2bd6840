"""Connections that outlive one side: a signal still emitted while its receiver is being
destroyed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from shiboken6 import isValid


def while_alive(model: QObject, slot: Callable[..., Any]) -> Callable[..., None]:
    """`slot` (a method of `model`) for a signal, doing nothing once `model` is gone or going: a
    widget being destroyed still emits (a tab widget switches tabs as its pages go, a slider
    resets), and so does a child of the model (an undo stack clears itself) while the model's
    own destructor runs."""
    def call(*args: Any) -> None:
        if isValid(model):
            slot(*args)
    return call
