"""Loading and saving `.sdeproj` files.

Saving is atomic: the archive is written to a temporary file in the destination folder, flushed
and fsynced, the previous file (if any) becomes `NAME.sdeproj.bak`, and the temporary file is
renamed over the destination with `os.replace`. At every instant the destination holds either
the complete old file or the complete new one. A save that fails removes its temporary file and
leaves the destination and its backup untouched.

Loading reads the file read-only, checks the archive (safezip), upgrades old formats (migrate)
and validates every field and image (schema) before returning a project; it never returns a
partially loaded project.
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

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


# The longest file name (bytes) common file systems take (ext4, APFS, NTFS in UTF-16 units).
NAME_MAX = 255


def fitted_name(prefix: str, name: str, suffix: str) -> str:
    """prefix + name + suffix, `name` shortened at its end so the whole fits NAME_MAX bytes:
    any name the user could save must also get its backup and temporary names."""
    budget = NAME_MAX - len(os.fsencode(prefix + suffix))
    while name and len(os.fsencode(name)) > budget:
        name = name[:-1]
    return prefix + name + suffix


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
    """A small file (autosave index, exported JSON) written with the same atomic replace."""
    _replace_atomically(path, lambda handle: handle.write(data), backup=False)


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
        path = path.resolve()  # replace the file the link points to, keep the link
    if path.is_dir():
        raise ProjectError(f"{path} is a folder")
    directory = path.parent
    try:
        tmp, fd = _create_temp(path)
    except OSError as exc:
        raise ProjectError(f"cannot create a file in {directory}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if backup and path.exists():
            _make_backup(path)
        os.replace(tmp, path)
        _fsync_directory(directory)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ProjectError(f"write error: {exc.strerror or exc}") from exc
        raise


def _create_temp(path: Path) -> tuple[Path, int]:
    """A new hidden file beside `path`. Unlike mkstemp (always 0600) it gets the permissions a
    normal new file gets (umask), or those of the file it will replace."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(fitted_name(".", path.name, f".{uuid.uuid4().hex[:12]}.tmp"))
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        try:
            if path.exists():
                os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        except OSError:
            pass  # permissions are a nicety; the content is what matters
        return tmp, fd
    raise FileExistsError(f"no free temporary name beside {path}")


def _make_backup(path: Path) -> None:
    """Makes NAME.bak the current content of `path`, atomically, before `path` is replaced: a
    hard link when the file system has them (no copy), else a copy."""
    bak = backup_path(path)
    staging = path.with_name(fitted_name(".", bak.name, f".{uuid.uuid4().hex}.tmp"))
    try:
        try:
            os.link(path, staging)
        except OSError:
            shutil.copyfile(path, staging)
            with open(staging, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(staging, bak)
    finally:
        staging.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open folders for fsync.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
