"""A start-up check of the Qt binding: does it keep Python's reference counts intact?

PySide6 6.12.0 on CPython 3.11 takes one reference away from `None` on every Qt method that
returns void. The count runs out after tens of thousands of calls (a few minutes of painting) and
the interpreter aborts with "deallocating None", losing unsaved work. From Python 3.12 on, None is
immortal and the defect is harmless. pyproject.toml never installs that combination; this check
catches it anyway (an older environment, a hand-made bundle, a future broken release) before the
user starts working, and the canary test asserts it in CI.
"""

from __future__ import annotations

import sys

# How many void calls the check makes: enough that a leak of one reference per call stands far
# above the noise of references that other code takes or drops meanwhile (a handful).
CHECK_CALLS = 600
# A loss this large is the defect; smaller wobble is ordinary interpreter bookkeeping.
LEAK_THRESHOLD = CHECK_CALLS // 4


def singleton_refcounts() -> dict[str, int]:
    """Reference counts of None (void Qt calls lose it) and True/False (bool-returning calls,
    Signal.emit): the counts a broken binding drains."""
    return {name: sys.getrefcount(obj)
            for name, obj in (("None", None), ("True", True), ("False", False))}


def none_refcount_drift(calls: int = CHECK_CALLS) -> int:
    """The largest loss of references to None, True or False over `calls` Qt calls of several
    kinds (void ones lose None, bool-returning ones True/False; negative = references lost).
    Needs no QApplication."""
    from PySide6.QtCore import QObject, QPointF
    from PySide6.QtGui import QColor, QImage, QPainter

    point = QPointF(1.0, 2.0)
    color = QColor(10, 20, 30)
    holder = QObject()
    image = QImage(4, 4, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    try:
        before = singleton_refcounts()
        for i in range(calls // 6):  # six calls per round
            point.setX(float(i))
            color.setRed(i % 256)
            holder.setObjectName("check")
            holder.blockSignals(False)
            painter.save()
            painter.restore()
        after = singleton_refcounts()
    finally:
        painter.end()
    return min(after[name] - before[name] for name in before)


def binding_versions() -> str:
    import PySide6

    return (f"PySide6 {PySide6.__version__} on Python "
            f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}")


def qt_binding_problem(drift: int | None = None) -> str | None:
    """A message for the user when the installed Qt binding loses references, else None."""
    if sys.version_info >= (3, 12):
        return None  # None is immortal: a lost reference cannot abort the interpreter
    if drift is None:
        drift = none_refcount_drift()
    if drift > -LEAK_THRESHOLD:
        return None
    return (f"{binding_versions()} has a known defect: Qt calls drop references to None "
            f"or True/False ({-drift} lost in a short check), so the editor would abort after a "
            "few minutes and lose unsaved work. Install a working version with "
            "`pip install \"PySide6-Essentials>=6.7,!=6.12.*\"` (6.11.3 is known good), or use "
            "Python 3.12 or newer.")
