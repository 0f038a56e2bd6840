"""The main window: layout and wiring only. Canvas in the middle, method panels and Run/Cancel
on the right, history on the left, status bar with device / precision / model.

The state lives in the widget-free `model.EditorModel` (document, history, undo, jobs, next-edit
parameters, model state); the engine is injected (anything with the `model.engine_api.EditEngine`
signals and methods), so tests and the app share this code. Behaviour lives in small parts:
`file_actions` (open/save/autosave/recovery/export), `canvas_presenter` (what the canvas
shows), `run_presenter` (the run box); the panels bind to the model's `EditParams`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from sdedit_desktop.core.families import PREDICTION_TYPES
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.project.model import HistoryEntry, Project
from sdedit_desktop.resources import sample_images
from sdedit_desktop.ui import icons
from sdedit_desktop.ui.actions import Shortcut
from sdedit_desktop.ui.canvas import CanvasView, Tool
from sdedit_desktop.ui.canvas_presenter import CanvasPresenter
from sdedit_desktop.ui.compare_key import CompareKeyFilter
from sdedit_desktop.ui.dock_share import DockShare
from sdedit_desktop.ui.errors import show_error, show_warning
from sdedit_desktop.ui.estimate_presenter import EstimatePresenter
from sdedit_desktop.ui.file_actions import FileActions
from sdedit_desktop.ui.history import HistoryPanel
from sdedit_desktop.ui.model.document import PointPair
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.engine_api import EditEngine
from sdedit_desktop.ui.model.lifetime import while_alive
from sdedit_desktop.ui.model_status import model_status_text
from sdedit_desktop.ui.panels import PanelStack
from sdedit_desktop.ui.region_presenter import RegionPresenter
from sdedit_desktop.ui.run_presenter import RunBoxPresenter
from sdedit_desktop.ui.settings import AppSettings, save_settings
from sdedit_desktop.ui.status_line import StatusLine
from sdedit_desktop.ui.widgets import CompareBar, RunBox, TrajectoryPlayer


class MainWindow(QMainWindow):
    closed = Signal()  # the window accepted a close: the app quits (main connects it)

    def __init__(self, engine: EditEngine, settings: AppSettings | None = None,
                 settings_file: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.settings = settings or AppSettings()
        self.settings_file = settings_file
        self.setWindowTitle("sdedit-desktop")
        self.setWindowIcon(icons.app_icon())
        self.resize(1400, 900)
        self.setAcceptDrops(True)

        self.editor = EditorModel(engine, self)
        self.editor.costs.load_json(self.settings.call_costs)
        # The model's parts, named as the rest of the UI (and the tests) know them.
        self.doc, self.history, self.undo = self.editor.doc, self.editor.history, self.editor.undo
        self.canvas = CanvasView(self.editor)
        self.canvas.brush_radius = self.settings.brush_radius
        self.canvas.brush_hardness = self.settings.brush_hardness
        self.canvas.set_overlay_opacity(self.settings.overlay_opacity)
        self.canvas.set_mask_colour(self.settings.mask_colour)
        # The panels show and write the model's next-edit parameters (no state of their own).
        self.panels = PanelStack(self.editor.params)
        self.panels.max_side.setValue(self.settings.max_side)
        self.panels.select(self.editor.edit_kind)
        self.panels.methodChanged.connect(while_alive(self.editor, self.editor.set_edit_kind))
        self.editor.editKindChanged.connect(self.panels.select)
        self.run_box = RunBox()
        self.compare = CompareBar()
        self.player = TrajectoryPlayer()
        self.history_panel = HistoryPanel(self.history,
                                          original=lambda: self.editor.original)
        self.shortcuts: list[Shortcut] = []
        # Late-bound lambdas: tests and the self-test replace confirm/ask_unsaved per window.
        self.files = FileActions(self, self.editor, self.settings,
                                 ask_unsaved=lambda: self.ask_unsaved(),
                                 confirm=lambda title, question: self.confirm(title, question),
                                 persist_settings=self.persist_settings,
                                 busy=lambda text: self._show_busy(text))
        self._autosave_timer = QTimer(self)
        self._autosave_timer.timeout.connect(self.files.autosave_now)
        self.apply_autosave_interval()

        self._build_layout()
        self._build_actions()
        self.canvas_presenter = CanvasPresenter(self.editor, self.canvas, self.compare,
                                                self.player, self.metrics_label, self)
        self.run_presenter = RunBoxPresenter(self.editor, self.run_box, self.run_edit, self)
        self.region_presenter = RegionPresenter(self.editor, self.canvas, self)
        # First of the permanent widgets (index 1: after the message line, a normal widget).
        self.statusBar().insertPermanentWidget(1, self.region_presenter.label)
        self.estimate_presenter = EstimatePresenter(self.editor, self.run_box, self)
        self.compare_key = CompareKeyFilter(self, self.canvas, self.editor, self.player)
        self._connect()
        self._show_model_state(self.editor.model_state)
        self._update_enabled()
        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromHex(self.settings.window_geometry.encode()))

    # -- the model's state, as the window's API has always named it ---------------------------
    @property
    def model_state(self) -> ModelState:
        return self.editor.model_state

    @property
    def project(self) -> Project | None:
        """The project once saved or opened (keeps its id and path), else None."""
        return self.editor.project

    @property
    def autosave_dir(self) -> Path | None:
        return self.files.autosave_dir

    @autosave_dir.setter
    def autosave_dir(self, folder: Path | None) -> None:
        self.files.autosave_dir = folder

    @property
    def preview_count(self) -> int:
        return self.canvas_presenter.preview_count

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
        # Wide enough for the panels' labels ("Patch half-size r") next to their scroll bar:
        # a narrower dock would squeeze the label column and cut the labels off.
        margins = rv.contentsMargins()
        needed = (self.panels.sizeHint().width() + margins.left() + margins.right()
                  + scroll.verticalScrollBar().sizeHint().width() + 4)
        right.setMinimumWidth(max(330, needed))
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.edit_dock = dock
        # The panel grows with the window (a quarter or so of it), so its lines stay readable.
        self.edit_dock_share = DockShare(self, dock, share=0.28, max_px=560)

        hist = QDockWidget("History", self)
        hist.setObjectName("history-dock")
        hist.setWidget(self.history_panel)
        hist.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.history_panel.setMinimumWidth(240)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, hist)

        bar = self.statusBar()
        self.status_line = StatusLine(bar)  # the editor's messages, wrapped, never cut off
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
            act.triggered.connect(lambda _=False, p=path: self.files.open_in_background(p))
        self.recent_menu = f.addMenu("Recent")
        self.files.bind_recent_menu(self.recent_menu)
        f.addSeparator()
        self.project_actions = self._project_actions(f)
        self.act_export = A("&Export result…", self.export_result, "Ctrl+E", "save",
                            "Save the image shown on the canvas as PNG, JPEG or WebP (with its "
                            "parameters)")
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
        self.act_auto_region = A("Auto region", lambda: self.region_presenter.auto(), "Shift+R",
                                 None, "Let the edit pick its region (around the points or mask)")
        self.act_whole_region = A("Whole image region", lambda: self.region_presenter.whole(),
                                  None, None, "Edit the whole image (scaled to Max side)")
        for act in (self.act_clear_mask, self.act_invert_mask, self.act_clear_points, None,
                    self.act_auto_region, self.act_whole_region):
            e.addSeparator() if act is None else e.addAction(act)
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
        self.act_region = A("Edit &region", lambda on: on and self.set_tool(Tool.REGION), "R",
                            "region", "Drag the edit region's frame to move it, its edges or "
                            "handles to resize it, outside it to draw a new one",
                            checkable=True)
        from PySide6.QtGui import QActionGroup

        group = QActionGroup(self)
        for act in (self.act_brush, self.act_eraser, self.act_points, self.act_region):
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
        # The loaded model's family, native size and prediction type (information only).
        self.act_model_info = QAction("No model loaded", self)
        self.act_model_info.setEnabled(False)
        m.addAction(self.act_model_info)
        m.addSeparator()
        m.addAction(A("Model setup…", self.open_model_setup, None, None,
                      "Choose, download or load the diffusion model"))
        self.act_stop_load = A("Stop loading", self.stop_model_load, None, None,
                               "Stop the model load or download in progress (a download "
                               "resumes next time)")
        self.act_stop_load.setEnabled(False)
        m.addAction(self.act_stop_load)
        m.addAction(A("Unload model", self.editor.runner.unload_model, None, None,
                      "Free the memory the model holds"))

        h = menu.addMenu("&Help")
        h.addAction(A("Keyboard shortcuts", self.open_help, "F1"))
        h.addAction(A("About", self.open_about))

        tb = QToolBar("Tools", self)
        tb.setObjectName("tools")
        tb.setMovable(False)
        self.addToolBar(tb)
        for act in (self.act_open, self.act_export, None, self.act_undo, self.act_redo, None,
                    self.act_brush, self.act_eraser, self.act_points, self.act_region,
                    self.act_auto_region, None):
            tb.addSeparator() if act is None else tb.addAction(act)
        tb.addWidget(QLabel(" Size "))
        # The size is shown as the brush's diameter (photo editors' convention); the canvas and
        # the settings keep the radius.
        self.size_slider = self._slider(2, 1000, round(2 * self.canvas.brush_radius),
                                        "Brush diameter in image pixels ([ and ])")
        self.size_slider.valueChanged.connect(lambda v: self.set_brush_radius(v / 2))
        tb.addWidget(self.size_slider)
        self.size_label = QLabel(f"{2 * self.canvas.brush_radius:.0f} px ")
        self.size_label.setToolTip("Brush diameter in image pixels")
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
        A, files = self._action, self.files
        acts = {
            "open": A("Open project…", files.open_project_dialog,
                      "Ctrl+Shift+O", None, "Open a .sdeproj project"),
            "save": A("&Save project", files.save_project,
                      QKeySequence.StandardKey.Save, None, "Save image, mask, points and history"),
            "save_as": A("Save project &as…", lambda: files.save_project(ask=True),
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
        editor = self.editor
        editor.jobs.changed.connect(self._update_enabled)
        editor.jobs.ended.connect(self._remember_costs)
        editor.modelStateChanged.connect(self._on_model_state)
        editor.message.connect(self._show_message)
        editor.error.connect(self._show_error)
        editor.savedStateChanged.connect(self._update_title)
        editor.sessionStarted.connect(self._on_session_started)
        editor.shownChanged.connect(self._on_shown_changed)
        editor.history.entryAdded.connect(self.history_panel.select)
        editor.warning.connect(self._show_warning)
        self.canvas.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{100 * z:.0f}%"))
        self.canvas.cursorMoved.connect(self._on_cursor)
        self.canvas.filesDropped.connect(self._on_files_dropped)
        self.canvas.imageDropped.connect(lambda img: self.set_image_from_qimage(img, "dropped"))
        self.canvas.message.connect(lambda text: self._show_message(text, 4000))
        self.history_panel.entrySelected.connect(self.view_entry)
        self.history_panel.continueRequested.connect(self.continue_from)
        self.history_panel.rerunRequested.connect(self.rerun_with_new_seed)
        self.history_panel.paramsRequested.connect(self.load_parameters)
        self.history_panel.autoMaskRequested.connect(
            while_alive(self.editor, self.editor.use_auto_mask))
        self.compare.check.toggled.connect(self._on_split_toggled)
        # The split's Before/After labels sit over the whole view: repaint it all at once
        # (the image item alone repaints only its own rectangle).
        self.compare.splitChanged.connect(lambda _split: self.canvas.viewport().update())

    def _remember_costs(self, *_args: object) -> None:
        """Measured costs go to the settings (written with them, e.g. on close)."""
        self.settings.call_costs = self.editor.costs.to_json()

    def _show_message(self, text: str, timeout_ms: int) -> None:
        self.status_line.show_message(text, timeout_ms)

    def _show_error(self, title: str, message: str, detail: str) -> None:
        show_error(self, title, message, detail or None)

    def _show_warning(self, title: str, message: str) -> None:
        show_warning(self, title, message)

    # ------------------------------------------------------------------ tools
    def set_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        {Tool.BRUSH: self.act_brush, Tool.ERASER: self.act_eraser,
         Tool.POINTS: self.act_points, Tool.REGION: self.act_region}[tool].setChecked(True)

    def set_brush_radius(self, radius: float) -> None:
        radius = min(max(radius, 1.0), 500.0)
        self.canvas.brush_radius = radius
        self.settings.brush_radius = radius
        self.size_slider.blockSignals(True)
        self.size_slider.setValue(round(2 * radius))
        self.size_slider.blockSignals(False)
        self.size_label.setText(f"{2 * radius:.0f} px ")
        self.canvas.viewport().update()

    def _hardness_changed(self, value: int) -> None:
        self.canvas.brush_hardness = value / 100
        self.settings.brush_hardness = value / 100

    def _opacity_changed(self, value: int) -> None:
        self.canvas.set_overlay_opacity(value / 100)
        self.settings.overlay_opacity = value / 100

    def _on_cursor(self, x: int, y: int) -> None:
        self.cursor_label.setText("" if x < 0 else f"x {x}, y {y}")

    # ------------------------------------------------------------------ images and files
    def confirm(self, title: str, question: str) -> bool:
        """Ask yes/no (tests replace this method). Offscreen (self-test, screenshots, CI) no
        one can answer a modal question, so it is taken as yes instead of hanging."""
        if QApplication.platformName() == "offscreen":
            return True
        answer = QMessageBox.question(self, title, question)
        return answer == QMessageBox.StandardButton.Yes

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

    def has_unsaved_work(self) -> bool:
        return self.editor.has_unsaved_work()

    def mark_saved(self) -> None:
        self.editor.mark_saved()

    def open_image_dialog(self) -> None:
        self.files.open_image_dialog()

    def open_image(self, path: Path) -> bool:
        """Open an image file (or a .sdeproj project) as a new session. Errors are shown;
        nothing is lost on failure."""
        return self.files.open_image(path)

    def paste_image(self) -> None:
        self.files.paste_image()

    def set_image_from_qimage(self, image: QImage, label: str) -> None:
        self.files.set_image_from_qimage(image, label)

    def export_result(self, path: Path | None = None) -> Path | None:
        """Save the image shown on the canvas as PNG (with its edit's parameters)."""
        return self.files.export_result(path)

    def shown_image(self) -> tuple[np.ndarray | None, EditRequest | None]:
        return self.files.shown_image()

    def _on_files_dropped(self, paths: list[Path]) -> None:
        if paths:
            self.files.open_in_background(paths[0])

    def _show_busy(self, text: str) -> None:
        """What is being opened in the background, on the canvas and in the status bar."""
        self.canvas.set_busy_text(text)
        if text:
            self._show_message(text, 0)
        elif self.status_line.current_message().startswith("Opening "):
            self.status_line.clear_message()

    def dragEnterEvent(self, event) -> None:
        self.canvas.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        self.canvas.dropEvent(event)

    def start_project(self, image: np.ndarray, label: str, path: Path | None,
                      mask: np.ndarray | None = None, points: list[PointPair] | None = None,
                      entries: list[HistoryEntry] | None = None) -> None:
        """A fresh editing session on `image` (undo and history start over)."""
        self.editor.start_project(image, label, path, mask, points, entries)

    def _on_session_started(self) -> None:
        self.history_panel.select(None)
        self.canvas.fit_to_window()
        self._update_enabled()

    # ------------------------------------------------------------------ view
    def view_entry(self, entry_id: str | None) -> None:
        """Show a history entry (input vs result) or, with None, the working image."""
        self.editor.show_entry(entry_id)

    def show_working_image(self) -> None:
        self.editor.show_entry(None)

    def _on_split_toggled(self, on: bool) -> None:
        """The split compares an edit's input and result: on the working image that is the
        edit it is the result of."""
        source = self.editor.working_source_id()
        if on and self.editor.shown_entry_id is None and source is not None:
            self.view_entry(source)

    def _on_shown_changed(self) -> None:
        self.canvas.viewport().update()
        shown = self.editor.shown_entry_id
        if self.history_panel.selected_id() != shown:
            self.history_panel.select(shown)
        self._update_enabled()

    # ------------------------------------------------------------------ run
    def run_edit(self) -> int | None:
        """Run the next edit (the editor model says why not, in a dialog); the job id or None.
        """
        return self.editor.run_next()

    def submit(self, request: EditRequest, parent_id: str | None) -> int | None:
        """Queue `request` as an edit continuing history entry `parent_id`."""
        return self.editor.runner.submit(request, parent_id)

    def cancel_edit(self) -> None:
        self.editor.runner.cancel()

    # ------------------------------------------------------------------ history actions
    def continue_from(self, entry_id: str) -> None:
        self.editor.continue_from(entry_id)

    def rerun_with_new_seed(self, entry_id: str) -> int | None:
        return self.editor.rerun_with_new_seed(entry_id)

    def load_parameters(self, entry_id: str) -> None:
        entry = self.history.find(entry_id)
        if entry is not None:
            self.panels.show_request(entry.request)

    # ------------------------------------------------------------------ model
    def _on_model_state(self, state: ModelState, previous: str) -> None:
        self._show_model_state(state)
        self._update_enabled()
        if state.status == "error" and previous != "error":
            failure = state.failure
            show_error(self, "Model could not be loaded", state.message or "Loading failed.",
                       getattr(failure, "detail", None) or None)
        elif state.status == "ready":
            demo = self.editor.demo.active  # what a demo model made the editor choose
            text = state.message or "Model ready"
            self._show_message(f"{text} {demo.note}" if demo else text,
                               20000 if demo else 5000)
        elif state.status == "loading" and state.message:
            self._show_message(state.message, 0)

    def _show_model_state(self, state: ModelState) -> None:
        text = model_status_text(state)
        self.device_label.setText(text.device)
        self.dtype_label.setText(text.dtype)
        self.model_label.setText(text.model)
        self.model_label.setToolTip(text.tooltip)
        self.act_model_info.setText(f"Loaded: {text.family}" if text.family else
                                    "No model loaded")

    def stop_model_load(self) -> None:
        if self.editor.runner.cancel_model_load():
            self._show_message("Stopping the model load…", 5000)

    def load_model(self, spec: ModelSpec) -> None:
        self.editor.runner.load_model(spec)

    def model_spec(self) -> ModelSpec | None:
        if not self.settings.model_source:
            return None
        source, prediction = self.settings.model_source, self.settings.prediction_type
        # The choice is for a single file (an SD 2.x file does not say); folders and hub
        # models say it in their scheduler config.
        if prediction not in PREDICTION_TYPES or not Path(source).expanduser().is_file():
            prediction = None
        return ModelSpec(source, self.settings.device, self.settings.dtype,
                         allow_pickle=self.settings.allow_pickle, prediction_type=prediction)

    def open_model_setup(self) -> None:
        from sdedit_desktop.ui.model_setup import ModelSetupDialog

        state = self.editor.model_state
        dialog = ModelSetupDialog(self.settings, self,
                                  loaded=state.identity if state.status == "ready" else None)
        if dialog.exec():
            self.persist_settings()
            spec = self.model_spec()
            if spec is not None:
                self.load_model(spec)

    def open_settings(self) -> None:
        from sdedit_desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        before = (self.settings.model_source, self.settings.device, self.settings.dtype,
                  self.settings.allow_pickle, self.settings.prediction_type)
        max_side = self.settings.max_side
        if dialog.exec():
            self.persist_settings()
            if self.settings.max_side != max_side:  # else keep the panel's (a demo model's)
                self.panels.max_side.setValue(self.settings.max_side)
            self.apply_autosave_interval()
            self.opacity_slider.setValue(round(100 * self.settings.overlay_opacity))
            self.canvas.set_mask_colour(self.settings.mask_colour)
            after = (self.settings.model_source, self.settings.device, self.settings.dtype,
                     self.settings.allow_pickle, self.settings.prediction_type)
            if after != before and self.model_spec() is not None:
                self.load_model(self.model_spec())

    def open_help(self) -> None:
        from sdedit_desktop.ui.help_dialog import ShortcutsDialog

        ShortcutsDialog(self.shortcuts, self).exec()

    def open_about(self) -> None:
        from sdedit_desktop import __version__

        QMessageBox.about(self, "About sdedit-desktop",
                          f"<b>sdedit-desktop {__version__}</b><br>SDE-based diffusion image "
                          "editing (SDE-Drag, inpainting, DiffEdit) on Stable Diffusion 1.x, "
                          "2.x and SDXL, "
                          "after Nie et al., <i>The Blessing of Randomness: SDE Beats ODE in "
                          "General Diffusion-based Image Editing</i> (ICLR 2024).")

    # ------------------------------------------------------------------ state
    def persist_settings(self) -> None:
        try:
            save_settings(self.settings, self.settings_file)
        except OSError as exc:
            show_error(self, "Settings not saved", f"Could not write the settings file: {exc}",
                       repr(exc))

    def _update_enabled(self) -> None:
        has = self.doc.has_image
        status = self.editor.model_state.status
        ready = status in ("ready", "loading")
        self.act_run.setEnabled(has)
        self.run_box.run_button.setEnabled(has)
        self.run_box.run_button.setToolTip(
            "Run the edit (Ctrl+Return)" if ready else
            "No model loaded yet: Model > Model setup…")
        self.act_cancel.setEnabled(self.editor.jobs.busy)
        self.act_stop_load.setEnabled(status == "loading")
        self.act_export.setEnabled(has)
        for act in (self.act_clear_mask, self.act_invert_mask, self.act_clear_points):
            act.setEnabled(has)

    def apply_autosave_interval(self) -> None:
        """Autosave every `settings.autosave_minutes` (0 = off); follows the Settings dialog."""
        minutes = self.settings.autosave_minutes
        if minutes > 0:
            self._autosave_timer.start(minutes * 60_000)
        else:
            self._autosave_timer.stop()

    def _update_title(self) -> None:
        project = self.editor.project
        path = getattr(project, "path", None) if project is not None else None
        name = Path(path).name if path else (self.doc.image_label or "untitled")
        star = "*" if self.has_unsaved_work() else ""
        self.setWindowTitle(f"{name}{star} — sdedit-desktop")

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.may_discard():
            event.ignore()
            return
        self.settings.window_geometry = bytes(self.saveGeometry().toHex()).decode()
        self.persist_settings()
        self.editor.runner.stop_all()
        event.accept()
        self.closed.emit()
