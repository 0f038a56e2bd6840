"""Issue 15, class 3: one damaged autosave index (an infinite revision, a NUL byte in a path,
nesting deep enough to exhaust the parser's recursion) skips only itself: the other autosaves
are still offered, recovery and clearing work."""

from __future__ import annotations

import pytest
from project_helpers import make_project, saved

from sdedit_desktop.project import (
    autosave,
    clear_autosave,
    list_recoverable,
    load_project,
    recover,
)

BAD_INDEXES = {
    "infinite revision": '{"project_id": "x", "project_path": null, '
                         '"autosaved": "2026-01-01T00:00:00+00:00", "revision": Infinity}',
    "NUL in the path": '{"project_id": "x", "project_path": "/tmp/a\\u0000b.sdeproj", '
                       '"autosaved": "2026-01-01T00:00:00+00:00", "revision": 1}',
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "huge revision": '{"project_id": "x", "project_path": null, '
                     '"autosaved": "2026-01-01T00:00:00+00:00", "revision": 1e999}',
}


@pytest.mark.parametrize("bad", BAD_INDEXES)
def test_one_bad_index_skips_only_itself(tmp_path, bad):
    auto = tmp_path / "auto"
    path = saved(tmp_path)
    good = load_project(path)
    good.set_label("e0", "unsaved work")
    good_autosave = autosave(good, auto)
    broken = make_project()
    broken.id = "broken"
    broken_autosave = autosave(broken, auto)
    broken_autosave.with_suffix(".json").write_text(BAD_INDEXES[bad])

    items = {i.autosave_path: i for i in list_recoverable(auto)}
    assert items[good_autosave].project_path == path.resolve()
    assert recover(items[good_autosave]).find_entry("e0").label == "unsaved work"
    # The damaged index's autosave is intact: still offered, as an untitled project.
    assert items[broken_autosave].project_path is None
    assert recover(items[broken_autosave]).id == "broken"

    assert clear_autosave(good, auto) == 1
    assert [i.autosave_path for i in list_recoverable(auto)] == [broken_autosave]
