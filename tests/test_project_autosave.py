"""Autosave, recovery listing, recover, discard and clear."""

from __future__ import annotations

import os

from project_helpers import grey, make_project, saved

from sdedit_desktop.project import (
    autosave,
    autosave_dir,
    clear_autosave,
    discard_autosave,
    list_recoverable,
    load_project,
    recover,
    save_project,
)


def _age(path, seconds):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def test_autosave_dir_is_in_the_user_data_folder():
    folder = autosave_dir()
    assert folder.name == "autosave" and "sdedit-desktop" in str(folder)


def test_untitled_project_is_recoverable_as_an_unsaved_project(tmp_path):
    auto = tmp_path / "auto"
    project = make_project()
    project.set_mask(grey(7))
    written = autosave(project, auto)
    assert project.dirty and project.path is None  # autosave is not a save
    items = list_recoverable(auto)
    assert [i.autosave_path for i in items] == [written]
    assert items[0].project_path is None and items[0].title == "Untitled project"
    assert items[0].revision == project.revision
    restored = recover(items[0])
    assert restored.dirty and restored.path is None
    assert restored.history == project.history
    assert (restored.mask == grey(7)).all()
    discard_autosave(items[0])
    assert list_recoverable(auto) == [] and list(auto.iterdir()) == []


def test_autosave_newer_than_its_project_file_is_offered(tmp_path):
    auto = tmp_path / "auto"
    path = saved(tmp_path)
    project = load_project(path)
    project.set_label("e0", "unsaved work")
    autosave(project, auto)
    _age(path, 60)  # the project file was saved a minute before the autosave
    (item,) = list_recoverable(auto)
    assert item.project_path == path.resolve() and item.title == "p.sdeproj"
    restored = recover(item)
    assert restored.path == path.resolve() and restored.dirty
    assert restored.find_entry("e0").label == "unsaved work"
    save_project(restored)  # "Save" after recovery writes the original file
    assert load_project(path).find_entry("e0").label == "unsaved work"


def test_autosave_older_than_its_project_file_is_not_offered(tmp_path):
    auto = tmp_path / "auto"
    path = saved(tmp_path)
    project = load_project(path)
    written = autosave(project, auto)
    _age(written, 60)  # the project was saved after the autosave
    assert list_recoverable(auto) == []


def test_autosave_of_a_deleted_project_file_is_offered(tmp_path):
    auto = tmp_path / "auto"
    path = saved(tmp_path)
    project = load_project(path)
    autosave(project, auto)
    _age(auto / next(p.name for p in auto.glob("*.sdeproj")), 3600)
    path.unlink()
    (item,) = list_recoverable(auto)
    assert item.project_path == path.resolve()


def test_clear_after_saving_an_untitled_project_removes_its_autosaves(tmp_path):
    auto = tmp_path / "auto"
    project = make_project()
    autosave(project, auto)  # while untitled
    other = make_project()
    other.id = "another-project"
    autosave(other, auto)
    save_project(project, tmp_path / "p.sdeproj")
    autosave(project, auto)  # now under its file
    assert len(list(auto.glob("*.sdeproj"))) == 3
    assert clear_autosave(project, auto) == 2
    remaining = list_recoverable(auto)
    assert [load_project(i.autosave_path).id for i in remaining] == ["another-project"]


def test_autosave_without_index_is_still_offered(tmp_path):
    auto = tmp_path / "auto"
    written = autosave(make_project(), auto)
    written.with_suffix(".json").write_text("{not json")
    (item,) = list_recoverable(auto)
    assert item.project_path is None and recover(item).history == make_project().history


def test_recovery_lists_newest_first(tmp_path):
    auto = tmp_path / "auto"
    first, second = make_project(), make_project()
    second.id = "second"
    autosave(first, auto)
    autosave(second, auto)
    assert [load_project(i.autosave_path).id for i in list_recoverable(auto)] == [
        "second", first.id]
    assert list_recoverable(tmp_path / "nowhere") == []
