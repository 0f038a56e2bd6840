"""Hostile and faulty hub answers (#26 class 10, #27 items 15-16): a listing with unusable sizes,
a body larger than the listed size, answers without or with another X-Repo-Commit, redirect
loops, headers too large to read, server errors of the file list, a link planted where the
partial file goes; and the downloads that must then load offline: a commit-hash revision, a
repo whose model_index.json lists a safety checker. Each failure is one line (CLI: exit 2)
and writes nothing the listing does not describe."""

from __future__ import annotations

import json

import pytest
from hub_helpers import (
    EXTRAS,
    REPO,
    UNET,
    bytes_reported_per_file,
    cdn_gets,
    fetched,
    partial_file,
    snapshot_files,
    tiny_model_files,
)
from hub_server import HubRepo
from huggingface_hub import constants

from sdedit_desktop.cli import main
from sdedit_desktop.models.hub import DownloadProgress, download_model, find_snapshot, repo_folder

# The real SD 1.5 repo's model_index.json: it names a safety checker and a feature extractor,
# which this app neither downloads nor needs.
SD15_MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.6.0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, bytes]:
    return tiny_model_files(tmp_path_factory.mktemp("served"))


@pytest.fixture
def hub(hub_server, model_files):
    hub_server.add_repo(HubRepo(REPO, {**model_files, **EXTRAS}))
    return hub_server


@pytest.fixture
def quick_retries(monkeypatch):
    from sdedit_desktop.models import hub_errors

    monkeypatch.setattr(hub_errors, "REQUEST_RETRY_WAITS_S", (0.0, 0.0))


