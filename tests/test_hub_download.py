"""The model download end to end: the app's entry points (`sdedit models download`, the model
setup dialog, the loader with downloads allowed) run the real huggingface_hub client against a
local server that speaks the hub's HTTP protocol (tests/hub_server.py, `hub_server` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_helpers import (
    EXTRAS,
    REPO,
    UNET,
    bytes_reported_per_file,
    fetched,
    partial_file,
    range_start,
    snapshot_files,
    tiny_model_files,
)
from hub_server import HubRepo
from huggingface_hub import constants

from sdedit_desktop.cli import main
from sdedit_desktop.models.errors import DownloadError, ModelNotFoundError
from sdedit_desktop.models.hub import (
    DownloadCancelled,
    DownloadProgress,
    download_model,
    find_snapshot,
    repo_folder,
)

FP16 = {f"{c}/{stem}.fp16.safetensors": b"fp16 weights of " + c.encode() * 2000
        for c, stem in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                        ("text_encoder", "model"))}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, bytes]:
    return tiny_model_files(tmp_path_factory.mktemp("served"))


@pytest.fixture
def hub(hub_server, model_files):
    hub_server.add_repo(HubRepo(REPO, {**model_files, **EXTRAS, **FP16}))
    return hub_server


def test_cli_download_fetches_the_model_then_it_loads_offline(hub, model_files, capsys):
    assert main(["models", "download", REPO]) == 0
    out = capsys.readouterr().out
    total = sum(len(b) for b in model_files.values())
    # Before the transfer: what it needs, and the room there is.
    assert out.startswith(f"{REPO} (variant default): {len(model_files)} files, "
                          f"{total / 1e6:.1f} MB; {total / 1e6:.1f} MB to fetch into ")
    snapshot = find_snapshot(REPO)
    assert snapshot.revision == hub.repos[REPO].commit and str(snapshot.path) in out
    assert snapshot_files(snapshot.path) == model_files
    # Only what the default (fp32) variant needs: no pickle, no other variant, no extras.
    assert fetched(hub) == sorted(model_files)
    assert hub.bytes_served() == sum(len(b) for b in model_files.values())
    # Offline now: the loader finds the snapshot and asks the server nothing.
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model

    before = len(hub.log)
    constants.HF_HUB_OFFLINE = True  # restored by the fixture's monkeypatch
    model = load_model(ModelSpec(REPO, device="cpu"))
    assert model.identity.kind == "hub" and model.identity.revision == snapshot.revision
    assert len(hub.log) == before


def _download(progress=None, cancel=None, **kwargs):
    seen: list[DownloadProgress] = []

    def record(p: DownloadProgress) -> None:
        seen.append(p)
        if progress:
            progress(p)

    return download_model(REPO, progress=record, cancel=cancel, **kwargs), seen


def test_progress_counts_each_served_byte_once(hub, model_files):
    snapshot, seen = _download()
    total = sum(len(b) for b in model_files.values())
    done = [p.done_bytes for p in seen]
    assert done == sorted(done) and done[-1] == total == hub.bytes_served()
    assert all(p.total_bytes == total for p in seen)
    assert seen[-1].files_done == seen[-1].files_total == len(model_files)
    assert len([p for p in seen if p.file == UNET]) > 2  # reported as it arrives, not at the end
    assert bytes_reported_per_file(seen) == {f: hub.bytes_served(f) for f in model_files}
    assert snapshot_files(snapshot.path) == model_files


def test_a_connection_cut_mid_file_resumes_with_a_range_request(hub, model_files):
    hub.faults.cut_after[UNET] = [300_000]
    snapshot, seen = _download()
    gets = [r for r in hub.file_requests() if r.file == UNET and r.server == "cdn"]
    # The client keeps every byte it received and asks for the rest: not the whole file again.
    kept = range_start(gets[1])
    assert gets[0].range is None and gets[0].body_bytes == 300_000
    assert kept == 300_000
    assert gets[1].body_bytes == len(model_files[UNET]) - kept and len(gets) == 2
    assert bytes_reported_per_file(seen)[UNET] == len(model_files[UNET])  # none twice
    assert seen[-1].done_bytes == seen[-1].total_bytes
    assert (snapshot.path / UNET).read_bytes() == model_files[UNET]


def test_a_failed_download_keeps_its_bytes_and_the_next_run_resumes(hub, model_files):
    # The connection drops, and the CDN fails the retry: the download stops with one line.
    hub.faults.cut_after[UNET] = [300_000]
    hub.faults.cdn_status[UNET] = [None, 503]
    with pytest.raises(DownloadError) as info:
        _download()
    assert "server error (503)" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ModelNotFoundError):
        find_snapshot(REPO)  # nothing that looks complete
    assert not (repo_folder(REPO) / "snapshots" / hub.repos[REPO].commit / UNET).exists()
    hub.log.clear()
    snapshot, seen = _download()
    gets = [r for r in hub.file_requests() if r.file == UNET and r.server == "cdn"]
    kept = range_start(gets[0])
    assert len(gets) == 1 and kept == 300_000
    assert gets[0].body_bytes == len(model_files[UNET]) - kept
    # The bytes kept from the first run count once, as done, when the file starts.
    assert bytes_reported_per_file(seen)[UNET] == len(model_files[UNET])
    assert seen[-1].done_bytes == seen[-1].total_bytes
    assert snapshot_files(snapshot.path) == model_files


def test_cancel_keeps_a_resumable_partial_file_and_no_snapshot(hub, model_files,
                                                               capsys):
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model

    seen: list[DownloadProgress] = []
    stop_after = 200_000

    def cancel_mid_unet() -> bool:
        unet = [p for p in seen if p.file == UNET]
        return len(unet) > 1 and unet[-1].done_bytes - unet[0].done_bytes >= stop_after

    with pytest.raises(DownloadCancelled):
        download_model(REPO, progress=seen.append, cancel=cancel_mid_unet)
    partials = list((repo_folder(REPO) / "blobs").glob("*.incomplete"))
    assert len(partials) == 1
    kept = partials[0].stat().st_size
    assert stop_after <= kept < len(model_files[UNET])
    assert model_files[UNET].startswith(partials[0].read_bytes())
    # Nothing an offline load would take for a model.
    assert not (repo_folder(REPO) / "snapshots" / hub.repos[REPO].commit / UNET).exists()
    with pytest.raises(ModelNotFoundError):
        load_model(ModelSpec(REPO, device="cpu"))
    hub.log.clear()
    capsys.readouterr()
    assert main(["models", "download", REPO]) == 0
    # Files completed before the cancel, and the partial file's bytes, need no room.
    needed = len(model_files[UNET]) - kept + sum(len(model_files[f]) for f in model_files
                                                 if f.startswith("vae/"))
    assert f"; {needed / 1e6:.1f} MB to fetch into" in capsys.readouterr().out
    gets = [r for r in hub.file_requests() if r.file == UNET and r.server == "cdn"]
    assert [r.range for r in gets] == [f"bytes={kept}-"]
    assert gets[0].body_bytes == len(model_files[UNET]) - kept
    assert snapshot_files(find_snapshot(REPO).path) == model_files
    assert not list((repo_folder(REPO) / "blobs").glob("*.incomplete"))


@pytest.mark.parametrize("served", ["one byte changed", "longer than listed"])
def test_served_bytes_that_do_not_match_the_hub_are_refused(hub, model_files, served, capsys):
    good = model_files[UNET]
    hub.faults.wrong_bytes[UNET] = (good[:1000] + bytes([good[1000] ^ 1]) + good[1001:]
                                    if served == "one byte changed" else good + b"junk")
    assert main(["models", "download", REPO]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and UNET in err
    assert ("do not match its hash" if served == "one byte changed"
            else f"announced {len(good) + 4:,} bytes for {UNET} where it lists {len(good):,}") \
        in err
    storage = repo_folder(REPO)
    assert not (storage / "snapshots" / hub.repos[REPO].commit / UNET).exists()
    assert not list((storage / "blobs").glob("*.incomplete"))  # bad bytes are not kept
    assert not (storage / "refs" / "main").exists()
    # Once the server sends the right bytes, the download completes.
    del hub.faults.wrong_bytes[UNET]
    assert main(["models", "download", REPO]) == 0
    assert (find_snapshot(REPO).path / UNET).read_bytes() == good


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_stops_with_one_line_and_nothing_complete(hub, model_files, monkeypatch,
                                                              capsys):
    from sdedit_desktop.models import hub_transfer

    # The unet's bytes go to /dev/full: every write fails with ENOSPC, as on a full disk (the
    # other files are written normally).
    sha = hub.repos[REPO].sha256(UNET)
    real_open = hub_transfer._open_partial

    def full_disk(path: Path):
        if path.name != f"{sha}.incomplete":
            return real_open(path)
        real_open(path).close()
        return open("/dev/full", "r+b", buffering=0)

    monkeypatch.setattr(hub_transfer, "_open_partial", full_disk)
    assert main(["models", "download", REPO]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is full" in err and "free some space" in err
    blobs = repo_folder(REPO) / "blobs"
    assert not (blobs / sha).exists()
    assert not (repo_folder(REPO) / "snapshots" / hub.repos[REPO].commit / UNET).exists()
    with pytest.raises(ModelNotFoundError):
        find_snapshot(REPO)


def test_not_enough_free_space_is_refused_before_any_transfer(hub, model_files, monkeypatch,
                                                             capsys):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 50_000, 50_000))
    assert main(["models", "download", REPO]) == 2
    err = capsys.readouterr().err.strip()
    needed = sum(len(b) for b in model_files.values())
    assert "\n" not in err and "Not enough disk space" in err
    assert f"{needed / 1e6:.1f} MB" in err and "0.1 MB is free" in err
    assert hub.file_requests() == []  # refused before any file was asked for


@pytest.mark.parametrize(("fault", "expected"), [
    ("gated", "is a gated model"),
    ("missing", "was not found on the Hugging Face hub"),
    ("server error", "server error (500)"),
    ("file server error", "server error (500) while downloading"),
    ("missing revision", "has no such revision"),
])
def test_hub_errors_give_one_clear_line(hub, fault, expected, monkeypatch, capsys):
    from sdedit_desktop.models import hub_errors

    monkeypatch.setattr(hub_errors, "REQUEST_RETRY_WAITS_S", (0.0, 0.0))
    repo, args = REPO, []
    if fault == "gated":
        hub.repos[REPO].gated = True
    elif fault == "missing":
        repo = "tests/no-such-model"
    elif fault == "server error":
        hub.faults.repo_status[REPO] = 500
    elif fault == "missing revision":
        args = ["--revision", "no-such-branch"]
    else:
        hub.faults.file_status["unet/config.json"] = 500
    assert main(["models", "download", repo, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and repo in err and "\n" not in err and "Traceback" not in err
    statuses = {r.status for r in hub.log}
    assert statuses & {401, 404, 500}
    # A server error of a small request is tried three times; a clear refusal once.
    asked = [r for r in hub.log if r.server == "hub" and r.status >= 400]
    assert len(asked) == (3 if "server error" in fault else 1)


def test_the_fp32_variant_of_a_repo_is_its_unsuffixed_weights(hub, model_files, capsys):
    assert main(["models", "download", REPO, "--variant", "fp32"]) == 0
    assert capsys.readouterr().out.startswith(f"{REPO} (variant fp32): ")
    assert fetched(hub) == sorted(model_files)


def test_only_the_chosen_variants_files_are_fetched(hub, model_files):
    snapshot, _ = _download(variant="fp16")
    configs = sorted(f for f in model_files if not f.endswith(".safetensors"))
    assert fetched(hub) == sorted(configs + list(FP16))
    assert not [f for f in fetched(hub) if f.endswith((".ckpt", ".bin"))]
    assert snapshot_files(snapshot.path) == {**{f: model_files[f] for f in configs}, **FP16}


def test_downloads_are_refused_while_the_hub_is_switched_off(hub, monkeypatch, capsys):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["models", "download", REPO]) == 2
    err = capsys.readouterr().err.strip()
    assert "Downloads are switched off (HF_HUB_OFFLINE" in err and "\n" not in err
    assert hub.log == []


def test_the_loader_downloads_only_when_allowed_then_loads_offline(hub, model_files):
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.loading import load_model

    with pytest.raises(ModelNotFoundError):
        load_model(ModelSpec(REPO, device="cpu"))
    assert hub.log == []  # offline first: nothing asked without allow_download
    stages = []
    model = load_model(ModelSpec(REPO, device="cpu", allow_download=True), progress=stages.append)
    assert model.identity.kind == "hub" and model.identity.revision == hub.repos[REPO].commit
    downloads = [s for s in stages if s.stage.startswith("Downloading")]
    assert downloads[-1].done == downloads[-1].total == hub.bytes_served()
    # The status names the file and its number of all (the engine adds the bytes).
    count = len(model_files)
    assert downloads[0].stage.startswith(f"Downloading model_index.json (1/{count})")
    number = sorted(model_files).index(UNET) + 1
    assert any(s.stage.startswith(f"Downloading {UNET} ({number}/{count})") for s in downloads)
    assert f"Downloaded all {count} files ({hub.bytes_served() / 1e6:.1f} MB)" in \
        [s.stage for s in stages]
    assert stages[-1].stage == "Model ready"
    hub.log.clear()
    constants.HF_HUB_OFFLINE = True  # restored by the fixture's monkeypatch
    again = load_model(ModelSpec(REPO, device="cpu", allow_download=True))
    assert again.identity.revision == model.identity.revision and hub.log == []


def test_an_exception_from_the_progress_callback_stops_the_download_unchanged(hub):
    """How the engine stops a load (shutdown): its own exception, not a DownloadError."""

    class Stop(Exception):
        pass

    def stop(p: DownloadProgress) -> None:
        if p.done_bytes > 0:
            raise Stop

    with pytest.raises(Stop):
        download_model(REPO, progress=stop)
    with pytest.raises(DownloadCancelled):
        download_model(REPO, cancel=lambda: True)


def _wait_for_held_bytes(qtbot, hub, hold) -> int:
    """While the server holds the unet's body after `hold.after` bytes, the client has written
    every one of them to the unet's partial file and waits for more: stop it then, mid-file.
    The file is watched by name: the text encoder's partial passes through the same sizes."""
    partial = partial_file(hub, UNET)

    def written() -> bool:
        try:
            return hold.reached.is_set() and partial.stat().st_size == hold.after
        except FileNotFoundError:
            return False

    qtbot.waitUntil(written, timeout=60_000)
    return hold.after


