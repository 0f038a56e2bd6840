"""Writing the files we produce (images, masks, JSON records, trajectories, exports, projects,
settings, caches), so that nothing planted in the destination folder can redirect or block them.

Every write goes to a new temporary file created exclusively (O_EXCL: an existing file or a
planted symbolic link under that name makes the create fail instead of being followed) in the
destination folder, under a short random name that fits the file system's name limit however
long the destination's name is; it is flushed (and fsynced), then renamed over the destination.
The rename replaces a symbolic link at the destination itself instead of writing through it,
and a destination that is a folder, a FIFO, a socket or a device is refused before anything is
written: a FIFO can never block a write. Readers see the old file or the new one, never half.

`check_output_path` makes the same checks up front (folder, name length, kind of an existing
file, writability), for the CLI and dialogs to call before minutes of computing.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from sdedit_desktop.fileopen import describe_mode
from sdedit_desktop.textsafe import shown

# The longest file name (bytes) common file systems take (ext4, APFS, NTFS in UTF-16 units).
NAME_MAX = 255
TEMP_SUFFIX = ".tmp"
_TEMP_TRIES = 100


class OutputFileError(OSError):
    """A file we were asked to write cannot be written there; str() names the path and why,
    `reason` is the why alone."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{shown(os.fspath(path), 300)}: {reason}")
        self.path = Path(path)
        self.reason = reason
        self.strerror = reason  # what callers that show `strerror` after the path print

    def __reduce__(self):  # pickled as it was made (an eval worker reports it to its parent)
        return type(self), (self.path, self.reason)


def fitted_name(prefix: str, name: str, suffix: str) -> str:
    """prefix + name + suffix, `name` shortened at its end so the whole fits NAME_MAX bytes:
    any name the user could save must also get its backup and temporary names."""
    budget = NAME_MAX - len(os.fsencode(prefix + suffix))
    while name and len(os.fsencode(name)) > budget:
        name = name[:-1]
    return prefix + name + suffix


def temp_path(path: Path) -> Path:
    """A fresh hidden name beside `path`: '.' + the start of its name + a random token +
    '.tmp', at most NAME_MAX bytes."""
    return path.with_name(fitted_name(".", path.name[:24], f".{secrets.token_hex(6)}"
                                      f"{TEMP_SUFFIX}"))


def _existing_kind(path: Path) -> str | None:
    """What stands at `path` when it is something we must not replace (a folder, a FIFO, a
    device ...), else None (nothing, a regular file or a symbolic link, which is replaced)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputFileError(path, f"cannot be checked ({exc.strerror or exc})") from None
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return None
    return describe_mode(mode)


def _name_problem(path: Path) -> str | None:
    name = path.name
    if not name or name in (".", ".."):
        return "names a folder, not a file"
    for part in path.parts:  # the file's name and every folder's on the way to it
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            what = "the file name" if part == name else f"the folder name {shown(part, 40)}"
            return f"{what} is {size} bytes long; file systems take at most {NAME_MAX} bytes"
    return None


def check_output_path(path: str | os.PathLike, *, suffixes: Iterable[str] | None = None,
                      what: str = "the file name") -> Path:
    """Raises OutputFileError unless a file can be written at `path`: its extension is one of
    `suffixes` (lower case, with the dot; None = any), its name fits the file system, its folder
    exists and takes a new file, and nothing but a regular file (or a link, which is replaced)
    stands there. Cheap; called before any computing."""
    path = Path(path)
    problem = _name_problem(path)
    if problem:
        raise OutputFileError(path, problem)
    if suffixes is not None:
        allowed = tuple(suffixes)
        if path.suffix.lower() not in allowed:
            raise OutputFileError(path, f"{what} must end in {' or '.join(allowed)}, not "
                                        f"{shown(path.suffix, 40) or '(no extension)'}")
    folder = path.parent
    if not folder.is_dir():
        reason = "does not exist" if not folder.exists() else "is not a folder"
        raise OutputFileError(path, f"the folder {shown(os.fspath(folder), 300)} {reason}")
    kind = _existing_kind(path)
    if kind is not None:
        raise OutputFileError(path, f"is {kind}, not a regular file: choose a file name")
    probe = _create_temp(path)[0]  # the one test of writability that never lies (root, ACLs)
    probe.unlink(missing_ok=True)
    return path


def check_output_folder(path: str | os.PathLike) -> Path:
    """Raises OutputFileError unless `path` is a folder we can write files into, or one we can
    create (its missing parts have names that fit, the nearest existing one takes new
    entries)."""
    path = Path(path)
    problem = _name_problem(path / "x")
    if problem:
        raise OutputFileError(path, problem)
    probe_in = path
    while not probe_in.exists() and not probe_in.is_symlink() and probe_in.parent != probe_in:
        probe_in = probe_in.parent  # the nearest folder that exists: the new ones go there
    if not probe_in.is_dir():
        raise OutputFileError(path, f"{shown(os.fspath(probe_in), 300)} is "
                                    f"{_kind_of(probe_in)}, not a folder")
    probe = _create_temp(probe_in / "probe")[0]
    probe.unlink(missing_ok=True)
    return path


def _kind_of(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "missing"
    return "a file" if stat.S_ISREG(mode) else describe_mode(mode)


def _create_temp(path: Path, mode: int = 0o666) -> tuple[Path, int]:
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    for _ in range(_TEMP_TRIES):
        tmp = temp_path(path)
        try:
            return tmp, os.open(tmp, flags, mode)
        except FileExistsError:
            continue  # taken (or a planted link): another random name
        except OSError as exc:
            raise OutputFileError(path, f"cannot create a file in "
                                        f"{shown(os.fspath(path.parent), 300)}: "
                                        f"{exc.strerror or exc}") from None
    raise OutputFileError(path, f"no free temporary name in {shown(os.fspath(path.parent), 300)}")


def _keep_mode(path: Path, fd: int) -> None:
    """The replaced file's permissions for the new one (else the umask's, as for any new
    file: not mkstemp's 0600)."""
    try:
        old = os.lstat(path)
        if stat.S_ISREG(old.st_mode) and hasattr(os, "fchmod"):
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
    except OSError:
        pass  # no file yet, or a file system without permissions


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open folders for fsync.
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync folders; the data itself is synced
    finally:
        os.close(fd)


def write_file(path: str | os.PathLike, write: Callable[[BinaryIO], object], *,
               durable: bool = True, before_replace: Callable[[Path], object] | None = None
               ) -> Path:
    """Writes `path` atomically with `write(handle)` (see the module doc). The new file gets the
    permissions of the file it replaces, or those a new file gets (umask). `durable` fsyncs the
    file and the folder; `before_replace(path)` runs after the data is complete, just before the
    rename (a project save makes its backup there). Raises OutputFileError for the destination's
    problems and write errors; an exception from `write` propagates. Either way the temporary
    file is removed and the destination is untouched."""
    path = Path(path)
    problem = _name_problem(path)
    if problem:
        raise OutputFileError(path, problem)
    kind = _existing_kind(path)
    if kind is not None:
        raise OutputFileError(path, f"is {kind}, not a regular file")
    tmp, fd = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            _keep_mode(path, fd)
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(path)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputFileError):
            raise OutputFileError(path, f"write error: {exc.strerror or exc}") from exc
        raise
    if durable:
        _fsync_directory(path.parent)
    return path


def write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> Path:
    return write_file(path, lambda handle: handle.write(data), durable=durable)


def write_text(path: str | os.PathLike, text: str, *, durable: bool = True) -> Path:
    return write_bytes(path, text.encode("utf-8"), durable=durable)
