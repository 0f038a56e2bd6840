"""The one exception the project package raises for a file it cannot read or write."""

from __future__ import annotations


class ProjectError(Exception):
    """A project file that cannot be loaded or saved as asked. The message is for users: it says
    which part of the file is wrong and how. Loading never returns a partial project and never
    modifies the file; a failed save leaves the previous file as it was.

    Errors from `load_project` read "cannot open NAME: REASON"; `reason` and `path` hold the
    parts for a UI that lays them out itself."""

    def __init__(self, message: str, *, reason: str | None = None, path: object = None):
        super().__init__(message)
        self.reason = reason if reason is not None else message
        self.path = path
