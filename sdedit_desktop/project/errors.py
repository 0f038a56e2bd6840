"""The one exception the project package raises for a file it cannot read or write."""

from __future__ import annotations


class ProjectError(Exception):
    """A project file that cannot be loaded or saved as asked. The message is for users: it says
    which part of the file is wrong and how. Loading never returns a partial project and never
    modifies the file; a failed save leaves the previous file as it was.

    The message is the reason alone ("manifest.json is not valid UTF-8 text (byte 12)"); the
    caller names the file. Errors from `load_project` carry the file in `path`."""

    def __init__(self, message: str, *, path: object = None):
        super().__init__(message)
        self.path = path

    @property
    def reason(self) -> str:
        return str(self)
