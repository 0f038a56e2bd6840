"""The Hugging Face hub: finding a model in the standard local cache (offline), and downloading
it on request with byte progress and resume.

Offline first: nothing here touches the network unless `download_model` is called. The cache is
the standard one (HF_HUB_CACHE / HF_HOME), shared with every other HF tool on the machine.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sdedit_desktop.models.errors import DownloadError, ModelError, ModelNotFoundError
from sdedit_desktop.models.hub_progress import (
    DownloadCancelled,
    DownloadProgress,
    ProgressReporter,
    hub_log_notes,
)
from sdedit_desktop.models.manifest import known_model_for_hub_id, required_files
from sdedit_desktop.textsafe import shown

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def is_hub_id(source: str) -> bool:
    return bool(HUB_ID.match(source)) and not source.endswith((".safetensors", ".ckpt"))


def hub_cache_dir() -> Path:
    """The hub cache, read from the environment at call time (tests point it elsewhere)."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


_COMMIT = re.compile(r"[0-9a-f]{40}")
__all__ = ["DownloadCancelled", "DownloadPlan", "DownloadProgress", "Snapshot", "download_model",
           "find_snapshot", "hub_cache_dir", "is_hub_id", "partial_download_bytes", "repo_folder"]


def repo_folder(repo_id: str) -> Path:
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


@dataclass(frozen=True)
class Snapshot:
    repo_id: str
    revision: str  # the commit hash
    path: Path


def find_snapshot(repo_id: str, revision: str = "main") -> Snapshot:
    """The cached snapshot of `repo_id` at a branch/tag (via refs/) or a commit hash, offline.

    "main" (what the loader asks for) without a refs/main is the latest complete download of
    any revision: a download of a tag or a commit hash writes its own ref, not main's."""
    repo = repo_folder(repo_id)
    commit = revision
    _check_revision(revision, ModelNotFoundError)
    ref = repo / "refs" / revision
    if ref.is_file():
        commit = _read_ref(ref)
        # Anything but a commit hash would be followed as a path (`../..`) and recorded as
        # the model's revision.
        if not _COMMIT.fullmatch(commit):
            raise ModelNotFoundError(
                f"The Hugging Face cache entry of {repo_id} is damaged: refs/{revision} does not "
                f"hold a commit hash ({shown(commit, 60)!r}). Download it again with `sdedit "
                f"models download {repo_id}`.", detail=str(ref), path=ref)
    elif revision == "main":
        commit = _latest_complete_download(repo) or revision
    path = repo / "snapshots" / commit
    if not path.is_dir():
        raise ModelNotFoundError(
            f"{repo_id} is not downloaded yet (looked in {hub_cache_dir()}). Download it with "
            f"`sdedit models download {repo_id}` or from the model setup dialog, or pick a local "
            "folder or .safetensors file.", detail=f"no snapshot folder {path}", path=path)
    return Snapshot(repo_id, commit, path)


def _check_revision(revision: str, error: type[ModelError]) -> None:
    """A revision names a file under refs/: it must stay there."""
    if not revision or ".." in Path(revision).parts or Path(revision).is_absolute() \
            or "\\" in revision or "\0" in revision:
        raise error(f"Bad revision {shown(revision, 60)!r}: a branch, tag or commit hash.",
                    detail=shown(revision, 200))


def _read_ref(ref: Path) -> str:
    try:
        return ref.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        return f"(unreadable: {exc})"


def _latest_complete_download(repo: Path) -> str | None:
    """The commit named by the most recently written ref whose snapshot is there."""
    refs = repo / "refs"
    found = []
    for ref in refs.rglob("*") if refs.is_dir() else ():
        commit = _read_ref(ref) if ref.is_file() and not ref.is_symlink() else ""
        if _COMMIT.fullmatch(commit) and (repo / "snapshots" / commit).is_dir():
            found.append((ref.stat().st_mtime_ns, commit))
    return max(found)[1] if found else None


@dataclass(frozen=True)
class DownloadPlan:
    """What a download will do, known before the first byte moves (the CLI and the dialog say
    it): the files of the chosen variant, their size, what is still missing, the free space."""

    repo_id: str
    revision: str  # the commit hash
    files: tuple[str, ...]
    total_bytes: int
    needed_bytes: int  # not in the cache yet (partial files count what they have)
    free_bytes: int  # on the cache's disk
    cache: Path


