"""Property: any mutant of a valid project file either loads to a sound project or raises
ProjectError; no other exception escapes and the file on disk is never changed."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from project_helpers import make_project, saved

from sdedit_desktop.project import Project, ProjectError, load_project, save_project
from sdedit_desktop.project.limits import LoadLimits

# Small caps keep every example fast whatever a mutation claims; the valid file is far below.
LIMITS = LoadLimits(max_entry_bytes=1 << 20, max_total_bytes=8 << 20, max_image_pixels=1 << 16,
                    max_total_pixels=1 << 20)
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[bytes, dict, dict[str, bytes], Project]:
    folder = tmp_path_factory.mktemp("fuzz")
    path = saved(folder, make_project(n_continue=1))
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    manifest = json.loads(members.pop("manifest.json"))
    return data, manifest, members, load_project(path)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mutants")


def check_mutant(data: bytes, work: Path, original: Project) -> None:
    path = work / "mutant.sdeproj"
    path.write_bytes(data)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        project = load_project(path, limits=LIMITS)
    except ProjectError as exc:
        assert exc.path == path and str(exc)
        event("refused")
    else:
        event("loaded")
        # Loaded: it must be a complete project that saves and loads back to itself.
        assert isinstance(project, Project)
        again_path = work / "again.sdeproj"
        save_project(project, again_path, limits=LIMITS, backup=False)
        assert load_project(again_path, limits=LIMITS) == project
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def zip_bytes(manifest: dict | bytes, members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.json", manifest if isinstance(manifest, bytes)
                         else json.dumps(manifest).encode())
        for name, blob in members.items():
            archive.writestr(name, blob)
    return out.getvalue()


# --- byte flips and truncation ---------------------------------------------------------------

@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                      min_size=1, max_size=6))
def test_byte_flips(base, work, flips):
    data = bytearray(base[0])
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    check_mutant(bytes(data), work, base[3])


@FUZZ
@given(keep=st.floats(0, 1, exclude_max=True), tail=st.binary(max_size=64))
def test_truncation(base, work, keep, tail):
    data = base[0]
    check_mutant(data[:int(keep * len(data))] + tail, work, base[3])


# --- zip member edits ------------------------------------------------------------------------

member_edit = st.sampled_from(["delete", "random", "truncate", "swap", "duplicate_other",
                               "rename", "add"])


@FUZZ
@given(edit=member_edit, pick=st.integers(0, 10**6), other=st.integers(0, 10**6),
       blob=st.binary(max_size=300), cut=st.floats(0, 1))
def test_zip_member_edits(base, work, edit, pick, other, blob, cut):
    _, manifest, members, original = base
    members = dict(members)
    names = sorted(members)
    name, second = names[pick % len(names)], names[other % len(names)]
    if edit == "delete":
        del members[name]
    elif edit == "random":
        members[name] = blob
    elif edit == "truncate":
        members[name] = members[name][:int(cut * len(members[name]))]
    elif edit == "swap":
        members[name], members[second] = members[second], members[name]
    elif edit == "duplicate_other":
        members[name] = members[second]
    elif edit == "rename":
        members[name.replace(".png", ".PNG").replace("arrays/", "images/")] = members.pop(name)
    else:
        members[f"arrays/{hashlib.sha256(blob).hexdigest()}.png"] = blob
    check_mutant(zip_bytes(manifest, members), work, original)


# --- JSON field mutations --------------------------------------------------------------------

def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
    | st.text(max_size=20) | st.sampled_from(["sde", "ode", "drag", "e0", "", "lora-abc"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                      children, max_size=4),
    max_leaves=10)


@FUZZ
@given(pick=st.integers(0, 10**6), action=st.sampled_from(["replace", "delete", "steal"]),
       value=json_values, other=st.integers(0, 10**6))
def test_json_field_mutations(base, work, pick, action, value, other):
    _, manifest, members, original = base
    manifest = json.loads(json.dumps(manifest))
    paths = [p for p in _paths(manifest) if p]
    path = paths[pick % len(paths)]
    parent = manifest
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    elif action == "steal":  # a value of the right JSON but from elsewhere in the file
        source = manifest
        for key in paths[other % len(paths)]:
            source = source[key]
        parent[path[-1]] = json.loads(json.dumps(source))
    else:
        parent[path[-1]] = value
    check_mutant(zip_bytes(manifest, members), work, original)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_manifest_bytes(base, work, data):
    _, _, members, original = base
    check_mutant(zip_bytes(data, members), work, original)
