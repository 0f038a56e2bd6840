"""Issue 15, classes 2 and 8 (projects): whatever the loader accepts, the writer writes (lone
surrogates in labels, file names that are not UTF-8, names up to NAME_MAX bytes); strings from
a file reach the terminal on one line without control sequences; `project export` writes PNG
only under a .png name and refuses odd entry numbers clearly."""

from __future__ import annotations

import json
import os

import pytest
from project_helpers import digest, read_zip, saved, write_zip

from sdedit_desktop.cli import main
from sdedit_desktop.project import backup_path, load_project, save_project
from sdedit_desktop.project.autosave import autosave, list_recoverable, recover


def _with_label(tmp_path, label: str):
    path = saved(tmp_path)
    manifest, members = read_zip(path)
    manifest["history"][0]["label"] = label
    # json.dumps writes a lone surrogate as the escape "\ud800": valid JSON any tool may write.
    return write_zip(tmp_path / "surrogate.sdeproj", manifest, members)


def test_a_label_with_a_lone_surrogate_saves_autosaves_and_prints(tmp_path, capsys):
    path = _with_label(tmp_path, "bad\ud800")
    project = load_project(path)
    assert project.history[0].label == "bad\ud800"
    save_project(project)  # the writer writes what the loader accepted ...
    again = load_project(path)
    assert again.history[0].label == "bad\ud800"  # ... exactly
    autosave(again, tmp_path / "autosave")
    assert main(["project", "info", str(path)]) == 0
    assert main(["project", "info", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bad\ufffd" in out and json.loads(out[out.index("{"):])["history"][0]["label"] \
        == "bad\ud800"
    assert main(["project", "export", str(path), "--out", str(tmp_path / "export")]) == 0


def test_a_project_path_that_is_not_utf8_autosaves_and_recovers(tmp_path):
    name = os.fsdecode(b"caf\xe9.sdeproj")  # Latin-1 bytes: not UTF-8
    path = saved(tmp_path, name=name)
    project = load_project(path)
    project.set_label(project.history[0].id, "changed")
    folder = tmp_path / "autosave"
    autosave(project, folder)
    (item,) = list_recoverable(folder)
    assert item.project_path == path.resolve()
    assert recover(item).history[0].label == "changed"


@pytest.mark.parametrize("length", [214, 237, 238, 251, 255])
def test_long_names_save_again_and_again(tmp_path, length):
    name = "n" * (length - len(".sdeproj")) + ".sdeproj"
    path = saved(tmp_path, name=name)
    project = load_project(path)
    for label in ("one", "two"):
        project.set_label(project.history[0].id, label)
        save_project(project)
    assert load_project(path).history[0].label == "two"
    assert load_project(backup_path(path)).history[0].label == "one"
    assert len(os.fsencode(backup_path(path).name)) <= 255
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, backup_path(path).name])


def test_a_newer_project_shows_its_app_version_on_one_line(tmp_path, capsys):
    path = saved(tmp_path)
    manifest, members = read_zip(path)
    manifest["format_version"] = 999
    manifest["app_version"] = "9.9\n\x1b[31mFAKE: all good\x1b[0m\u202e"
    hostile = write_zip(tmp_path / "newer.sdeproj", manifest, members)
    assert main(["project", "info", str(hostile)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\u202e" not in err
    assert "9.9\\x0a\\x1b[31mFAKE" in err


def test_info_shows_hostile_labels_on_one_line(tmp_path, capsys):
    path = _with_label(tmp_path, "x\n  2. e9: forged line\x1b[2J")
    assert main(["project", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "forged line" in out and "\x1b" not in out
    assert not any(line.startswith("  2. e9") for line in out.splitlines())


def test_export_refuses_a_name_that_is_not_png(tmp_path, capsys):
    path = saved(tmp_path)
    before = digest(path)
    out = tmp_path / "e.gif"
    assert main(["project", "export", str(path), "--entry", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".png" in err and not out.exists()
    assert digest(path) == before


@pytest.mark.parametrize("entry", ["²", "٣"])
def test_export_entry_that_is_no_number_is_a_clear_error(tmp_path, capsys, entry):
    path = saved(tmp_path)
    code = main(["project", "export", str(path), "--entry", entry, "--out",
                 str(tmp_path / "r.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no history entry" in err
