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

from sdedit_desktop.models.errors import DownloadError, ModelNotFoundError
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


def repo_folder(repo_id: str) -> Path:
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


@dataclass(frozen=True)
class Snapshot:
    repo_id: str
    revision: str  # the commit hash
    path: Path


def find_snapshot(repo_id: str, revision: str = "main") -> Snapshot:
    """The cached snapshot of `repo_id` at a branch/tag (via refs/) or a commit hash, offline."""
    repo = repo_folder(repo_id)
    commit = revision
    if ".." in Path(revision).parts or Path(revision).is_absolute():
        raise ModelNotFoundError(f"Bad revision {shown(revision, 60)!r}: a branch, tag or "
                                 "commit hash.", detail=revision)
    ref = repo / "refs" / revision
    if ref.is_file():
        try:
            commit = ref.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            commit = f"(unreadable: {exc})"
        # Anything but a commit hash would be followed as a path (`../..`) and recorded as
        # the model's revision.
        if not _COMMIT.fullmatch(commit):
            raise ModelNotFoundError(
                f"The Hugging Face cache entry of {repo_id} is damaged: refs/{revision} does not "
                f"hold a commit hash ({shown(commit, 60)!r}). Download it again with `sdedit "
                f"models download {repo_id}`.", detail=str(ref), path=ref)
    path = repo / "snapshots" / commit
    if not path.is_dir():
        raise ModelNotFoundError(
            f"{repo_id} is not downloaded yet (looked in {hub_cache_dir()}). Download it with "
            f"`sdedit models download {repo_id}` or from the model setup dialog, or pick a local "
            "folder or .safetensors file.", detail=f"no snapshot folder {path}", path=path)
    return Snapshot(repo_id, commit, path)


@dataclass(frozen=True)
class DownloadProgress:
    file: str  # the file being transferred ("" when done)
    done_bytes: int  # bytes present so far, over all files (resumed bytes count)
    total_bytes: int  # bytes of all files that make up the model
    files_done: int
    files_total: int


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


class DownloadCancelled(Exception):
    pass


def _byte_bar(on_bytes: Callable[[int], None]):
    """A tqdm stand-in that forwards byte counts (huggingface_hub reports through tqdm_class)."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            initial = int(kwargs.get("initial") or 0)
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            if initial:
                on_bytes(initial)

        def update(self, n: float | None = 1) -> bool | None:
            on_bytes(int(n or 0))
            return None

        def update_transfer(self, n: float | None = 1) -> None:
            """Network bytes of a Xet download: with this method present huggingface_hub
            reports them here instead of on a second bar, so `update` counts each byte of
            the file once (as written to disk)."""

        def set_transfer_postfix_str(self, s: str = "", refresh: bool = True) -> None:
            """Speed text of the Xet transfer; nothing to show."""

    return _Bar


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

    Progress counts bytes over all files (files already cached count as done at once). `cancel`
    is polled as bytes arrive; a cancelled or failed download keeps its partial file
    (`blobs/<etag>.incomplete`) for the next run, which resumes it. `refs/<revision>` is written
    only once every file is complete, so offline loading never picks up a half-fetched snapshot.
    `plan` hears what will be fetched once the file list is in. Every failure is a
    `DownloadError` with a one-line message.
    """
    from huggingface_hub import HfApi, constants

    from sdedit_desktop.models.hub_errors import download_failure, offline_mode_error
    from sdedit_desktop.models.hub_transfer import fetch_file, safe_repo_path

    if constants.is_offline_mode():
        raise offline_mode_error(repo_id)
    known = known_model_for_hub_id(repo_id)
    cache, endpoint = hub_cache_dir(), hub_endpoint()
    storage = repo_folder(repo_id)

    def failure(exc: BaseException, what: str) -> DownloadError:
        return download_failure(exc, repo_id, what=what, endpoint=endpoint, cache=cache)

    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision,
                                                   files_metadata=True)
    except Exception as exc:  # HTTP errors, offline, DNS, proxy ...
        raise failure(exc, "listing the files") from exc
    commit = str(info.sha or "")
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise DownloadError(f"The hub did not say which commit of {repo_id} to download: check "
                            "HF_ENDPOINT.", detail=f"sha {info.sha!r}")
    siblings = {s.rfilename: s for s in info.siblings or []}
    sizes = {name: int(s.size or 0) for name, s in siblings.items()}
    wanted = required_files(known, variant) if known else _default_files(sizes, variant)
    weights = [f for f in wanted if f.endswith(".safetensors")]
    absent = [f for f in weights if f not in sizes]
    wanted = [f for f in wanted if f in sizes]  # a config the repo lacks is not fatal
    for name in wanted:
        safe_repo_path(name)
    if absent:
        raise DownloadError(f"{repo_id} does not have the files a diffusers SD model needs: "
                            f"{', '.join(absent[:4])}.", detail=f"files: {sorted(sizes)[:20]}")
    if known:  # the manifest knows sizes the listing may leave out
        listed = known.variants[variant or known.default_variant]
        sizes.update({f: int(listed[f]) for f in wanted if not sizes[f] and listed.get(f)})
    total = sum(sizes[f] for f in wanted)
    needed, free = check_free_space(repo_id, storage, commit,
                                    {f: (_blob_id(siblings[f]), sizes[f]) for f in wanted})
    if plan:
        plan(DownloadPlan(repo_id, commit, tuple(wanted), total, needed, free, cache))
    state = {"done": 0, "files": 0, "current": ""}
    aborted: list[BaseException] = []

    def emit() -> None:
        if progress:
            try:
                progress(DownloadProgress(state["current"], state["done"], total,
                                          state["files"], len(wanted)))
            except BaseException as exc:  # the caller stops the download from its callback
                aborted.append(exc)
                raise

    def on_bytes(n: int) -> None:
        state["done"] += n
        emit()
        if cancel and cancel():
            raise DownloadCancelled(f"download of {repo_id} cancelled")

    for name in wanted:
        state["current"] = name
        before = state["done"]
        try:
            fetch_file(storage, cache / ".locks", repo_id, name, commit, endpoint=endpoint,
                       bar_class=_byte_bar(on_bytes))
        except (DownloadCancelled, DownloadError):
            raise
        except Exception as exc:
            if aborted and exc is aborted[-1]:
                raise  # the caller's own exception, e.g. the engine shutting down
            raise failure(exc, f"downloading {name}") from exc
        state["done"] = before + sizes[name]  # a cached file reports no bytes: count it whole
        state["files"] += 1
        emit()
    # Point the branch at the commit just completed, as snapshot_download does.
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        ref = storage / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit, encoding="utf-8")
    state["current"] = ""
    emit()
    return Snapshot(repo_id, commit, storage / "snapshots" / commit)


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
    from sdedit_desktop.models.hub_transfer import ETAG, partial_path

    needed = 0
    for name, (blob, size) in files.items():
        if (storage / "snapshots" / commit / name).exists():
            continue
        if blob and ETAG.match(blob):
            if (storage / "blobs" / blob).exists():
                continue
            partial = partial_path(storage, blob)
            size -= min(size, partial.stat().st_size) if partial.is_file() else 0
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