def _kept_after_stop(hub, held: int) -> int:
    """The unet's partial file after a stop: every byte that arrived, the held ones and at most
    the one chunk read after the server let go (the stop is seen after a chunk is written)."""
    partials = list((repo_folder(REPO) / "blobs").glob("*.incomplete"))
    assert partials == [partial_file(hub, UNET)]
    kept = partials[0].stat().st_size
    assert held <= kept <= held + 64 * 1024
    return kept


def _wait_for_label(qtbot, dialog, word: str) -> None:
    def shows() -> None:  # an assertion: a timeout says what the dialog showed instead
        assert word in dialog.download_label.text(), dialog.download_label.text()

    qtbot.waitUntil(shows, timeout=60_000)


def _dialog(qtbot):
    from sdedit_desktop.ui.model_setup import ModelSetupDialog
    from sdedit_desktop.ui.settings import AppSettings

    dialog = ModelSetupDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.hub_id.setText(REPO)
    return dialog


def test_the_setup_dialog_downloads_with_a_byte_true_progress_bar(hub, model_files, qtbot):
    from PySide6.QtCore import Qt

    dialog = _dialog(qtbot)
    seen: list[DownloadProgress] = []
    dialog.bridge.progress.connect(seen.append)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    _wait_for_label(qtbot, dialog, "Downloaded")
    total = sum(len(b) for b in model_files.values())
    done = [p.done_bytes for p in seen]
    assert done == sorted(done) and done[-1] == total == hub.bytes_served()
    assert bytes_reported_per_file(seen) == {f: hub.bytes_served(f) for f in model_files}
    assert dialog.download_bar.value() == dialog.download_bar.maximum()
    assert str(find_snapshot(REPO).path) in dialog.download_label.text()
    assert dialog.download_button.isEnabled() and not dialog.stop_button.isEnabled()


