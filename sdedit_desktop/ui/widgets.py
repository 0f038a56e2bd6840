"""Small widgets of the main window: the run/progress box, the compare bar and the drag
trajectory player."""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class WrappingLabel(QLabel):
    """Text that wraps onto more lines instead of asking for more width: every word stays
    readable in a narrow panel, and a longer text never widens the panel (its width hint is
    0; its height follows the width it is given)."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setWordWrap(True)
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def sizeHint(self) -> QSize:
        return QSize(0, self.heightForWidth(max(self.width(), 1)))

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self.heightForWidth(max(self.width(), 1)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()  # the height for the new width


class RunBox(QWidget):
    """Run / Cancel buttons with the progress bar (phase, step, ETA)."""

    runClicked = Signal()
    cancelClicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # Before Run: what the next edit costs, and on a slow device the draft preset.
        estimate_row = QHBoxLayout()
        self.estimate = WrappingLabel("")
        self.draft_button = QPushButton("Draft")
        self.draft_button.setCheckable(True)
        self.draft_button.setToolTip(
            "Draft preset: fewer steps (much faster, rougher). Off = the paper's defaults.")
        self.draft_button.setVisible(False)
        estimate_row.addWidget(self.estimate, 1)
        estimate_row.addWidget(self.draft_button)
        layout.addLayout(estimate_row)
        row = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the edit with the parameters above (Ctrl+Return)")
        self.run_button.setDefault(True)
        self.run_button.setMinimumHeight(32)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running edit (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setMinimumHeight(32)
        self.run_button.clicked.connect(self._run_clicked)
        self._last_run = QElapsedTimer()  # a double click on Run is one run, not run + queue
        self.cancel_button.clicked.connect(self.cancelClicked)
        row.addWidget(self.run_button, 2)
        row.addWidget(self.cancel_button, 1)
        layout.addLayout(row)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setFormat("Idle")
        self.bar.setValue(0)
        layout.addWidget(self.bar)
        # Phase and step, then elapsed and ETA, on two lines that wrap rather than widen the
        # panel (and shrink the canvas) during a run; the bar repeats the ETA.
        self.phase = WrappingLabel("")
        layout.addWidget(self.phase)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        layout.addWidget(self.detail)

    def _run_clicked(self) -> None:
        # Run turns into Queue under the cursor: the second click of a double click would queue
        # the same edit again. Clicks closer than the double-click interval count once.
        if self._last_run.isValid() and \
                self._last_run.elapsed() < QApplication.doubleClickInterval():
            return
        self._last_run.start()
        self.runClicked.emit()

    def set_running(self, running: bool, waiting: int = 0) -> None:
        self.cancel_button.setEnabled(running)
        self.run_button.setText("Queue" if running else "Run")
        if not running:
            self.bar.setValue(0)
            self.bar.setFormat("Idle")
            self.phase.setText("")
        self.set_waiting(waiting)

    def set_waiting(self, waiting: int) -> None:
        self.detail.setText(f"{waiting} edit(s) waiting" if waiting else "")

    def show_progress(self, phase: str, step: int, total: int, fraction: float,
                      elapsed_s: float, eta_s: float | None) -> None:
        self.bar.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))
        self.bar.setFormat(f"{100 * fraction:.0f}% · ETA {format_seconds(eta_s)}")
        self.phase.setText(f"{phase} · step {step}/{total}\n"
                           f"elapsed {format_seconds(elapsed_s)} · ETA {format_seconds(eta_s)}")


class CompareBar(QWidget):
    """Before/after split toggle and position; the split line can also be dragged on the canvas."""

    splitChanged = Signal(object)  # float in [0, 1] or None (= after only)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        self.check = QCheckBox("Before/after split")
        self.check.setToolTip("Show the input on the left and the result on the right of a "
                              "split line (drag it here or on the canvas). Hold C to see the "
                              "input alone.")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 1000)
        self.slider.setValue(500)
        self.slider.setEnabled(False)
        self.check.toggled.connect(self._changed)
        self.slider.valueChanged.connect(self._changed)
        layout.addWidget(self.check)
        layout.addWidget(self.slider, 1)

    def split(self) -> float | None:
        return self.slider.value() / 1000 if self.check.isChecked() else None

    def set_split(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * 1000))
        self.slider.blockSignals(False)

    def _changed(self) -> None:
        self.slider.setEnabled(self.check.isChecked())
        self.splitChanged.emit(self.split())


class TrajectoryPlayer(QWidget):
    """Steps through a drag's trajectory: frame 0 = the input, frame i = after drag step i."""

    frameChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Play the drag step by step")
        self.play_button.setCheckable(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setPageStep(1)
        self.label = QLabel()
        self.label.setMinimumWidth(110)
        layout.addWidget(QLabel("Drag steps:"))
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.timer = QTimer(self)
        self.timer.setInterval(400)
        self.timer.timeout.connect(self._tick)
        self.play_button.toggled.connect(self._toggle)
        self.slider.valueChanged.connect(self._value_changed)
        self.set_frames(0)

    def set_frames(self, steps: int) -> None:
        """`steps` drag steps: frames 0..steps. Shows the last frame (the result)."""
        self.play_button.setChecked(False)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(steps, 0))
        self.slider.setValue(max(steps, 0))
        self.slider.blockSignals(False)
        self._label()
        self.setVisible(steps > 0)

    def _label(self) -> None:
        v, n = self.slider.value(), self.slider.maximum()
        self.label.setText("input" if v == 0 else f"step {v} / {n}")

    def _value_changed(self, value: int) -> None:
        self._label()
        self.frameChanged.emit(value)

    def _toggle(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on:
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(0)
            self.timer.start()
        else:
            self.timer.stop()

    def _tick(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.play_button.setChecked(False)
            return
        self.slider.setValue(self.slider.value() + 1)
