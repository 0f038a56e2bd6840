"""Model setup: the first-run dialog and Model > Model setup…. Download SD 1.5 (or another
model) from the hub (off the UI thread, with a byte progress bar), pick a local diffusers folder
/ .safetensors file of any supported family (SD 1.x, SD 2.x, SDXL), or use the tiny demo model;
choose device, precision and, for an SD 2.x file, what its UNet predicts. Shows the loaded
model's family, native size and prediction type."""

from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from sdedit_desktop.core.families import describe_model
from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.ui.errors import show_error
from sdedit_desktop.ui.settings import AppSettings

SD15_HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEVICES = (("auto", "Automatic (GPU if available)"), ("cuda", "NVIDIA GPU (CUDA)"),
           ("mps", "Apple GPU (MPS)"), ("cpu", "CPU (slow)"))
DTYPES = (("auto", "Automatic (float16 on GPU, float32 on CPU)"), ("float16", "float16"),
          ("bfloat16", "bfloat16"), ("float32", "float32"),
          ("float64", "float64 (exact Cycle-SDE reconstruction; slow)"))
PREDICTIONS = (("auto", "Automatic (what the model says)"),
               ("epsilon", "ε, the noise (SD 2.x 512 px models)"),
               ("v_prediction", "v (SD 2.x 768 px models)"))


def find_downloader() -> Any | None:
    """`models.hub.download_model` (imported lazily: it pulls in torch/huggingface_hub, which the
    UI thread never needs)."""
    try:
        from sdedit_desktop.models.hub import download_model
    except ImportError:
        return None
    return download_model


def kept_bytes(hub_id: str) -> int | None:
    """What a stopped download of `hub_id` left in the cache (None: unknown)."""
    try:
        from sdedit_desktop.models.hub import partial_download_bytes

        return partial_download_bytes(hub_id)
    except (ImportError, OSError):
        return None


class DownloadBridge(QObject):
    """Carries progress from the download thread to the dialog (queued signals)."""

    planned = Signal(object)  # models.hub.DownloadPlan
    progress = Signal(object)  # models.hub.DownloadProgress
    finished = Signal(str)  # where the model is
    stopped = Signal(object)  # bytes kept in the cache (int), or None
    failed = Signal(str, str)  # message, detail


class ModelSetupDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None,
                 first_run: bool = False, loaded: ModelIdentity | None = None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Welcome — choose a model" if first_run else "Model setup")
        self.setMinimumWidth(620)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "<b>sdedit-desktop needs a Stable Diffusion model</b> (SD 1.5, SD 2.x, SDXL or a "
            "fine-tune of one). Nothing is downloaded unless you ask. You can change this "
            "later in Model > Model setup…" if first_run
            else "Choose the diffusion model, the device and the precision.")
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.group = QButtonGroup(self)
        self.hub = QRadioButton("Stable Diffusion 1.5 from Hugging Face (about 4 GB, once)")
        self.local = QRadioButton("A model on this computer (diffusers folder or .safetensors)")
        self.tiny = QRadioButton("Tiny demo model (random weights: loads instantly, for trying "
                                 "the app;\nits results are not meaningful pictures)")
        for b in (self.hub, self.local, self.tiny):
            self.group.addButton(b)

        layout.addWidget(self.hub)
        hub_row = QHBoxLayout()
        hub_row.setContentsMargins(24, 0, 0, 0)
        self.hub_id = QLineEdit(SD15_HUB_ID)
        self.hub_id.setToolTip("Hugging Face model id (diffusers layout) of an SD 1.x, SD 2.x or "
                               "SDXL model, e.g. stabilityai/stable-diffusion-xl-base-1.0")
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Download (or resume) the model into the Hugging Face "
                                        "cache; files already there are not fetched again.")
        self.download_button.clicked.connect(self.start_download)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the download; it resumes where it stopped next time.")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_download)
        hub_row.addWidget(self.hub_id, 1)
        hub_row.addWidget(self.download_button)
        hub_row.addWidget(self.stop_button)
        layout.addLayout(hub_row)
        self.download_bar = QProgressBar()
        self.download_bar.setVisible(False)
        self.download_label = QLabel("")
        self.download_label.setWordWrap(True)
        for w in (self.download_bar, self.download_label):
            w.setContentsMargins(24, 0, 0, 0)
            layout.addWidget(w)
        self.download_label.setVisible(False)  # shown once there is something to say
        if find_downloader() is None:
            self.download_button.setEnabled(False)
            self._say("This build cannot download: use `sdedit models "
                                        "download` or pick a local copy.")

        layout.addWidget(self.local)
        local_row = QHBoxLayout()
        local_row.setContentsMargins(24, 0, 0, 0)
        self.path = QLineEdit()
        self.path.setPlaceholderText("folder with model_index.json, or a .safetensors file")
        folder = QPushButton("Folder…")
        folder.clicked.connect(self._pick_folder)
        file = QPushButton("File…")
        file.clicked.connect(self._pick_file)
        local_row.addWidget(self.path, 1)
        local_row.addWidget(folder)
        local_row.addWidget(file)
        layout.addLayout(local_row)
        self.allow_pickle = QCheckBox("Allow pickle checkpoints (.ckpt/.bin): they can run code "
                                      "when loaded,\nso only for files you trust")
        self.allow_pickle.setContentsMargins(24, 0, 0, 0)
        layout.addWidget(self.allow_pickle)
        layout.addWidget(self.tiny)

        form = QFormLayout()
        self.device = QComboBox()
        for value, text in DEVICES:
            self.device.addItem(text, value)
        self.dtype = QComboBox()
        for value, text in DTYPES:
            self.dtype.addItem(text, value)
        self.prediction = QComboBox()
        for value, text in PREDICTIONS:
            self.prediction.addItem(text, value)
        self.prediction.setToolTip(
            "What the model's UNet predicts. Folders and SD 1.x / SDXL files say it themselves; "
            "an SD 2.x .safetensors file does not (its 512 px models predict ε, its 768 px "
            "ones v): choose once, it is remembered for that file.")
        form.addRow("Device", self.device)
        form.addRow("Precision", self.dtype)
        form.addRow("Prediction", self.prediction)
        layout.addLayout(form)
        # The loaded model as the editor sees it: family, native size, prediction type.
        self.loaded_label = QLabel(
            f"Loaded now: {loaded.source if loaded.kind != 'tiny' else 'tiny demo model'} "
            f"({describe_model(loaded)})" if loaded is not None else "")
        self.loaded_label.setWordWrap(True)
        self.loaded_label.setVisible(loaded is not None)
        layout.addWidget(self.loaded_label)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use this model")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._plan_text = ""  # what the download needs, once the hub has said
        self._note = ""  # the latest note of the download (a retry, a resumed connection)
        self.bridge = DownloadBridge(self)
        self.bridge.planned.connect(self._download_planned)
        self.bridge.progress.connect(self._download_progress)
        self.bridge.finished.connect(self._download_done)
        self.bridge.stopped.connect(self._download_stopped)
        self.bridge.failed.connect(self._download_failed)
        self._load(settings)

    def _say(self, text: str) -> None:
        self.download_label.setText(text)
        self.download_label.setVisible(bool(text))
        self._fit_height()

    def _fit_height(self) -> None:
        """Grow the dialog when the wrapped download text needs more lines: a word-wrapped
        label's height does not raise a window's minimum size, so its lines would be cut."""
        layout = self.layout()
        layout.activate()
        need = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else 0
        if need > self.height():
            self.resize(self.width(), need)

    def _load(self, s: AppSettings) -> None:
        source = s.model_source
        if source == "tiny":
            self.tiny.setChecked(True)
        elif source and (Path(source).exists() or Path(source).suffix):
            self.local.setChecked(True)
            self.path.setText(source)
        else:
            self.hub.setChecked(True)
            if source:
                self.hub_id.setText(source)
        self.device.setCurrentIndex(max(self.device.findData(s.device), 0))
        self.dtype.setCurrentIndex(max(self.dtype.findData(s.dtype), 0))
        self.prediction.setCurrentIndex(max(self.prediction.findData(s.prediction_type), 0))
        self.allow_pickle.setChecked(s.allow_pickle)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Diffusers model folder")
        if path:
            self.path.setText(path)
            self.local.setChecked(True)

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Model checkpoint", "", "Checkpoints (*.safetensors *.ckpt *.bin *.pt)")
        if path:
            self.choose_file(path)

    def choose_file(self, path: str) -> None:
        """A checkpoint file as the source; its prediction choice is what was said for that
        file before (else Automatic)."""
        from sdedit_desktop.models.prediction_choice import remembered_prediction_type

        self.path.setText(path)
        self.local.setChecked(True)
        known = remembered_prediction_type(Path(path)) or "auto"
        self.prediction.setCurrentIndex(max(self.prediction.findData(known), 0))

    # -- choice --------------------------------------------------------------------------
    def chosen_source(self) -> str:
        """The model source, or ValueError with what is missing."""
        if self.tiny.isChecked():
            return "tiny"
        if self.local.isChecked():
            text = self.path.text().strip()
            if not text:
                raise ValueError("Choose a model folder or a .safetensors file.")
            path = Path(text).expanduser()
            if not path.exists():
                raise ValueError(f"{path} does not exist.")
            if path.is_dir() and not (path / "model_index.json").is_file():
                raise ValueError(f"{path} is not a diffusers model folder (it has no "
                                 "model_index.json). Pick the folder that contains it, or a "
                                 ".safetensors checkpoint.")
            if path.is_file() and path.suffix.lower() not in (".safetensors", ".ckpt", ".bin",
                                                                ".pt"):
                raise ValueError(f"{path.name} is not a checkpoint (.safetensors expected).")
            if path.suffix.lower() in (".ckpt", ".bin", ".pt") and not \
                    self.allow_pickle.isChecked():
                raise ValueError(f"{path.name} is a pickle checkpoint, which can run code when "
                                 "loaded. Use a .safetensors file, or tick 'Allow pickle "
                                 "checkpoints' if you trust it.")
            return str(path)
        hub = self.hub_id.text().strip()
        if not hub:
            raise ValueError("Enter a Hugging Face model id.")
        return hub

    def accept(self) -> None:
        try:
            source = self.chosen_source()
        except ValueError as exc:
            show_error(self, "Model setup", str(exc))
            return
        if self.downloading():
            show_error(self, "Download in progress", "Wait for the download to finish (it "
                       "resumes if interrupted), or pick another model.")
            return
        self.settings.model_source = source
        self.settings.device = self.device.currentData()
        self.settings.dtype = self.dtype.currentData()
        self.settings.prediction_type = self.prediction.currentData()
        self.settings.allow_pickle = self.allow_pickle.isChecked()
        super().accept()

    # -- download ------------------------------------------------------------------------
    def start_download(self) -> None:
        fn = find_downloader()
        if fn is None or self.downloading():
            return
        hub_id = self.hub_id.text().strip() or SD15_HUB_ID
        self.hub.setChecked(True)
        self.download_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.download_bar.setVisible(True)
        self.download_bar.setRange(0, 0)
        self._say(f"Connecting to the Hugging Face hub for {hub_id}…")
        self._plan_text = self._note = ""
        bridge, stop = self.bridge, threading.Event()
        self._stop = stop

        def work() -> None:
            from sdedit_desktop.models.hub_progress import throttled

            try:
                snapshot = fn(hub_id, progress=throttled(bridge.progress.emit, 0.1),
                              cancel=stop.is_set, plan=bridge.planned.emit)
                bridge.finished.emit(str(getattr(snapshot, "path", snapshot)))
            except Exception as exc:  # shown in the dialog, the app keeps running
                if stop.is_set():
                    bridge.stopped.emit(kept_bytes(hub_id))
                    return
                # models.errors.ModelError: str() is the user message, .detail the technical
                detail = getattr(exc, "detail", "") or ""
                bridge.failed.emit(str(exc) or type(exc).__name__,
                                   f"{detail}\n\n{traceback.format_exc()}".strip())

        # A plain thread: the download is I/O bound and must not block the UI thread.
        self._thread = threading.Thread(target=work, name="sd15-download", daemon=True)
        self._thread.start()

    def downloading(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop_download(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._say("Stopping…")

    def _download_planned(self, plan: Any) -> None:
        from sdedit_desktop.models.hub_progress import format_bytes

        self._plan_text = (f"{format_bytes(plan.total_bytes)} in {len(plan.files)} files, "
                           f"{format_bytes(plan.needed_bytes)} to fetch "
                           f"({format_bytes(plan.free_bytes)} free in {plan.cache})")
        self._say(self._plan_text)

    def _download_progress(self, p: Any) -> None:
        from sdedit_desktop.models.hub_progress import describe_progress

        done, total = int(p.done_bytes), int(p.total_bytes)
        if total:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * min(done / total, 1.0)))
        if p.note:  # a dropped connection resumed, a retry: stays until the next one
            self._note = p.note
        lines = [describe_progress(p, two_lines=True), self._note, self._plan_text]
        self._say("\n".join(line for line in lines if line))

    def _download_done(self, where: str) -> None:
        self.download_bar.setRange(0, 1000)
        self.download_bar.setValue(1000)
        self._say(f"Downloaded. Stored in {where}")
        self.download_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _download_stopped(self, kept: int | None) -> None:
        from sdedit_desktop.models.hub_progress import format_bytes

        self._download_ended()
        held = f" {format_bytes(kept)} kept in the cache:" if kept else ""
        self._say(f"Download stopped.{held} Download resumes where it stopped.")

    def _download_failed(self, message: str, detail: str) -> None:
        self._download_ended()
        self._say("Download failed; what was fetched is kept (it resumes "
                  "when you try again).")
        show_error(self, "Download failed", message, detail)

    def _download_ended(self) -> None:
        self.download_bar.setVisible(False)
        self.download_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def reject(self) -> None:
        self.stop_download()
        super().reject()