def test_the_setup_dialogs_stop_keeps_the_bytes_and_download_resumes(hub, model_files, qtbot):
    from hub_server import Hold
    from PySide6.QtCore import Qt

    hold = hub.faults.hold[UNET] = Hold(after=200_000)
    dialog = _dialog(qtbot)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    held = _wait_for_held_bytes(qtbot, hub, hold)
    assert "to fetch" in dialog.download_label.text()  # the plan: size and free space
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    hold.release.set()
    _wait_for_label(qtbot, dialog, "stopped")
    kept = _kept_after_stop(hub, held)
    with pytest.raises(ModelNotFoundError):
        find_snapshot(REPO)
    hub.log.clear()
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    _wait_for_label(qtbot, dialog, "Downloaded")
    gets = [r for r in hub.file_requests() if r.file == UNET and r.server == "cdn"]
    assert [r.range for r in gets] == [f"bytes={kept}-"]
    assert snapshot_files(find_snapshot(REPO).path) == model_files


def test_the_setup_dialog_shows_a_gated_model_as_one_clear_message(hub, qtbot):
    from PySide6.QtCore import Qt

    from sdedit_desktop.ui.errors import error_handler

    hub.repos[REPO].gated = True
    shown = []
    dialog = _dialog(qtbot)
    with error_handler(lambda _parent, error: shown.append(error)):
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    assert shown[0].title == "Download failed"
    assert f"{REPO} is a gated model" in shown[0].message and "\n" not in shown[0].message
    assert "GatedRepoError" in shown[0].detail  # the technical part behind "Show Details"
    assert dialog.download_button.isEnabled()


