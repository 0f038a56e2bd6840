"""One clear line for each way a hub download fails: huggingface_hub's exceptions carry several
lines of HTTP detail, which go to `DownloadError.detail` instead."""

from __future__ import annotations

import errno
from pathlib import Path

from sdedit_desktop.models.errors import DownloadError

_AGAIN = "run the download again: it resumes where it stopped"
_FULL_DISK = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


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
