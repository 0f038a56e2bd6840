"""Exceptions from a job or a model load -> typed failures; freeing memory after one."""

from __future__ import annotations

import traceback

from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.engine.types import EngineFailure
from sdedit_desktop.models.errors import ModelError, exception_chain, is_out_of_memory

__all__ = ["classify_failure", "empty_device_cache", "is_out_of_memory"]

OOM_MESSAGE = (
    "Not enough {where} memory for this edit. Try a smaller image (lower 'max side'), fewer "
    "steps or a lower precision, or close other programs that use the {where2}. "
    "The engine freed what it held and is ready for the next edit."
)


def _user_message_of(exc: BaseException) -> str:
    for name in ("user_message", "message"):
        value = getattr(exc, name, None)
        if isinstance(value, str) and value:
            return value
    return str(exc) or type(exc).__name__


def _detail_of(exc: BaseException) -> str:
    extra = getattr(exc, "detail", None)
    text = "".join(traceback.format_exception(exc))
    if isinstance(extra, str) and extra:
        return f"{extra}\n\n{text}"
    return text


def classify_failure(exc: BaseException, device: object = None,
                     what: str = "The edit") -> EngineFailure:
    """Map an exception to an EngineFailure the UI can show.

    bad-request: the request cannot run as given (EditError) - the user fixes the input;
    out-of-memory: CUDA/MPS/host OOM anywhere in the cause chain;
    model: the model could not be loaded or is missing (ModelError);
    internal: everything else - a bug; the detail carries the traceback.
    `what` names the operation in messages ("The edit", "Loading the model").
    """
    detail = _detail_of(exc)
    if is_out_of_memory(exc):
        if isinstance(exc, ModelError):
            # models/ already said what ran out where and what to do.
            return EngineFailure("out-of-memory", _user_message_of(exc), detail)
        kind = str(device).split(":")[0] if device is not None else "cpu"  # "cuda:0" -> cuda
        where, where2 = ("GPU", "GPU") if kind in ("cuda", "mps") else ("system", "memory")
        return EngineFailure("out-of-memory", OOM_MESSAGE.format(where=where, where2=where2),
                             detail)
    if isinstance(exc, ModelError):
        return EngineFailure("model", _user_message_of(exc), detail)
    # A bad request value found deep inside (wrapped by a library, or raised again while
    # cleaning up) is still the user's to fix, with its own message.
    bad_request = next((e for e in exception_chain(exc) if isinstance(e, EditError)), None)
    if bad_request is not None:
        text = str(bad_request) or "the edit request is not valid"
        return EngineFailure("bad-request", text[:1].upper() + text[1:], detail)
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit raised inside the job
        return EngineFailure(
            "internal", f"{what} was interrupted ({type(exc).__name__}). The engine is still "
            "usable; run it again.", detail)
    return EngineFailure(
        "internal",
        f"{what} stopped because of an internal error ({type(exc).__name__}: {exc}). "
        "The engine is still usable; the details help to report the problem.",
        detail)


def empty_device_cache() -> None:
    """Give cached accelerator memory back to the device (most important after an OOM). No
    garbage collection here: that runs on the UI thread (see gc_policy)."""
    import torch  # imported once a model has run; the editor starts without it

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()