def test_the_engine_downloads_on_load_stops_on_cancel_resumes_then_loads_offline(
        hub, model_files, qtbot, tmp_path):
    from hub_server import Hold

    from sdedit_desktop.engine import Engine
    from sdedit_desktop.models.interface import ModelSpec
    from sdedit_desktop.models.lora import LoraCache

    hold = hub.faults.hold[UNET] = Hold(after=200_000)
    engine = Engine(lora_cache_factory=lambda: LoraCache(tmp_path / "lora"))
    try:
        engine.load_model(ModelSpec(REPO, device="cpu", allow_download=True))
        held = _wait_for_held_bytes(qtbot, hub, hold)
        assert engine.cancel_model_load() is True
        hold.release.set()
        qtbot.waitUntil(lambda: engine.model_state.status == "none", timeout=60_000)
        assert "stopped" in engine.model_state.message
        kept = _kept_after_stop(hub, held)
        with pytest.raises(ModelNotFoundError):
            find_snapshot(REPO)
        hub.log.clear()
        engine.load_model(ModelSpec(REPO, device="cpu", allow_download=True))
        qtbot.waitUntil(lambda: engine.model_state.status == "ready", timeout=60_000)
        assert engine.model_state.identity.revision == hub.repos[REPO].commit
        gets = [r for r in hub.file_requests() if r.file == UNET and r.server == "cdn"]
        # (Seen once under heavy load: the resumed GET without Range. The whole request log says
        # what the client asked for, should it happen again.)
        assert [r.range for r in gets] == [f"bytes={kept}-"], hub.log
        # Offline, the same model loads from the cache without a word to the server.
        hub.log.clear()
        constants.HF_HUB_OFFLINE = True  # restored by the fixture's monkeypatch
        engine.unload_model()
        engine.load_model(ModelSpec(REPO, device="cpu"))
        qtbot.waitUntil(lambda: engine.model_state.status == "ready", timeout=60_000)
        assert engine.model_state.identity.revision == hub.repos[REPO].commit
        assert hub.log == []
    finally:
        engine.shutdown()


