"""The migration mechanism: a registry of version -> upgrade, chained up to the current format.

Besides the real upgrade of format 1 (no edit regions) to 2, these tests define a synthetic
"format 0" that differs from 1 the way a real old format would: members in another folder, a
field under another name and in another unit. A v0 file is made by down-grading a current file,
then loaded through the registry (0 -> 1 -> 2) and must give back exactly the original project.
"""

from __future__ import annotations

import pytest
from project_helpers import digest, make_project, read_zip, saved, write_zip

from sdedit_desktop.project import FORMAT_VERSION, ProjectError, load_project, save_project
from sdedit_desktop.project import migrate as migration
from sdedit_desktop.project.migrate import MIGRATIONS, RawProject, register
from sdedit_desktop.project.storage import load_project_with_info


def to_v0(manifest: dict, members: dict[str, bytes]) -> tuple[dict, dict[str, bytes]]:
    """v0: arrays under images/, history durations as integer milliseconds in `duration_ms`."""
    old = dict(manifest, format_version=0)
    old["history"] = []
    for entry in manifest["history"]:
        entry = dict(entry)
        entry["duration_ms"] = round(entry.pop("duration_s") * 1000)
        old["history"].append(entry)
    return old, {n.replace("arrays/", "images/", 1): b for n, b in members.items()}


def v0_to_v1(raw: RawProject) -> RawProject:
    manifest = dict(raw.manifest, format_version=1)
    manifest["history"] = []
    for entry in raw.manifest["history"]:
        entry = dict(entry)
        entry["duration_s"] = entry.pop("duration_ms") / 1000
        manifest["history"].append(entry)
    members = {n.replace("images/", "arrays/", 1): b for n, b in raw.members.items()}
    return RawProject(manifest, members)


@pytest.fixture
def v0_file(tmp_path):
    project = make_project()
    manifest, members = read_zip(saved(tmp_path, project))
    old, old_members = to_v0(manifest, members)
    return project, write_zip(tmp_path / "old.sdeproj", old, old_members)


def test_production_registry_upgrades_format_1_to_2():
    assert FORMAT_VERSION == 2 and set(MIGRATIONS) == {1}


def test_v0_file_loads_through_the_registry_to_the_same_project(v0_file):
    project, path = v0_file
    before = digest(path)
    registry: dict = dict(MIGRATIONS)
    register(0, registry)(v0_to_v1)
    loaded, info = load_project_with_info(path, migrations=registry)
    assert loaded == project
    assert info.format_version == 0 and info.migrated
    assert digest(path) == before  # upgraded in memory only


def test_upgraded_project_saves_in_the_current_format(v0_file, tmp_path):
    _, path = v0_file
    loaded = load_project(path, migrations={**MIGRATIONS, 0: v0_to_v1})
    save_project(loaded, tmp_path / "new.sdeproj")
    manifest, members = read_zip(tmp_path / "new.sdeproj")
    assert manifest["format_version"] == FORMAT_VERSION
    assert all(n.startswith(("arrays/", "loras/")) for n in members)
    assert load_project(tmp_path / "new.sdeproj") == loaded


def test_v0_without_a_registered_migration_is_refused(v0_file):
    _, path = v0_file
    with pytest.raises(ProjectError, match=r"format version 0 is not supported \(no upgrade "
                       "path to version 1\\)"):
        load_project(path)


def test_chain_of_migrations_runs_in_order():
    calls = []

    def step(version):
        def upgrade(raw):
            calls.append(version)
            return RawProject(dict(raw.manifest, format_version=version + 1), raw.members)
        return upgrade

    raw = RawProject({"format": "sdeproj", "format_version": 0}, {})
    out = migration.migrate(raw, target=3, registry={0: step(0), 1: step(1), 2: step(2)})
    assert calls == [0, 1, 2] and out.manifest["format_version"] == 3


def test_migration_errors_become_project_errors(v0_file):
    _, path = v0_file

    def broken(raw):
        return RawProject(dict(raw.manifest, format_version=1), raw.members) if raw.manifest[
            "missing_field"] else raw
    with pytest.raises(ProjectError, match=r"cannot upgrade this project from format version 0: "
                       r"its content is malformed \(KeyError"):
        load_project(path, migrations={0: broken})

    def wrong_version(raw):
        return RawProject(dict(raw.manifest, format_version=5), raw.members)
    with pytest.raises(ProjectError, match="migration from format 0 produced format 5"):
        load_project(path, migrations={0: wrong_version})


def test_register_refuses_a_second_migration_for_a_version():
    registry: dict = {}
    register(0, registry)(v0_to_v1)
    with pytest.raises(ValueError, match="already registered"):
        register(0, registry)(v0_to_v1)


# --- format 1 -> 2: edit regions ---------------------------------------------------------------

def to_v1(manifest: dict) -> dict:
    """A format-1 manifest: requests without `region` and `feather`."""
    old = dict(manifest, format_version=1)
    old["history"] = []
    for entry in manifest["history"]:
        request = {k: v for k, v in entry["request"].items() if k not in ("region", "feather")}
        old["history"].append(dict(entry, request=request))
    return old


def test_format_1_edits_get_the_whole_image_as_their_region(tmp_path):
    project = make_project()
    manifest, members = read_zip(saved(tmp_path, project))
    path = write_zip(tmp_path / "v1.sdeproj", to_v1(manifest), members)
    loaded, info = load_project_with_info(path)
    assert info.format_version == 1 and info.migrated
    for old, new in zip(project.history, loaded.history, strict=True):
        h, w = old.request.image.shape[:2]
        assert new.request.region == (0, 0, w, h)  # as it ran: not "auto"
        assert new.request.feather == 8
        assert new.request.with_changes(region=old.request.region,
                                        feather=old.request.feather) == old.request
    save_project(loaded, tmp_path / "v2.sdeproj")
    manifest, _ = read_zip(tmp_path / "v2.sdeproj")
    assert manifest["format_version"] == 2
    assert manifest["history"][1]["request"]["region"] == [0, 0, 24, 16]


def test_format_1_upgrade_leaves_broken_content_to_the_validator(tmp_path):
    manifest, members = read_zip(saved(tmp_path))
    old = to_v1(manifest)
    old["history"][0]["request"]["image_sha256"] = "0" * 64
    path = write_zip(tmp_path / "v1.sdeproj", old, members)
    with pytest.raises(ProjectError, match=r"history\[0\]\.request\.image_sha256 refers to array"):
        load_project(path)
    raw = RawProject({"format": "sdeproj", "format_version": 1, "history": [None, {}, 3]}, {})
    assert MIGRATIONS[1](raw).manifest["history"] == [None, {}, 3]
