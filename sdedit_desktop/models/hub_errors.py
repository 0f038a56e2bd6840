"""How a hub download fails: which failures are worth another try (a dropped connection, a
server error of the file list), and one clear line for each (huggingface_hub's exceptions carry
several lines of HTTP detail, which go to `DownloadError.detail` instead)."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sdedit_desktop.models.errors import DownloadError

_AGAIN = "run the download again: it resumes where it stopped"
_FULL_DISK = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# Waits before the second and third try of a small request (the file list, a file's metadata)
# that met a server error or a dropped connection: a few seconds, then the error is shown.
REQUEST_RETRY_WAITS_S = (1.0, 3.0)
T = TypeVar("T")


def protocol_problem(exc: BaseException) -> str | None:
    """What is wrong with an answer that is not HTTP this client reads (None: not that)."""
    import httpx2

    if isinstance(exc, httpx2.TooManyRedirects):
        return "redirects"
    if isinstance(exc, httpx2.RemoteProtocolError):
        text = str(exc)
        if "buffer too long" in text:  # h11's limit on a status line plus headers
            return "headers too large"
        if "illegal" in text or "malformed" in text or "invalid" in text.lower():
            return "malformed"
    return None


def is_dropped_connection(exc: BaseException) -> bool:
    """A connection that failed, dropped or timed out (not an answer this client cannot read)."""
    import httpx2

    return isinstance(exc, httpx2.TransportError) and protocol_problem(exc) is None


def is_transient(exc: BaseException) -> bool:
    """A failure another try of a small request may not meet: a dropped connection, a 5xx."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError):
        return exc.response is not None and exc.response.status_code >= 500
    return is_dropped_connection(exc)


def failure_reason(exc: BaseException) -> str:
    """A few words for a note about a failure that will be retried."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        return f"the hub answered {exc.response.status_code}"
    return f"connection lost ({type(exc).__name__})"


def wait(seconds: float, tick: Callable[[], None]) -> None:
    """Sleep, calling `tick` (which raises to stop the download) every tenth of a second."""
    end = time.monotonic() + seconds
    while True:
        tick()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.1, left))


def retried(call: Callable[[], T], *, what: str, note: Callable[[str], None],
            tick: Callable[[], None]) -> T:
    """`call()`, tried again after `REQUEST_RETRY_WAITS_S` when it fails transiently; each
    retry is announced through `note`."""
    waits = REQUEST_RETRY_WAITS_S
    for attempt in range(len(waits) + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == len(waits) or not is_transient(exc):
                raise
            note(f"{failure_reason(exc).capitalize()} while {what}; trying again in "
                 f"{waits[attempt]:.0f} s (try {attempt + 2} of {len(waits) + 1}).")
            wait(waits[attempt], tick)
    raise AssertionError("unreachable")


def offline_mode_error(repo_id: str) -> DownloadError:
    return DownloadError(f"Downloads are switched off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is "
                         f"set in the environment): unset it to download {repo_id}.",
                         detail="huggingface_hub.constants.HF_HUB_OFFLINE is true")


def download_failure(exc: BaseException, repo_id: str, *, what: str, endpoint: str,
                     cache: Path) -> DownloadError:
    """The user's line for `exc`, raised while `what` ("listing the files", "downloading
    unet/...") for `repo_id`."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OfflineModeIsEnabled):
        return offline_mode_error(repo_id)
    if isinstance(exc, GatedRepoError):
        message = (f"{repo_id} is a gated model: accept its terms on its page at {endpoint} while "
                   "logged in, then log in here (`hf auth login`, or set HF_TOKEN) and download "
                   "again.")
    elif isinstance(exc, RepositoryNotFoundError):
        message = (f"{repo_id} was not found on the Hugging Face hub ({endpoint}): check the "
                   "model id (a private model also needs `hf auth login`).")
    elif isinstance(exc, RevisionNotFoundError):
        message = f"{repo_id} has no such revision (branch, tag or commit) on the hub."
    elif isinstance(exc, RemoteEntryNotFoundError):
        message = (f"{repo_id} lists a file the hub then does not have, while {what}: try "
                   "again later.")
    elif isinstance(exc, HfHubHTTPError) and exc.response is not None \
            and exc.response.status_code >= 500:
        message = (f"The Hugging Face hub had a server error ({exc.response.status_code}) while "
                   f"{what} of {repo_id}: try again later; {_AGAIN}.")
    elif isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        message = (f"The Hugging Face hub refused {what} of {repo_id} (HTTP {status}); if the "
                   "model needs an account, log in with `hf auth login`.")
    elif protocol_problem(exc) == "redirects":
        message = (f"The server at {endpoint} (or the download address it gave) redirected "
                   f"in a loop while {what} of {repo_id}: check HF_ENDPOINT and any proxy in "
                   "between.")
    elif protocol_problem(exc) == "headers too large":
        message = (f"The server at {endpoint} (or its download address) answered with headers "
                   f"too large to read while {what} of {repo_id}: it is not a Hugging Face hub "
                   "as this app knows it; check HF_ENDPOINT and any proxy in between.")
    elif protocol_problem(exc) == "malformed":
        message = (f"The server at {endpoint} (or its download address) sent an answer that is "
                   f"not valid HTTP while {what} of {repo_id}: check HF_ENDPOINT and any proxy "
                   "in between.")
    elif isinstance(exc, httpx2.HTTPError | ConnectionError | TimeoutError):
        message = (f"Lost the connection to the Hugging Face hub ({endpoint}) while {what} of "
                   f"{repo_id}: check the network, then {_AGAIN}.")
    elif isinstance(exc, OSError) and exc.errno in _FULL_DISK:
        message = (f"The disk holding the Hugging Face cache ({cache}) is full (while {what} of "
                   f"{repo_id}): free some space, then {_AGAIN}.")
    elif isinstance(exc, OSError):
        message = (f"Could not write the download of {repo_id} into the Hugging Face cache "
                   f"({cache}): {exc.strerror or exc}.")
    else:
        message = f"Downloading {repo_id} failed while {what}: {exc}"
    return DownloadError(" ".join(message.split()), detail=detail)