def hub_endpoint() -> str:
    """The hub to download from: HF_ENDPOINT (a mirror, or a test server) read at each call;
    huggingface_hub reads it once, at import, and takes an `endpoint` argument for the rest."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def download_model(repo_id: str, *, revision: str = "main", variant: str | None = None,
                   progress: Callable[[DownloadProgress], None] | None = None,
                   cancel: Callable[[], bool] | None = None,
                   plan: Callable[[DownloadPlan], None] | None = None) -> Snapshot:
    """Download the files a complete model needs into the hub cache, resuming partial files.

    `progress` hears every step (each chunk written, each block of kept bytes checked, each
    file, each note: a display throttles with `hub_progress.throttled`); bytes of files already
    cached count as done when their file comes. `cancel` is polled at every step; a cancelled or
    failed download keeps what arrived (`blobs/<etag>.incomplete`) for the next run, which
    resumes it. `refs/<revision>` is written only once every file is complete, so offline loading
    never picks up a half-fetched snapshot. `plan` hears what will be fetched once the file list
    is in. Every failure is a `DownloadError` with a one-line message.
    """
    from huggingface_hub import constants

    from sdedit_desktop.models.hub_errors import download_failure, offline_mode_error

    if constants.is_offline_mode():
        raise offline_mode_error(repo_id)
    _check_revision(revision, DownloadError)
    cache, endpoint = hub_cache_dir(), hub_endpoint()
    reporter = ProgressReporter(progress, cancel, what=repo_id)
    try:
        with hub_log_notes(reporter):
            return _download(repo_id, revision, variant, reporter, plan, cache, endpoint)
    except (DownloadCancelled, DownloadError):
        raise
    except Exception as exc:  # HTTP errors, offline, DNS, proxy, disk ...
        if reporter.aborted is not None and exc is reporter.aborted:
            raise  # the caller's own exception, e.g. the engine shutting down
        what = (f"downloading {reporter.current_file}" if reporter.current_file
                else "listing the files")
        raise download_failure(exc, repo_id, what=what, endpoint=endpoint,
                               cache=cache) from exc


def _download(repo_id: str, revision: str, variant: str | None, reporter: ProgressReporter,
              plan: Callable[[DownloadPlan], None] | None, cache: Path,
              endpoint: str) -> Snapshot:
    from huggingface_hub import HfApi

    from sdedit_desktop.models.hub_errors import retried
    from sdedit_desktop.models.hub_transfer import COMMIT, fetch_file

    known = known_model_for_hub_id(repo_id)
    storage = repo_folder(repo_id)
    info = retried(lambda: HfApi(endpoint=endpoint).model_info(
        repo_id, revision=revision, files_metadata=True), what="listing the files",
        note=reporter.note, tick=reporter.tick)
    commit = str(info.sha or "")
    if not COMMIT.fullmatch(commit):
        raise DownloadError(f"The hub did not say which commit of {repo_id} to download: check "
                            "HF_ENDPOINT.", detail=f"sha {shown(info.sha, 80)!r}")
    listing = listed_files(info.siblings)
    sizes = {name: size for name, (size, _) in listing.items()}
    wanted = required_files(known, variant) if known else _default_files(sizes, variant)
    weights = [f for f in wanted if f.endswith(".safetensors")]
    absent = [f for f in weights if f not in sizes]
    wanted = [f for f in wanted if f in sizes]  # a config the repo lacks is not fatal
    if absent:
        raise DownloadError(f"{repo_id} does not have the files a diffusers SD model needs: "
                            f"{', '.join(absent[:4])}.", detail=f"files: {sorted(sizes)[:20]}")
    if known:  # the manifest knows sizes the listing may leave out
        listed = known.variants[variant or known.default_variant]
        sizes.update({f: int(listed[f]) for f in wanted if sizes[f] is None and listed.get(f)})
    total = sum(sizes[f] or 0 for f in wanted)
    needed, free = check_free_space(repo_id, storage, commit,
                                    {f: (listing[f][1], sizes[f] or 0) for f in wanted})
    if plan:
        plan(DownloadPlan(repo_id, commit, tuple(wanted), total, needed, free, cache))
    reporter.planned(total, len(wanted), needed)
    for name in wanted:
        reporter.start_file(name)
        present = fetch_file(storage, cache / ".locks", repo_id, name, commit,
                             endpoint=endpoint, listed_size=sizes[name], report=reporter)
        reporter.finish_file(present.stat().st_size)  # checked against the hub's size
    # Mark the download complete: refs/<branch or tag> names the commit, as snapshot_download
    # writes it. A commit asked for by its hash gets refs/<hash>, which no HF tool writes but
    # every one reads: the offline loader then knows the snapshot is whole (see find_snapshot).
    ref = storage / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit, encoding="utf-8")
    reporter.finish()
    return Snapshot(repo_id, commit, storage / "snapshots" / commit)


def listed_files(siblings: object) -> dict[str, tuple[int | None, str | None]]:
    """The hub's file list as name -> (size, blob id), every value checked: the listing comes
    from a server, and a size that is not a whole number of bytes, or is negative, would defeat
    the free-space check and the size limit on what is written."""
    from sdedit_desktop.models.hub_transfer import ETAG, safe_repo_path

    files: dict[str, tuple[int | None, str | None]] = {}
    for sibling in siblings or []:
        name = getattr(sibling, "rfilename", None)
        safe_repo_path(name)
        size = getattr(sibling, "size", None)
        if size is not None and (type(size) is not int or size < 0):
            raise DownloadError(f"The hub listed an unusable size for {shown(name, 80)}: "
                                f"{shown(repr(size), 40)} (not a whole number of bytes): check "
                                "HF_ENDPOINT.", detail=f"size {shown(repr(size), 200)}")
        blob = _blob_id(sibling)
        files[name] = (size, blob if isinstance(blob, str) and ETAG.match(blob) else None)
    return files


def partial_download_bytes(repo_id: str) -> int:
    """Bytes a stopped download of `repo_id` left in the cache (complete blobs and partial
    files) that the next download reuses."""
    blobs = repo_folder(repo_id) / "blobs"
    return sum(p.stat().st_size for p in blobs.iterdir() if p.is_file()) if blobs.is_dir() else 0


def _blob_id(sibling) -> str | None:
    """The cache's blob name of a listed file: the LFS sha256, or the git blob id."""
    lfs = getattr(sibling, "lfs", None)
    return (lfs.sha256 if lfs else None) or getattr(sibling, "blob_id", None)