def test_a_manifest_model_fetches_the_manifests_files_for_the_chosen_variant(hub_server):
    from sdedit_desktop.models.manifest import default_model, required_files

    sd15 = default_model()
    fp32, fp16 = (required_files(sd15, v) for v in ("fp32", "fp16"))
    files = {name: f"bytes of {name}".encode() * 50 for name in set(fp32) | set(fp16)}
    hub_server.add_repo(HubRepo(sd15.hub_id, {**files, **EXTRAS}))
    snapshot = download_model(sd15.hub_id, variant="fp16")
    assert fetched(hub_server) == sorted(fp16)
    assert snapshot_files(snapshot.path) == {f: files[f] for f in fp16}
    hub_server.log.clear()
    download_model(sd15.hub_id)  # the default variant: its weights only, configs are cached
    assert fetched(hub_server) == sorted(set(fp32) - set(fp16))
    assert find_snapshot(sd15.hub_id).path == snapshot.path


def test_models_list_tells_a_stopped_download_from_none(hub_server, capsys):
    from sdedit_desktop.models.manifest import default_model, required_files

    sd15 = default_model()
    files = {name: name.encode() * 40 for name in required_files(sd15, "fp32")}
    files[UNET] = bytes(range(256)) * 2000
    hub_server.add_repo(HubRepo(sd15.hub_id, files))
    assert main(["models", "list"]) == 0
    assert f"{sd15.hub_id}  ({sd15.name}): not downloaded" in capsys.readouterr().out
    seen: list[DownloadProgress] = []
    with pytest.raises(DownloadCancelled):
        download_model(sd15.hub_id, progress=seen.append,
                       cancel=lambda: seen[-1].file == UNET and seen[-1].files_done > 0)
    kept = sum(p.stat().st_size for p in (repo_folder(sd15.hub_id) / "blobs").iterdir())
    assert 0 < kept < sum(len(b) for b in files.values())
    assert main(["models", "list"]) == 0
    assert (f"{sd15.hub_id}  ({sd15.name}): partly downloaded ({kept / 1e3:.1f} KB kept) — "
            "`sdedit models download` resumes it") in capsys.readouterr().out


