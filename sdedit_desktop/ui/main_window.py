"""The main window: canvas in the middle, method panels and Run/Cancel on the right, history on
the left, status bar with device / precision / model. The engine is injected (any object with
the `engine.Engine` signals and methods), so tests and the app share this code."""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QImage, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from sdedit_desktop.edits.requests import EditRequest, EditResult
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.project.model import HistoryEntry
from sdedit_desktop.resources import sample_images
from sdedit_desktop.ui import icons
from sdedit_desktop.ui.actions import Shortcut
from sdedit_desktop.ui.canvas import CanvasView, Tool
from sdedit_desktop.ui.commands import CallbackCommand
from sdedit_desktop.ui.document import EditorDocument, PointPair
from sdedit_desktop.ui.errors import show_error, show_warning
from sdedit_desktop.ui.history import HistoryModel, HistoryPanel, method_label
from sdedit_desktop.ui.imageio import (
    OPEN_FILTER,
    ImageLoadError,
    load_image_file,
    save_png,
)
from sdedit_desktop.ui.panels import InputError, PanelStack
from sdedit_desktop.ui.qimage import qimage_to_rgb, rgb_to_qimage
from sdedit_desktop.ui.settings import AppSettings, save_settings
from sdedit_desktop.ui.widgets import CompareBar, RunBox, TrajectoryPlayer


@dataclass
class _Job:
    request: EditRequest
    parent_id: str | None
    before: QImage
    submitted: float
    started: float | None = None
    preview: QImage | None = None


