"""What the canvas shows, from the editor model: the working image, a history entry (its input
vs its result, or a trajectory frame) or a running edit's live preview; the compare split, the
trajectory player's frames and the shown edit's metrics."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel

from sdedit_desktop.edits.kinds import kind_named
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.engine.qimage import rgb_to_qimage
from sdedit_desktop.ui.canvas import CanvasView
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.model.lifetime import while_alive
from sdedit_desktop.ui.model.original import ORIGINAL_ID
from sdedit_desktop.ui.widgets import CompareBar, TrajectoryPlayer

QIMAGE_CACHE_SIZE = 24


def metrics_html(result: EditResult) -> str:
    """The shown edit's metrics and cost, for the label under the run box."""
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
        bits.append(f"{result.timings['total']:.1f} s, {result.unet_samples} model evaluations")
    return "<br>".join(bits)


class CanvasPresenter(QObject):
    def __init__(self, editor: EditorModel, canvas: CanvasView, compare: CompareBar,
                 player: TrajectoryPlayer, metrics_label: QLabel,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.editor, self.canvas, self.compare = editor, canvas, compare
        self.player, self.metrics_label = player, metrics_label
        self.preview_count = 0  # live previews shown (tests and screenshots wait for them)
        self._qimages: OrderedDict[int, tuple[np.ndarray, QImage]] = OrderedDict()
        editor.doc.imageChanged.connect(self.refresh)
        editor.shownChanged.connect(self._on_shown_changed)
        editor.frameChanged.connect(self.refresh)
        editor.jobs.previewed.connect(self._on_preview)
        editor.jobs.ended.connect(self.refresh)
        canvas.splitChanged.connect(compare.set_split)
        canvas.editStarting.connect(self._on_edit_starting)
        compare.splitChanged.connect(canvas.set_split)
        player.frameChanged.connect(while_alive(editor, editor.set_frame))
        editor.editKindChanged.connect(self._show_points)
        self._show_points(editor.edit_kind)

    def refresh(self, *_args: object) -> None:
        editor = self.editor
        job = editor.jobs.running
        entry = editor.shown_entry()
        override = None
        if job is not None and job.preview is not None:
            before, after = self._qimage(job.request.image), job.preview
        elif editor.shown_entry_id == ORIGINAL_ID and editor.original is not None:
            # The original photo alone: no mask, points or region of the working image on it.
            before = after = self._qimage(editor.original.image)
            override = []
        elif entry is not None:
            override = [(tuple(a), tuple(b)) for a, b in getattr(entry.request, "points", ())]
            before = self._qimage(entry.request.image)
            frames = entry.result.trajectory
            if editor.frame is not None and frames:
                after = before if editor.frame == 0 else self._qimage(frames[editor.frame - 1])
            else:
                after = self._qimage(entry.result.image)
        else:
            image = editor.doc.image
            before, after = (None if image is None else self._qimage(image)), None
        self.canvas.show_images(before, after)
        self.canvas.set_points_override(override)
        self.canvas.set_split(self.compare.split())

    def _show_points(self, kind: str) -> None:
        """Drag points mean something only to a drag: other tabs neither draw nor place them."""
        self.canvas.set_points_shown(kind_named(kind).uses_points)

    def _on_shown_changed(self) -> None:
        entry = self.editor.shown_entry()
        self.player.set_frames(len(entry.result.trajectory) if entry else 0)
        self.metrics_label.setText(metrics_html(entry.result) if entry is not None else "")
        self.refresh()

    def _on_preview(self, _job_id: int) -> None:
        self.preview_count += 1
        self.refresh()

    def _on_edit_starting(self) -> None:
        """A stroke or point edit begins: it edits the working image, so show that."""
        if self.editor.shown_entry_id is not None and self.editor.jobs.running_id is None:
            self.editor.show_entry(None)

    def _qimage(self, array: np.ndarray) -> QImage:
        """QImage of an image array, cached: switching entries or playing a trajectory must
        not convert big images again and again. Keyed by identity; the array is kept alive
        with its image so an id is never reused while cached."""
        key = id(array)
        hit = self._qimages.get(key)
        if hit is not None and hit[0] is array:
            self._qimages.move_to_end(key)
            return hit[1]
        image = rgb_to_qimage(array)
        self._qimages[key] = (array, image)
        while len(self._qimages) > QIMAGE_CACHE_SIZE:
            self._qimages.popitem(last=False)
        return image
