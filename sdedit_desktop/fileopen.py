"""Opening a file the user named, for reading, without ever blocking on it: a FIFO, a socket or
a device under an image or project name would make a plain `open` wait forever (a FIFO with no
writer) or read without end (/dev/zero). Only regular files are opened, and `read_regular_bytes`
reads at most a given number of bytes (a /proc file says it is empty whatever it holds)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFileError(OSError):
    """The path exists but is not a regular file (a FIFO, socket, device or folder); `what`
    says which ("a folder", "a named pipe (FIFO)", ...)."""

    def __init__(self, path: Path, what: str):
        super().__init__(f"{path} is {what}, not a regular file")
        self.what = what


class FileTooLargeError(OSError):
    """A regular file holds more than the reader's limit; `limit` is that limit in bytes."""

    def __init__(self, path: Path, limit: int):
        super().__init__(f"{path} is larger than {format_bytes(limit)}, more than this file "
                         "can be")
        self.limit = limit


class FileReadError(OSError):
    """Reading a regular file failed part-way (an I/O error, /proc/self/mem); `reason` says
    why."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: cannot read: {reason}")
        self.reason = reason


def format_bytes(n: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


def describe_mode(mode: int) -> str:
    """What a non-regular file is, for messages: "a folder", "a named pipe (FIFO)" ..."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def open_regular_file(path: str | os.PathLike) -> BinaryIO:
    """The file at `path` opened for binary reading. Raises NotRegularFileError (message: what
    it is instead) before reading anything from a non-regular file; other OSErrors as `open`."""
    path = Path(path)
    # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting. It has
    # no effect on regular files.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise NotRegularFileError(path, "a folder") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, describe_mode(mode))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_bytes(path: str | os.PathLike, limit: int) -> bytes:
    """All bytes of the regular file at `path`, at most `limit` of them. Raises
    NotRegularFileError (a FIFO, device, folder ...), FileTooLargeError (more than `limit`),
    FileReadError (the read itself failed, e.g. /proc/self/mem) or the OSError of `open`
    (missing, no permission); never blocks, never reads more than limit + 1 bytes."""
    path = Path(path)
    with open_regular_file(path) as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise FileTooLargeError(path, limit)
        try:
            data = _read_at_most(handle, limit + 1)
        except OSError as exc:
            raise FileReadError(path, exc.strerror or str(exc)) from None
    # Sizes can lie (/proc files say 0, a file may still grow): what was read decides.
    if len(data) > limit:
        raise FileTooLargeError(path, limit)
    return data


_CHUNK = 1 << 20


def _read_at_most(handle: BinaryIO, count: int) -> bytes:
    """Up to `count` bytes, in chunks: memory grows with what the file holds, not with
    `count`."""
    out = bytearray()
    while len(out) < count:
        chunk = handle.read(min(_CHUNK, count - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def read_regular_text(path: str | os.PathLike, limit: int) -> str:
    """As `read_regular_bytes`, decoded as UTF-8 (a UnicodeDecodeError for other bytes)."""
    return read_regular_bytes(path, limit).decode("utf-8")
