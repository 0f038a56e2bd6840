"""A local HTTP server that speaks the parts of the Hugging Face Hub protocol `huggingface_hub`
uses to download a model, so the real client code runs in tests (pointed at it by HF_ENDPOINT).

What it serves, as the Hub does:
* `GET /api/models/<repo>[/revision/<rev>]` (`?blobs=True`: sizes, blob ids, LFS sha256): the
  repo's commit and file list.
* `HEAD|GET /<repo>/resolve/<rev>/<file>`: small files directly (`ETag` = git blob sha1,
  `X-Repo-Commit`, `Content-Length`); large (LFS) files as a 302 to the CDN, a second server on
  another port, with `X-Linked-Etag` (sha256) and `X-Linked-Size`.
* `HEAD|GET /cdn/<sha256>` on the CDN: the bytes, with `Range` support (206 / 416).
* errors with the Hub's `X-Error-Code` / `X-Error-Message` headers: 404 RepoNotFound,
  404 RevisionNotFound, 404 EntryNotFound, 401 GatedRepo, 500.

Faults for tests: cut the connection after N bytes of a file, hold a body mid-file, serve other
bytes than the metadata announces (with or without a Content-Length), answer a repo, its file
list or a file with an error status, list unusable sizes, leave out or change X-Repo-Commit,
redirect in a loop, send headers too large to read; `rate` throttles every body (a slow link).
Every request is logged.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".ckpt", ".bin", ".pt", ".pth")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:"
            f"{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n").encode()


@dataclass
class HubRepo:
    repo_id: str
    files: dict[str, bytes]
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    gated: bool = False  # file requests answer 401 GatedRepo (the model info stays readable)

    def is_lfs(self, name: str) -> bool:
        return name.endswith(LFS_SUFFIXES)

    def sha256(self, name: str) -> str:
        return hashlib.sha256(self.files[name]).hexdigest()

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        if not self.is_lfs(name):
            return {"rfilename": name, "size": len(data), "blobId": git_blob_sha1(data)}
        pointer = lfs_pointer(data)
        return {"rfilename": name, "size": len(data), "blobId": git_blob_sha1(pointer),
                "lfs": {"sha256": self.sha256(name), "size": len(data),
                        "pointerSize": len(pointer)}}


@dataclass
class LoggedRequest:
    server: str  # "hub" or "cdn"
    method: str
    path: str  # without the query
    file: str | None  # the repo file a resolve / CDN request is about
    range: str | None
    status: int
    body_bytes: int  # bytes of the body actually sent
    authorization: str | None = None  # the Authorization header, if any


@dataclass
class Faults:
    cut_after: dict[str, list[int]] = field(default_factory=dict)  # file -> bytes per cut GET
    wrong_bytes: dict[str, bytes] = field(default_factory=dict)  # file -> what the CDN sends
    repo_status: dict[str, int] = field(default_factory=dict)  # repo id -> error status
    file_status: dict[str, int] = field(default_factory=dict)  # file -> error status (resolve)
    # file -> the status of its next CDN answers, in turn (None: the bytes)
    cdn_status: dict[str, list[int | None]] = field(default_factory=dict)
    hold: dict[str, Hold] = field(default_factory=dict)  # file -> pause a GET mid-body
    ignore_range: set[str] = field(default_factory=set)  # files sent whole (200) despite Range
    rate: int | None = None  # bytes per second of every file body (a slow link), None: full speed
    # repo id -> the status of its next model-info answers, in turn (None: the listing)
    info_status: dict[str, list[int | None]] = field(default_factory=dict)
    listed_size: dict[str, object] = field(default_factory=dict)  # file -> size in the listing
    commit_header: dict[str, str | None] = field(default_factory=dict)  # file -> X-Repo-Commit
    no_length: set[str] = field(default_factory=set)  # bodies without Content-Length (to close)
    redirect_loop: dict[str, str] = field(default_factory=dict)  # file -> "hub" or "cdn"
    big_headers: set[str] = field(default_factory=set)  # files / repo ids: 300 KB of headers


@dataclass
class Hold:
    """Pause the body of the next GET of a file after `after` bytes until `release` is set."""

    after: int
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class HubServer:
    """The Hub (API + resolve) and its CDN, on two free ports of 127.0.0.1."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.faults = Faults()
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._hub = _Server(("127.0.0.1", 0), _Handler, self, "hub")
        self._cdn = _Server(("127.0.0.1", 0), _Handler, self, "cdn")
        # A short poll interval: stop() waits for it (the default 0.5 s per server adds up).
        self._threads = [threading.Thread(target=s.serve_forever, args=(0.02,), daemon=True,
                                          name=f"hub-server-{s.role}")
                         for s in (self._hub, self._cdn)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_port}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_port}"

    def add_repo(self, repo: HubRepo) -> HubRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def file_requests(self, method: str = "GET") -> list[LoggedRequest]:
        """Requests for file bytes or metadata (resolve and CDN), in order."""
        return [r for r in self.log if r.file is not None and r.method == method]

    def bytes_served(self, file: str | None = None) -> int:
        """Body bytes of the file transfers (200/206 answers), of one file or all."""
        return sum(r.body_bytes for r in self.log if r.method == "GET" and r.file is not None
                   and r.status in (200, 206) and (file is None or r.file == file))

    def start(self) -> HubServer:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        for s in (self._hub, self._cdn):
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=10)

    def blob_by_sha256(self, sha: str) -> tuple[HubRepo, str] | None:
        for repo in self.repos.values():
            for name in repo.files:
                if repo.is_lfs(name) and repo.sha256(name) == sha:
                    return repo, name
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, hub: HubServer, role: str) -> None:
        super().__init__(address, handler)
        self.hub = hub
        self.role = role

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-answer (a stopped download) is no server error: nothing is
        printed into the test's captured stderr."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Hub: every answer has a Content-Length
    server: _Server

    def log_message(self, format, *args) -> None:  # quiet: the test log is HubServer.log
        pass

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    # -- routing ---------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        self._method = method
        self._file: str | None = None
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        self._path = path
        try:
            if self.server.role == "cdn":
                self._cdn(path)
            elif path.startswith("/api/models/"):
                self._model_info(path[len("/api/models/"):], parse_qs(parts.query))
            elif "/resolve/" in path:
                self._resolve(path.lstrip("/"))
            else:
                self._error(404, "EntryNotFound", "Not found")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _log(self, status: int, body_bytes: int) -> LoggedRequest:
        """Logged before the answer goes out: the client (and the test) may act on the answer
        before this thread runs again."""
        entry = LoggedRequest(self.server.role, self._method, self._path, self._file,
                              self.headers.get("Range"), status, body_bytes,
                              self.headers.get("Authorization"))
        self.server.hub.record(entry)
        return entry

    def _repo(self, repo_id: str) -> HubRepo | None:
        status = self.server.hub.faults.repo_status.get(repo_id)
        if status:
            self._error(status, None, "Internal Error" if status >= 500 else "Error")
            return None
        repo = self.server.hub.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
        return repo

    def _model_info(self, rest: str, query: dict) -> None:
        repo_id, _, revision = rest.partition("/revision/")
        repo = self._repo(repo_id)
        if repo is None:
            return
        statuses = self.server.hub.faults.info_status.get(repo_id)
        status = statuses.pop(0) if statuses else None
        if status is not None:
            self._error(status, None, "Internal Error" if status >= 500 else "Error")
            return
        if revision and revision not in ("main", repo.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = [repo.sibling(n) if blobs else {"rfilename": n} for n in sorted(repo.files)]
        for sibling in siblings:
            if blobs and sibling["rfilename"] in self.server.hub.faults.listed_size:
                sibling["size"] = self.server.hub.faults.listed_size[sibling["rfilename"]]
        body = json.dumps({"_id": "0" * 24, "id": repo.repo_id, "modelId": repo.repo_id,
                           "sha": repo.commit, "private": False,
                           "gated": "manual" if repo.gated else False, "disabled": False,
                           "library_name": "diffusers", "tags": ["diffusers"],
                           "siblings": siblings}).encode()
        self._send(200, {"Content-Type": "application/json; charset=utf-8"}, body)

    def _resolve(self, path: str) -> None:
        head, _, tail = path.partition("/resolve/")
        revision, _, name = tail.partition("/")
        self._file = name
        repo = self._repo(head)
        if repo is None:
            return
        if revision not in ("main", repo.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return
        if repo.gated:
            self._error(401, "GatedRepo", f"Access to model {repo.repo_id} is restricted. You "
                        "must have access to it and be authenticated to access it. "
                        "Please log in.")
            return
        if name not in repo.files:
            self._error(404, "EntryNotFound", f"{name} does not exist on \"{revision}\"",
                        {"X-Repo-Commit": repo.commit})
            return
        status = self.server.hub.faults.file_status.get(name)
        if status:
            self._error(status, None, "Internal Error")
            return
        faults = self.server.hub.faults
        if faults.redirect_loop.get(name) == "hub":
            self._send(302, {"Location": "/" + path}, b"")
            return
        data = repo.files[name]
        commit = faults.commit_header.get(name, repo.commit)
        headers = {"X-Repo-Commit": commit} if commit is not None else {}
        if repo.is_lfs(name):  # the Hub redirects large files to its CDN
            headers.update({"Location": f"{self.server.hub.cdn_url}/cdn/{repo.sha256(name)}",
                            "X-Linked-Etag": f'"{repo.sha256(name)}"',
                            "X-Linked-Size": str(len(data)),
                            "ETag": f'"{git_blob_sha1(lfs_pointer(data))}"'})
            self._send(302, headers, b"")
            return
        headers["ETag"] = f'"{git_blob_sha1(data)}"'
        self._send_bytes(headers, data, name)

    def _cdn(self, path: str) -> None:
        found = self.server.hub.blob_by_sha256(path.rpartition("/")[2])
        if not path.startswith("/cdn/") or found is None:
            self._send(404, {"Content-Type": "text/plain"}, b"NoSuchKey")
            return
        repo, name = found
        self._file = name
        if self.server.hub.faults.redirect_loop.get(name) == "cdn":
            self._send(302, {"Location": path}, b"")
            return
        statuses = self.server.hub.faults.cdn_status.get(name)
        status = statuses.pop(0) if statuses else None
        if status is not None:
            self._send(status, {"Content-Type": "text/plain"}, b"CDN error")
            return
        data = self.server.hub.faults.wrong_bytes.get(name, repo.files[name])
        self._send_bytes({"ETag": f'"{repo.sha256(name)}"'}, data, name)

    # -- answers ---------------------------------------------------------------------------
    def _send_bytes(self, headers: dict[str, str], data: bytes, name: str) -> None:
        """A file body with Range support, cut short when a cut is armed for the file."""
        headers = {**headers, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        start, status = 0, 200
        wanted = self.headers.get("Range")
        if wanted and name not in self.server.hub.faults.ignore_range:
            first, _, last = wanted.removeprefix("bytes=").partition("-")
            start = int(first)
            end = int(last) + 1 if last else len(data)
            if start >= len(data):
                self._send(416, {**headers, "Content-Range": f"bytes */{len(data)}"}, b"")
                return
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
            data, status = data[start:end], 206
        if name in self.server.hub.faults.no_length:
            # The body's end is the connection's end: the client cannot know its size before.
            entry = self._send(status, {**headers, "Connection": "close"}, b"", length=-1)
            self.close_connection = True
            self._write_body(entry, data)
            return
        hold = self.server.hub.faults.hold.pop(name, None) if self._method == "GET" else None
        if hold is not None:
            entry = self._send(status, headers, data[:hold.after], length=len(data))
            self.wfile.flush()
            hold.reached.set()
            hold.release.wait(timeout=60)
            self._write_body(entry, data[hold.after:])
            return
        cuts = self.server.hub.faults.cut_after.get(name)
        cut = cuts.pop(0) if cuts and self._method == "GET" else None
        if cut is None:
            self._send(status, headers, data)
            return
        # Announce the whole body, send part of it, then drop the connection.
        self._send(status, headers, data[:cut], length=len(data))
        self.close_connection = True
        self.wfile.flush()
        self.connection.close()

    def _error(self, status: int, code: str | None, message: str,
               extra: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message,
                   **(extra or {})}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, headers, json.dumps({"error": message}).encode())

    def _send(self, status: int, headers: dict[str, str], body: bytes,
              length: int | None = None) -> LoggedRequest:
        """The answer; `length` announces another body size than `body`'s (-1: none)."""
        entry = self._log(status, 0)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if length != -1:
            self.send_header("Content-Length", str(len(body) if length is None else length))
        listed_repo = self._path.removeprefix("/api/models/").partition("/revision/")[0]
        if self._file in self.server.hub.faults.big_headers or \
                listed_repo in self.server.hub.faults.big_headers:
            for i in range(30):
                self.send_header(f"X-Padding-{i}", "x" * 10_000)
        self.end_headers()
        self._write_body(entry, body)
        return entry

    def _write_body(self, entry: LoggedRequest, body: bytes) -> None:
        """Body bytes, at `Faults.rate` when set. `entry.body_bytes` counts them before they go
        out (the client, and the test, may act on them before this thread runs again), and
        drops what a client that hung up did not take."""
        if self._method != "GET" or not body:
            return
        rate = self.server.hub.faults.rate if self._file is not None else None
        step = max(1, rate // 20) if rate else len(body)  # twenty writes a second
        for start in range(0, len(body), step):
            piece = body[start:start + step]
            if rate:
                time.sleep(len(piece) / rate)
            entry.body_bytes += len(piece)
            try:
                self.wfile.write(piece)
            except ConnectionError:
                entry.body_bytes -= len(piece)
                raise
