"""The editor model <-> the `project` package's `Project` (what `.sdeproj` files hold).

`project.ui` keeps the next edit's parameters (`EditParams.to_json()` under "edit_params"), the
kind of the next edit ("method"), the entry the working image continues (`parent_id`), what
the working image is (`image_label`), the name of the photo the project started from
(`original_label`; the photo itself is the input of the first edit, see model/original.py) and
the user's edit region (`region`: [x, y, w, h], absent or null = auto)."""

from __future__ import annotations

from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.edits.region import check_region
from sdedit_desktop.project import Project, ProjectError
from sdedit_desktop.ui.model.edit_params import legacy_panel_json
from sdedit_desktop.ui.model.editor import EditorModel


def editor_to_project(editor: EditorModel) -> Project:
    """The editor's state as a Project, reusing its id, creation time and PNG cache."""
    doc = editor.doc
    if doc.image is None:
        raise ProjectError("there is no image to save")
    project = editor.project
    if project is None:
        project = editor.project = Project(image=doc.image)
    project.image = doc.image
    project.mask = doc.mask.copy() if doc.mask is not None and doc.mask.any() else None
    project.points = [(s, t) for s, t in doc.points if t is not None]
    project.history = list(editor.history.entries)
    project.ui = {"edit_params": editor.params.to_json(), "method": editor.edit_kind,
                  "parent_id": editor.parent_id, "image_label": doc.image_label,
                  "original_label": editor.original.label if editor.original else None,
                  "region": None if doc.region is None else list(doc.region)}
    project.mark_changed()
    return project


def project_to_editor(editor: EditorModel, project: Project, label: str) -> None:
    """Start a session on `project`; `label` names the image when the project does not."""
    ui = project.ui if isinstance(project.ui, dict) else {}
    # Everything read from the file is read before the editor switches: a bad value can then
    # never leave it half on the old session, half on the new one.
    height, width = project.image.shape[:2]
    region = saved_region(ui.get("region"), width, height)
    original = ui.get("original_label")
    editor.start_project(project.image, str(ui.get("image_label") or label), None,
                         project.mask, list(project.points), list(project.history),
                         original_label=original if isinstance(original, str) else None)
    editor.project = project
    # Older projects kept untyped panel values ("panels", "seed", "max_side"): what can be
    # read is migrated, the rest ignored.
    editor.params.from_json(ui["edit_params"] if "edit_params" in ui else legacy_panel_json(ui))
    if ui.get("method") in editor.params.kinds():
        editor.set_edit_kind(ui["method"])
    parent = ui.get("parent_id")
    editor.parent_id = parent if editor.history.find(parent) is not None else None
    editor.doc.set_region(region)


def saved_region(value: object, width: int, height: int) -> tuple[int, int, int, int] | None:
    """A project's saved region when it is four whole numbers inside the image, else auto."""
    try:
        return check_region(value, width, height) if value is not None else None
    except EditError:
        return None
