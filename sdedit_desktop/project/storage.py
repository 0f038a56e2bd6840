"""Loading and saving `.sdeproj` files.

Saving is atomic (sdedit_desktop/filesave.py, the one writer of every output): the archive is
written to a new, exclusively created temporary file in the destination folder, flushed and
fsynced, the previous file (if any) becomes `NAME.sdeproj.bak`, and the temporary file is renamed
over the destination with `os.replace`. At every instant the destination holds either
the complete old file or the complete new one. A save that fails removes its temporary file and
leaves the destination and its backup untouched.

Loading reads the file read-only, checks the archive (safezip), upgrades old formats (migrate)
and validates every field and image (schema) before returning a project; it never returns a
partially loaded project.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sdedit_desktop.fileopen import open_regular_file
from sdedit_desktop.filesave import (
    OutputFileError,
    fitted_name,
    temp_path,
    write_bytes,
    write_file,
)
from sdedit_desktop.project import jsonio
from sdedit_desktop.project.errors import ProjectError
from sdedit_desktop.project.limits import DEFAULT_LIMITS, LoadLimits
from sdedit_desktop.project.migrate import Migration, RawProject, migrate
from sdedit_desktop.project.model import Project, utc_now
from sdedit_desktop.project.safezip import read_archive
from sdedit_desktop.project.schema import (
    FORMAT_VERSION,
    MANIFEST,
    array_member,
    decode_project,
    encode_project,
    read_header,
)

PROJECT_SUFFIX = ".sdeproj"
BACKUP_SUFFIX = ".bak"
# Free JSON (UI settings, LoRA metadata) sits a few levels inside the manifest.
_MANIFEST_NESTING = 8


@dataclass(frozen=True)
class FileInfo:
    """Facts about the file a project was loaded from (not part of the project itself)."""

    path: Path
    size: int  # bytes on disk
    members: int  # archive members
    format_version: int  # as found in the file, before any upgrade
    app_version: str | None  # the app that wrote it, as recorded in the file
    migrated: bool  # True when the file was in an older format and got upgraded in memory


def backup_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(fitted_name("", path.name, BACKUP_SUFFIX))


# --- loading ---------------------------------------------------------------------------------

def load_project(path: str | Path, *, limits: LoadLimits = DEFAULT_LIMITS,
                 migrations: dict[int, Migration] | None = None) -> Project:
    """Reads a project file. Raises ProjectError (with a message for the user) for anything
    that is not a sound project this version can read; the file is only ever read."""
    return load_project_with_info(path, limits=limits, migrations=migrations)[0]


def load_project_with_info(path: str | Path, *, limits: LoadLimits = DEFAULT_LIMITS,
                           migrations: dict[int, Migration] | None = None
                           ) -> tuple[Project, FileInfo]:
    path = Path(path)
    try:
        return _load(path, limits, migrations)
    except ProjectError as exc:
        exc.path = path  # the message is the reason; callers put the file name in front
        raise


def _load(path: Path, limits: LoadLimits, migrations: dict[int, Migration] | None
          ) -> tuple[Project, FileInfo]:
    members = read_archive(path, limits)
    manifest_bytes = members.pop(MANIFEST, None)
    if manifest_bytes is None:
        raise ProjectError("no manifest.json: it is not an sdedit project")
    if len(manifest_bytes) > limits.max_manifest_bytes:
        raise ProjectError(f"manifest.json is {len(manifest_bytes)} bytes, more than the limit "
                           f"of {limits.max_manifest_bytes}")
    manifest = jsonio.loads(manifest_bytes, "manifest.json",
                            limits.max_json_depth + _MANIFEST_NESTING)
    found_version = read_header(manifest)
    app_version = manifest.get("app_version")
    raw = migrate(RawProject(manifest, members), registry=migrations)
    project = decode_project(raw.manifest, raw.members, limits)
    # The stored PNGs are exactly what a save would write: keep them to skip re-encoding.
    for sha in raw.manifest["arrays"]:
        project.png_cache[sha] = raw.members[array_member(sha)]
    project.mark_saved(path)
    info = FileInfo(path=path, size=path.stat().st_size, members=len(members) + 1,
                    format_version=found_version,
                    app_version=app_version if isinstance(app_version, str) else None,
                    migrated=found_version != FORMAT_VERSION)
    return project, info


# --- saving ----------------------------------------------------------------------------------

def save_project(project: Project, path: str | Path | None = None, *, backup: bool = True,
                 limits: LoadLimits = DEFAULT_LIMITS) -> Path:
    """Writes `project` to `path` (default: `project.path`) atomically, keeping the previous
    file as NAME.sdeproj.bak when `backup`. On success sets `project.path`, its modified time and
    clears the dirty flag. The content is validated first with the loader's own checks under
    `limits`, so a file this version could not open again is never written."""
    target = Path(path) if path is not None else project.path
    if target is None:
        raise ProjectError("the project has no file yet: choose where to save it")
    modified = utc_now()
    data = serialize_project(project, modified, limits)
    write_atomic(target, data, backup=backup)
    project.modified = modified
    project.mark_saved(target)
    return target


def serialize_project(project: Project, modified: datetime, limits: LoadLimits
                      ) -> list[tuple[str, bytes, int]]:
    """Project -> archive members (name, bytes, compression), validated as the loader would."""
    encoded = encode_project(project, modified, project.png_cache)
    try:
        manifest_bytes = jsonio.dumps(encoded.manifest)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"part of the project (UI settings, LoRA metadata or "
                           f"request parameters) is not plain JSON ({exc})") from exc
    if len(manifest_bytes) > limits.max_manifest_bytes:
        raise ProjectError(f"the manifest would be {len(manifest_bytes)} bytes, "
                           f"more than the limit of {limits.max_manifest_bytes}")
    manifest = jsonio.loads(manifest_bytes, "manifest.json",
                            limits.max_json_depth + _MANIFEST_NESTING)
    decode_project(manifest, encoded.members, limits, known_arrays=encoded.arrays)
    members = [(MANIFEST, manifest_bytes, zipfile.ZIP_DEFLATED)]
    # PNG and safetensors data do not deflate usefully: store them as they are.
    members += [(name, blob, zipfile.ZIP_STORED) for name, blob in encoded.members.items()]
    _check_sizes(members, limits)
    return members


def _check_sizes(members: list[tuple[str, bytes, int]], limits: LoadLimits) -> None:
    if len(members) > limits.max_entries:
        raise ProjectError(f"{len(members)} archive members exceed the limit of "
                           f"{limits.max_entries}")
    total = 0
    for name, blob, _ in members:
        if len(blob) > limits.max_entry_bytes:
            raise ProjectError(f"{name} would be {len(blob)} bytes, more than the limit "
                               f"of {limits.max_entry_bytes}")
        total += len(blob)
    if total > limits.max_total_bytes:
        raise ProjectError(f"{total} bytes would exceed the limit of "
                           f"{limits.max_total_bytes}")


def write_atomic(path: Path, members: list[tuple[str, bytes, int]], *, backup: bool) -> None:
    _replace_atomically(path, lambda handle: write_archive(handle, members), backup=backup)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """A file beside the projects (an export, the autosave index, LoRA files) written by the
    app's one safe writer; unlike a project, a link at `path` is replaced, not followed."""
    try:
        write_bytes(path, data)
    except OutputFileError as exc:
        raise ProjectError(str(exc)) from exc