class MainWindow(QMainWindow):
    closed = Signal()  # the window accepted a close: the app quits (main connects it)

    def __init__(self, engine: Any, settings: AppSettings | None = None,
                 settings_file: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.settings = settings or AppSettings()
        self.settings_file = settings_file
        self.setWindowTitle("sdedit-desktop")
        self.setWindowIcon(icons.app_icon())
        self.resize(1400, 900)
        self.setAcceptDrops(True)

        self.undo = QUndoStack(self)
        self.doc = EditorDocument(self)
        self.history = HistoryModel(self)
        self.canvas = CanvasView(self.doc, self.undo)
        self.canvas.brush_radius = self.settings.brush_radius
        self.canvas.brush_hardness = self.settings.brush_hardness
        self.canvas.set_overlay_opacity(self.settings.overlay_opacity)
        self.panels = PanelStack()
        self.panels.max_side.setValue(self.settings.max_side)
        self.run_box = RunBox()
        self.compare = CompareBar()
        self.player = TrajectoryPlayer()
        self.history_panel = HistoryPanel(self.history)
        self.shortcuts: list[Shortcut] = []

        self._jobs: dict[int, _Job] = {}
        self._running: int | None = None
        self._view_entry: str | None = None  # history entry shown on the canvas
        self._frame: int | None = None  # trajectory frame shown (None = the result)
        self._parent_id: str | None = None  # entry the working image came from
        self._doc_qimage: QImage | None = None
        self._qimages: OrderedDict[int, tuple[np.ndarray, QImage]] = OrderedDict()
        self._saved_index = 0  # undo index at the last save: "unsaved changes"
        self.model_state: Any = getattr(engine, "model_state", None)
        self.project: Any = None  # project.Project once saved/opened (keeps id, path)
        self.autosave_dir: Path | None = None  # None = the user data folder
        self.preview_count = 0
        self._autosave_timer = QTimer(self)
        self._autosave_timer.timeout.connect(self._autosave)
        if self.settings.autosave_minutes > 0:
            self._autosave_timer.start(self.settings.autosave_minutes * 60_000)

        self._build_layout()
        self._build_actions()
        self._connect()
        self._update_model_labels(self.model_state)
        self._update_enabled()
        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromHex(self.settings.window_geometry.encode()))

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        centre = QWidget()
        v = QVBoxLayout(centre)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(2)
        v.addWidget(self.canvas, 1)
        v.addWidget(self.compare)
        v.addWidget(self.player)
        self.setCentralWidget(centre)

        right = QWidget()
        rv = QVBoxLayout(right)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.panels)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        rv.addWidget(scroll, 1)
        rv.addWidget(self.run_box)
        self.metrics_label = QLabel("")
        self.metrics_label.setWordWrap(True)
        rv.addWidget(self.metrics_label)
        dock = QDockWidget("Edit", self)
        dock.setObjectName("edit-dock")
        dock.setWidget(right)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        right.setMinimumWidth(330)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

        hist = QDockWidget("History", self)
        hist.setObjectName("history-dock")
        hist.setWidget(self.history_panel)
        hist.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.history_panel.setMinimumWidth(240)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, hist)

        bar = self.statusBar()
        self.cursor_label = QLabel("")
        self.zoom_label = QLabel("")
        self.device_label = QLabel("")
        self.dtype_label = QLabel("")
        self.model_label = QLabel("")
        for label in (self.cursor_label, self.zoom_label, self.device_label, self.dtype_label,
                      self.model_label):
            label.setContentsMargins(6, 0, 6, 0)
            bar.addPermanentWidget(label)

    def _action(self, text: str, slot, keys: str | QKeySequence.StandardKey | None = None,
                icon: str | None = None, tip: str | None = None,
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(icons.icon(icon))
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
            seq = QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)
            self.shortcuts.append(Shortcut(seq, text.replace("&", "").rstrip("…")))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        menu = self.menuBar()
        A = self._action
        f = menu.addMenu("&File")
        self.act_open = A("&Open image…", self.open_image_dialog, QKeySequence.StandardKey.Open,
                          "open", "Open an image to edit")
        self.act_paste = A("&Paste image", self.paste_image, QKeySequence.StandardKey.Paste,
                           None, "Paste an image from the clipboard")
        f.addAction(self.act_open)
        f.addAction(self.act_paste)
        self.samples_menu = f.addMenu("Samples")
        for path in sample_images():
            act = self.samples_menu.addAction(path.stem.capitalize())
            act.triggered.connect(lambda _=False, p=path: self.open_image(p))
        self.recent_menu = f.addMenu("Recent")
        self._rebuild_recent()
        f.addSeparator()
        self.project_actions = self._project_actions(f)
        self.act_export = A("&Export result…", self.export_result, "Ctrl+E", "save",
                            "Save the image shown on the canvas as PNG (with its parameters)")
        f.addAction(self.act_export)
        f.addSeparator()
        f.addAction(A("&Quit", self.close, QKeySequence.StandardKey.Quit))

        e = menu.addMenu("&Edit")
        self.act_undo = self.undo.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.act_undo.setIcon(icons.icon("undo"))
        self.act_redo = self.undo.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_redo.setIcon(icons.icon("redo"))
        self.shortcuts += [Shortcut(QKeySequence(QKeySequence.StandardKey.Undo).toString(
            QKeySequence.SequenceFormat.NativeText), "Undo"),
            Shortcut("Ctrl+Shift+Z / Ctrl+Y", "Redo")]
        for act in (self.act_undo, self.act_redo):
            self.addAction(act)
            e.addAction(act)
        e.addSeparator()
        self.act_clear_mask = A("Clear mask", self.canvas.clear_mask, "Ctrl+Shift+M", "clear",
                                "Remove the whole mask")
        self.act_invert_mask = A("Invert mask", self.canvas.invert_mask, "Ctrl+I", "invert",
                                 "Swap masked and unmasked regions")
        self.act_clear_points = A("Clear points", self.canvas.clear_points, "Ctrl+Shift+P",
                                  "clear-points", "Remove every drag point")
        for act in (self.act_clear_mask, self.act_invert_mask, self.act_clear_points):
            e.addAction(act)
        e.addSeparator()
        e.addAction(A("Settings…", self.open_settings, "Ctrl+,"))

        t = menu.addMenu("&Tools")
        self.act_brush = A("Mask &brush", lambda on: on and self.set_tool(Tool.BRUSH), "B",
                           "brush", "Paint the region that may change", checkable=True)
        self.act_eraser = A("Mask &eraser", lambda on: on and self.set_tool(Tool.ERASER), "E",
                            "eraser", "Erase the mask", checkable=True)
        self.act_points = A("Drag &points", lambda on: on and self.set_tool(Tool.POINTS), "P",
                            "points", "Click a source, then its target; drag a point to move "
                            "it", checkable=True)
        from PySide6.QtGui import QActionGroup

        group = QActionGroup(self)
        for act in (self.act_brush, self.act_eraser, self.act_points):
            group.addAction(act)
            t.addAction(act)
        self.act_brush.setChecked(True)
        t.addSeparator()
        t.addAction(A("Smaller brush", lambda: self.set_brush_radius(
            self.canvas.brush_radius / 1.25), "["))
        t.addAction(A("Larger brush", lambda: self.set_brush_radius(
            self.canvas.brush_radius * 1.25), "]"))

        vm = menu.addMenu("&View")
        self.act_fit = A("Fit to window", self.canvas.fit_to_window, "Ctrl+0", "zoom-fit")
        self.act_100 = A("Actual size (100%)", self.canvas.actual_size, "Ctrl+1", "zoom-100")
        self.act_zoom_in = A("Zoom in", self.canvas.zoom_in, QKeySequence.StandardKey.ZoomIn,
                             "zoom-in")
        self.act_zoom_out = A("Zoom out", self.canvas.zoom_out,
                              QKeySequence.StandardKey.ZoomOut, "zoom-out")
        self.act_split = A("Before/after split", self.compare.check.setChecked, "\\",
                           "compare", "Split view: input left, result right", checkable=True)
        self.compare.check.toggled.connect(self.act_split.setChecked)
        self.act_overlays = A("Show mask and points", self.canvas.set_overlays_visible, "H",
                              None, "Hide or show the mask overlay and drag arrows",
                              checkable=True)
        self.act_overlays.setChecked(True)
        self.act_working = A("Show working image", self.show_working_image, "W",
                             None, "Show the input of the next edit (leave the history view)")
        for act in (self.act_fit, self.act_100, self.act_zoom_in, self.act_zoom_out, None,
                    self.act_split, self.act_overlays, self.act_working):
            if act is None:
                vm.addSeparator()
            else:
                vm.addAction(act)

        r = menu.addMenu("&Run")
        self.act_run = A("Run edit", self.run_edit, "Ctrl+Return", "run",
                         "Run the edit of the selected method")
        self.act_cancel = A("Cancel edit", self.cancel_edit, "Esc", "cancel",
                            "Stop the running edit")
        r.addAction(self.act_run)
        r.addAction(self.act_cancel)

        m = menu.addMenu("&Model")
        m.addAction(A("Model setup…", self.open_model_setup, None, None,
                      "Choose, download or load the diffusion model"))
        self.act_stop_load = A("Stop loading", self.stop_model_load, None, None,
                               "Stop the model load or download in progress (a download "
                               "resumes next time)")
        self.act_stop_load.setEnabled(False)
        m.addAction(self.act_stop_load)
        m.addAction(A("Unload model", self.engine.unload_model, None, None,
                      "Free the memory the model holds"))

        h = menu.addMenu("&Help")
        h.addAction(A("Keyboard shortcuts", self.open_help, "F1"))
        h.addAction(A("About", self.open_about))

        tb = QToolBar("Tools", self)
        tb.setObjectName("tools")
        tb.setMovable(False)
        self.addToolBar(tb)
        for act in (self.act_open, self.act_export, None, self.act_undo, self.act_redo, None,
                    self.act_brush, self.act_eraser, self.act_points, None):
            tb.addSeparator() if act is None else tb.addAction(act)
        tb.addWidget(QLabel(" Size "))
        self.size_slider = self._slider(1, 500, int(self.canvas.brush_radius),
                                        "Brush radius in image pixels ([ and ])")
        self.size_slider.valueChanged.connect(lambda v: self.set_brush_radius(float(v)))
        tb.addWidget(self.size_slider)
        self.size_label = QLabel(f"{self.canvas.brush_radius:.0f} px ")
        self.size_label.setMinimumWidth(44)
        tb.addWidget(self.size_label)
        tb.addWidget(QLabel(" Hardness "))
        self.hardness_slider = self._slider(0, 100, int(100 * self.canvas.brush_hardness),
                                            "Brush hardness: 100 = hard edge, lower = feathered")
        self.hardness_slider.valueChanged.connect(self._hardness_changed)
        tb.addWidget(self.hardness_slider)
        tb.addWidget(QLabel(" Overlay "))
        self.opacity_slider = self._slider(0, 100, int(100 * self.settings.overlay_opacity),
                                           "Opacity of the mask overlay")
        self.opacity_slider.valueChanged.connect(self._opacity_changed)
        tb.addWidget(self.opacity_slider)
        tb.addSeparator()
        for act in (self.act_clear_mask, self.act_invert_mask, self.act_clear_points, None,
                    self.act_fit, self.act_100, self.act_zoom_in, self.act_zoom_out, None,
                    self.act_split):
            tb.addSeparator() if act is None else tb.addAction(act)

    def _project_actions(self, menu) -> dict[str, QAction]:
        from sdedit_desktop.ui import project_io

        A = self._action
        acts = {
            "open": A("Open project…", lambda: project_io.open_project_dialog(self),
                      "Ctrl+Shift+O", None, "Open a .sdeproj project"),
            "save": A("&Save project", lambda: project_io.save_project(self),
                      QKeySequence.StandardKey.Save, None, "Save image, mask, points and history"),
            "save_as": A("Save project &as…", lambda: project_io.save_project(self, ask=True),
                         "Ctrl+Shift+S"),
        }
        for act in acts.values():
            menu.addAction(act)
        return acts

    @staticmethod
    def _slider(lo: int, hi: int, value: int, tip: str) -> QSlider:
        s = QSlider(Qt.Orientation.Horizontal)
        s.setRange(lo, hi)
        s.setValue(value)
        s.setFixedWidth(90)
        s.setToolTip(tip)
        return s

    def _connect(self) -> None:
        e = self.engine
        e.jobQueued.connect(self._on_job_queued)
        e.jobStarted.connect(self._on_job_started)
        e.progress.connect(self._on_progress)
        e.preview.connect(self._on_preview)
        e.jobFinished.connect(self._on_job_finished)
        e.jobFailed.connect(self._on_job_failed)
        e.jobCancelled.connect(self._on_job_cancelled)
        e.jobWarning.connect(lambda _job, text: show_warning(self, "Edit warning", text))
        e.modelStateChanged.connect(self._on_model_state)
        e.queueChanged.connect(self.run_box.set_waiting)
        self.run_box.runClicked.connect(self.run_edit)
        self.run_box.cancelClicked.connect(self.cancel_edit)
        self.doc.imageChanged.connect(self._on_doc_image)
        self.canvas.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{100 * z:.0f}%"))
        self.canvas.cursorMoved.connect(self._on_cursor)
        self.canvas.filesDropped.connect(self._on_files_dropped)
        self.canvas.imageDropped.connect(lambda img: self.set_image_from_qimage(img, "dropped"))
        self.canvas.message.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.canvas.splitChanged.connect(self.compare.set_split)
        self.canvas.editStarting.connect(self._on_edit_starting)
        self.compare.splitChanged.connect(self._on_split)
        self.player.frameChanged.connect(self._on_frame)
        self.history_panel.entrySelected.connect(self.view_entry)
        self.history_panel.continueRequested.connect(self.continue_from)
        self.history_panel.rerunRequested.connect(self.rerun_with_new_seed)
        self.history_panel.paramsRequested.connect(self.load_parameters)
        self.undo.indexChanged.connect(self._on_undo_index)

    # ------------------------------------------------------------------ tools
    def set_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        {Tool.BRUSH: self.act_brush, Tool.ERASER: self.act_eraser,
         Tool.POINTS: self.act_points}[tool].setChecked(True)

    def set_brush_radius(self, radius: float) -> None:
        radius = min(max(radius, 1.0), 500.0)
        self.canvas.brush_radius = radius
        self.settings.brush_radius = radius
        self.size_slider.blockSignals(True)
        self.size_slider.setValue(round(radius))
        self.size_slider.blockSignals(False)
        self.size_label.setText(f"{radius:.0f} px ")
        self.canvas.viewport().update()

    def _hardness_changed(self, value: int) -> None:
        self.canvas.brush_hardness = value / 100
        self.settings.brush_hardness = value / 100

    def _opacity_changed(self, value: int) -> None:
        self.canvas.set_overlay_opacity(value / 100)
        self.settings.overlay_opacity = value / 100

    def _on_cursor(self, x: int, y: int) -> None:
        self.cursor_label.setText("" if x < 0 else f"x {x}, y {y}")

    # ------------------------------------------------------------------ images
    def confirm(self, title: str, question: str) -> bool:
        """Ask yes/no (tests replace this method). Offscreen (self-test, screenshots, CI) no
        one can answer a modal question, so it is taken as yes instead of hanging."""
        if QApplication.platformName() == "offscreen":
            return True
        answer = QMessageBox.question(self, title, question)
        return answer == QMessageBox.StandardButton.Yes

    def has_unsaved_work(self) -> bool:
        return self.doc.has_image and self.undo.index() != self._saved_index

    def ask_unsaved(self) -> str:
        """"save", "discard" or "cancel" for unsaved work (tests replace this method)."""
        if QApplication.platformName() == "offscreen":
            return "discard"  # nobody can answer offscreen (self-test, screenshots, CI)
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          "The current project has unsaved changes. Save them first?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def _may_discard(self) -> bool:
        """True when the current work may be replaced: saved, or the user said so."""
        if not self.has_unsaved_work():
            return True
        from sdedit_desktop.ui import project_io

        choice = self.ask_unsaved()
        if choice == "save":
            return project_io.save_project(self) is not None
        if choice == "discard":
            project_io.drop_autosave(self)
            return True
        return False

    def open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self.settings.last_dir,
                                              OPEN_FILTER)
        if path:
            self.open_image(Path(path))

    def open_image(self, path: Path) -> bool:
        """Open an image file as a new project. Errors are shown; nothing is lost on failure."""
        path = Path(path)
        if path.suffix.lower() == ".sdeproj":
            from sdedit_desktop.ui import project_io

            return project_io.open_project(self, path)
        try:
            image = load_image_file(path)
        except ImageLoadError as exc:
            show_error(self, "Cannot open image", str(exc), f"{path}\n{exc.__cause__ or ''}")
            return False
        if not self._may_discard():
            return False
        self.start_project(image, path.name, path)
        self.settings.last_dir = str(path.parent)
        self.settings.add_recent(path)
        self._rebuild_recent()
        self.persist_settings()
        return True

    def paste_image(self) -> None:
        image = QApplication.clipboard().image()
        if image.isNull():
            show_error(self, "Nothing to paste", "The clipboard holds no image. Copy an image "
                       "(not a file name) and paste again.")
            return
        self.set_image_from_qimage(image, "pasted image")

    def set_image_from_qimage(self, image: QImage, label: str) -> None:
        try:
            array = qimage_to_rgb(image)
        except ValueError as exc:
            show_error(self, "Cannot use image", f"The {label} is empty or unreadable.", str(exc))
            return
        if min(array.shape[:2]) < 8:
            show_error(self, "Image too small", f"The {label} is {array.shape[1]}x"
                       f"{array.shape[0]} pixels; the editor needs at least 8x8.")
            return
        if self._may_discard():
            self.start_project(array, label, None)

    def _on_files_dropped(self, paths: list[Path]) -> None:
        if paths:
            self.open_image(paths[0])

    def dragEnterEvent(self, event) -> None:
        self.canvas.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        self.canvas.dropEvent(event)

    def start_project(self, image: np.ndarray, label: str, path: Path | None,
                      mask: np.ndarray | None = None, points: list[PointPair] | None = None,
                      entries: list[HistoryEntry] | None = None) -> None:
        """A fresh editing session on `image` (undo and history start over)."""
        if self._jobs:  # edits of the previous image must not land in the new history
            self.engine.clear_queue()
            self.engine.cancel()
            self._jobs.clear()
        self.undo.clear()
        self._saved_index = 0
        self._view_entry = None
        self._parent_id = None
        self.project = None
        self.history.reset(entries or [])
        self.doc.set_image(image, label, path, mask, points)
        self.history_panel.select(None)
        self._refresh_view()
        self.canvas.fit_to_window()
        self.statusBar().showMessage(f"Opened {label} ({image.shape[1]}x{image.shape[0]})", 5000)
        self._update_enabled()
        self._update_title()

    def _on_doc_image(self) -> None:
        self._doc_qimage = rgb_to_qimage(self.doc.image) if self.doc.image is not None else None
        self._refresh_view()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        existing = [p for p in self.settings.recent_files if Path(p).exists()]
        for p in existing:
            act = self.recent_menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _=False, path=p: self.open_image(Path(path)))
        self.recent_menu.setEnabled(bool(existing))

    # ------------------------------------------------------------------ view
    def _refresh_view(self) -> None:
        job = self._jobs.get(self._running) if self._running is not None else None
        entry = self.history.find(self._view_entry)
        override = None
        if job is not None and job.preview is not None:
            before, after = job.before, job.preview
        elif entry is not None:
            override = [(tuple(a), tuple(b)) for a, b in getattr(entry.request, "points", ())]
            before = self._qimage(entry.request.image)
            frames = entry.result.trajectory
            if self._frame is not None and frames:
                after = before if self._frame == 0 else self._qimage(frames[self._frame - 1])
            else:
                after = self._qimage(entry.result.image)
        else:
            before, after = self._doc_qimage, None
        self.canvas.show_images(before, after)
        self.canvas.set_points_override(override)
        self.canvas.set_split(self.compare.split())

    def _on_edit_starting(self) -> None:
        if self._view_entry is not None and self._running is None:
            self.show_working_image()

    def _qimage(self, array: np.ndarray) -> QImage:
        """QImage of a history array, cached: switching entries or playing a trajectory must
        not convert big images again and again. Keyed by identity; the array is kept alive
        with its image so an id is never reused while cached."""
        key = id(array)
        hit = self._qimages.get(key)
        if hit is not None and hit[0] is array:
            self._qimages.move_to_end(key)
            return hit[1]
        image = rgb_to_qimage(array)
        self._qimages[key] = (array, image)
        while len(self._qimages) > 24:
            self._qimages.popitem(last=False)
        return image

    def _on_split(self, split: float | None) -> None:
        self.canvas.set_split(split)

    def _on_frame(self, frame: int) -> None:
        entry = self.history.find(self._view_entry)
        n = len(entry.result.trajectory) if entry else 0
        self._frame = None if frame >= n else frame
        self._refresh_view()

    def view_entry(self, entry_id: str | None) -> None:
        """Show a history entry (input vs result) or, with None, the working image."""
        self._view_entry = entry_id
        self._frame = None
        entry = self.history.find(entry_id)
        self.player.set_frames(len(entry.result.trajectory) if entry else 0)
        if entry is not None:
            self._show_metrics(entry.result)
        else:
            self.metrics_label.setText("")
        self._refresh_view()
        self._update_enabled()

    def show_working_image(self) -> None:
        self.history_panel.select(None)
        self.view_entry(None)

    def _show_metrics(self, result: EditResult) -> None:
        bits = []
        metrics = dict(result.metrics)
        if "psnr" in metrics:
            bits.append(f"<b>PSNR {metrics.pop('psnr'):.2f} dB</b> (reconstruction vs the "
                        "VAE-decoded input: the diffusion's own error)")
        if "psnr_input" in metrics:
            bits.append(f"PSNR vs input pixels {metrics.pop('psnr_input'):.2f} dB (includes "
                        "the VAE's error)")
        bits += [f"{k.replace('_', ' ')}: {v:.4g}" for k, v in metrics.items()]
        if "total" in result.timings:
            bits.append(f"{result.timings['total']:.1f} s, {result.unet_calls} UNet calls")
        self.metrics_label.setText("<br>".join(bits))

    # ------------------------------------------------------------------ run
    def build_request(self) -> EditRequest:
        state = self.model_state
        identity = getattr(state, "identity", None)
        return self.panels.build_request(self.doc.image, self.doc.mask, self.doc.points,
                                         identity)

    def run_edit(self) -> int | None:
        """Validate the panel + canvas state and submit; returns the job id or None."""
        status = getattr(self.model_state, "status", "none")
        if status == "loading":
            show_error(self, "Model still loading",
                       "The model is still loading; run the edit when the status bar says it "
                       "is ready (every result records the model that made it).")
            return None
        if status in ("none", "error"):
            show_error(self, "No model loaded",
                       "No diffusion model is loaded, so the edit cannot run. Open Model > "
                       "Model setup… to pick Stable Diffusion 1.5 (download or local file) or "
                       "the tiny demo model.",
                       getattr(self.model_state, "message", "") or None)
            return None
        try:
            request = self.build_request()
        except InputError as exc:
            show_error(self, "Cannot run this edit", str(exc))
            return None
        return self.submit(request, self._parent_id, self._doc_qimage)

    def submit(self, request: EditRequest, parent_id: str | None,
               before: QImage | None = None) -> int | None:
        try:
            job_id = self.engine.submit(request)
        except Exception as exc:  # a dead engine must not leave a dead window
            show_error(self, "Cannot start the edit", f"The engine refused the edit: {exc}",
                       repr(exc))
            return None
        if before is None:
            before = rgb_to_qimage(request.image)
        self._jobs[job_id] = _Job(request, parent_id, before, time.monotonic())
        self.statusBar().showMessage(f"Queued {request.kind} (job {job_id})", 3000)
        return job_id

    def cancel_edit(self) -> None:
        if self._running is not None or self._jobs:
            self.engine.cancel()
            self.statusBar().showMessage("Cancelling…", 3000)

    def _on_job_queued(self, job_id: int, request: object) -> None:
        self._update_enabled()

    def _on_job_started(self, job_id: int) -> None:
        self._running = job_id
        job = self._jobs.get(job_id)
        if job is not None:
            job.started = time.monotonic()
        self.run_box.set_running(True, self._waiting())
        self.run_box.bar.setFormat("0%")
        self.run_box.phase.setText("Starting…")
        self._update_enabled()

    def _waiting(self) -> int:
        try:
            return int(self.engine.waiting_jobs())
        except Exception:
            return 0

    def _on_progress(self, job_id: int, progress: Any) -> None:
        if job_id != self._running:
            return
        self.run_box.show_progress(progress.phase, progress.step, progress.total,
                                   progress.overall_fraction, progress.elapsed_s,
                                   progress.eta_s)

    def _on_preview(self, job_id: int, image: QImage) -> None:
        job = self._jobs.get(job_id)
        if job is None or job_id != self._running:
            return
        job.preview = image
        self.preview_count += 1
        self._refresh_view()

    def _job_done(self, job_id: int) -> _Job | None:
        job = self._jobs.pop(job_id, None)
        if job_id == self._running:
            self._running = None
            self.run_box.set_running(False, self._waiting())
        self._update_enabled()
        return job

    def _on_job_finished(self, job_id: int, result: EditResult) -> None:
        job = self._job_done(job_id)
        if job is None:  # not submitted by this window's current session
            return
        parent_id = job.parent_id
        if parent_id is not None and self.history.find(parent_id) is None:
            parent_id = None  # its parent was undone meanwhile
        duration = float(result.timings.get("total", 0.0)) or (
            time.monotonic() - (job.started or job.submitted))
        entry = HistoryEntry(result=result, duration_s=duration, parent_id=parent_id)
        text = f"{method_label(entry)} (seed {result.request.seed})"
        self.undo.push(CallbackCommand(text, lambda: self._add_entry(entry),
                                       lambda: self._remove_entry(entry.id)))
        if result.request.kind == "diffedit" and result.mask is not None:
            self._take_auto_mask(result)
        self.statusBar().showMessage(f"Finished {text} in {duration:.1f} s", 6000)

    def _add_entry(self, entry: HistoryEntry) -> None:
        self.history.add(entry)
        self.history_panel.select(entry.id)

    def _remove_entry(self, entry_id: str) -> None:
        if self._view_entry == entry_id:
            self._view_entry = None
        self.history.remove(entry_id)
        if self._view_entry is None:
            self.view_entry(None)

    def _take_auto_mask(self, result: EditResult) -> None:
        """DiffEdit: put the mask it used on the canvas (undoable) so the user can refine it and
        re-run with mask mode 'Your mask'."""
        request = result.request
        mask = result.mask
        if request.mask_mode != "auto" or mask is None or self.doc.mask is None:
            return
        if mask.shape != self.doc.mask.shape:
            return
        self.canvas.set_mask(mask, "DiffEdit auto mask")
        panel = self.panels.panels["diffedit"]
        combo = panel.widgets["mask_mode"]
        combo.setCurrentIndex(combo.findData("user"))
        self.statusBar().showMessage("The DiffEdit mask is on the canvas; mask mode switched to "
                                     "'Your mask' — refine it and run again.", 8000)

    def _on_job_failed(self, job_id: int, failure: Any) -> None:
        job = self._job_done(job_id)
        self._refresh_view()
        what = job.request.kind if job else "edit"
        show_error(self, "Edit failed", f"The {what} edit failed: {failure.message}",
                   failure.detail or None)

    def _on_job_cancelled(self, job_id: int) -> None:
        self._job_done(job_id)
        self._refresh_view()
        self.statusBar().showMessage(f"Edit {job_id} cancelled", 5000)

    # ------------------------------------------------------------------ history actions
    def continue_from(self, entry_id: str) -> None:
        entry = self.history.find(entry_id)
        if entry is None:
            return
        old = (self.doc.image, self.doc.mask.copy() if self.doc.mask is not None else None,
               list(self.doc.points), self.doc.image_label, self._parent_id)
        number = self.history.number(entry_id)
        new_image = np.array(entry.result.image, copy=True)

        def apply() -> None:
            mask = old[1] if old[1] is not None and old[1].shape == new_image.shape[:2] else None
            self.doc.set_image(new_image, f"result #{number}", None, mask, [])
            self._parent_id = entry_id
            self.show_working_image()

        def revert() -> None:
            self.doc.set_image(old[0], old[3], None, old[1], old[2])
            self._parent_id = old[4]
            self.show_working_image()

        self.undo.push(CallbackCommand(f"Continue from result #{number}", apply, revert))
        self.statusBar().showMessage(f"Result #{number} is now the input; set new points and "
                                     "run again.", 6000)

    def rerun_with_new_seed(self, entry_id: str) -> int | None:
        entry = self.history.find(entry_id)
        if entry is None:
            return None
        seed = random.randrange(0, 2**31 - 1)
        while seed == entry.request.seed:
            seed = random.randrange(0, 2**31 - 1)
        return self.submit(entry.request.with_changes(seed=seed), entry.parent_id)

    def load_parameters(self, entry_id: str) -> None:
        entry = self.history.find(entry_id)
        if entry is not None:
            self.panels.show_request(entry.request)

    # ------------------------------------------------------------------ model
    def _on_model_state(self, state: Any) -> None:
        previous = getattr(self.model_state, "status", None)
        self.model_state = state
        self._update_model_labels(state)
        self._update_enabled()
        if state.status == "error" and previous != "error":
            failure = getattr(state, "failure", None)
            show_error(self, "Model could not be loaded", state.message or "Loading failed.",
                       getattr(failure, "detail", None) or None)
        elif state.status == "ready":
            self.statusBar().showMessage(state.message or "Model ready", 5000)
        elif state.status == "loading" and state.message:
            self.statusBar().showMessage(state.message)

    def stop_model_load(self) -> None:
        cancel = getattr(self.engine, "cancel_model_load", None)
        if cancel is not None and cancel():
            self.statusBar().showMessage("Stopping the model load…", 5000)

    def _update_model_labels(self, state: Any) -> None:
        status = getattr(state, "status", "none")
        identity = getattr(state, "identity", None)
        device = getattr(state, "device", None) or "—"
        dtype = getattr(state, "dtype", None) or "—"
        if status == "ready" and identity is not None:
            name = identity.source if identity.kind != "tiny" else "tiny demo model"
            model = f"Model: {Path(name).name or name}"
        elif status == "loading":
            fraction = getattr(state, "fraction", None)
            model = "Model: loading…" + (f" {100 * fraction:.0f}%" if fraction else "")
        elif status == "error":
            model = "Model: failed to load"
        else:
            model = "Model: none"
        self.device_label.setText(f"Device: {device}")
        self.dtype_label.setText(f"Precision: {dtype}")
        self.model_label.setText(model)
        tip = getattr(state, "message", "") or ""
        self.model_label.setToolTip(tip)

    def load_model(self, spec: ModelSpec) -> None:
        self.engine.load_model(spec)

    def model_spec(self) -> ModelSpec | None:
        if not self.settings.model_source:
            return None
        return ModelSpec(self.settings.model_source, self.settings.device, self.settings.dtype,
                         allow_pickle=self.settings.allow_pickle)

    def open_model_setup(self) -> None:
        from sdedit_desktop.ui.model_setup import ModelSetupDialog

        dialog = ModelSetupDialog(self.settings, self)
        if dialog.exec():
            self.persist_settings()
            spec = self.model_spec()
            if spec is not None:
                self.load_model(spec)

    def open_settings(self) -> None:
        from sdedit_desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        before = (self.settings.model_source, self.settings.device, self.settings.dtype,
                  self.settings.allow_pickle)
        if dialog.exec():
            self.persist_settings()
            self.panels.max_side.setValue(self.settings.max_side)
            self.opacity_slider.setValue(round(100 * self.settings.overlay_opacity))
            after = (self.settings.model_source, self.settings.device, self.settings.dtype,
                     self.settings.allow_pickle)
            if after != before and self.model_spec() is not None:
                self.load_model(self.model_spec())

    def open_help(self) -> None:
        from sdedit_desktop.ui.help_dialog import ShortcutsDialog

        ShortcutsDialog(self.shortcuts, self).exec()

    def open_about(self) -> None:
        from sdedit_desktop import __version__

        QMessageBox.about(self, "About sdedit-desktop",
                          f"<b>sdedit-desktop {__version__}</b><br>SDE-based diffusion image "
                          "editing (SDE-Drag, inpainting, DiffEdit) on Stable Diffusion 1.5, "
                          "after Nie et al., <i>The Blessing of Randomness: SDE Beats ODE in "
                          "General Diffusion-based Image Editing</i> (ICLR 2024).")

    # ------------------------------------------------------------------ export / state
    def shown_image(self) -> tuple[np.ndarray | None, EditRequest | None]:
        entry = self.history.find(self._view_entry)
        if entry is not None:
            return entry.result.image, entry.request
        return self.doc.image, None

    def export_result(self, path: Path | None = None) -> Path | None:
        image, request = self.shown_image()
        if image is None:
            show_error(self, "Nothing to export", "Open an image and run an edit first.")
            return None
        if path is None:
            name, _ = QFileDialog.getSaveFileName(self, "Export image", self.settings.last_dir,
                                                  "PNG image (*.png)")
            if not name:
                return None
            path = Path(name)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        entry = self.history.find(self._view_entry)
        try:
            if entry is not None:
                from sdedit_desktop.project import export_result_png

                return export_result_png(entry, path)
            return save_png(path, image, request)
        except Exception as exc:  # OSError, ProjectError: show it, never lose the window
            show_error(self, "Export failed", f"Could not write {path}: {exc.strerror or exc}",
                       repr(exc))
            return None

    def persist_settings(self) -> None:
        try:
            save_settings(self.settings, self.settings_file)
        except OSError as exc:
            show_error(self, "Settings not saved", f"Could not write the settings file: {exc}",
                       repr(exc))

    def _update_enabled(self) -> None:
        has = self.doc.has_image
        busy = self._running is not None
        ready = getattr(self.model_state, "status", "none") in ("ready", "loading")
        self.act_run.setEnabled(has)
        self.run_box.run_button.setEnabled(has)
        self.run_box.run_button.setToolTip(
            "Run the edit (Ctrl+Return)" if ready else
            "No model loaded yet: Model > Model setup…")
        self.act_cancel.setEnabled(busy or bool(self._jobs))
        self.act_stop_load.setEnabled(
            getattr(self.model_state, "status", "none") == "loading")
        self.act_export.setEnabled(has)
        for act in (self.act_clear_mask, self.act_invert_mask, self.act_clear_points):
            act.setEnabled(has)

    def _on_undo_index(self, _index: int) -> None:
        self._update_title()

    def _update_title(self) -> None:
        name = self.doc.image_label or "untitled"
        star = "*" if self.has_unsaved_work() else ""
        self.setWindowTitle(f"{name}{star} — sdedit-desktop")

    def mark_saved(self) -> None:
        self._saved_index = self.undo.index()
        self._update_title()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._may_discard():
            event.ignore()
            return
        self.settings.window_geometry = bytes(self.saveGeometry().toHex()).decode()
        self.persist_settings()
        if self._jobs:
            self.engine.clear_queue()
            self.engine.cancel()
        event.accept()
        self.closed.emit()

    def _autosave(self) -> None:
        from sdedit_desktop.ui import project_io

        project_io.autosave_now(self)
