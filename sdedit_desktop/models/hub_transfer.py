"""One file of a hub repo into the standard Hugging Face cache, resumable across runs.

huggingface_hub 2.x downloads each file into a temporary file unique to the process and deletes
it on any failure, so a stopped or broken multi-GB download would start again from zero. Here the
library still does the HTTP (metadata HEAD, redirects, retries, `Range` resume within a call),
but into `blobs/<etag>.incomplete`, which stays when the transfer stops: the next run asks for
the rest with a `Range` request. A file joins the snapshot (`snapshots/<commit>/<name>`, a link
to `blobs/<etag>`, the layout every HF tool reads) only once its size and hash match the hub's.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from sdedit_desktop.models.errors import DownloadError

ETAG = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # git blob sha1, or sha256 of an LFS file


def safe_repo_path(name: str) -> PurePosixPath:
    """A repo file name that stays inside the snapshot folder (the listing comes from a server)."""
    path = PurePosixPath(name)
    if not name or "\\" in name or path.is_absolute() or any(p in ("", ".", "..")
                                                              for p in name.split("/")):
        raise DownloadError(f"The hub listed a file with an unusable name: {name!r}.",
                            detail=f"file name {name!r}")
    return path


def blob_name(etag: str) -> str:
    if not ETAG.match(etag):
        raise DownloadError("The server's answer is not a Hugging Face hub's (bad file hash "
                            "header): check HF_ENDPOINT.", detail=f"etag {etag!r}")
    return etag


def partial_path(storage: Path, etag: str) -> Path:
    return storage / "blobs" / f"{blob_name(etag)}.incomplete"


def fetch_file(storage: Path, locks: Path, repo_id: str, filename: str, commit: str, *,
               endpoint: str | None, bar_class: type) -> Path:
    """Make `snapshots/<commit>/<filename>` present under `storage`, downloading what is
    missing; returns its path. HTTP errors come out as huggingface_hub raises them."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import WeakFileLock, build_hf_headers

    pointer = storage / "snapshots" / commit / safe_repo_path(filename)
    if pointer.exists():
        return pointer
    url = hf_hub_url(repo_id, filename, revision=commit, endpoint=endpoint)
    meta = get_hf_file_metadata(url, endpoint=endpoint)  # HEAD: etag, size, CDN location
    blob = storage / "blobs" / blob_name(meta.etag or "")
    headers = build_hf_headers()
    if urlsplit(meta.location).netloc != urlsplit(url).netloc:
        headers.pop("authorization", None)  # a signed CDN address: the token stays on the hub
    blob.parent.mkdir(parents=True, exist_ok=True)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    lock = locks / storage.name / f"{blob.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(lock):  # another sdedit (or HF tool) fetching the same blob waits
        if not blob.exists():
            _transfer(meta.location, headers, blob, meta.size, filename, bar_class)
        _link(blob, pointer)
    return pointer


def _transfer(location: str, headers: dict[str, str], blob: Path, size: int | None,
              filename: str, bar_class: type) -> None:
    from huggingface_hub.file_download import http_get

    partial = partial_path(blob.parent.parent, blob.name)
    have = partial.stat().st_size if partial.exists() else 0
    if size is not None and have > size:  # not a prefix of this file: start again
        partial.unlink()
        have = 0
    if size is None or have < size:
        with open(partial, "ab") as out:
            # expected_size=None: http_get then checks the bytes against what the response
            # announced; the hub's size and hash are checked below, on the whole file.
            http_get(location, out, resume_size=have, headers=headers, expected_size=None,
                     tqdm_class=bar_class)
    _check_complete(partial, blob.name, size, filename)
    os.replace(partial, blob)


def _check_complete(partial: Path, etag: str, size: int | None, filename: str) -> None:
    """The served bytes must be the file the hub describes; a mismatch is discarded (resuming
    cannot repair it) with a clear error."""
    got = partial.stat().st_size
    if size is not None and got != size:
        partial.unlink()
        raise DownloadError(f"The hub served {got:,} bytes for {filename} where it lists {size:,}: "
                            "the data was discarded; run the download again later.",
                            detail=f"size {got} != {size} for etag {etag}")
    # An LFS file's etag is its sha256; a git blob id hashes a "blob <size>\0" header first.
    digest = hashlib.sha256() if len(etag) == 64 else hashlib.sha1(b"blob %d\0" % got)
    with open(partial, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    if digest.hexdigest() != etag:
        partial.unlink()
        raise DownloadError(f"The bytes the hub served for {filename} do not match its hash "
                            "(damaged in transit or by a proxy): the data was discarded; run "
                            "the download again.",
                            detail=f"expected {etag}, got {digest.hexdigest()}")


def _link(blob: Path, pointer: Path) -> None:
    """The snapshot entry: a relative symlink to the blob, as huggingface_hub makes it; where
    symlinks are not allowed (Windows without developer mode) the blob itself moves there."""
    if pointer.exists():
        return
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    except (OSError, NotImplementedError):
        os.replace(blob, pointer)
