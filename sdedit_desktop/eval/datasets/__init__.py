"""Data sets for `sdedit eval`: each kind's eval spec (`EditKind.eval.samples`) turns a folder or
list file into `Sample`s; the readers live beside this module, one per layout."""

from __future__ import annotations

from pathlib import Path

from sdedit_desktop.edits.kinds import all_kinds, kind_named
from sdedit_desktop.eval.samples import Sample


class DatasetError(ValueError):
    """The data set as a whole cannot be read (no such folder, nothing in it)."""


def list_samples(kind: str, path: Path) -> list[Sample]:
    """The samples of the data set at `path`, in a stable order (the order sharding relies on)."""
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    try:
        spec = kind_named(kind).eval
    except KeyError:
        spec = None
    if spec is None:
        known = ", ".join(k.name for k in all_kinds() if k.eval is not None)
        raise DatasetError(f"unknown data set kind {kind!r}: expected one of {known}")
    lister = spec.samples
    try:
        samples = lister(path)
    except OSError as exc:  # an unreadable folder under the data set
        raise DatasetError(f"{path}: cannot list the data set ({exc.strerror or exc})") from None
    if not samples:
        raise DatasetError(f"{path}: no {kind} samples found (see `sdedit eval {kind} --help` "
                           "for the layout)")
    return samples
