"""File actions: open an image (dialog, path, clipboard, drop), open and save `.sdeproj`
projects, autosave and crash recovery, export the shown image, and the Recent menu. The state
goes through the editor model (`model.project_binding`); this module adds only the dialogs,
the settings (last folder, recent files) and the questions about unsaved work."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QWidget

from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.imaging import save_image
from sdedit_desktop.project import (
    Project,
    ProjectError,
    autosave,
    clear_autosave,
    discard_autosave,
    embed_cached_loras,
    install_embedded_loras,
    list_recoverable,
    load_project,
    recover,
)
from sdedit_desktop.project import save_project as write_project
from sdedit_desktop.project.loras import LoraStore
from sdedit_desktop.textsafe import shown
from sdedit_desktop.ui.background_read import BackgroundRead
from sdedit_desktop.ui.errors import show_error
from sdedit_desktop.ui.file_places import (
    EXPORT_FORMATS,
    EXPORT_SUFFIXES,
    dialog_folder,
    suggested_stem,
    usable_folder,
    with_export_suffix,
)
from sdedit_desktop.ui.imageio import OPEN_FILTER, ImageLoadError, load_image_file, save_png
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.original import ORIGINAL_ID
from sdedit_desktop.ui.model.project_binding import editor_to_project, project_to_editor
from sdedit_desktop.ui.qimage import qimage_to_rgb
from sdedit_desktop.ui.settings import AppSettings

PROJECT_FILTER = "sdedit project (*.sdeproj)"


def export_text(entry, request: EditRequest | None) -> dict[str, str]:
    """The metadata an exported JPEG/WebP keeps: the entry's (as in a PNG), else the request's."""
    if entry is not None:
        from sdedit_desktop.project.export import entry_text

        return entry_text(entry)
    text = {"Software": "sdedit-desktop"}
    if request is not None:
        text["sdedit:request"] = json.dumps(request.params(), sort_keys=True)
    return text


def default_lora_store() -> LoraStore:
    """The local LoRA cache the engine trains into (imported late: it pulls in torch)."""
    from sdedit_desktop.models.lora import LoraCache

    return LoraCache()


class FileActions:
    """`ask_unsaved()` answers "save", "discard" or "cancel"; `confirm(title, question)` yes
    or no; `persist_settings()` writes the settings file (all three belong to the window).
    `lora_store()` gives the LoRA cache projects embed LoRAs from and install them into."""

    def __init__(self, parent: QWidget, editor: EditorModel, settings: AppSettings,
                 ask_unsaved: Callable[[], str], confirm: Callable[[str, str], bool],
                 persist_settings: Callable[[], None],
                 lora_store: Callable[[], LoraStore] = default_lora_store,
                 busy: Callable[[str], None] = lambda _text: None):
        """`busy(text)` shows what is being opened in the background ("" = done)."""
        self.parent, self.editor, self.settings = parent, editor, settings
        self._busy = busy
        self._reads = BackgroundRead(parent)
        self._ask_unsaved, self._confirm = ask_unsaved, confirm
        self._persist = persist_settings
        self._lora_store = lora_store
        self.autosave_dir: Path | None = None  # None = the user data folder
        self.recent_menu: QMenu | None = None

    # -- unsaved work -----------------------------------------------------------------------
    def may_discard(self) -> bool:
        """True when the current work may be replaced: saved, or the user said so."""
        if not self.editor.has_unsaved_work():
            return True
        choice = self._ask_unsaved()
        if choice == "save":
            return self.save_project() is not None
        if choice == "discard":
            self.drop_autosave()
            return True
        return False

    # -- images -----------------------------------------------------------------------------
    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open image",
                                              str(dialog_folder(self.settings.last_dir)),
                                              OPEN_FILTER)
        if path:
            self.open_in_background(Path(path))

    def open_image(self, path: Path) -> bool:
        """Open an image file (or a project) as a new session, reading it on this thread.
        Errors are shown; nothing is lost on failure."""
        path = Path(path)
        if path.suffix.lower() == ".sdeproj":
            return self.open_project(path)
        try:
            image = load_image_file(path)
        except ImageLoadError as exc:
            return self._cannot_open_image(path, exc)
        return self._start_image(path, image)

    def open_in_background(self, path: Path) -> None:
        """Open an image or a project like `open_image`, reading the file off the UI thread:
        the window stays live and says what it is opening meanwhile (a large photo takes
        seconds to decode). What the user does is asked (unsaved work) once it is read."""
        path = Path(path)
        project = path.suffix.lower() == ".sdeproj"
        self._busy(f"Opening {shown(path.name, 80)}…")

        def done(value: object, error: BaseException | None) -> None:
            self._busy("")
            if project:
                if error is not None:
                    self._cannot_open_project(path, error)
                else:
                    self._start_project(path, value)
            elif isinstance(error, ImageLoadError):
                self._cannot_open_image(path, error)
            elif error is not None:  # not a reader's error: a bug, the excepthook shows it
                raise error
            else:
                self._start_image(path, value)

        self._reads.read(path, load_project if project else load_image_file, done)

    def _cannot_open_image(self, path: Path, exc: ImageLoadError) -> bool:
        show_error(self.parent, "Cannot open image", str(exc), f"{path}\n{exc.__cause__ or ''}")
        return False

    def _start_image(self, path: Path, image: np.ndarray) -> bool:
        if not self.may_discard():
            return False
        self.editor.start_project(image, path.name, path)
        self._remember(path, folder=True)
        return True

    def paste_image(self) -> None:
        image = QApplication.clipboard().image()
        if image.isNull():
            show_error(self.parent, "Nothing to paste", "The clipboard holds no image. Copy an "
                       "image (not a file name) and paste again.")
            return
        self.set_image_from_qimage(image, "pasted image")

    def set_image_from_qimage(self, image: QImage, label: str) -> None:
        try:
            array = qimage_to_rgb(image)
        except ValueError as exc:
            show_error(self.parent, "Cannot use image", f"The {label} is empty or unreadable.",
                       str(exc))
            return
        if min(array.shape[:2]) < 8:
            show_error(self.parent, "Image too small", f"The {label} is {array.shape[1]}x"
                       f"{array.shape[0]} pixels; the editor needs at least 8x8.")
            return
        if self.may_discard():
            self.editor.start_project(array, label, None)

    # -- projects ---------------------------------------------------------------------------
    def open_project_dialog(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open project",
                                              str(dialog_folder(self.settings.last_dir)),
                                              PROJECT_FILTER)
        if path:
            self.open_in_background(Path(path))
        return bool(path)

    def open_project(self, path: Path) -> bool:
        try:
            project = load_project(path)
        except (ProjectError, OSError) as exc:
            return self._cannot_open_project(path, exc)
        return self._start_project(path, project)

    def _cannot_open_project(self, path: Path, exc: BaseException) -> bool:
        if isinstance(exc, ProjectError):
            show_error(self.parent, "Cannot open project", f"{path.name}: {exc}", str(path))
        elif isinstance(exc, OSError):
            show_error(self.parent, "Cannot open project",
                       f"{path.name} cannot be read: {exc}", repr(exc))
        else:  # not a reader's error: a bug, the excepthook shows it
            raise exc
        return False

    def _start_project(self, path: Path, project: Project) -> bool:
        if not self.may_discard():
            return False
        project_to_editor(self.editor, project, path.name)
        self.editor.mark_saved()
        self._remember(path, folder=True)
        self._install_loras(project)
        return True

    def save_project(self, ask: bool = False, path: Path | None = None) -> Path | None:
        """Save to the project's file (asking for one the first time or with `ask`)."""
        editor = self.editor
        if editor.doc.image is None:
            show_error(self.parent, "Nothing to save", "Open an image first.")
            return None
        target = path or (editor.project.path if editor.project is not None else None)
        if target is None or ask:
            name, _ = QFileDialog.getSaveFileName(self.parent, "Save project",
                                                  str(self.save_suggestion(".sdeproj")),
                                                  PROJECT_FILTER)
            if not name:
                return None
            target = Path(name)
        if target.suffix.lower() != ".sdeproj":
            target = target.with_suffix(".sdeproj")
        try:
            project = editor_to_project(editor)
            if self.settings.embed_loras:
                embed_cached_loras(project, self._lora_store())
            written = write_project(project, target)
            clear_autosave(project, self.autosave_dir)
        except (ProjectError, OSError) as exc:
            show_error(self.parent, "Project not saved",
                       f"Could not save {target.name}: {exc}. The previous file (if any) is "
                       "unchanged.", repr(exc))
            return None
        editor.mark_saved()
        self._remember(written, folder=False)
        editor.message.emit(f"Saved {written}", 5000)
        return written

    def autosave_now(self) -> Path | None:
        """Write a recovery copy when there is unsaved work; errors go to the status bar only
        (an autosave must never interrupt the user with dialogs every few minutes)."""
        if self.editor.doc.image is None or not self.editor.has_unsaved_work():
            return None
        try:
            original = self.editor.original
            return autosave(editor_to_project(self.editor), self.autosave_dir,
                            name=original.label if original is not None else None)
        except (ProjectError, OSError) as exc:
            self.editor.message.emit(f"Autosave failed: {exc}", 8000)
            return None

    def drop_autosave(self) -> None:
        """The user discarded the work: do not offer it for recovery next time."""
        if self.editor.project is not None:
            # A stale autosave is harmless (recovery lets the user discard it).
            with contextlib.suppress(OSError):
                clear_autosave(self.editor.project, self.autosave_dir)

    def offer_recovery(self) -> bool:
        """At start-up: offer the newest autosave that is newer than its project file."""
        try:
            items = list_recoverable(self.autosave_dir)
        except OSError:
            return False
        if not items:
            return False
        item = items[0]
        when = item.autosaved_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if not self._confirm("Recover unsaved work?",
                             f"sdedit-desktop found unsaved work from {when} ({item.title}). "
                             "Recover it? (No discards it.)"):
            discard_autosave(item)
            return False
        try:
            project = recover(item)
        except ProjectError as exc:
            show_error(self.parent, "Recovery failed", f"The autosave cannot be read: {exc}",
                       str(item.autosave_path))
            return False
        project_to_editor(self.editor, project, item.title)
        self.editor.mark_unsaved()
        self._install_loras(project)
        return True

    def _install_loras(self, project: Project) -> None:
        """Put the project's embedded LoRAs into the local cache, so re-running its edits with
        LoRA 'Auto' uses the very same weights instead of training new ones. A failure only
        costs that (a new training), so it is a status line, not a dialog."""
        if not project.loras:
            return
        try:
            installed = install_embedded_loras(project, self._lora_store())
        except (ProjectError, OSError) as exc:
            self.editor.message.emit(f"The project's LoRA weights were not installed: {exc}",
                                     8000)
            return
        if installed:
            self.editor.message.emit(f"Installed {len(installed)} LoRA(s) from the project "
                                     "into the LoRA cache.", 6000)

    # -- where dialogs open -----------------------------------------------------------------
    def save_suggestion(self, suffix: str, tag: str = "") -> Path:
        """A full path for a save dialog: a sensible folder and a name from the project or the
        image (`tag` is added to the image's name, e.g. "-edit")."""
        editor = self.editor
        project_path = editor.project.path if editor.project is not None else None
        source = editor.doc.source_path
        folder = dialog_folder(project_path.parent if project_path else None,
                               source.parent if source else None, self.settings.last_dir)
        if project_path is not None and suffix == ".sdeproj":
            return folder / project_path.name
        stem = suggested_stem(editor.doc.image_label, source)
        return folder / f"{stem}{tag}{suffix}"

    # -- export -----------------------------------------------------------------------------
    def shown_image(self) -> tuple[np.ndarray | None, EditRequest | None]:
        entry = self.editor.shown_entry()
        if entry is not None:
            return entry.result.image, entry.request
        if self.editor.shown_entry_id == ORIGINAL_ID and self.editor.original is not None:
            return self.editor.original.image, None
        return self.editor.doc.image, None

    def export_result(self, path: Path | None = None) -> Path | None:
        image, request = self.shown_image()
        if image is None:
            show_error(self.parent, "Nothing to export", "Open an image and run an edit first.")
            return None
        if path is None:
            name, chosen = QFileDialog.getSaveFileName(
                self.parent, "Export image", str(self.save_suggestion(".png", "-edit")),
                ";;".join(EXPORT_FORMATS))
            if not name:
                return None
            path = with_export_suffix(Path(name), chosen)
        path = Path(path)
        if path.suffix.lower() not in EXPORT_SUFFIXES:
            path = path.with_name(path.name + ".png")  # no format named: lossless PNG
        entry = self.editor.shown_entry()
        if entry is None and self.editor.working_source_id() is not None:
            entry = self.editor.history.find(self.editor.working_source_id())
            if entry is not None and not np.array_equal(entry.result.image, image):
                entry = None  # the working image was edited since: no edit describes it
        try:
            if path.suffix.lower() != ".png":
                return save_image(path, image, export_text(entry, request),
                                  quality=self.settings.export_quality)
            if entry is not None:
                from sdedit_desktop.project import export_result_png

                return export_result_png(entry, path)
            return save_png(path, image, request)
        except Exception as exc:  # OSError, ProjectError: show it, never lose the window
            show_error(self.parent, "Export failed",
                       f"Could not write {path}: {getattr(exc, 'strerror', None) or exc}",
                       repr(exc))
            return None

    # -- recent files -----------------------------------------------------------------------
    def bind_recent_menu(self, menu: QMenu) -> None:
        self.recent_menu = menu
        self.rebuild_recent()

    def rebuild_recent(self) -> None:
        menu = self.recent_menu
        if menu is None:
            return
        menu.clear()
        existing = [p for p in self.settings.recent_files if Path(p).exists()]
        for p in existing:
            act = menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _=False, path=p: self.open_in_background(Path(path)))
        menu.setEnabled(bool(existing))

    def _remember(self, path: Path, folder: bool) -> None:
        """A file was opened or saved: Recent lists it (and an opened one's folder is where the
        next dialog starts)."""
        if folder and usable_folder(path.parent) is not None:  # never the bundled samples
            self.settings.last_dir = str(path.parent)
        self.settings.add_recent(path)
        self.rebuild_recent()
        self._persist()
