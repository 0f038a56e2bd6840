"""The editor model <-> the `project` package's `Project` (what `.sdeproj` files hold).

`project.ui` keeps the next edit's parameters (`EditParams.to_json()`), the entry the working
image continues (`parent_id`) and what the working image is (`image_label`)."""

from __future__ import annotations

from sdedit_desktop.project import Project, ProjectError
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
    project.ui = {**editor.params.to_json(), "parent_id": editor.parent_id,
                  "image_label": doc.image_label}
    project.mark_changed()
    return project


def project_to_editor(editor: EditorModel, project: Project, label: str) -> None:
    """Start a session on `project`; `label` names the image when the project does not."""
    ui = project.ui if isinstance(project.ui, dict) else {}
    editor.start_project(project.image, str(ui.get("image_label") or label), None,
                         project.mask, list(project.points), list(project.history))
    editor.project = project
    editor.params.from_json(ui)
    parent = ui.get("parent_id")
    editor.parent_id = parent if editor.history.find(parent) is not None else None