def test_a_snapshot_link_whose_blob_was_deleted_is_fetched_again(hub, model_files):
    vae = "vae/diffusion_pytorch_model.safetensors"
    snapshot, _ = _download()
    link = snapshot.path / vae
    link.resolve().unlink()  # a cache cleaner removed the blob, the link dangles
    hub.log.clear()
    _download()
    assert fetched(hub) == [vae]
    assert link.is_symlink() and link.read_bytes() == model_files[vae]


def test_a_server_that_ignores_range_gets_the_whole_file_again_counted_once(hub, model_files):
    seen: list[DownloadProgress] = []

    def cancel_mid_unet() -> bool:
        unet = [p for p in seen if p.file == UNET]
        return len(unet) > 1 and unet[-1].done_bytes - unet[0].done_bytes >= 200_000

    with pytest.raises(DownloadCancelled):
        download_model(REPO, progress=seen.append, cancel=cancel_mid_unet)
    hub.faults.ignore_range.add(UNET)
    hub.log.clear()
    snapshot, seen = _download()
    gets = [r for r in hub.file_requests() if r.file == UNET and r.server == "cdn"]
    assert len(gets) == 1 and gets[0].range and gets[0].status == 200
    # The kept bytes are dropped (the answer starts at byte 0), not written twice.
    assert (snapshot.path / UNET).read_bytes() == model_files[UNET]
    assert bytes_reported_per_file(seen)[UNET] == len(model_files[UNET])
    assert seen[-1].done_bytes == seen[-1].total_bytes


def test_the_token_goes_to_the_hub_and_never_to_the_cdn(hub, model_files, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    _download()
    hub_side = [r for r in hub.log if r.server == "hub"]
    cdn_side = [r for r in hub.log if r.server == "cdn"]
    assert hub_side and cdn_side
    assert all(r.authorization == "Bearer hf_test_token" for r in hub_side)
    assert all(r.authorization is None for r in cdn_side)  # a signed address needs no token
