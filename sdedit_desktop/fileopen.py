"""Opening a file the user named, for reading, without ever blocking on it: a FIFO, a socket or
a device under an image or project name would make a plain `open` wait forever (a FIFO with no
writer) or read without end (/dev/zero). Only regular files are opened."""

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


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
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
            raise NotRegularFileError(path, _kind(mode))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class FileTooLargeError(OSError):
    """A regular file larger than the reader's limit (nothing beyond the limit was read)."""

    def __init__(self, path: Path, limit: int):
        super().__init__(f"{path} is larger than {limit:,} bytes")
        self.limit = limit


def read_regular_bytes(path: str | os.PathLike, limit: int) -> bytes:
    """The whole content of the regular file at `path`, at most `limit` bytes. Raises
    NotRegularFileError for FIFOs, devices and folders, FileTooLargeError above the limit
    (read no further than limit + 1 bytes: /proc files report a size of 0), other OSErrors
    (missing, unreadable, EIO from /proc/self/mem) as `open`/`read` raise them."""
    with open_regular_file(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(Path(path), limit)
    return data
