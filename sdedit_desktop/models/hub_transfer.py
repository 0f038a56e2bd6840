"""One file of a hub repo into the standard Hugging Face cache, resumable across runs.

huggingface_hub 2.x downloads each file into a temporary file unique to the process, deletes it
on any failure, reads 10 MB per progress step and counts a chunk before writing it, so a stopped
multi-GB download keeps nothing. Here the library asks for the file's metadata (HEAD: etag,
size, commit, CDN address) and makes the requests, but the body is read as it arrives into
`blobs/<etag>.incomplete`: every chunk is written before it is counted, the caller may stop
after any chunk, and what arrived stays for the next run, which asks for the rest with a `Range`
request. The bytes are hashed as they are written (the kept bytes of an earlier run first), and
no more than the listed size is ever written. A file joins the snapshot
(`snapshots/<commit>/<name>`, a link to `blobs/<etag>`, the layout every HF tool reads) only once
its size and hash match the hub's.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

from sdedit_desktop.models.errors import DownloadError
from sdedit_desktop.models.hub_errors import (
    failure_reason,
    is_dropped_connection,
    retried,
    wait,
)

ETAG = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # git blob sha1, or sha256 of an LFS file
COMMIT = re.compile(r"[0-9a-f]{40}")
HASH_BLOCK = 1 << 20  # kept bytes are hashed in blocks this size, with progress after each
# A dropped connection is resumed this many times in a row without a byte arriving in between.
RESUMES = 5
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class TransferReport(Protocol):
    """Where `fetch_file` reports (models.hub_progress.ProgressReporter); every call may raise
    to stop the transfer, and what was written by then stays."""

    def kept(self, n: int) -> None: ...
    def checking(self, done: int, total: int) -> None: ...
    def arrived(self, n: int) -> None: ...
    def dropped(self, n: int) -> None: ...
    def note(self, text: str) -> None: ...
    def tick(self) -> None: ...


def safe_repo_path(name: object) -> PurePosixPath:
    """A repo file name that stays inside the snapshot folder (the listing comes from a server)."""
    if not isinstance(name, str):
        raise DownloadError(f"The hub listed a file with an unusable name: {name!r}.",
                            detail=f"file name {name!r}")
    path = PurePosixPath(name)
    if not name or "\\" in name or "\0" in name or path.is_absolute() \
            or any(p in ("", ".", "..") for p in name.split("/")):
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
               endpoint: str | None, listed_size: int | None, report: TransferReport) -> Path:
    """Make `snapshots/<commit>/<filename>` present under `storage`, downloading what is
    missing; returns its path. HTTP errors come out as huggingface_hub raises them; answers
    that are not the file the hub listed as `DownloadError`."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import WeakFileLock, build_hf_headers

    pointer = storage / "snapshots" / commit / safe_repo_path(filename)
    if pointer.exists():
        return pointer
    url = hf_hub_url(repo_id, filename, revision=commit, endpoint=endpoint)
    meta = retried(lambda: get_hf_file_metadata(url, endpoint=endpoint),
                   what=f"asking for {filename}", note=report.note, tick=report.tick)
    # The hub names the commit it answers for; huggingface_hub's own download refuses an
    # answer without it, and one for another commit would mix two versions of the model.
    if meta.commit_hash is None or not COMMIT.fullmatch(meta.commit_hash):
        raise DownloadError(f"The server's answer for {filename} does not say which commit it "
                            "is from (no X-Repo-Commit header): it is not a Hugging Face hub as "
                            "this app knows it; check HF_ENDPOINT.",
                            detail=f"X-Repo-Commit {meta.commit_hash!r}")
    if meta.commit_hash != commit:
        raise DownloadError(f"The hub answered for {filename} from commit {meta.commit_hash[:12]}"
                            f" where the download is of {commit[:12]}: the model changed while "
                            "downloading? Run the download again.",
                            detail=f"X-Repo-Commit {meta.commit_hash} != {commit}")
    size = _file_size(filename, listed_size, meta.size)
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
            _transfer(meta.location, headers, blob, size, filename, report)
        else:
            report.kept(size)
        _link(blob, pointer)
    return pointer


def _file_size(filename: str, listed: int | None, answered: int | None) -> int:
    """The size to fetch: the listing's, which the file's own answer must confirm."""
    if answered is not None and answered < 0:
        answered = None
    if listed is not None and answered is not None and listed != answered:
        raise DownloadError(f"The hub lists {listed:,} bytes for {filename} but its download "
                            f"answer says {answered:,}: run the download again later.",
                            detail=f"listed {listed}, X-Linked-Size/Content-Length {answered}")
    size = listed if listed is not None else answered
    if size is None:
        raise DownloadError(f"The hub did not say how large {filename} is: it is not a Hugging "
                            "Face hub as this app knows it; check HF_ENDPOINT.",
                            detail="no size in the listing nor in the HEAD answer")
    return size


class _NotTheFile(DownloadError):
    """The server sends something other than the listed file: its partial file is deleted
    (resuming cannot repair it)."""


