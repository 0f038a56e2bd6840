"""Hostile input, round three (issue #26, classes 1, 5 and 8): no output of ours can be
redirected by a planted file or blocked by a FIFO, every file we read is a regular file of
bounded size, and every output path is checked before any model loads."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sdedit_desktop import filesave
from sdedit_desktop.cli import main
from sdedit_desktop.fileopen import (
    FileReadError,
    FileTooLargeError,
    NotRegularFileError,
    read_regular_bytes,
)
from sdedit_desktop.filesave import (
    NAME_MAX,
    OutputFileError,
    check_output_folder,
    check_output_path,
    write_bytes,
)
from sdedit_desktop.imaging import ImageFileError, load_image, save_image

IMAGE = (np.random.default_rng(3).random((72, 96, 3)) * 255).astype(np.uint8)


def finishes(fn, seconds: float = 20.0, unblock: Path | None = None):
    """fn()'s result, or a test failure when it does not return in time (a regression that
    blocks on a FIFO fails instead of hanging the run). `unblock`: a FIFO opened for reading and
    writing afterwards, so a blocked opener is released and its thread ends."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if unblock is not None:
            fd = os.open(unblock, os.O_RDWR | os.O_NONBLOCK)
            os.close(fd)
        pytest.fail(f"did not return within {seconds} s (blocked)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def photo(tmp_path) -> Path:
    path = tmp_path / "in.png"
    Image.fromarray(IMAGE).save(path)
    return path


@pytest.fixture()
def no_model(monkeypatch):
    """Loading a model fails the test: the checks under test must come first."""
    from sdedit_desktop.cli import edit_commands
    from sdedit_desktop.models import loading

    def refuse(*_args, **_kwargs):
        raise AssertionError("the model was loaded before the output paths were checked")

    monkeypatch.setattr(edit_commands, "load_cli_model", refuse)
    monkeypatch.setattr(loading, "load_model", refuse)


# --- class 1: one safe writer ------------------------------------------------------------------

def test_a_link_planted_at_the_old_fixed_temp_name_is_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out.png"
    (tmp_path / ".out.png.tmp").symlink_to(victim)
    save_image(out, IMAGE)
    assert victim.read_text() == "precious"
    assert out.is_file() and not out.is_symlink()
    assert np.array_equal(load_image(out), IMAGE)


def test_a_link_planted_at_the_next_random_temp_name_is_not_followed(tmp_path, monkeypatch):
    tokens = iter(["aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(filesave.secrets, "token_hex", lambda _n: next(tokens))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out.json"
    (tmp_path / ".out.json.aaaaaaaaaaaa.tmp").symlink_to(victim)
    write_bytes(out, b"{}")
    assert victim.read_text() == "precious" and out.read_bytes() == b"{}"
    # the planted link is left alone, no temporary file of ours is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".out.json.aaaaaaaaaaaa.tmp", "out.json", "victim.txt"]


def test_a_link_at_the_output_itself_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    out = tmp_path / "out.png"
    out.symlink_to(victim)
    save_image(out, IMAGE)
    assert victim.read_bytes() == b"precious"
    assert not out.is_symlink() and np.array_equal(load_image(out), IMAGE)


def test_a_252_byte_output_name_is_written(tmp_path):
    out = tmp_path / ("x" * 248 + ".png")
    assert len(os.fsencode(out.name)) == 252
    save_image(out, IMAGE)
    assert np.array_equal(load_image(out), IMAGE)
    assert len(os.fsencode(filesave.temp_path(out).name)) <= NAME_MAX
    too_long = tmp_path / ("y" * 252 + ".png")
    with pytest.raises(ImageFileError, match="256 bytes long"):
        save_image(too_long, IMAGE)


def test_new_files_get_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        out = write_bytes(tmp_path / "a.json", b"1")
        assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not mkstemp's 0600
        os.chmod(out, 0o640)
        write_bytes(out, b"2")
        assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_bytes() == b"2"
    finally:
        os.umask(umask)


def test_a_fifo_or_a_folder_at_the_output_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    with pytest.raises(OutputFileError, match=r"named pipe \(FIFO\)"):
        finishes(lambda: write_bytes(fifo, b"{}"), unblock=fifo)
    with pytest.raises(OutputFileError, match=r"named pipe \(FIFO\)"):
        finishes(lambda: check_output_path(fifo), unblock=fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # left as it was
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageFileError, match="a folder"):
        save_image(tmp_path / "dir.png", IMAGE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.png", "out.json"]


def test_a_failing_writer_leaves_the_old_file_and_no_temp_file(tmp_path):
    out = write_bytes(tmp_path / "keep.bin", b"old")

    def explode(handle):
        handle.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        filesave.write_file(out, explode)
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


def test_check_output_folder(tmp_path):
    assert check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputFileError, match="is a file, not a folder"):
        check_output_folder(tmp_path / "file" / "sub")
    with pytest.raises(OutputFileError, match="bytes long"):
        check_output_folder(tmp_path / ("d" * 300))
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]  # no probe file left


def test_cli_edit_with_planted_links_at_every_output(photo, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out, record, mask = tmp_path / "out.png", tmp_path / "out.json", tmp_path / "mask.png"
    steps = tmp_path / "steps"
    steps.mkdir()
    for link in (out, record, mask, tmp_path / ".out.png.tmp", tmp_path / ".out.json.tmp",
                 tmp_path / ".mask.png.tmp", steps / "step_001.png", steps / ".step_001.png.tmp"):
        link.symlink_to(victim)
    code, _, err = run(capsys, "diffedit", "--model", "tiny", "--image", photo, "--steps", "2",
                       "--encode-ratio", "0.5", "--mask-samples", "1", "--target-prompt", "a dog",
                       "--max-side", "96", "--out", out, "--json", record, "--save-mask", mask,
                       "--quiet")
    assert code == 0, err
    assert victim.read_text() == "precious"
    for path in (out, record, mask):
        assert path.is_file() and not path.is_symlink(), path
    assert load_image(out).shape == IMAGE.shape
    assert "request" in json.loads(record.read_text())
    code, _, err = run(capsys, "drag", "--model", "tiny", "--image", photo, "--points",
                       "20,20:28,20", "--steps", "2", "--t0", "0.5", "--out", out,
                       "--save-trajectory", steps, "--quiet")
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert (steps / "step_001.png").is_file() and not (steps / "step_001.png").is_symlink()


def test_project_export_and_settings_never_write_through_a_planted_link(tmp_path, capsys):
    from project_helpers import saved

    from sdedit_desktop.ui.settings import AppSettings, load_settings, save_settings

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    project = saved(tmp_path)
    png = tmp_path / "result.png"
    png.symlink_to(victim)
    assert run(capsys, "project", "export", project, "--entry", "1", "--out", png)[0] == 0
    assert victim.read_text() == "precious" and not png.is_symlink()

    settings_path = tmp_path / "config" / "settings.json"
    settings_path.parent.mkdir()
    settings_path.symlink_to(victim)
    save_settings(AppSettings(max_side=512), settings_path)
    assert victim.read_text() == "precious"
    assert load_settings(settings_path)[0].max_side == 512


def test_theory_outputs_through_the_safe_writer(tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "theory"
    out.mkdir()
    (out / "theory.json").symlink_to(victim)
    (out / "theory.png").symlink_to(victim)
    code, _, err = run(capsys, "theory", "--steps", "5", "--samples", "1000", "--out", out)
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert json.loads((out / "theory.json").read_text())["steps"] == 5
    assert Image.open(out / "theory.png").format == "PNG"


def test_lora_export_and_its_metadata_never_write_through_a_planted_link(tmp_path, capsys,
                                                                      photo):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    export = tmp_path / "mine.safetensors"
    export.symlink_to(victim)
    (tmp_path / "mine.json").symlink_to(victim)
    code, _, err = run(capsys, "lora", "train", "--model", "tiny", "--device", "cpu", "--image",
                       photo, "--steps", "1", "--max-side", "96", "--cache-dir",
                       tmp_path / "cache", "--export", export)
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert not export.is_symlink() and export.stat().st_size > 100
    assert json.loads((tmp_path / "mine.json").read_text())["settings"]["steps"] == 1


# --- class 5: what we read ---------------------------------------------------------------------

def test_read_regular_bytes_is_bounded_and_refuses_what_is_not_a_regular_file(tmp_path):
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 100)
    assert read_regular_bytes(small, 100) == b"x" * 100
    with pytest.raises(FileTooLargeError):
        read_regular_bytes(small, 99)
    with pytest.raises(NotRegularFileError, match="a device"):
        read_regular_bytes("/dev/zero", 1000)
    with pytest.raises(NotRegularFileError, match="a folder"):
        read_regular_bytes(tmp_path, 1000)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match="FIFO"):
        finishes(lambda: read_regular_bytes(fifo, 1000), unblock=fifo)
    # /proc files say they are empty: the bytes read decide
    status = read_regular_bytes("/proc/self/status", 1_000_000)
    assert b"Pid:" in status
    with pytest.raises(FileTooLargeError):
        read_regular_bytes("/proc/self/status", 10)
    with pytest.raises(FileReadError):
        read_regular_bytes("/proc/self/mem", 1000)


@pytest.mark.parametrize("special", ["/dev/zero", "/proc/self/mem", "fifo", "folder"])
def test_the_cli_refuses_special_files_as_images_with_one_line(tmp_path, capsys, no_model,
                                                                special):
    path = Path(special)
    if special == "fifo":
        path = tmp_path / "in.png"
        os.mkfifo(path)
    elif special == "folder":
        path = tmp_path / "in.png"
        path.mkdir()
    code, _, err = finishes(lambda: run(capsys, "reconstruct", "--model", "tiny", "--image",
                                        path, "--out", tmp_path / "o.png"),
                            unblock=path if special == "fifo" else None)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert str(path) in err
    assert any(word in err for word in ("device", "FIFO", "folder", "cannot read")), err


def test_the_gui_loader_and_settings_refuse_special_files_without_hanging(tmp_path):
    from sdedit_desktop.ui.imageio import ImageLoadError, load_image_file
    from sdedit_desktop.ui.settings import AppSettings, load_settings

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match="FIFO"):
        finishes(lambda: load_image_file(fifo), unblock=fifo)
    with pytest.raises(ImageLoadError, match="device"):
        load_image_file("/dev/zero")
    settings, problems = finishes(lambda: load_settings(fifo), unblock=fifo)
    assert settings == AppSettings() and "FIFO" in problems[0]


# --- class 8: every output checked before the model loads -------------------------------------

@pytest.mark.parametrize("option, name, message", [
    ("--out", "x.gif", "must end in .png"),
    ("--save-mask", "m.gif", "must end in .png"),
    ("--out", "missing/x.png", "does not exist"),
    ("--json", "missing/x.json", "does not exist"),
    ("--out", "n" * 300 + ".png", "304 bytes long"),
    ("--json", "dir", "a folder"),
    ("--json", "fifo", "FIFO"),
    ("--save-trajectory", "file/steps", "is a file, not a folder"),
])
def test_bad_outputs_are_refused_before_the_model_loads(photo, tmp_path, capsys, no_model,
                                                        option, name, message):
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("x")
    kind = "diffedit" if option == "--save-mask" else "drag"
    args = ["--points", "20,20:28,20"] if kind == "drag" else ["--target-prompt", "a dog"]
    if option == "--save-trajectory" or kind == "diffedit":
        args += ["--out", tmp_path / "ok.png"]
    code, _, err = finishes(lambda: run(capsys, kind, "--model", "tiny", "--image", photo,
                                        *args, option, tmp_path / name),
                            unblock=tmp_path / "fifo")
    assert code == 2 and message in err and option in err, err
    assert err.count("\n") == 1


def test_two_options_naming_one_file_are_refused(photo, tmp_path, capsys, no_model):
    code, _, err = run(capsys, "reconstruct", "--model", "tiny", "--image", photo, "--out",
                       tmp_path / "same.png", "--json", tmp_path / "same.png")
    assert code == 2 and "name the same file" in err


def test_other_commands_check_their_outputs_first(photo, tmp_path, capsys, no_model,
                                                  monkeypatch):
    from project_helpers import saved

    code, _, err = run(capsys, "lora", "train", "--model", "tiny", "--image", photo,
                       "--export", tmp_path / "x.bin")
    assert code == 2 and "must end in .safetensors" in err
    code, _, err = run(capsys, "lora", "train", "--model", "tiny", "--image", photo,
                       "--export", tmp_path / "missing" / "x.safetensors")
    assert code == 2 and "does not exist" in err

    project = saved(tmp_path)
    code, _, err = run(capsys, "project", "export", project, "--entry", "1", "--out",
                       tmp_path / "x.jpg")
    assert code == 2 and "must end in .png" in err
    (tmp_path / "plain").write_text("x")
    code, _, err = run(capsys, "project", "export", project, "--out", tmp_path / "plain" / "o")
    assert code == 2 and "not a folder" in err

    from sdedit_desktop.diffusion import theory

    monkeypatch.setattr(theory, "kl_along_sampling",
                        lambda *a, **k: pytest.fail("computed before checking --out"))
    code, _, err = run(capsys, "theory", "--out", tmp_path / "plain" / "t")
    assert code == 2 and "not a folder" in err

    code, _, err = run(capsys, "bench", "--model", "tiny", "--json", tmp_path / "nope" / "b.json")
    assert code == 2 and "does not exist" in err


def test_a_default_output_name_fits_the_name_limit(tmp_path):
    from sdedit_desktop.cli.edit_commands import default_output

    image = tmp_path / ("p" * 250 + ".png")
    out = default_output(image, "reconstruct")
    assert len(os.fsencode(out.name)) <= NAME_MAX and out.name.endswith(".sdereconstruct.png")
    check_output_path(out)


def test_caches_and_autosave_never_hang_on_a_planted_fifo(tmp_path):
    from sdedit_desktop.models.lora import LoraCache
    from sdedit_desktop.project.autosave import list_recoverable

    cache = LoraCache(tmp_path / "lora")
    cache.dir.mkdir()
    key = "a" * 64
    os.mkfifo(cache.metadata_path(key))
    assert finishes(lambda: cache.read_metadata(key), unblock=cache.metadata_path(key)) is None
    autosave = tmp_path / "autosave"
    autosave.mkdir()
    (autosave / "slot.sdeproj").write_bytes(b"PK")
    os.mkfifo(autosave / "slot.json")  # the index beside it
    found = finishes(lambda: list_recoverable(autosave), unblock=autosave / "slot.json")
    assert [item.autosave_path.name for item in found] == ["slot.sdeproj"]  # offered, as untitled
