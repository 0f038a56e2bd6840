"""Saving is atomic and keeps one backup; a save that dies midway loses nothing."""

from __future__ import annotations

import errno
import os
import stat

import pytest
from project_helpers import digest, grey, make_project, saved

from sdedit_desktop.project import ProjectError, backup_path, load_project, save_project, storage


class Crash(Exception):
    """Stands for the process dying while the archive is being written."""


def _crash_after(monkeypatch, calls: int, exc: BaseException) -> list[int]:
    real = storage.write_member
    written = [0]

    def failing(archive, name, blob, compression):
        if written[0] == calls:
            archive.fp.flush()
            raise exc
        real(archive, name, blob, compression)
        written[0] += 1

    monkeypatch.setattr(storage, "write_member", failing)
    return written


def test_save_killed_midway_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = saved(tmp_path)
    before = digest(path)
    first = load_project(path)
    project = load_project(path)
    project.set_mask(grey(42))
    seen_partial = []
    real_replace = storage._replace_atomically

    def spy(target, write, *, backup):
        def write_and_look(handle):
            try:
                write(handle)
            finally:  # what had reached the temp file when the writer died
                seen_partial.append(handle.tell())
        return real_replace(target, write_and_look, backup=backup)

    monkeypatch.setattr(storage, "_replace_atomically", spy)
    written = _crash_after(monkeypatch, 5, Crash("killed"))
    with pytest.raises(Crash):
        save_project(project)
    assert written[0] == 5 and seen_partial[0] > 1000  # it really died with a partial file
    assert digest(path) == before
    assert load_project(path) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.sdeproj"]  # temp file removed
    assert project.dirty  # the failed save did not pretend to succeed


def test_save_failing_with_disk_full_is_a_project_error(tmp_path, monkeypatch):
    path = saved(tmp_path)
    project = load_project(path)
    project.set_mask(grey(3))
    save_project(project)  # now there is a backup too
    before, bak_before = digest(path), digest(backup_path(path))
    _crash_after(monkeypatch, 2, OSError(errno.ENOSPC, "No space left on device"))
    project.set_mask(grey(4))
    with pytest.raises(ProjectError, match=r"^write error: No space left on device$"):
        save_project(project)
    assert digest(path) == before and digest(backup_path(path)) == bak_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.sdeproj", "p.sdeproj.bak"]


def test_backup_holds_the_previous_version(tmp_path):
    project = make_project()
    path = saved(tmp_path, project)
    assert not backup_path(path).exists()  # first save: nothing to back up
    v1 = digest(path)[0]
    project.set_label("e0", "second")
    save_project(project)
    assert digest(backup_path(path))[0] == v1
    assert load_project(backup_path(path)).find_entry("e0").label == "edit 0 «ü»"
    assert load_project(path).find_entry("e0").label == "second"
    v2 = digest(path)[0]
    project.set_label("e0", "third")
    save_project(project)
    assert digest(backup_path(path))[0] == v2  # one backup: the version just replaced
    # The backup is a separate file, not the same inode as the new file.
    assert path.stat().st_ino != backup_path(path).stat().st_ino


def test_save_without_backup_and_without_a_path(tmp_path):
    project = make_project()
    with pytest.raises(ProjectError, match="no file yet"):
        save_project(project)
    path = saved(tmp_path, project)
    project.set_label("e0", "x")
    save_project(project, backup=False)
    assert not backup_path(path).exists()
    with pytest.raises(ProjectError, match="is a folder"):
        save_project(project, tmp_path)


def test_save_into_missing_folder_is_a_project_error(tmp_path):
    with pytest.raises(ProjectError, match="cannot create a file in"):
        save_project(make_project(), tmp_path / "missing" / "p.sdeproj")


def test_saved_file_gets_normal_permissions_and_keeps_existing_ones(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = saved(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    os.chmod(path, 0o640)
    project = load_project(path)
    project.set_label("e0", "x")
    save_project(project)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_saving_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    real = saved(tmp_path, name="real.sdeproj")
    link = tmp_path / "link.sdeproj"
    link.symlink_to(real)
    project = load_project(link)
    project.set_label("e0", "via link")
    save_project(project)
    assert link.is_symlink() and link.resolve() == real
    assert load_project(real).find_entry("e0").label == "via link"
    assert backup_path(real).exists()
