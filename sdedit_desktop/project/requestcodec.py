"""Checking an edit request's stored parameters against the request dataclass before rebuilding it.

`EditRequest.from_params` trusts its input; a project file must not be trusted. Every value is read
by the request schema's own converter and range check (`edits/schema.py`), so a field added to a
request type is covered without touching this module. Missing parameters take the dataclass
default (an older file written before the field existed); unknown parameters are refused, since
dropping them would silently change the edit on replay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sdedit_desktop.core.progress import EditError
from sdedit_desktop.edits.kinds import request_types
from sdedit_desktop.edits.requests import EditRequest
from sdedit_desktop.edits.schema import RECORD_KEYS, check_value, convert, field_hints, schema
from sdedit_desktop.project import jsonio
from sdedit_desktop.project.errors import ProjectError


def request_type(params: Any, where: str) -> type[EditRequest]:
    if not isinstance(params, dict):
        raise ProjectError(f"{where} should be an object, found {type(params).__name__}")
    kind = params.get("kind")
    known = request_types()
    cls = known.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProjectError(f"{where}.kind {kind!r} is not an edit this version knows "
                           f"({', '.join(sorted(known))})")
    return cls


def check_params(params: Any, where: str) -> tuple[type[EditRequest], dict[str, Any]]:
    """Validates stored request parameters; returns the request type and the parameters with
    every value converted to the field's type (ready for `from_params`)."""
    cls = request_type(params, where)
    hints = field_hints(cls)
    unknown = params.keys() - hints.keys() - RECORD_KEYS
    if unknown:
        raise ProjectError(f"{where} has parameter(s) this version does not know for a "
                           f"{cls.kind} edit: {', '.join(sorted(unknown))}")
    for key in ("image_sha256", "mask_sha256"):
        if key not in params:
            raise ProjectError(f"{where} is missing {key}")
    jsonio.string(params["image_sha256"], f"{where}.image_sha256")
    jsonio.opt_string(params["mask_sha256"], f"{where}.mask_sha256")
    clean: dict[str, Any] = {"kind": cls.kind}
    declared = {entry.name: entry for entry in schema(cls)}
    try:
        for name, hint in hints.items():
            if name in params:
                clean[name] = convert(params[name], hint, f"{where}.{name}")
                if name in declared:  # in range, by the same check as the CLI, panels, engine
                    check_value(declared[name], clean[name])
    except EditError as exc:
        text = str(exc)
        raise ProjectError(text if text.startswith(where) else f"{where}.{name}: {text}") \
            from None
    return cls, clean


def build_request(cls: type[EditRequest], params: dict[str, Any], image: np.ndarray,
                  mask: np.ndarray | None, where: str) -> EditRequest:
    try:
        return EditRequest.from_params(params, image, mask)
    except (TypeError, ValueError) as exc:  # e.g. a validating __post_init__ in a request type
        raise ProjectError(f"{where} cannot be rebuilt as a {cls.kind} edit: {exc}") from exc
