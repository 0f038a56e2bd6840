"""File > Open/Save project, autosave and crash recovery: the window's state <-> the
`project` package's in-memory `Project` and `.sdeproj` files."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from sdedit_desktop.project import (
    Project,
    ProjectError,
    autosave,
    clear_autosave,
    discard_autosave,
    list_recoverable,
    load_project,
    recover,
)
from sdedit_desktop.project import save_project as write_project
from sdedit_desktop.ui.errors import show_error
from sdedit_desktop.ui.model.edit_params import legacy_panel_json

if TYPE_CHECKING:
    from sdedit_desktop.ui.main_window import MainWindow

PROJECT_FILTER = "sdedit project (*.sdeproj)"


def window_to_project(window: MainWindow) -> Project:
    """The window's state as a Project (reusing its id, creation time and PNG cache)."""
    doc = window.doc
    if doc.image is None:
        raise ProjectError("there is no image to save")
    project = window.project
    if project is None:
        project = window.project = Project(image=doc.image)
    project.image = doc.image
    project.mask = doc.mask.copy() if doc.mask is not None and doc.mask.any() else None
    project.points = [(s, t) for s, t in doc.points if t is not None]
    project.history = list(window.history.entries)
    project.ui = {
        "edit_params": window.panels.params.to_json(),
        "method": window.panels.current_kind(),
        "parent_id": window._parent_id,
        "image_label": doc.image_label,
    }
    project.mark_changed()
    return project


def project_to_window(window: MainWindow, project: Project, label: str) -> None:
    ui = project.ui if isinstance(project.ui, dict) else {}
    window.start_project(project.image, str(ui.get("image_label") or label), None,
                         project.mask, list(project.points), list(project.history))
    window.project = project
    # Older projects kept untyped panel values ("panels", "seed", "max_side"): what can be
    # read is migrated, the rest ignored.
    stored = ui["edit_params"] if "edit_params" in ui else legacy_panel_json(ui)
    window.panels.params.from_json(stored)
    if isinstance(ui.get("method"), str) and ui["method"] in window.panels.panels:
        window.panels.select(ui["method"])
    parent = ui.get("parent_id")
    window._parent_id = parent if window.history.find(parent) is not None else None


def open_project_dialog(window: MainWindow) -> bool:
    path, _ = QFileDialog.getOpenFileName(window, "Open project", window.settings.last_dir,
                                          PROJECT_FILTER)
    return open_project(window, Path(path)) if path else False


def open_project(window: MainWindow, path: Path) -> bool:
    try:
        project = load_project(path)
    except ProjectError as exc:
        show_error(window, "Cannot open project", f"{path.name}: {exc}", str(path))
        return False
    except OSError as exc:
        show_error(window, "Cannot open project", f"{path.name} cannot be read: {exc}",
                   repr(exc))
        return False
    if not window._may_discard():
        return False
    project_to_window(window, project, path.name)
    window.mark_saved()
    window.settings.last_dir = str(path.parent)
    window.settings.add_recent(path)
    window._rebuild_recent()
    window.persist_settings()
    return True


def save_project(window: MainWindow, ask: bool = False, path: Path | None = None) -> Path | None:
    """Save to the project's file (asking for one the first time or with `ask`)."""
    if window.doc.image is None:
        show_error(window, "Nothing to save", "Open an image first.")
        return None
    target = path or (window.project.path if window.project is not None else None)
    if target is None or ask:
        name, _ = QFileDialog.getSaveFileName(window, "Save project", window.settings.last_dir,
                                              PROJECT_FILTER)
        if not name:
            return None
        target = Path(name)
    if target.suffix.lower() != ".sdeproj":
        target = target.with_suffix(".sdeproj")
    try:
        project = window_to_project(window)
        written = write_project(project, target)
        clear_autosave(project, window.autosave_dir)
    except (ProjectError, OSError) as exc:
        show_error(window, "Project not saved",
                   f"Could not save {target.name}: {exc}. The previous file (if any) is "
                   "unchanged.", repr(exc))
        return None
    window.mark_saved()
    window.settings.add_recent(written)
    window._rebuild_recent()
    window.persist_settings()
    window.statusBar().showMessage(f"Saved {written}", 5000)
    return written


def autosave_now(window: MainWindow) -> Path | None:
    """Write a recovery copy when there is unsaved work; errors go to the status bar only (an
    autosave must never interrupt the user with dialogs every few minutes)."""
    if window.doc.image is None or not window.has_unsaved_work():
        return None
    try:
        return autosave(window_to_project(window), window.autosave_dir)
    except (ProjectError, OSError) as exc:
        window.statusBar().showMessage(f"Autosave failed: {exc}", 8000)
        return None


def drop_autosave(window: MainWindow) -> None:
    """The user discarded the work: do not offer it for recovery next time."""
    if window.project is not None:
        # A stale autosave is harmless (recovery lets the user discard it): ignore failures.
        with contextlib.suppress(OSError):
            clear_autosave(window.project, window.autosave_dir)


def offer_recovery(window: MainWindow) -> bool:
    """At start-up: offer the newest autosave that is newer than its project file."""
    try:
        items = list_recoverable(window.autosave_dir)
    except OSError:
        return False
    if not items:
        return False
    item = items[0]
    when = item.autosaved_at.astimezone().strftime("%Y-%m-%d %H:%M")
    if not window.confirm("Recover unsaved work?",
                          f"sdedit-desktop found unsaved work from {when} ({item.title}). "
                          "Recover it? (No discards it.)"):
        discard_autosave(item)
        return False
    try:
        project = recover(item)
    except ProjectError as exc:
        show_error(window, "Recovery failed", f"The autosave cannot be read: {exc}",
                   str(item.autosave_path))
        return False
    project_to_window(window, project, item.title)
    window._saved_index = -1  # recovered work is unsaved
    window._update_title()
    return True
