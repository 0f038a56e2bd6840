"""Exports (PNG with parameters, history folder) and the `sdedit project` commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from project_helpers import digest, make_project, saved

from sdedit_desktop import __version__
from sdedit_desktop.cli import main
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.project import ProjectError, export_history, export_result_png


def test_result_png_carries_the_edit_parameters(tmp_path):
    project = make_project()
    entry = project.history[0]
    path = export_result_png(entry, tmp_path / "result.png")
    with Image.open(path) as image:
        assert image.mode == "RGB"
        assert np.array_equal(np.asarray(image), entry.result.image)  # lossless
        text = dict(image.text)
    assert text["Software"] == f"sdedit-desktop {__version__}"
    assert text["Description"] == "SDE drag, seed 7, prompt 'a cat 🐈'"
    params = json.loads(text["sdedit:request"])
    assert params == entry.request.params()
    # The embedded parameters rebuild the very same request.
    rebuilt = EditRequest.from_params(params, entry.request.image, entry.request.mask)
    assert rebuilt == entry.request
    result = json.loads(text["sdedit:result"])
    assert result["lora_id"] == "lora-abc" and result["trajectory_len"] == 3
    assert result["unet_calls"] == entry.result.unet_calls
    assert json.loads(text["sdedit:entry"])["label"] == "edit 0 «ü»"


def test_history_folder_holds_every_image_and_parameter(tmp_path):
    project = make_project()
    out = export_history(project, tmp_path / "export")
    index = json.loads((out / "index.json").read_text("utf-8"))
    assert len(index["history"]) == len(project.history)
    assert np.array_equal(np.asarray(Image.open(out / "source.png")), project.image)
    assert np.array_equal(np.asarray(Image.open(out / "source-mask.png")), project.mask)
    for record, entry in zip(index["history"], project.history, strict=True):
        folder = out / record["folder"]
        assert record["request"] == entry.request.params()
        assert json.loads((folder / "edit.json").read_text("utf-8"))["id"] == entry.id
        assert np.array_equal(np.asarray(Image.open(folder / "result.png")), entry.result.image)
        assert np.array_equal(np.asarray(Image.open(folder / "input.png")), entry.request.image)
        frames = sorted(folder.glob("trajectory-*.png"))
        assert len(frames) == len(entry.result.trajectory)
        for f, frame in zip(frames, entry.result.trajectory, strict=True):
            assert np.array_equal(np.asarray(Image.open(f)), frame)
        assert (folder / "auto-mask.png").exists() == (entry.result.mask is not None)
    lora = index["loras"]["lora-abc"]
    assert (out / lora["file"]).read_bytes() == project.loras["lora-abc"].weights


def test_history_export_never_overwrites_and_sanitises_names(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ProjectError, match="not an empty folder"):
        export_history(make_project(), target)
    assert (target / "keep.txt").read_text() == "mine" and len(list(target.iterdir())) == 1
    project = make_project()
    project.history[0].id = "../../escape"
    out = export_history(project, tmp_path / "empty-ok")
    assert sorted(p.name for p in out.iterdir())[0] == "001-escape"
    assert not (tmp_path / "escape").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_cli_info_and_validate(tmp_path, capsys):
    path = saved(tmp_path)
    assert main(["project", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format: version 2, written by sdedit-desktop 0.1.0" in out
    assert "image: 24x16" in out and "history: 11 edit(s)" in out
    assert "c1: sde-drag, seed 101, 3.0 s, continues c0, 3 drag steps, LoRA lora-abc" in out
    assert main(["project", "info", "--json", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["file"]["format_version"] == 2 and len(summary["history"]) == 11
    assert summary["history"][0]["metrics"]["psnr"] == float("inf")
    assert main(["project", "validate", str(path)]) == 0
    assert capsys.readouterr().out.strip().endswith("OK (format version 2, 11 edit(s), 1 "
                                                    "embedded LoRA(s))")


def test_cli_validate_reports_the_reason_with_exit_2(tmp_path, capsys):
    path = saved(tmp_path)
    bad = tmp_path / "bad.sdeproj"
    bad.write_bytes(path.read_bytes()[:500])
    before = digest(bad)
    assert main(["project", "validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"sdedit: error: {bad}: not a readable .sdeproj")
    assert digest(bad) == before
    assert main(["project", "info", str(tmp_path / "none.sdeproj")]) == 2
    assert capsys.readouterr().err.strip().endswith("none.sdeproj: no such file")


def test_cli_export(tmp_path, capsys):
    path = saved(tmp_path)
    assert main(["project", "export", str(path), "--out", str(tmp_path / "h")]) == 0
    assert (tmp_path / "h" / "index.json").exists()
    assert main(["project", "export", str(path), "--entry", "c1", "--out",
                 str(tmp_path / "c1.png")]) == 0
    assert main(["project", "export", str(path), "--entry", "2", "--out",
                 str(tmp_path / "2.png")]) == 0
    with Image.open(tmp_path / "2.png") as image:
        assert json.loads(image.text["sdedit:entry"])["id"] == "e1"
    capsys.readouterr()
    assert main(["project", "export", str(path), "--entry", "zz", "--out",
                 str(tmp_path / "z.png")]) == 2
    assert "no history entry 'zz'" in capsys.readouterr().err
    assert main(["project", "export", str(path), "--out", str(tmp_path / "h")]) == 2