def check_free_space(repo_id: str, storage: Path, commit: str,
                     files: dict[str, tuple[str | None, int]]) -> tuple[int, int]:
    """Refuse before fetching anything when the cache's disk cannot hold what is still missing
    (files already complete or partly there need less). `files`: name -> (blob id, size).
    Returns the bytes still needed and the bytes free."""
    from sdedit_desktop.models.hub_transfer import partial_path

    needed = 0
    for name, (blob, size) in files.items():
        if (storage / "snapshots" / commit / name).exists():
            continue
        if blob:
            if (storage / "blobs" / blob).exists():
                continue
            partial = partial_path(storage, blob)
            size -= min(size, partial.lstat().st_size) if partial.is_file() \
                and not partial.is_symlink() else 0
        needed += size
    probe = storage
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise DownloadError(
            f"Not enough disk space for {repo_id}: it needs {_gb(needed)} more in "
            f"{storage.parent}, where only {_gb(free)} is free. Free some space (or set "
            "HF_HOME to a bigger disk) and try again.", detail=f"needed {needed}, free {free}")
    return needed, free


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _default_files(sizes: dict[str, int], variant: str | None) -> list[str]:
    """Files of an SD 1.x diffusers repo not listed in the manifest: configs, tokenizer and one
    weight file per component."""
    wanted = [f for f in sizes if f.endswith(".json") and f.split("/")[0] in
              ("unet", "vae", "text_encoder", "tokenizer", "scheduler")]
    wanted += [f for f in sizes if f.startswith("tokenizer/") and f.endswith(".txt")]
    for component, stem in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                            ("text_encoder", "model")):
        plain = f"{component}/{stem}.safetensors"
        named = f"{component}/{stem}.{variant}.safetensors" if variant else plain
        # fp32, the variant `--variant` offers by default, is the unsuffixed file in most repos.
        wanted.append(plain if variant == "fp32" and named not in sizes else named)
    if "model_index.json" in sizes:
        wanted.append("model_index.json")
    return sorted(set(wanted))
