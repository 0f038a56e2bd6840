"""The run box follows the editor's jobs: running or idle, progress with phase and ETA, and how
many edits wait; its buttons run and cancel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from sdedit_desktop.engine.types import JobProgress
from sdedit_desktop.ui.model.editor import EditorModel
from sdedit_desktop.ui.widgets import RunBox


class RunBoxPresenter(QObject):
    def __init__(self, editor: EditorModel, run_box: RunBox, run: Callable[[], object],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.editor, self.run_box, self._run = editor, run_box, run
        jobs = editor.jobs
        jobs.started.connect(self._on_started)
        jobs.progressed.connect(self._on_progress)
        jobs.idle.connect(self._on_idle)
        jobs.waitingChanged.connect(run_box.set_waiting)
        run_box.runClicked.connect(self._on_run_clicked)
        run_box.cancelClicked.connect(editor.runner.cancel)

    def _on_run_clicked(self) -> None:
        self._run()

    def _on_started(self, _job_id: int) -> None:
        self.run_box.set_running(True, self.editor.runner.waiting())
        self.run_box.bar.setFormat("0%")
        self.run_box.phase.setText("Starting…")

    def _on_progress(self, _job_id: int, progress: JobProgress) -> None:
        self.run_box.show_progress(progress.phase, progress.step, progress.total,
                                   progress.overall_fraction, progress.elapsed_s,
                                   progress.eta_s)

    def _on_idle(self) -> None:
        self.run_box.set_running(False, self.editor.runner.waiting())
