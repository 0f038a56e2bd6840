"""The Hugging Face hub: finding a model in the standard local cache (offline), and downloading
it on request with byte progress and resume.

Offline first: nothing here touches the network unless `download_model` is called. The cache is
the standard one (HF_HUB_CACHE / HF_HOME), shared with every other HF tool on the machine.
"""

from __future__ import annotations

import os
import re
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


def download_model(repo_id: str, *, revision: str = "main", variant: str | None = None,
                   progress: Callable[[DownloadProgress], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> Snapshot:
    """Download the files a complete model needs into the hub cache, resuming partial files.

    Progress counts bytes over all files (files already cached count as done at once). `cancel`
    is polled as bytes arrive; a cancelled download keeps its partial file for the next resume.
    """
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    known = known_model_for_hub_id(repo_id)
    cache = hub_cache_dir()
    try:
        info = HfApi().model_info(repo_id, revision=revision, files_metadata=True)
    except HfHubHTTPError as exc:
        raise DownloadError(f"Could not get the file list of {repo_id}: {exc}. Check the id, "
                            "your network, and (for gated models) that you are logged in.",
                            detail=repr(exc)) from exc
    except Exception as exc:  # offline, DNS, proxy ...
        raise DownloadError(f"Could not reach the Hugging Face hub for {repo_id}: {exc}",
                            detail=repr(exc)) from exc
    sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
    wanted = required_files(known, variant) if known else _default_files(sizes, variant)
    weights = [f for f in wanted if f.endswith(".safetensors")]
    absent = [f for f in weights if f not in sizes]
    wanted = [f for f in wanted if f in sizes]  # a config the repo lacks is not fatal
    if absent:
        raise DownloadError(f"{repo_id} does not have the files a diffusers SD model needs: "
                            f"{', '.join(absent[:4])}.", detail=f"files: {sorted(sizes)[:20]}")
    total = sum(sizes[f] for f in wanted)
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
            hf_hub_download(repo_id, name, revision=info.sha, cache_dir=str(cache),
                            tqdm_class=_byte_bar(on_bytes))
        except DownloadCancelled:
            raise
        except Exception as exc:
            if aborted and exc is aborted[-1]:
                raise  # the caller's own exception, e.g. the engine shutting down
            raise DownloadError(f"Downloading {name} of {repo_id} failed: {exc}. Run the download "
                                "again: it resumes where it stopped.", detail=repr(exc)) from exc
        state["done"] = before + sizes[name]  # a cached file reports no bytes: count it whole
        state["files"] += 1
        emit()
    # Point the branch at the commit just downloaded, as snapshot_download does.
    ref = repo_folder(repo_id) / "refs" / revision
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(str(info.sha), encoding="utf-8")
    state["current"] = ""
    emit()
    return Snapshot(repo_id, str(info.sha), repo_folder(repo_id) / "snapshots" / str(info.sha))


def _default_files(sizes: dict[str, int], variant: str | None) -> list[str]:
    """Files of an SD 1.x diffusers repo not listed in the manifest: configs, tokenizer and one
    weight file per component."""
    suffix = f".{variant}.safetensors" if variant else ".safetensors"
    wanted = [f for f in sizes if f.endswith(".json") and f.split("/")[0] in
              ("unet", "vae", "text_encoder", "tokenizer", "scheduler")]
    wanted += [f for f in sizes if f.startswith("tokenizer/") and f.endswith(".txt")]
    for component, stem in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                            ("text_encoder", "model")):
        name = f"{component}/{stem}{suffix}"
        wanted.append(name)
    if "model_index.json" in sizes:
        wanted.append("model_index.json")
    return sorted(set(wanted))
