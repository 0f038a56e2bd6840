"""The edit region in `.sdeproj` files: stored in every request, kept by a round trip, refused
when it does not fit the request's image."""

from __future__ import annotations

import pytest
from project_helpers import make_project, read_zip, saved, write_zip

from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.project import ProjectError, load_project


def test_round_trip_keeps_each_requests_region_and_feather(tmp_path):
    project = make_project()
    path = saved(tmp_path, project)
    manifest, _ = read_zip(path)
    stored = [(e["request"]["region"], e["request"]["feather"]) for e in manifest["history"]]
    assert stored[0] == ([0, 0, 24, 16], 4) and stored[1] == (None, 8)  # None: "auto"
    loaded = load_project(path)
    assert [e.request.region for e in loaded.history] == \
        [e.request.region for e in project.history]
    assert loaded.history[5].request.region == (8, 4, 16, 12)
    assert loaded.history[5].request.feather == 2
    rebuilt = EditRequest.from_params(manifest["history"][5]["request"], project.image,
                                      project.mask)
    assert rebuilt.region == (8, 4, 16, 12)


@pytest.mark.parametrize("region, message", [
    ([0, 0, 25, 16], r"\(0, 0, 25x16\) reaches outside the 24x16 image"),
    ([-1, 0, 8, 8], "outside the 24x16 image"),
    ([4, 4, 0, 8], "is empty"),
    ([0, 0, 8], "should have 4 items"),
    ([0, 0, 8, 8.5], "should be an integer"),
])
def test_a_region_that_does_not_fit_its_image_is_refused(tmp_path, region, message):
    manifest, members = read_zip(saved(tmp_path))
    manifest["history"][2]["request"]["region"] = region
    path = write_zip(tmp_path / "bad.sdeproj", manifest, members)
    with pytest.raises(ProjectError, match=r"history\[2\]\.request\.region"):
        load_project(path)
    with pytest.raises(ProjectError, match=message):
        load_project(path)