def write_archive(handle: IO[bytes], members: list[tuple[str, bytes, int]]) -> None:
    with zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
        for name, blob, compression in members:
            write_member(archive, name, blob, compression)


def write_member(archive: zipfile.ZipFile, name: str, blob: bytes, compression: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible archives
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    archive.writestr(info, blob)


def _replace_atomically(path: Path, write: Callable[[IO[bytes]], None], *, backup: bool) -> None:
    if path.is_symlink():
        # A project opened through a link is saved through it: the file the link points to is
        # replaced (atomically, in its own folder) and the link stays.
        path = path.resolve()
    if path.is_dir():
        raise ProjectError(f"{path} is a folder")
    try:
        write_file(path, write, before_replace=_make_backup if backup else None)
    except OutputFileError as exc:
        raise ProjectError(exc.reason) from exc


def _make_backup(path: Path) -> None:
    """Makes NAME.bak the current content of `path`, atomically, before `path` is replaced: a
    hard link when the file system has them (no copy), else a copy."""
    if not path.is_file():
        return
    bak = backup_path(path)
    staging = temp_path(bak)
    try:
        os.link(path, staging)  # never follows a planted name: it fails if `staging` exists
        os.replace(staging, bak)
        return
    except OSError:
        staging.unlink(missing_ok=True)
    with open_regular_file(path) as source:
        write_file(bak, lambda handle: shutil.copyfileobj(source, handle))
