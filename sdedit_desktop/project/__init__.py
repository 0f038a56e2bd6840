"""`.sdeproj` project files: the editor's whole state in one portable, versioned zip.

A project holds the source image, the current mask and drag points, free UI settings, and the
full edit history: every edit's complete request (method, parameters, seed, model identity, its
own input image and mask) and result (image, drag trajectory, DiffEdit mask, metrics, timings,
UNet counts, LoRA identity), optionally with the LoRA weights embedded.

Archive layout (format version 2; the full schema is in docs/sdeproj.md):

    manifest.json                 format, format_version, app_version, project_id, times,
                                  arrays table, source, ui, history, loras
    arrays/<sha256>.png           every distinct image/mask once, lossless PNG, named by
                                  `edits.requests.image_sha256` of its array
    loras/<sha256>.safetensors    embedded LoRA weights, named by the SHA-256 of the file

API for the UI (no Qt here):

* `Project`, `HistoryEntry`, `EmbeddedLora` (model.py): the in-memory model; `project.dirty`
  says whether there are unsaved changes (`mark_changed()` / `mark_saved()`).
* `load_project(path)`, `save_project(project, path=None)` (storage.py): atomic save with one
  `NAME.sdeproj.bak` backup; defensive load. Every failure is a `ProjectError` with a message
  for the user.
* `autosave(project)`, `list_recoverable()`, `recover(item)`, `discard_autosave(item)`,
  `clear_autosave(project)` (autosave.py): crash recovery in the user data folder.
* `export_result_png(entry, path)`, `export_history(project, folder)` (export.py).
* `embed_cached_loras(project, cache)`, `install_embedded_loras(project, cache)` (loras.py):
  carry per-image LoRA weights from the local LoRA cache into the project and back out.
* `summarize(project, info)` / `format_summary(...)` (summary.py): what `sdedit project info`
  prints.
* `migrate.register(from_version)`: how older formats are upgraded (1 -> 2: edit regions).
"""

from sdedit_desktop.project.autosave import (
    Recoverable,
    autosave,
    autosave_dir,
    clear_autosave,
    discard_autosave,
    list_recoverable,
    recover,
)
from sdedit_desktop.project.errors import ProjectError
from sdedit_desktop.project.export import export_history, export_result_png
from sdedit_desktop.project.limits import DEFAULT_LIMITS, LoadLimits
from sdedit_desktop.project.loras import embed_cached_loras, install_embedded_loras
from sdedit_desktop.project.model import EmbeddedLora, HistoryEntry, Project
from sdedit_desktop.project.schema import FORMAT_VERSION
from sdedit_desktop.project.storage import (
    BACKUP_SUFFIX,
    PROJECT_SUFFIX,
    FileInfo,
    backup_path,
    load_project,
    load_project_with_info,
    save_project,
)

__all__ = [
    "BACKUP_SUFFIX",
    "DEFAULT_LIMITS",
    "FORMAT_VERSION",
    "PROJECT_SUFFIX",
    "EmbeddedLora",
    "FileInfo",
    "HistoryEntry",
    "LoadLimits",
    "Project",
    "ProjectError",
    "Recoverable",
    "autosave",
    "autosave_dir",
    "backup_path",
    "clear_autosave",
    "discard_autosave",
    "embed_cached_loras",
    "export_history",
    "export_result_png",
    "install_embedded_loras",
    "list_recoverable",
    "load_project",
    "load_project_with_info",
    "recover",
    "save_project",
]
