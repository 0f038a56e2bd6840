"""Where file dialogs open and what name they suggest: next to the project or the image, else
the last folder the user chose, else the user's Pictures (or Documents, or home) - never
inside the installation (its bundled samples are read-only and get lost on updates)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths

from sdedit_desktop.resources import resources_dir

EXPORT_FORMATS = {  # dialog filter -> extension written when the name has none
    "PNG image (*.png)": ".png",
    "JPEG image (*.jpg *.jpeg)": ".jpg",
    "WebP image (*.webp)": ".webp",
}
EXPORT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def _installed(folder: Path) -> bool:
    try:
        folder.resolve().relative_to(resources_dir().resolve())
    except ValueError:
        return False
    return True


def usable_folder(folder: Path | str | None) -> Path | None:
    """`folder` when it exists and is not inside the installation, else None."""
    if not folder:
        return None
    folder = Path(folder)
    return folder if folder.is_dir() and not _installed(folder) else None


def user_folder() -> Path:
    """The user's Pictures, else Documents, else home."""
    for location in (QStandardPaths.StandardLocation.PicturesLocation,
                     QStandardPaths.StandardLocation.DocumentsLocation):
        for text in QStandardPaths.standardLocations(location):
            if usable_folder(text) is not None:
                return Path(text)
    return Path.home()


def dialog_folder(*candidates: Path | str | None) -> Path:
    """The first usable candidate folder, else `user_folder()`."""
    for candidate in candidates:
        folder = usable_folder(candidate)
        if folder is not None:
            return folder
    return user_folder()


def suggested_stem(label: str, source: Path | None) -> str:
    """A file name stem from the image: "chelsea" for chelsea.png, "pasted image" -> ..."""
    stem = source.stem if source is not None else Path(label or "untitled").stem
    cleaned = "".join(c if c.isalnum() or c in "-_ " else "_" for c in stem).strip()
    return cleaned or "untitled"


def with_export_suffix(path: Path, chosen_filter: str) -> Path:
    """The path as typed when it names a format; else with the chosen filter's extension."""
    if path.suffix.lower() in EXPORT_SUFFIXES:
        return path
    return path.with_name(path.name + EXPORT_FORMATS.get(chosen_filter, ".png"))
