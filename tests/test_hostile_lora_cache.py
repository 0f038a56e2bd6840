"""Issue 15, class 1: the LoRA cache is an optimisation. A cache folder that cannot be written
(a file where the folder should be, a folder where a file must go), garbage entries and
folders inside the cache never cost the finished edit, never crash `lora list/clear`, and the
GUI engine reports a warning instead of a failed job."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import TIMEOUT_MS, Recorder, wait_end
from images import textured_image
from PIL import Image

from sdedit_desktop.cli import main
from sdedit_desktop.edits.kinds import DragRequest
from sdedit_desktop.engine import Engine
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.models.loading import load_model
from sdedit_desktop.models.lora import LoraCache, LoraSettings, ensure_lora, load_lora_file

FAST = LoraSettings(steps=2)


def _image(seed: int = 0) -> np.ndarray:
    return textured_image(64, 64, seed)


def _not_a_folder(tmp_path: Path) -> Path:
    path = tmp_path / "cache-is-a-file"
    path.write_text("not a folder")
    return path


def test_cache_path_that_is_a_file_warns_once_and_keeps_the_lora(make_tiny_model, tmp_path, caplog):
    model = make_tiny_model(0)
    cache = LoraCache(_not_a_folder(tmp_path))
    with caplog.at_level(logging.WARNING):
        key = ensure_lora(model, _image(), "a cat", FAST, cache)
        assert model.lora_id == key and model.has_lora
        # The same LoRA again in this session: reused from memory, not trained again.
        model.detach_lora()
        again = ensure_lora(model, _image(), "a cat", FAST, cache)
        ensure_lora(model, _image(1), "a dog", FAST, cache)  # a second failed write
    assert again == key
    warnings = cache.take_warnings()
    assert len(warnings) == 1 and "could not be written" in warnings[0]
    assert sum("LoRA cache" in r.getMessage() for r in caplog.records) == 1
    assert cache.take_warnings() == []
    assert cache.read_metadata(key)["prompt"] == "a cat"
    exported = tmp_path / "kept.safetensors"
    cache.export(key, exported)
    load_lora_file(make_tiny_model(0), exported)


def test_safetensors_write_failure_keeps_the_edit(make_tiny_model, tmp_path):
    """The weights cannot be written (here: a folder sits where the file must go; a file
    planted at a temporary name no longer can: those are random and created exclusively)."""
    model = make_tiny_model(0)
    cache = LoraCache(tmp_path / "lora")
    key = cache.key(model.identity, _image(), "a cat", FAST)
    cache.weights_path(key).mkdir(parents=True)
    assert ensure_lora(model, _image(), "a cat", FAST, cache) == key
    assert model.has_lora and not cache.has(key)
    assert "could not be written" in cache.take_warnings()[0]


def _garbage_entry(cache_dir: Path, key: str, meta: object) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / f"{key}.safetensors").write_bytes(b"junk")
    (cache_dir / f"{key}.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("meta", [
    {"created": "yesterday"},
    {"created": 1.0, "last_used": "soon"},
    {"created": 1.0, "last_used": 1e300},
    {"created": 1.0, "last_used": 2.0, "base": ["x"]},
])
def test_garbage_entries_are_skipped_by_list_and_eviction(tmp_path, capsys, meta):
    cache_dir = tmp_path / "lora"
    _garbage_entry(cache_dir, "b" * 64, meta)
    assert main(["lora", "list", "--cache-dir", str(cache_dir)]) == 0
    assert "0 entries" in capsys.readouterr().out
    cache = LoraCache(cache_dir, max_bytes=0)
    assert cache.entries() == [] and cache.evict() == []


def test_garbage_metadata_under_the_requested_key_is_retrained_and_repaired(make_tiny_model,
                                                                            tmp_path):
    model = make_tiny_model(0)
    cache = LoraCache(tmp_path / "lora")
    key = ensure_lora(model, _image(), "a cat", FAST, cache)
    model.detach_lora()
    cache.metadata_path(key).write_text(json.dumps({"created": "yesterday",
                                                    "last_used": "never"}))
    assert ensure_lora(model, _image(), "a cat", FAST, LoraCache(cache.dir)) == key
    assert cache.read_metadata(key)["prompt"] == "a cat"  # repaired on disk
    assert [e.key for e in cache.entries()] == [key]


def test_clear_leaves_folders_alone(tmp_path, capsys):
    cache_dir = tmp_path / "lora"
    _garbage_entry(cache_dir, "c" * 64, {"created": 1.0, "last_used": 2.0})
    (cache_dir / "sub.json").mkdir()
    assert main(["lora", "clear", "--cache-dir", str(cache_dir)]) == 0
    assert sorted(p.name for p in cache_dir.iterdir()) == ["sub.json"]


def test_clear_of_a_read_only_cache_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    cache_dir = tmp_path / "lora"
    _garbage_entry(cache_dir, "d" * 64, {"created": 1.0, "last_used": 2.0})
    real_unlink = Path.unlink

    def read_only(self, missing_ok=False):  # tests run as root: chmod would not stop them
        if self.parent == cache_dir:
            raise OSError(30, "Read-only file system", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    assert main(["lora", "clear", "--cache-dir", str(cache_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Read-only file system" in err and "Traceback" not in err


def test_cli_train_with_an_unwritable_cache_exports_the_lora(make_tiny_model, tmp_path, capsys):
    image = tmp_path / "in.png"
    Image.fromarray(_image()).save(image)
    out = tmp_path / "out.safetensors"
    code = main(["lora", "train", "--model", "tiny", "--device", "cpu", "--image", str(image),
                 "--steps", "2", "--max-side", "64", "--cache-dir", str(_not_a_folder(tmp_path)),
                 "--export", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err and "trained LoRA" in captured.out
    load_lora_file(make_tiny_model(0), out)
    assert json.loads(out.with_suffix(".json").read_text())["settings"]["steps"] == 2


def test_engine_finishes_the_edit_and_warns(qtbot, tmp_path):
    cache_dir = _not_a_folder(tmp_path)
    engine = Engine(model_loader=load_model, lora_cache_factory=lambda: LoraCache(cache_dir))
    rec = Recorder(engine)
    warnings: list[tuple[int, str]] = []
    engine.jobWarning.connect(lambda job_id, text: warnings.append((job_id, text)))
    try:
        engine.load_model(ModelSpec("tiny", device="cpu"))
        qtbot.waitUntil(lambda: engine.model_state.status == "ready", timeout=TIMEOUT_MS)
        request = DragRequest(image=_image(), points=(((10, 10), (30, 20)),), steps=4,
                              lora="auto", prompt="a cat")
        job = engine.submit(request)
        wait_end(qtbot, rec, job)
        assert rec.of("jobFinished", job), rec.of("jobFailed", job)
        assert len(warnings) == 1 and warnings[0][0] == job
        assert str(cache_dir) in warnings[0][1]
    finally:
        engine.shutdown()


def test_list_shows_file_strings_on_one_line(tmp_path, capsys):
    cache_dir = tmp_path / "lora"
    _garbage_entry(cache_dir, "e" * 64, {
        "created": 1.0, "last_used": 2.0, "prompt": "a cat",
        "base": {"source": "x\n  ffffffffffffffff  9.9 MB  forged\x1b[2J"},
        "settings": {"rank": "16\nrank 99", "steps": 2}})
    assert main(["lora", "list", "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and len(out.splitlines()) == 2


def test_window_shows_the_cache_warning_as_a_warning(qtbot, tmp_path, monkeypatch):
    from ui_helpers import make_window

    from sdedit_desktop.ui.errors import error_handler

    shown = []
    engine = Engine()
    try:
        with error_handler(lambda _parent, e: shown.append(e)):
            make_window(qtbot, engine, tmp_path, monkeypatch)
            text = "The LoRA cache /x could not be written (Read-only file system); the edit " \
                   "goes on without it."
            engine.jobWarning.emit(3, text)
            qtbot.waitUntil(lambda: bool(shown), timeout=TIMEOUT_MS)
        assert shown[-1].warning and shown[-1].message == text
        assert "internal error" not in shown[-1].message
    finally:
        engine.shutdown()
