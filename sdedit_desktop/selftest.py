"""`sdedit-desktop --self-test`: prove that an installed or frozen app really works.

It runs the same stack a user does, offscreen: bundled resources (samples, icons, model configs)
are found, the SVG app icon renders (the Qt SVG plugin is present), the main window opens with the
real engine, the tiny random model loads through that engine, one short SDE-Drag runs on a bundled
sample image, and its result reaches the history with the input's shape and changed pixels.
Exit code 0 when every check passes; otherwise 1 and a message naming the check that failed.

The packaging smoke test (packaging/smoke.sh) runs this inside the PyInstaller bundle, so a
missing hidden import, data file or Qt plugin shows up as a failed check, not as a user's crash.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

SAMPLE = "chelsea.png"  # 451x300: odd width, not square, exercises the working-size mapping
MIN_CHANGED_FRACTION = 0.01  # a real edit through a random model changes far more than this


class SelfTestFailure(Exception):
    """A check failed; the message says which and why."""


@dataclass
class _Run:
    """What the engine reported while the self-test waited."""

    errors: list[str] = field(default_factory=list)
    progress_events: int = 0
    preview_events: int = 0


_started = [time.monotonic()]


def _say(out: TextIO, text: str) -> None:
    # The elapsed time per stage shows where a (first) start spends its time.
    print(f"{text}  [{time.monotonic() - _started[0]:.1f} s]", file=out, flush=True)


def _wait_for(predicate: Callable[[], bool], run: _Run, what: str, timeout_s: float) -> None:
    """Spin the Qt event loop until predicate() holds; fail on a reported error or timeout."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    deadline = time.monotonic() + timeout_s
    while not predicate():
        if run.errors:
            raise SelfTestFailure(f"{what}: " + "\n".join(run.errors))
        if time.monotonic() > deadline:
            raise SelfTestFailure(f"timed out after {timeout_s:.0f} s waiting for {what}")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)


def _check_resources(out: TextIO) -> None:
    from sdedit_desktop.resources import model_configs_dir, resources_dir, sample_images

    samples = sample_images()
    if not samples:
        raise SelfTestFailure(f"no sample images in {resources_dir() / 'samples'}")
    unet_config = model_configs_dir() / "sd15" / "unet" / "config.json"
    if not unet_config.is_file():
        raise SelfTestFailure(f"SD 1.5 model configs missing: {unet_config} not found")
    merges = model_configs_dir() / "sd15" / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz"
    if not merges.is_file():
        raise SelfTestFailure(f"CLIP BPE merges missing: {merges} not found")
    _say(out, f"ok  resources: {len(samples)} samples, SD 1.5 configs in {model_configs_dir()}")


def _check_imports(out: TextIO) -> None:
    """Import every module of the app: in a bundle, a module the analysis missed (lazy imports
    in diffusers/transformers, sub-commands imported by name) fails here, not in a user's hands."""
    import importlib
    import pkgutil

    import sdedit_desktop

    names = [m.name for m in pkgutil.walk_packages(sdedit_desktop.__path__, "sdedit_desktop.")
             if not m.name.endswith("__main__")]
    if len(names) < 20:
        raise SelfTestFailure(f"found only {len(names)} app modules: the bundle is incomplete")
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise SelfTestFailure(f"cannot import {name}: {type(exc).__name__}: {exc}") from exc
    _say(out, f"ok  all {len(names)} app modules import")


def _check_qt_binding(out: TextIO) -> None:
    from sdedit_desktop.ui.qt_health import binding_versions, qt_binding_problem

    problem = qt_binding_problem()
    if problem is not None:
        raise SelfTestFailure(problem)
    _say(out, f"ok  {binding_versions()} keeps reference counts intact")


def _check_icon(out: TextIO) -> None:
    from sdedit_desktop.ui.icons import render_svg

    image = render_svg("app", 64).toImage()
    opaque = sum(image.pixelColor(x, y).alpha() > 0 for y in range(0, 64, 4)
                 for x in range(0, 64, 4))
    if opaque == 0:
        raise SelfTestFailure("the app icon rendered empty: resources/icons/app.svg or the "
                              "Qt SVG plugin is missing")
    _say(out, "ok  app icon renders from SVG")


def _pick_sample():
    from sdedit_desktop.resources import sample_images

    samples = sample_images()
    return next((p for p in samples if p.name == SAMPLE), samples[0])


def _check_result(entry: Any, before: np.ndarray, steps: int, max_side: int) -> str:
    result = entry.result
    image = result.image
    if image.shape != before.shape or image.dtype != np.uint8:
        raise SelfTestFailure(f"result is {image.shape} {image.dtype}, expected the input's "
                              f"{before.shape} uint8")
    request = result.request
    if request.kind != "drag" or request.method != "sde":
        raise SelfTestFailure(f"history entry is a {request.method} {request.kind}, "
                              "expected an SDE-Drag")
    if request.steps != steps or request.max_side != max_side:
        raise SelfTestFailure(f"the panel's steps={steps}, max_side={max_side} did not reach "
                              f"the request (got {request.steps}, {request.max_side})")
    if not result.trajectory or result.unet_calls <= 0:
        raise SelfTestFailure(f"the drag recorded {len(result.trajectory)} trajectory images "
                              f"and {result.unet_calls} UNet calls; expected some of each")
    if not np.array_equal(result.trajectory[-1], image):
        raise SelfTestFailure("the last drag-trajectory image is not the result")
    changed = np.any(image != before, axis=-1).mean()
    if changed < MIN_CHANGED_FRACTION:
        raise SelfTestFailure(f"only {changed:.2%} of the pixels changed: the edit did nothing")
    return (f"{len(result.trajectory)} drag steps, {result.unet_calls} UNet calls, "
            f"{changed:.0%} of pixels changed")