def _one_line_failure(capsys, *args: str) -> str:
    assert main(["models", "download", REPO, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sdedit: error: ") and "\n" not in err and "Traceback" not in err
    return err


def _nothing_complete(hub) -> None:
    storage = repo_folder(REPO)
    assert not (storage / "snapshots" / hub.repos[REPO].commit / UNET).exists()
    assert not (storage / "refs").exists()


@pytest.mark.parametrize("size", ["1000", 1000.5, -5, True, [1], {"n": 1}])
def test_a_listed_size_that_is_not_a_whole_number_of_bytes_is_refused(hub, size, capsys):
    hub.faults.listed_size[UNET] = size
    err = _one_line_failure(capsys)
    assert f"unusable size for {UNET}" in err
    assert hub.file_requests() == []  # refused before any file was asked for


def test_a_huge_listed_size_is_refused_by_the_free_space_check(hub, capsys):
    hub.faults.listed_size[UNET] = 10**30
    assert "Not enough disk space" in _one_line_failure(capsys)
    assert hub.file_requests() == []


def test_a_listed_size_the_files_own_answer_contradicts_is_refused(hub, model_files, capsys):
    hub.faults.listed_size[UNET] = len(model_files[UNET]) - 10
    err = _one_line_failure(capsys)
    assert f"lists {len(model_files[UNET]) - 10:,} bytes for {UNET}" in err
    assert cdn_gets(hub, UNET) == []  # no body asked for
    _nothing_complete(hub)


def test_a_body_longer_than_listed_without_a_length_stops_at_the_listed_size(hub, model_files,
                                                                             capsys):
    """The server decides how long the body is (no Content-Length, 40 MB of it): the client
    writes at most the listed size and hangs up."""
    size = len(model_files[UNET])
    hub.faults.wrong_bytes[UNET] = model_files[UNET] + b"\0" * 40_000_000
    hub.faults.no_length.add(UNET)
    seen: list[DownloadProgress] = []
    with pytest.raises(Exception) as info:
        download_model(REPO, progress=seen.append)
    assert f"sent more than the {size:,} bytes it lists for {UNET}" in str(info.value)
    assert all(p.done_bytes <= p.total_bytes for p in seen)
    assert bytes_reported_per_file(seen)[UNET] <= size
    assert not partial_file(hub, UNET).exists()  # not the listed file: nothing kept
    # The client hung up: the server could not send its 40 MB.
    assert hub.bytes_served(UNET) < 20_000_000
    _nothing_complete(hub)


def test_a_body_without_a_length_of_the_listed_size_downloads(hub, model_files):
    hub.faults.no_length.update(model_files)
    snapshot = download_model(REPO)
    assert snapshot_files(snapshot.path) == model_files


@pytest.mark.parametrize(("header", "expected"), [
    (None, "does not say which commit it is from"),
    ("f" * 40, "from commit ffffffffffff where the download is of"),
    ("not-a-commit", "does not say which commit it is from"),
])
def test_an_answer_without_the_commit_or_of_another_commit_is_refused(hub, header, expected,
                                                                     capsys):
    hub.faults.commit_header[UNET] = header
    assert expected in _one_line_failure(capsys)
    assert cdn_gets(hub, UNET) == []
    _nothing_complete(hub)


@pytest.mark.parametrize("where", ["hub", "cdn"])
def test_a_redirect_loop_gets_its_own_message(hub, where, capsys):
    hub.faults.redirect_loop[UNET] = where
    err = _one_line_failure(capsys)
    assert "redirected in a loop" in err and "Lost the connection" not in err
    _nothing_complete(hub)


@pytest.mark.parametrize("what", [UNET, REPO])
def test_headers_too_large_get_their_own_message(hub, what, quick_retries, capsys):
    hub.faults.big_headers.add(what)
    err = _one_line_failure(capsys)
    assert "headers too large to read" in err and "Lost the connection" not in err
    # Not a failure another try would mend: asked once.
    assert len([r for r in hub.log if (r.file or REPO) == what]) == 1


def test_server_errors_of_the_file_list_are_tried_again_with_a_note(hub, model_files,
                                                                  quick_retries):
    hub.faults.info_status[REPO] = [503, 502]
    seen: list[DownloadProgress] = []
    snapshot = download_model(REPO, progress=seen.append)
    assert snapshot_files(snapshot.path) == model_files
    notes = [p.note for p in seen if p.note]
    assert len(notes) == 2 and "The hub answered 503 while listing the files" in notes[0]
    assert "try 3 of 3" in notes[1]
    assert [r.status for r in hub.log if r.path.startswith("/api/models/")] == [503, 502, 200]


def test_a_link_planted_where_the_partial_file_goes_is_not_followed(hub, model_files, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    partial = partial_file(hub, UNET)
    partial.parent.mkdir(parents=True)
    partial.symlink_to(victim)
    snapshot = download_model(REPO)
    assert victim.read_bytes() == b"precious"
    assert (snapshot.path / UNET).read_bytes() == model_files[UNET]
    assert not (snapshot.path / UNET).resolve().is_relative_to(tmp_path / "victim.txt")


def test_a_commit_hash_revision_is_found_by_the_offline_loader(hub, model_files, capsys):
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model

    commit = hub.repos[REPO].commit
    assert main(["models", "download", REPO, "--revision", commit]) == 0
    assert f"at revision {commit}" in capsys.readouterr().out
    assert find_snapshot(REPO).revision == commit  # what the loader asks for: "main"
    before = len(hub.log)
    constants.HF_HUB_OFFLINE = True  # restored by the fixture's monkeypatch
    model = load_model(ModelSpec(REPO, device="cpu"))
    assert model.identity.revision == commit and len(hub.log) == before


def test_main_without_a_ref_is_the_latest_complete_download_never_a_partial_one(hub, tmp_path):
    commit = hub.repos[REPO].commit
    storage = repo_folder(REPO)
    (storage / "snapshots" / commit).mkdir(parents=True)  # files of a stopped download
    with pytest.raises(Exception, match="not downloaded yet"):
        find_snapshot(REPO)
    (storage / "refs").mkdir()
    (storage / "refs" / "v1.0").write_text(commit)  # a tag, downloaded completely
    assert find_snapshot(REPO).revision == commit
    (storage / "refs" / "main").write_text("b" * 40)  # main names a commit not here
    with pytest.raises(Exception, match="not downloaded yet"):
        find_snapshot(REPO)


def test_a_repo_whose_model_index_lists_a_safety_checker_loads_offline_without_it(
        hub_server, model_files):
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model

    files = {**model_files, "model_index.json": json.dumps(SD15_MODEL_INDEX).encode()}
    hub_server.add_repo(HubRepo(REPO, {**files, **EXTRAS}))
    snapshot = download_model(REPO)
    assert not [f for f in fetched(hub_server) if f.startswith(("safety_checker/",
                                                                "feature_extractor/"))]
    assert json.loads((snapshot.path / "model_index.json").read_text())["safety_checker"][1] \
        == "StableDiffusionSafetyChecker"
    hub_server.log.clear()
    constants.HF_HUB_OFFLINE = True  # restored by the fixture's monkeypatch
    model = load_model(ModelSpec(REPO, device="cpu"))
    assert model.identity.kind == "hub" and hub_server.log == []
    import torch

    image = torch.zeros(1, 3, 64, 64)
    assert model.decode_latent(model.encode_image(image)).shape == (1, 3, 64, 64)


@pytest.mark.parametrize("revision", ["../../outside", "/abs/ref", "a\\b"])
def test_a_revision_that_would_leave_refs_is_refused_before_asking(hub, revision, capsys):
    assert "Bad revision" in _one_line_failure(capsys, "--revision", revision)
    assert hub.log == []
    assert not repo_folder(REPO).exists()
