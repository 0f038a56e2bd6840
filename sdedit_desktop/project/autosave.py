"""Autosave and crash recovery in the user data folder (platformdirs).

Each open project autosaves into its own slot: `<slot>.sdeproj` (a complete project file, written
atomically) plus `<slot>.json`, a small index that remembers which project file it belongs to.
The slot name is a hash of the project id and its path, so nothing from a project file ever
becomes part of a file name.

The UI's part: call `autosave(project)` on a timer while `project.dirty`; after a successful
save, or when the user closes without saving, call `clear_autosave(project)`. At start-up,
`list_recoverable()` gives the autosaves worth offering (newer than their project file, or of a
project never saved); `recover(item)` loads one (dirty, with its original path), and
`discard_autosave(item)` deletes one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import platformdirs

from sdedit_desktop.fileopen import FileTooLargeError, read_regular_bytes
from sdedit_desktop.project import jsonio
from sdedit_desktop.project.errors import ProjectError
from sdedit_desktop.project.limits import DEFAULT_LIMITS
from sdedit_desktop.project.model import Project, utc_now
from sdedit_desktop.project.storage import (
    load_project,
    serialize_project,
    write_atomic,
    write_bytes_atomic,
)
from sdedit_desktop.textsafe import shown

APP_NAME = "sdedit-desktop"
_MAX_INDEX_BYTES = 64 * 1024  # an index is a few hundred bytes; more is not one of ours
_MAX_NAME = 1024  # characters of the work's name kept in the index


def autosave_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "autosave"


@dataclass(frozen=True)
class Recoverable:
    autosave_path: Path
    project_path: Path | None  # the project file it belongs to; None for a never-saved project
    project_id: str | None
    autosaved_at: datetime
    revision: int  # the project's revision counter when autosaved
    name: str | None = None  # what the work is on (the image's name), as the editor gave it

    @property
    def title(self) -> str:
        """The project file's name; for work never saved as a project, the image it is on."""
        if self.project_path:
            return self.project_path.name
        if self.name:
            return f"{shown(self.name, 80)}, never saved as a project"
        return "Untitled project"


def _slot(project: Project) -> str:
    key = f"{project.id}\0{project.path.resolve() if project.path else ''}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def autosave(project: Project, directory: Path | None = None, name: str | None = None) -> Path:
    """Writes a recovery copy of `project`; does not change its path or dirty flag. `name`
    (e.g. the image's file name) is what the recovery offer calls work never saved as a
    project."""
    folder = directory or autosave_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"cannot create the autosave folder {folder}: {exc}") from exc
    now = utc_now()
    slot = _slot(project)
    target = folder / f"{slot}.sdeproj"
    write_atomic(target, serialize_project(project, now, DEFAULT_LIMITS), backup=False)
    index = {"project_id": project.id,
             "project_path": str(project.path.resolve()) if project.path else None,
             "autosaved": jsonio.format_time(now), "revision": project.revision,
             "name": name[:_MAX_NAME] if name else None}
    write_bytes_atomic(folder / f"{slot}.json", jsonio.dumps(index))
    return target


def list_recoverable(directory: Path | None = None) -> list[Recoverable]:
    """Autosaves newer than their project file (or whose project file is gone or was never
    saved), newest first. Reads only the small index files; a damaged index or an autosave
    that cannot be examined skips only itself."""
    folder = directory or autosave_dir()
    try:
        data_paths = list(folder.glob("*.sdeproj")) if folder.is_dir() else []
    except OSError:
        return []
    items = []
    for data_path in data_paths:
        item = _describe(data_path)
        if item is not None and _is_newer(item):
            items.append(item)
    return sorted(items, key=lambda i: i.autosaved_at, reverse=True)


def _describe(data_path: Path) -> Recoverable | None:
    try:
        stat = data_path.stat()
    except (OSError, ValueError):
        return None
    fallback = Recoverable(data_path, None, None,
                           datetime.fromtimestamp(stat.st_mtime).astimezone(), 0)
    try:
        index = _read_index(data_path.with_suffix(".json"))
    except (OSError, ValueError, RecursionError, ProjectError):
        # No usable index: the autosave itself is intact, so offer it as an untitled project.
        return fallback
    return index(data_path) if index is not None else fallback


def _read_index(path: Path):
    """The index file as a Recoverable factory, or None when a field is not what `autosave`
    writes (a path with a NUL byte, a revision that is not an integer, a naive time...)."""
    try:
        raw = read_regular_bytes(path, _MAX_INDEX_BYTES)  # a FIFO or device never blocks here
    except FileTooLargeError:
        return None
    index = jsonio.loads(raw, path.name, max_depth=2)
    if not isinstance(index, dict):
        return None
    project_path, project_id = index.get("project_path"), index.get("project_id")
    revision, autosaved = index.get("revision"), index.get("autosaved")
    if project_path is not None and (not isinstance(project_path, str) or "\0" in project_path
                                     or not project_path):
        return None
    if not isinstance(project_id, str) or type(revision) is not int or revision < 0:
        return None
    if not isinstance(autosaved, str):
        return None
    when = datetime.fromisoformat(autosaved)
    if when.tzinfo is None:
        return None
    name = index.get("name")  # absent in indexes written before it existed
    if name is not None and not isinstance(name, str):
        return None
    return lambda data_path: Recoverable(
        data_path, Path(project_path) if project_path is not None else None, project_id, when,
        revision, name or None)


def _is_newer(item: Recoverable) -> bool:
    if item.project_path is None:
        return True
    try:
        project_mtime = item.project_path.stat().st_mtime_ns
    except (OSError, ValueError):
        return True  # the project file is gone: the autosave is all there is
    try:
        return item.autosave_path.stat().st_mtime_ns > project_mtime
    except OSError:
        return False  # the autosave went away meanwhile: nothing to offer


def recover(item: Recoverable) -> Project:
    """Loads an autosave as an unsaved project that belongs to the original file (Save writes
    there). The autosave stays until the UI discards or clears it."""
    project = load_project(item.autosave_path)
    project.path = item.project_path
    project.mark_changed()
    return project


def discard_autosave(item: Recoverable | Path) -> None:
    path = item.autosave_path if isinstance(item, Recoverable) else Path(item)
    path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)


def clear_autosave(project: Project, directory: Path | None = None) -> int:
    """Deletes the autosaves of this project: its current slot and any slot of the same project
    recorded before it had a file (so "Save" of an untitled project cleans up too). Returns how
    many were deleted."""
    folder = directory or autosave_dir()
    try:
        data_paths = list(folder.glob("*.sdeproj")) if folder.is_dir() else []
    except OSError:
        return 0
    current = folder / f"{_slot(project)}.sdeproj"
    removed = 0
    for data_path in data_paths:
        item = _describe(data_path)
        if item is None:
            continue
        untitled_of_this = item.project_id == project.id and item.project_path is None
        if data_path == current or untitled_of_this:
            discard_autosave(data_path)
            removed += 1
    return removed
