"""Data sets for `sdedit eval`: each kind turns a folder or list file into `Sample`s."""

from __future__ import annotations

from pathlib import Path

from sdedit_desktop.eval.samples import Sample

KINDS = ("drag", "inpaint", "diffedit", "reconstruct")


class DatasetError(ValueError):
    """The data set as a whole cannot be read (no such folder, nothing in it)."""


def list_samples(kind: str, path: Path) -> list[Sample]:
    """The samples of the data set at `path`, in a stable order (the order sharding relies on)."""
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if kind == "drag":
        from sdedit_desktop.eval.datasets.drag import drag_samples as lister
    elif kind == "inpaint":
        from sdedit_desktop.eval.datasets.inpaint import inpaint_samples as lister
    elif kind == "diffedit":
        from sdedit_desktop.eval.datasets.diffedit import diffedit_samples as lister
    elif kind == "reconstruct":
        from sdedit_desktop.eval.datasets.reconstruct import reconstruct_samples as lister
    else:
        raise DatasetError(f"unknown data set kind {kind!r}: expected one of {', '.join(KINDS)}")
    try:
        samples = lister(path)
    except OSError as exc:  # an unreadable folder under the data set
        raise DatasetError(f"{path}: cannot list the data set ({exc.strerror or exc})") from None
    if not samples:
        raise DatasetError(f"{path}: no {kind} samples found (see `sdedit eval {kind} --help` "
                           "for the layout)")
    return samples