def run_self_test(*, device: str = "cpu", steps: int = 20, max_side: int = 256,
                  timeout_s: float = 300.0, out: TextIO | None = None) -> int:
    """Run every check; 0 when all pass, 1 (with the failing check on stderr) otherwise."""
    out = out or sys.stdout
    started = _started[0] = time.monotonic()
    try:
        detail = _run(device, steps, max_side, timeout_s, out)
    except SelfTestFailure as exc:
        print(f"self-test FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # an import or library error in a broken bundle: say what it was
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"self-test FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    frozen = " (frozen)" if getattr(sys, "frozen", False) else ""
    print(f"self-test OK{frozen}: {detail} in {time.monotonic() - started:.1f} s", file=out,
          flush=True)
    return 0


def _run(device: str, steps: int, max_side: int, timeout_s: float, out: TextIO) -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Never read or write the user's real settings, recent files or autosaves.
    os.environ["SDEDIT_CONFIG_DIR"] = tempfile.mkdtemp(prefix="sdedit-selftest-")
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    from sdedit_desktop.engine import Engine
    from sdedit_desktop.ui.errors import error_handler
    from sdedit_desktop.ui.main_window import MainWindow
    from sdedit_desktop.ui.settings import AppSettings

    app = QApplication.instance() or QApplication(["sdedit-desktop", "--self-test"])
    _say(out, f"ok  Qt {app.platformName()} platform")
    _check_qt_binding(out)
    _check_resources(out)
    _check_imports(out)
    _check_icon(out)

    run = _Run()

    def capture(_parent: Any, error: Any) -> None:
        run.errors.append(f"{error.title}: {error.message}" +
                          (f"\n{error.detail}" if error.detail else ""))

    engine = Engine()
    engine.progress.connect(lambda *_: setattr(run, "progress_events", run.progress_events + 1))
    engine.preview.connect(lambda *_: setattr(run, "preview_events", run.preview_events + 1))
    settings = AppSettings(model_source="tiny", device=device, dtype="auto", autosave_minutes=0)
    try:
        with error_handler(capture):
            window = MainWindow(engine, settings)
            # The self-test's edit is throwaway: closing must not ask to save it (a modal
            # question would wait forever offscreen).
            window.confirm = lambda *_args: True
            window.show()
            try:
                return _drive_window(window, run, device, steps, max_side, timeout_s, out)
            finally:
                window.close()
                window.deleteLater()  # leave no hidden top-level window behind in-process
    finally:
        engine.shutdown()
        app.processEvents()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _drive_window(window: Any, run: _Run, device: str, steps: int, max_side: int,
                  timeout_s: float, out: TextIO) -> str:
    from sdedit_desktop.models.interface import ModelSpec

    sample = _pick_sample()
    if not window.open_image(sample) or run.errors:
        raise SelfTestFailure(f"could not open the sample {sample}: " + "\n".join(run.errors))
    before = window.doc.image.copy()
    _say(out, f"ok  window open with {sample.name} ({before.shape[1]}x{before.shape[0]})")

    window.load_model(ModelSpec(source="tiny", device=device))

    def model_ready() -> bool:
        state = window.model_state
        if getattr(state, "status", "") == "error":
            run.errors.append(f"the tiny model failed to load: {state.message}")
        return getattr(state, "status", "") == "ready"

    _wait_for(model_ready, run, "the tiny model to load", timeout_s)
    _say(out, f"ok  tiny model loaded on {window.model_state.device} "
         f"({window.model_state.dtype})")

    h, w = before.shape[:2]
    window.doc.set_points([((w // 3, h // 2), (w // 3 + w // 6, h // 2))])
    panel = window.panels.select("drag")
    panel.widgets["steps"].setValue(steps)
    window.panels.max_side.setValue(max_side)
    if window.run_edit() is None:
        raise SelfTestFailure("the window refused to run the drag: " + "\n".join(run.errors))
    _wait_for(lambda: len(window.history.entries) == 1, run, "the SDE-Drag to finish",
              timeout_s)
    if run.progress_events == 0:
        raise SelfTestFailure("the engine reported no progress during the drag")
    detail = _check_result(window.history.entries[0], before, steps, max_side)
    _say(out, f"ok  SDE-Drag: {detail}; {run.progress_events} progress and "
         f"{run.preview_events} preview updates")
    return f"window + engine + tiny model + SDE-Drag ({detail})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdedit-desktop --self-test",
                                     description="Check that the app works end to end.")
    parser.add_argument("--device", default="cpu", help="device for the tiny model (cpu)")
    parser.add_argument("--steps", type=int, default=20, help="SDE-Drag steps N (20)")
    parser.add_argument("--max-side", type=int, default=256, help="working size (256)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for each phase (300)")
    return parser


def run_self_test_cli(argv: Sequence[str] | None = None) -> int:
    """`--self-test` options from the command line (the frozen entry script passes them)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return run_self_test(device=args.device, steps=args.steps, max_side=args.max_side,
                         timeout_s=args.timeout)


if __name__ == "__main__":
    sys.exit(run_self_test_cli())
