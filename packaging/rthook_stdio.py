"""PyInstaller runtime hook: give a windowed build working `sys.stdout` / `sys.stderr`.

A windowed executable (Windows `--noconsole`, a macOS .app) starts with `sys.stdout` and
`sys.stderr` set to None, and libraries that print or log (tqdm bars, warnings, diffusers and
transformers logging, our own tracebacks) then crash with "'NoneType' object has no attribute
'write'". Redirect the missing streams to a log file in the user log folder, so that what would
have been printed is kept for bug reports; fall back to the null device if that folder cannot be
written. Runs before any application code."""

import os
import sys


def _log_dir() -> str:
    try:
        from platformdirs import user_log_dir

        return user_log_dir("sdedit-desktop", appauthor=False)
    except Exception:  # platformdirs missing or no home folder: fall back to the temp folder
        import tempfile

        return os.path.join(tempfile.gettempdir(), "sdedit-desktop")


def _open_log():
    try:
        folder = _log_dir()
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "sdedit-desktop.log")
        # Keep one previous run; start fresh so the file never grows without bound.
        if os.path.lexists(path):
            os.replace(path, path + ".1")
        # A new file, created exclusively: whatever was planted under the name (a link to
        # another file, a FIFO that would block the start) has just been moved aside, and one
        # planted again in between makes this fail instead of being followed.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o666)
        # Line buffered: a crash still leaves everything up to the last line on disk.
        return open(fd, "w", encoding="utf-8", errors="replace", buffering=1)
    except OSError:
        return open(os.devnull, "w", encoding="utf-8")


def _install() -> None:
    if sys.stdout is not None and sys.stderr is not None:
        return
    stream = _open_log()
    if sys.stdout is None:
        sys.stdout = stream
    if sys.stderr is None:
        sys.stderr = stream


_install()
