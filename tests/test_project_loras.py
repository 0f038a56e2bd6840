"""Embedding LoRAs from the local cache into a project, and installing them on another machine."""

from __future__ import annotations

import hashlib

import pytest
from project_helpers import lora_bytes, make_project, make_result, rgb, saved

from sdedit_desktop.edits.kinds import DragRequest
from sdedit_desktop.models.lora import LoraCache
from sdedit_desktop.project import EmbeddedLora, HistoryEntry, ProjectError, load_project
from sdedit_desktop.project.loras import (
    embed_cached_loras,
    install_embedded_loras,
    used_lora_ids,
)

KEY = hashlib.sha256(b"some lora").hexdigest()


def _project_using(key: str):
    project = make_project(n_continue=0)
    project.loras.clear()
    request = DragRequest(image=rgb(1), points=(((1, 1), (4, 1)),), lora="auto")
    project.add_entry(HistoryEntry(result=make_result(request, 3, key), id="with-lora"))
    return project


def test_embed_from_cache_then_install_on_another_machine(tmp_path):
    here = LoraCache(tmp_path / "here")
    here.dir.mkdir(parents=True)
    weights = lora_bytes(3)
    here.weights_path(KEY).write_bytes(weights)
    here.metadata_path(KEY).write_text('{"loss": [0.4, 0.1], "steps": 100}')
    project = _project_using(KEY)
    assert used_lora_ids(project) == ["lora-abc", KEY]
    assert embed_cached_loras(project, here) == [KEY]  # "lora-abc" is not a cache key
    assert embed_cached_loras(project, here) == []  # already embedded
    assert project.dirty
    loaded = load_project(saved(tmp_path, project))
    there = LoraCache(tmp_path / "there")
    assert not there.has(KEY)
    assert install_embedded_loras(loaded, there) == [KEY]
    assert there.has(KEY)
    assert there.weights_path(KEY).read_bytes() == weights
    assert there.read_metadata(KEY) == {"loss": [0.4, 0.1], "steps": 100}
    assert install_embedded_loras(loaded, there) == []  # present: never overwritten


def test_lora_missing_from_cache_stays_identity_only(tmp_path):
    project = _project_using(KEY)
    assert embed_cached_loras(project, LoraCache(tmp_path / "empty")) == []
    assert project.loras == {}
    assert load_project(saved(tmp_path, project)).find_entry("with-lora").lora_id == KEY


def test_damaged_cached_lora_is_not_embedded(tmp_path):
    cache = LoraCache(tmp_path / "c")
    cache.dir.mkdir(parents=True)
    cache.weights_path(KEY).write_bytes(b"\xff" * 20)
    cache.metadata_path(KEY).write_text("{}")
    with pytest.raises(ProjectError, match="not a safetensors file"):
        embed_cached_loras(_project_using(KEY), cache)


def test_ids_from_a_file_never_become_cache_paths(tmp_path):
    project = make_project()
    project.loras["../../evil"] = EmbeddedLora(lora_bytes(), {})
    cache = LoraCache(tmp_path / "cache")
    assert install_embedded_loras(project, cache) == []
    assert not (tmp_path / "evil.safetensors").exists()
