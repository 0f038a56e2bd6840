"""The installer cannot drift: it is built from packaging/requirements.lock (pinned, hashed), the
lock covers every runtime dependency, this environment (CI's, installed from the lock) is what
the lock says, and the spec bundles the metadata, modules and data files of every locked runtime
package. Catches without a build (minutes) what made the frozen self-test fail on a fresh
environment: transformers 5.25 importing `kernels`, whose data file the spec did not collect."""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from test_packaging_spec import spec  # noqa: F401 - the executed spec, a module fixture

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
sys.path.insert(0, str(PACKAGING))
import lockcheck  # noqa: E402

LOCKED = lockcheck.read_lock()
RUNTIME = sorted(lockcheck.runtime_distributions())


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = project["dependencies"] + project["optional-dependencies"]["test"]
    environment = default_environment()
    return [r for r in map(Requirement, texts)
            if r.marker is None or r.marker.evaluate(environment)]


def test_the_lock_pins_and_hashes_every_requirement():
    assert lockcheck.lock_python() == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert lockcheck.unhashed_pins() == []
    assert LOCKED["torch"].endswith("+cpu")  # the installer ships the CPU wheel
    assert {"pyinstaller", "setuptools"} <= set(LOCKED)  # the build's own tools, locked too


def test_the_lock_satisfies_pyproject_and_covers_every_runtime_dependency():
    for requirement in _pyproject_requirements():
        name = lockcheck.normalize(requirement.name)
        assert name in LOCKED, f"{name} (pyproject.toml) is not in the lock: update it"
        assert requirement.specifier.contains(LOCKED[name], prereleases=True), (
            f"the lock has {name} {LOCKED[name]}, pyproject.toml asks {requirement}")
    missing = sorted(set(RUNTIME) - set(LOCKED) - {lockcheck.APP})
    assert missing == [], f"runtime dependencies missing from the lock: {missing}"
    for dist in RUNTIME:  # and what each requires, in the versions the lock has
        for requirement in lockcheck.requirements_of(dist):
            name = lockcheck.normalize(requirement.name)
            assert requirement.specifier.contains(LOCKED[name], prereleases=True), (
                f"{dist} needs {requirement}, the lock has {name} {LOCKED[name]}")


def test_this_environment_is_the_lock():
    """CI installs the lock; a developer venv made otherwise is told how to match it."""
    wrong = []
    for name, version in sorted(LOCKED.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} missing (lock: {version})")
            continue
        if installed != version:
            wrong.append(f"{name} {installed} (lock: {version})")
    assert wrong == [], (
        "this environment differs from packaging/requirements.lock, which the installer is "
        "built from: " + "; ".join(wrong) + ". Install it with `pip install --require-hashes "
        "-r packaging/requirements.lock`, or update the lock deliberately (packaging/README.md)")


def test_the_spec_bundles_metadata_and_modules_of_every_runtime_distribution(spec):  # noqa: F811
    datas = spec["gui"].kwargs["datas"]
    info_dirs = {Path(src).name for src, _ in datas if src.endswith((".dist-info",
                                                                       ".egg-info"))}
    # NAME-VERSION.dist-info, or NAME.egg-info for the app's own editable install
    names = {lockcheck.normalize(re.sub(r"\.(dist|egg)-info$", "", d).split("-")[0])
             for d in info_dirs}
    assert set(RUNTIME) <= names, f"no metadata bundled for {sorted(set(RUNTIME) - names)}"
    hidden = set(spec["gui"].kwargs["hiddenimports"])
    for dist in RUNTIME:
        assert lockcheck.top_level_modules(dist) <= hidden, dist
    assert "kernels" in hidden


def test_every_locked_package_that_ships_data_is_collected_hooked_or_explained(spec):  # noqa: F811
    hooked = lockcheck.hooked_modules()
    collect, not_needed = set(spec["COLLECT_DATA"]), spec["DATA_NOT_NEEDED"]
    unclassified = []
    for dist in RUNTIME:
        for package in lockcheck.data_files(dist):
            if package not in hooked | collect | set(not_needed):
                unclassified.append(f"{package} ({dist})")
    assert unclassified == [], (
        f"packages that ship data files nothing collects: {unclassified}. Add each to "
        "COLLECT_DATA in packaging/sdedit_desktop.spec, or to DATA_NOT_NEEDED with the reason")
    assert not collect & set(not_needed)
    # what COLLECT_DATA names is really in the bundle: kernels' dependency table above all
    bundled = {dest.replace("\\", "/") for _, dest in spec["gui"].kwargs["datas"]}
    assert "kernels/_internals" in bundled
    assert any(d.startswith("torchmetrics/functional/image/lpips_models") for d in bundled)
    for package in not_needed:  # no stale entries: each names a package that ships data
        assert any(package in lockcheck.data_files(dist) for dist in RUNTIME), package


@pytest.mark.parametrize("script", ["build.sh", "smoke.sh"])
def test_the_build_installs_the_lock_with_hashes_and_nothing_else(script):
    text = (PACKAGING / script).read_text()
    if script == "build.sh":
        assert re.search(r"pip install [^\n]*--require-hashes[^\n]*-r \"\$LOCK\"", text)
        assert "--no-deps --no-build-isolation -e" in text  # the app alone, deps untouched
        assert 'rm -rf "$VENV"' in text  # a changed lock makes a fresh venv
    else:
        assert "packaging/build.sh" in text and "build/venv" in text
        assert ".venv" not in text  # never a developer's unlocked venv
    ci = (ROOT / ".ci" / "run").read_text()
    assert "--require-hashes -r packaging/requirements.lock" in ci