class _Digest:
    """The file's hash as its bytes are written; it starts over when the file does."""

    def __init__(self, etag: str, size: int):
        self.etag, self._size = etag, size
        self.restart()

    def restart(self) -> None:
        # An LFS file's etag is its sha256; a git blob id hashes a "blob <size>\0" header first.
        self._hash = (hashlib.sha256() if len(self.etag) == 64
                      else hashlib.sha1(b"blob %d\0" % self._size))

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _transfer(location: str, headers: dict[str, str], blob: Path, size: int, filename: str,
              report: TransferReport) -> None:
    partial = partial_path(blob.parent.parent, blob.name)
    try:
        with _open_partial(partial) as out:
            digest = _Digest(blob.name, size)
            have = os.fstat(out.fileno()).st_size
            if have > size:  # not a prefix of this file: start again
                out.truncate(0)
                have = 0
            _hash_kept(out, digest, have, report)
            report.kept(have)
            _receive_all(location, headers, out, digest, have, size, filename, report)
            if digest.hexdigest() != blob.name:
                raise _NotTheFile(
                    f"The bytes the hub served for {filename} do not match its hash (damaged "
                    "in transit or by a proxy): the data was discarded; run the download again.",
                    detail=f"expected {blob.name}, got {digest.hexdigest()}")
    except _NotTheFile:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, blob)


def _receive_all(location: str, headers: dict[str, str], out: BinaryIO, digest: _Digest,
                 have: int, size: int, filename: str, report: TransferReport) -> None:
    """GET the rest of the file, resuming after a dropped connection (`RESUMES` times in a row
    without a byte in between)."""
    failures = 0
    while have < size:
        before = have
        try:
            have = _receive(location, headers, out, digest, have, size, filename, report)
        except Exception as exc:
            if not is_dropped_connection(exc):  # a server error ends the run; it resumes later
                raise
            have = os.fstat(out.fileno()).st_size
            failures = 0 if have > before else failures + 1
            if failures >= RESUMES:
                raise
            report.note(f"{failure_reason(exc).capitalize()} while downloading {filename}; "
                        f"resuming at {have:,} of {size:,} bytes.")
            wait(1.0, report.tick)
            continue
        if have == before:  # an answer that ended without a byte and without an error
            failures += 1
            if failures >= RESUMES:
                raise DownloadError(f"The hub stopped sending {filename} at {have:,} of "
                                    f"{size:,} bytes: run the download again; it resumes where "
                                    "it stopped.", detail="answers without a byte")


def _open_partial(path: Path) -> BinaryIO:
    """The partial file, for appending (and reading its kept bytes). A link, FIFO or device in
    its place is removed, never followed or blocked on."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            path.unlink()
    except FileNotFoundError:
        pass
    flags = (os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    fd = os.open(path, flags, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DownloadError(f"{path} is not a regular file: remove it and run the download "
                            "again.", path=path)
    # Unbuffered: a chunk is in the OS's hands before it is counted as arrived.
    return os.fdopen(fd, "r+b", buffering=0)


def _hash_kept(out: BinaryIO, digest: _Digest, have: int, report: TransferReport) -> None:
    """Hash the bytes an earlier run kept, with progress, so the new bytes continue the hash."""
    out.seek(0)
    done = 0
    while done < have:
        block = out.read(min(HASH_BLOCK, have - done))
        if not block:
            break
        digest.update(block)
        done += len(block)
        report.checking(done, have)


def _receive(location: str, headers: dict[str, str], out: BinaryIO, digest: _Digest, have: int,
             size: int, filename: str, report: TransferReport) -> int:
    """One GET of the bytes from `have` on, each chunk written, hashed and then reported as it
    arrives; returns how many bytes the file holds after it (the answer may end early)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import hf_raise_for_status, http_stream_backoff

    # Identity encoding: `Range` offsets and the listed size count the file's own bytes.
    ask = {**headers, "Accept-Encoding": "identity"}
    if have:
        ask["Range"] = f"bytes={have}-"
    with http_stream_backoff("GET", location, headers=ask,
                             timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT, retry_on_exceptions=(),
                             retry_on_status_codes=(408, 429)) as response:
        hf_raise_for_status(response)
        if _body_start(response, have, filename) < have:
            # The server ignored the resume request: its answer starts at byte 0.
            out.truncate(0)
            digest.restart()
            report.dropped(have)
            have = 0
        length = _content_length(response, filename)
        if length is not None and have + length > size:
            raise _NotTheFile(f"The hub announced {have + length:,} bytes for {filename} where "
                              f"it lists {size:,}: nothing of it was kept; run the download "
                              "again later.", detail=f"Content-Length {length} from byte {have}")
        for chunk in response.iter_raw():
            if have + len(chunk) > size:  # never more than the listed size on disk
                raise _NotTheFile(f"The hub sent more than the {size:,} bytes it lists for "
                                  f"{filename}: nothing of it was kept; run the download again "
                                  "later.", detail=f"more than {size} bytes")
            if chunk:
                out.write(chunk)
                digest.update(chunk)
                have += len(chunk)
                report.arrived(len(chunk))
    return have


def _body_start(response, have: int, filename: str) -> int:
    if response.status_code == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if match is None or int(match[1]) != have:
            raise DownloadError(f"The hub answered the request to resume {filename} at byte "
                                f"{have:,} with other bytes: run the download again later.",
                                detail=f"Content-Range {response.headers.get('Content-Range')!r}")
        return have
    if response.status_code == 200:
        return 0
    raise DownloadError(f"The hub answered the download of {filename} with HTTP "
                        f"{response.status_code}: run the download again later.",
                        detail=f"status {response.status_code}")


def _content_length(response, filename: str) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    value = value.strip()
    if not re.fullmatch(r"[0-9]{1,30}", value):
        raise DownloadError(f"The hub's answer for {filename} has an unreadable length "
                            f"({value[:40]!r}): check HF_ENDPOINT.",
                            detail=f"Content-Length {value[:200]!r}")
    return int(value)


def _link(blob: Path, pointer: Path) -> None:
    """The snapshot entry: a relative symlink to the blob, as huggingface_hub makes it; where
    symlinks are not allowed (Windows without developer mode) the blob itself moves there."""
    if pointer.exists():
        return
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    except (OSError, NotImplementedError):
        os.replace(blob, pointer)
