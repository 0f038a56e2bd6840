"""Saving and loading gives back the same project; the file stores each array once; the model
tracks unsaved changes; save refuses a project it could not open again."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from project_helpers import (
    H,
    W,
    grey,
    make_project,
    make_result,
    read_zip,
    rgb,
    saved,
)

from sdedit_desktop import __version__
from sdedit_desktop.edits.kinds import DragRequest
from sdedit_desktop.edits.requests import image_sha256
from sdedit_desktop.project import (
    FORMAT_VERSION,
    HistoryEntry,
    Project,
    ProjectError,
    load_project,
    load_project_with_info,
    save_project,
)
from sdedit_desktop.project.model import requests_equal


def test_round_trip_every_kind_is_equal(tmp_path):
    project = make_project()
    path = saved(tmp_path, project)
    loaded = load_project(path)
    assert loaded == project
    assert not loaded.dirty and loaded.path == path
    # Field by field, so a broken __eq__ cannot hide a loss.
    for a, b in zip(project.history, loaded.history, strict=True):
        assert type(a.request) is type(b.request)
        assert a.request.params() == b.request.params()
        assert a.request == b.request  # dataclass equality over every parameter
        assert np.array_equal(a.request.image, b.request.image)
        assert (a.request.mask is None) == (b.request.mask is None)
        assert np.array_equal(a.result.image, b.result.image)
        assert len(a.result.trajectory) == len(b.result.trajectory)
        assert a.result.metrics == b.result.metrics and a.result.timings == b.result.timings
        assert (a.id, a.created, a.duration_s, a.parent_id, a.label) == (
            b.id, b.created, b.duration_s, b.parent_id, b.label)
        assert a.result.lora_id == b.result.lora_id
    assert loaded.history[0].request.model.revision == project.history[0].request.model.revision
    assert loaded.history[0].result.metrics["psnr"] == float("inf")
    assert loaded.points == project.points and loaded.ui == project.ui
    assert loaded.loras["lora-abc"].weights == project.loras["lora-abc"].weights
    assert loaded.loras["lora-abc"].metadata == {"loss": [0.5, 0.2], "rank": 16}
    # Saving the loaded project again loads to the same thing (nothing drifts).
    again = load_project(saved(tmp_path, loaded, "q.sdeproj"))
    assert again == loaded


def test_manifest_header_and_layout(tmp_path):
    project = make_project()
    manifest, members = read_zip(saved(tmp_path, project))
    assert manifest["format"] == "sdeproj" and manifest["format_version"] == FORMAT_VERSION
    assert manifest["app_version"] == __version__
    assert manifest["created"] == "2026-11-25T12:00:00.123456+00:00"
    assert manifest["modified"] > manifest["created"]
    assert set(members) == {f"arrays/{s}.png" for s in manifest["arrays"]} | {
        f"loras/{v['sha256']}.safetensors" for v in manifest["loras"].values()}
    entry = manifest["history"][0]
    assert entry["request"]["kind"] == "drag" and entry["request"]["seed"] == 7
    assert entry["request"]["points"] == [[[2, 3], [9, 4]], [[20, 10], [15, 12]]]
    assert entry["request"]["model"]["source"] == "runwayml/stable-diffusion-v1-5"
    assert len(entry["result"]["trajectory"]) == 3


def test_each_distinct_array_is_stored_once(tmp_path):
    project = make_project()
    manifest, members = read_zip(saved(tmp_path, project))
    arrays = [project.image, project.mask]
    for e in project.history:
        arrays += [e.request.image, e.request.mask, e.result.image, e.result.mask,
                   *e.result.trajectory]
    distinct = {image_sha256(a) for a in arrays if a is not None}
    assert set(manifest["arrays"]) == distinct
    assert len([m for m in members if m.startswith("arrays/")]) == len(distinct)
    # The continued drag's input is its parent's result: one array, referenced twice.
    child = next(e for e in manifest["history"] if e["id"] == "c0")
    parent = next(e for e in manifest["history"] if e["id"] == "e0")
    assert child["request"]["image_sha256"] == parent["result"]["image"]
    # The source image is the input of the 9 first edits, stored once.
    assert sum(e["request"]["image_sha256"] == manifest["source"]["image"]
               for e in manifest["history"]) == 9


def test_arrays_are_lossless_png(tmp_path):
    _, members = read_zip(saved(tmp_path))
    for name, blob in members.items():
        if name.startswith("arrays/"):
            assert blob.startswith(b"\x89PNG\r\n\x1a\n")
    with zipfile.ZipFile(tmp_path / "p.sdeproj") as archive:
        methods = {i.filename: i.compress_type for i in archive.infolist()}
    assert methods["manifest.json"] == zipfile.ZIP_DEFLATED
    assert {m for n, m in methods.items() if n != "manifest.json"} == {zipfile.ZIP_STORED}


def test_loaded_history_arrays_are_read_only_and_source_is_writable(tmp_path):
    loaded = load_project(saved(tmp_path))
    with pytest.raises(ValueError, match="read-only"):
        loaded.history[0].result.image[0, 0, 0] = 1
    loaded.image[0, 0, 0] ^= 1  # the working copies can be painted on
    loaded.mask[0, 0] = 7
    assert loaded.history[0].request.image[0, 0, 0] != loaded.image[0, 0, 0]


def test_minimal_project_without_mask_history_or_loras(tmp_path):
    project = Project(image=rgb(5, 8, 8))
    loaded = load_project(saved(tmp_path, project))
    assert loaded == project and loaded.mask is None and loaded.history == []


def test_dirty_flag_tracks_changes_and_saves(tmp_path):
    project = make_project()
    assert not project.dirty
    project.set_points([((1, 1), (2, 2))])
    assert project.dirty and project.points == [((1, 1), (2, 2))]
    path = saved(tmp_path, project)
    assert not project.dirty and project.path == path
    project.set_mask(grey(9))
    assert project.dirty
    save_project(project)  # to project.path
    assert not project.dirty
    project.set_label("e1", "the good one")
    assert project.dirty
    # Only what was saved is on disk.
    assert load_project(path).find_entry("e1").label == "edit 1 «ü»"
    save_project(project)
    assert load_project(path).find_entry("e1").label == "the good one"


def test_add_and_remove_entries_keep_the_history_consistent(tmp_path):
    project = make_project()
    request = DragRequest(image=rgb(1), points=(((0, 0), (1, 1)),))
    with pytest.raises(ValueError, match="already"):
        project.add_entry(HistoryEntry(result=make_result(request, 1), id="e0"))
    with pytest.raises(ValueError, match="parent"):
        project.add_entry(HistoryEntry(result=make_result(request, 1), parent_id="nope"))
    removed = project.remove_entry("c0")
    assert removed.id == "c0" and project.find_entry("c1").parent_id is None
    assert project.dirty
    loaded = load_project(saved(tmp_path, project))
    assert [e.id for e in loaded.history] == [e.id for e in project.history]
    assert requests_equal(loaded.find_entry("c1").request, project.find_entry("c1").request)


def test_save_refuses_what_it_could_not_load_and_writes_nothing(tmp_path):
    path = tmp_path / "p.sdeproj"
    project = make_project()
    project.mask = np.zeros((H + 1, W), np.uint8)
    with pytest.raises(ProjectError, match=r"source.mask is 24x17 pixels but the source image"):
        save_project(project, path)
    project = make_project()
    project.ui["bad"] = object()
    with pytest.raises(ProjectError, match="not plain JSON"):
        save_project(project, path)
    project = make_project()
    project.history[2].result.image = rgb(3, H, W + 8)
    with pytest.raises(ProjectError, match=r"history\[2\].result.image is 32x16"):
        save_project(project, path)
    project = make_project()
    project.history[0].result.trajectory[1] = np.zeros((H, W), np.uint8)
    with pytest.raises(ProjectError, match="trajectory frame 2 has shape"):
        save_project(project, path)
    project = make_project()
    project.points.append(((W, 0), (0, 0)))
    with pytest.raises(ProjectError, match=r"source.points\[2\] source \(24, 0\) is outside"):
        save_project(project, path)
    project = make_project()
    project.history[4].result.metrics["psnr"] = "n/a"
    with pytest.raises(ProjectError, match=r"history\[4\] \(e4\) cannot be written: could not"):
        save_project(project, path)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temp file
    assert make_project().dirty is False


def test_numpy_scalars_are_saved_as_plain_numbers(tmp_path):
    project = make_project()
    project.ui["zoom"] = np.float32(2.0)
    project.ui["count"] = np.int64(3)
    project.history[0].result.metrics["psnr"] = np.float64(30.5)
    project.history[0].result.unet_calls = np.int64(12)
    loaded = load_project(saved(tmp_path, project))
    assert loaded.ui["zoom"] == 2.0 and type(loaded.ui["count"]) is int
    assert loaded.history[0].result.metrics["psnr"] == 30.5
    assert loaded.history[0].result.unet_calls == 12


def test_saves_are_reproducible_apart_from_the_modified_time(tmp_path):
    project = make_project()
    a = saved(tmp_path, project, "a.sdeproj")
    b = saved(tmp_path, project, "b.sdeproj")
    ma, members_a = read_zip(a)
    mb, members_b = read_zip(b)
    assert members_a == members_b
    ma.pop("modified"), mb.pop("modified")
    assert ma == mb


def test_file_info_reports_version_and_writer(tmp_path):
    _, info = load_project_with_info(saved(tmp_path))
    assert (info.format_version, info.app_version, info.migrated) == (
        FORMAT_VERSION, __version__, False)
    assert info.members == 1 + len(read_zip(info.path)[1])
    assert info.size == info.path.stat().st_size


def test_manifest_is_readable_json_for_other_tools(tmp_path):
    with zipfile.ZipFile(saved(tmp_path)) as archive:
        text = archive.read("manifest.json").decode("utf-8")
    assert "«ü»" in text and "🐈" in text  # UTF-8, not escaped
    assert json.loads(text)["history"][0]["label"] == "edit 0 «ü»"
