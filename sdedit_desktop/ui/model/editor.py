"""`EditorModel`: the whole editor state without widgets. The window, canvas, history panel and
run box bind to its signals; tests drive it directly.

It aggregates the document (image, mask, points), the history, the undo stack, the jobs sent to
the engine (through `JobController`, which it listens to), the parameters of the next edit and
the edit they make (`next_edit`, built once per change and used by Run, the estimate and the
region frame), the entry the working image continues, which history entry is shown, the
saved/unsaved state and the model state. Every undoable change of the document goes through
its commands (`paint`/strokes, `set_mask`, `set_points`, `set_region`)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from sdedit_desktop.core.families import default_max_side
from sdedit_desktop.edits.kinds import kind_named, kind_of
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.engine.types import ModelState
from sdedit_desktop.project.model import HistoryEntry, Project
from sdedit_desktop.ui.brush import BrushSpec
from sdedit_desktop.ui.model.commands import CallbackCommand, PointsCommand, mask_command, push_mask
from sdedit_desktop.ui.model.demo_params import DemoParams
from sdedit_desktop.ui.model.document import Box, EditorDocument, PointPair
from sdedit_desktop.ui.model.edit_params import EditParams
from sdedit_desktop.ui.model.engine_api import EditEngine
from sdedit_desktop.ui.model.estimates import CostEstimates, Estimate, cost_key, plan_calls
from sdedit_desktop.ui.model.history import HistoryModel, method_label
from sdedit_desktop.ui.model.job_controller import JobController
from sdedit_desktop.ui.model.jobs import JobList
from sdedit_desktop.ui.model.lifetime import while_alive
from sdedit_desktop.ui.model.next_edit import NextEdit, build_next_edit
from sdedit_desktop.ui.model.original import ORIGINAL_ID, Original, session_original
from sdedit_desktop.ui.model.region import Region, RegionCommand

# What the user is told when Run cannot start, by model status: (title, message).
_NOT_READY = {
    "loading": ("Model still loading",
                "The model is still loading; run the edit when the status bar says it is ready "
                "(every result records the model that made it)."),
    "none": ("No model loaded",
             "No diffusion model is loaded, so the edit cannot run. Open Model > Model setup… "
             "to pick Stable Diffusion 1.5 (download or local file) or the tiny demo model."),
}
_NOT_READY["error"] = _NOT_READY["none"]


class EditorModel(QObject):
    sessionStarted = Signal()  # a new image or project: undo and history started over
    savedStateChanged = Signal()  # has_unsaved_work() or the image label may have changed
    shownChanged = Signal()  # another history entry (or the working image) is shown
    frameChanged = Signal()  # another trajectory frame of the shown entry
    modelStateChanged = Signal(object, str)  # the new ModelState, the previous status
    message = Signal(str, int)  # a status-bar line and how long to show it (ms; 0 = until next)
    error = Signal(str, str, str)  # title, message, detail ("" = none): the window shows it
    warning = Signal(str, str)  # title, message: something the user should know, work goes on
    editKindChanged = Signal(str)  # the edit kind the next Run makes (the panel shown)

    def __init__(self, engine: EditEngine, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = EditorDocument(self)
        self.history = HistoryModel(self)
        self.undo = QUndoStack(self)
        self.jobs = JobList(self)
        self.params = EditParams(self)
        self.edit_kind = "drag"  # the kind the next Run makes; a project remembers it
        self.model_state: ModelState = getattr(engine, "model_state", None) or ModelState(
            "none", message="No model loaded.")
        self.project: Project | None = None  # the Project once saved/opened (id, path, cache)
        self.parent_id: str | None = None  # the entry the working image is the result of
        self.shown_entry_id: str | None = None  # history entry on the canvas; None = working
        self.original: Original | None = None  # the photo the session started from
        self.frame: int | None = None  # trajectory frame shown; None = the result
        self._saved_index = 0  # undo index at the last save
        self.undo.indexChanged.connect(while_alive(self, self._on_undo_index))
        self.costs = CostEstimates()  # seconds per model call, measured by finished edits
        # The working size the loaded model's family suggests (1.5x its native side); the
        # max side follows it while the user has not chosen another value.
        self._family_max_side = default_max_side(self.model_state.identity)
        self.runner = JobController(engine, self.jobs, self)
        self.runner.measured.connect(self.record_cost)
        self.runner.finished.connect(self._on_job_finished)
        self.runner.failed.connect(self.error)
        self.runner.warned.connect(self.warning)
        self.runner.message.connect(self.message)
        self.runner.modelStateChanged.connect(self.set_model_state)
        self._next: NextEdit | None = None  # the cached next edit; None = to be built
        self._stroke_before: np.ndarray | None = None  # the mask when a stroke began
        doc = self.doc
        for signal in (doc.imageChanged, doc.maskChanged, doc.pointsChanged, doc.regionChanged,
                       self.params.changed, self.editKindChanged, self.modelStateChanged):
            signal.connect(while_alive(self, self._next_edit_stale))
        self.demo = DemoParams(self)  # a demo model's preset and max side (models/demo.py)

    def set_edit_kind(self, kind: str) -> None:
        if kind not in self.params.kinds():
            raise KeyError(f"unknown edit kind {kind!r}")
        if kind != self.edit_kind:
            self.edit_kind = kind
            self.editKindChanged.emit(kind)

    # -- sessions ---------------------------------------------------------------------------
    def start_project(self, image: np.ndarray, label: str, path: Path | None = None,
                      mask: np.ndarray | None = None, points: list[PointPair] | None = None,
                      entries: list[HistoryEntry] | None = None,
                      original_label: str | None = None) -> None:
        """A fresh editing session on `image` (undo and history start over). The original
        photo is `image` or, with `entries`, the input of the first edit (model/original.py);
        `original_label` names it when `label` names something else (a project's result)."""
        self.runner.drop_all()  # edits of the previous image must not land in the new history
        self.undo.clear()
        self._saved_index = 0
        self.shown_entry_id = None
        self.frame = None
        self.parent_id = None
        self.project = None
        self.original = session_original(image, original_label or label, entries or [])
        self.history.reset(entries or [])
        self.doc.set_image(image, label, path, mask, points, region=None)  # region: auto
        self.sessionStarted.emit()
        self.shownChanged.emit()
        self.message.emit(f"Opened {label} ({image.shape[1]}x{image.shape[0]})", 5000)
        self.savedStateChanged.emit()

    # -- saved state ------------------------------------------------------------------------
    def has_unsaved_work(self) -> bool:
        return self.doc.has_image and self.undo.index() != self._saved_index

    def _on_undo_index(self, _index: int) -> None:
        self.savedStateChanged.emit()

    def mark_saved(self) -> None:
        self._saved_index = self.undo.index()
        self.savedStateChanged.emit()

    def mark_unsaved(self) -> None:
        """Recovered work is unsaved whatever the undo stack says."""
        self._saved_index = -1
        self.savedStateChanged.emit()

    # -- mask, points and region (undoable) ------------------------------------------------
    def begin_stroke(self) -> None:
        """A brush stroke starts: its segments paint straight into the mask (the canvas shows
        them live) and `end_stroke` makes the whole stroke one undo step."""
        self._stroke_before = None if self.doc.mask is None else self.doc.mask.copy()

    def stroke(self, p0: tuple[float, float], p1: tuple[float, float], brush: BrushSpec
               ) -> Box | None:
        """One segment of the current stroke; the changed box or None."""
        if self._stroke_before is None:
            self.begin_stroke()
        return self.doc.stroke(p0, p1, brush)

    def end_stroke(self, text: str = "Paint mask") -> bool:
        """The stroke ends: one undo step, if it changed anything."""
        before, self._stroke_before = self._stroke_before, None
        if before is None or self.doc.mask is None:
            return False
        command = mask_command(self.doc, before, self.doc.mask, text, already_applied=True)
        if command is not None:
            self.undo.push(command)
        return command is not None

    def paint(self, p0: tuple[float, float], p1: tuple[float, float], brush: BrushSpec,
              text: str = "Paint mask") -> bool:
        """One brush segment as one undo step."""
        self.begin_stroke()
        self.stroke(p0, p1, brush)
        return self.end_stroke(text)

    def set_mask(self, mask: np.ndarray, text: str) -> bool:
        return push_mask(self.doc, self.undo, mask, text)

    def set_points(self, points: list[PointPair], text: str = "Set points",
                   before: list[PointPair] | None = None) -> None:
        """The drag points as one undo step. `before`: the points were already changed live
        (a handle being dragged) from these."""
        before = list(self.doc.points) if before is None else list(before)
        if list(points) != before:
            self.undo.push(PointsCommand(self.doc, before, list(points), text))

    def set_region(self, region: Region | None, text: str = "",
                   before: Region | object | None = ...) -> None:
        """The edit region choice (None = auto) as one undo step. `before`: the region was
        already changed live (a frame being dragged) from this."""
        before = self.doc.region if before is ... else before
        if region != before:
            text = text or ("Auto edit region" if region is None else "Set edit region")
            self.undo.push(RegionCommand(self.doc, before, region, text))

    # -- history ----------------------------------------------------------------------------
    def _on_job_finished(self, result: EditResult, parent_id: str | None,
                         duration_s: float) -> None:
        self.add_result(result, parent_id, duration_s)

    def add_result(self, result: EditResult, parent_id: str | None,
                   duration_s: float) -> HistoryEntry:
        """A finished edit joins the history and, if its kind applies results, becomes the
        working image, as one undo step (undo returns to the previous working image; the entry
        keeps its input and parent)."""
        if parent_id is not None and self.history.find(parent_id) is None:
            parent_id = None  # its parent was undone meanwhile
        entry = HistoryEntry(result=result, duration_s=duration_s, parent_id=parent_id)
        text = f"{method_label(entry)} (seed {result.request.seed})"
        kind = kind_of(result.request)
        if not kind.applies_result:
            self.undo.push(CallbackCommand(text, lambda: self.history.add(entry),
                                           lambda: self._remove_entry(entry.id)))
            self.message.emit(f"Finished {text} in {duration_s:.1f} s", 6000)
            return entry
        doc = self.doc
        old = (doc.image, doc.mask.copy() if doc.mask is not None else None, list(doc.points),
               doc.image_label, doc.source_path, self.parent_id)
        new_image = np.array(result.image, copy=True)
        # Drag points belong to the image they were set on: the result starts without them
        # (they stay visible with the history entry, which is not what the next Run uses).
        new_points = [] if kind.uses_points else list(doc.points)

        def apply() -> None:
            mask = old[1] if old[1] is not None and old[1].shape == new_image.shape[:2] else None
            points = new_points if mask is not None else []
            doc.set_image(new_image, old[3], old[4], mask, points)
            self.parent_id = entry.id
            self.history.add(entry)

        def revert() -> None:
            self._remove_entry(entry.id)
            doc.set_image(old[0], old[3], old[4], old[1], old[2])
            self.parent_id = old[5]
            self.show_entry(self.shown_entry_id)

        self.undo.push(CallbackCommand(text, apply, revert))
        if self._computed_mask(result) is not None:
            self._take_computed_mask(result)
        follow = " — set new points for the next drag" if kind.uses_points else ""
        self.message.emit(f"Finished {text} in {duration_s:.1f} s — the result is the working "
                          f"image now (Ctrl+Z returns to the previous one; hold C to compare)"
                          f"{follow}", 6000)
        return entry

    def working_source_id(self) -> str | None:
        """The history entry whose result the working image is (compare shows its input)."""
        return self.parent_id if self.history.find(self.parent_id) is not None else None

    def _remove_entry(self, entry_id: str) -> None:
        if self.shown_entry_id == entry_id:
            self.shown_entry_id = None
        self.history.remove(entry_id)
        if self.shown_entry_id is None:
            self.show_entry(None)

    @staticmethod
    def _computed_mask(result: EditResult) -> np.ndarray | None:
        """The mask an edit computed itself (DiffEdit's auto mask), or None when it used the
        canvas mask or none."""
        if result.mask is None or result.request.limiting_mask() is not None:
            return None
        return result.mask

    def _use_canvas_mask(self, kind_name: str) -> None:
        """Switch `kind_name`'s next edit to the canvas mask (a kind that uses it by a mode)."""
        use = kind_named(kind_name).mask_use
        if use.use == "when":
            self.params.set(kind_name, use.field, use.value)

    def _take_computed_mask(self, result: EditResult) -> None:
        """Put a mask the edit computed (DiffEdit's auto mask) on the canvas (undoable) so the
        user can refine it and run again with it - but only over an empty canvas mask: a
        hand-painted mask is the user's work and is never replaced (the computed mask stays
        with the history entry, where "Use auto mask" brings it to the canvas on request)."""
        mask = result.mask
        if mask is None or self.doc.mask is None or mask.shape != self.doc.mask.shape:
            return
        if not self.doc.mask_is_empty():
            self.message.emit("Your painted mask is kept; the auto mask is stored with the "
                              "history entry (History > Use auto mask).", 8000)
            return
        self.set_mask(mask, "Auto mask")
        self._use_canvas_mask(result.request.kind)
        self.message.emit("The auto mask is on the canvas and the next edit uses it — refine "
                          "it and run again.", 8000)

    def use_auto_mask(self, entry_id: str) -> bool:
        """Put a history entry's computed mask on the canvas (one undo step), on request."""
        entry = self.history.find(entry_id)
        mask = None if entry is None else entry.result.mask
        if mask is None or self.doc.mask is None or mask.shape != self.doc.mask.shape:
            return False
        self.set_mask(mask, "Use auto mask")
        self._use_canvas_mask(entry.request.kind)
        return True

    def continue_from(self, entry_id: str) -> bool:
        """The entry's result (or, for `ORIGINAL_ID`, the original photo) becomes the working
        image (one undo step)."""
        entry = self.history.find(entry_id)
        if entry_id == ORIGINAL_ID and self.original is not None:
            image, label, parent = self.original.image, self.original.label, None
            name = f"The original ({label})"
        elif entry is not None:
            number = self.history.number(entry_id)
            image, label, parent = entry.result.image, f"result #{number}", entry_id
            name = f"Result #{number}"
        else:
            return False
        if self.parent_id == parent and np.array_equal(self.doc.image, image):
            self.show_entry(None)  # a finished edit is already the working image
            self.message.emit(f"{name} is already the working image.", 4000)
            return True
        doc = self.doc
        old = (doc.image, doc.mask.copy() if doc.mask is not None else None, list(doc.points),
               doc.image_label, self.parent_id)
        new_image = np.array(image, copy=True)

        def apply() -> None:
            mask = old[1] if old[1] is not None and old[1].shape == new_image.shape[:2] else None
            doc.set_image(new_image, label, None, mask, [])
            self.parent_id = parent
            self.show_entry(None)

        def revert() -> None:
            doc.set_image(old[0], old[3], None, old[1], old[2])
            self.parent_id = old[4]
            self.show_entry(None)

        self.undo.push(CallbackCommand(f"Continue from {name[0].lower()}{name[1:]}", apply,
                                       revert))
        self.message.emit(f"{name} is now the input; set new points and run again.", 6000)
        return True

    # -- what the canvas shows --------------------------------------------------------------
    def show_entry(self, entry_id: str | None) -> None:
        """Show a history entry (input vs result) or, with None, the working image."""
        known = self.history.find(entry_id) is not None or (
            entry_id == ORIGINAL_ID and self.original is not None)
        self.shown_entry_id = entry_id if known else None
        self.frame = None
        self.shownChanged.emit()

    def shown_entry(self) -> HistoryEntry | None:
        return self.history.find(self.shown_entry_id)

    def set_frame(self, frame: int) -> None:
        """Trajectory frame `frame` of the shown entry (0 = its input); past the end = result."""
        entry = self.shown_entry()
        n = len(entry.result.trajectory) if entry else 0
        self.frame = None if frame >= n else frame
        self.frameChanged.emit()

    # -- cost of the next edit ---------------------------------------------------------------
    def model_key(self) -> tuple[str, str]:
        """(model, device) the costs are measured for."""
        state = self.model_state
        identity = state.identity
        model = "" if identity is None else \
            f"{identity.kind}:{identity.source}:{identity.revision or identity.sha256 or ''}"
        return model, state.device or ""

    def _next_edit_stale(self, *_args: object) -> None:
        self._next = None  # rebuilt when next asked for (presenters coalesce mask strokes)

    def next_edit(self) -> NextEdit:
        """The edit Run would send now (its request shares the document's arrays), built once
        per change of the document, the parameters, the kind or the model."""
        if self._next is None:
            self._next = build_next_edit(self.doc, self.params, self.edit_kind,
                                         self.model_state.identity)
        return self._next

    def next_edit_estimate(self) -> Estimate | None:
        """How long the next edit will take; None when it cannot run (nothing to estimate)."""
        edit = self.next_edit()
        if not edit.runnable:
            return None
        return self.costs.estimate(edit.request, *self.model_key(), region=edit.region)

    def run_next(self) -> int | None:
        """Run the next edit on the working image: the canvas switches to the working image
        first (what Run uses is what is shown), then the edit is queued; returns the job id,
        or None after emitting `error` with what to do."""
        self.show_entry(None)
        blocker = self.run_blocker()
        if blocker is not None:
            self.error.emit(*blocker)
            return None
        edit = self.next_edit()
        if not edit.runnable:
            self.error.emit("Cannot run this edit", edit.problem, "")
            return None
        request = edit.request
        # The request owns copies: the canvas keeps painting into its mask while a job runs,
        # and a history entry must keep exactly what was sent.
        request = request.with_changes(
            image=request.image.copy(), mask=None if request.mask is None else
            request.mask.copy())
        return self.runner.submit(request, self.parent_id)

    def rerun_with_new_seed(self, entry_id: str) -> int | None:
        """Run a history entry's edit again (same input, same parent) with another seed."""
        entry = self.history.find(entry_id)
        if entry is None:
            return None
        seed = random.randrange(0, 2**31 - 1)
        while seed == entry.request.seed:
            seed = random.randrange(0, 2**31 - 1)
        return self.runner.submit(entry.request.with_changes(seed=seed), entry.parent_id)

    def record_cost(self, result: EditResult) -> None:
        """A finished edit measured the cost of a model call on this model and device."""
        seconds = float(result.timings.get("total", 0.0))
        self.costs.record(cost_key(result.request, *self.model_key(), region=result.region),
                          plan_calls(result.request), seconds)

    # -- model ------------------------------------------------------------------------------
    def set_model_state(self, state: ModelState) -> None:
        previous = self.model_state.status
        self.model_state = state
        if state.status == "ready":
            self._follow_family_max_side()
        self.modelStateChanged.emit(state, previous)

    def _follow_family_max_side(self) -> None:
        """A model of another family changes the default working size (768 px for SD 1.x,
        1536 px for SDXL); a max side the user (or the project) chose stays."""
        suggested = default_max_side(self.model_state.identity)
        if self.params.value(self.edit_kind, "max_side") == self._family_max_side:
            self.params.set(self.edit_kind, "max_side", suggested)
        self._family_max_side = suggested

    def run_blocker(self) -> tuple[str, str, str] | None:
        """(title, message, detail) saying why no edit can run now, or None when one can."""
        state = self.model_state
        if state.status in _NOT_READY:
            title, text = _NOT_READY[state.status]
            detail = "" if state.status == "loading" else (state.message or "")
            return title, text, detail
        return None
