"""Checking an edit request's stored parameters against the request dataclass before rebuilding it.

`EditRequest.from_params` trusts its input; a project file must not be trusted. The check is
driven by the dataclass type hints, so a field added to a request type is covered without
touching this module. Missing parameters take the dataclass default (an older file written before
the field existed); unknown parameters are refused, since dropping them would silently change
the edit on replay.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from functools import cache
from typing import Any

import numpy as np

from sdedit_desktop.core.families import FAMILIES, PREDICTION_TYPES
from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.edits.requests import NOT_PARAMS, REQUEST_TYPES, EditRequest
from sdedit_desktop.edits.schema import check_value, schema
from sdedit_desktop.project import jsonio
from sdedit_desktop.project.errors import ProjectError

# Keys of `params()` that are not dataclass fields.
_EXTRA_KEYS = {"kind", "image_sha256", "mask_sha256"}
_ARRAY_FIELDS = {"image", "mask"}


@cache
def _hints(cls: type[EditRequest]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls) if f.name not in _ARRAY_FIELDS}


def request_type(params: Any, where: str) -> type[EditRequest]:
    if not isinstance(params, dict):
        raise ProjectError(f"{where} should be an object, found {type(params).__name__}")
    kind = params.get("kind")
    cls = REQUEST_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProjectError(f"{where}.kind {kind!r} is not an edit this version knows "
                           f"({', '.join(sorted(REQUEST_TYPES))})")
    return cls


def check_params(params: Any, where: str) -> tuple[type[EditRequest], dict[str, Any]]:
    """Validates stored request parameters; returns the request type and the parameters with
    every value converted to the field's type (ready for `from_params`)."""
    cls = request_type(params, where)
    hints = _hints(cls)
    unknown = params.keys() - hints.keys() - _EXTRA_KEYS
    if unknown:
        raise ProjectError(f"{where} has parameter(s) this version does not know for a "
                           f"{cls.kind} edit: {', '.join(sorted(unknown))}")
    for key in ("image_sha256", "mask_sha256"):
        if key not in params:
            raise ProjectError(f"{where} is missing {key}")
    jsonio.string(params["image_sha256"], f"{where}.image_sha256")
    jsonio.opt_string(params["mask_sha256"], f"{where}.mask_sha256")
    clean: dict[str, Any] = {"kind": cls.kind}
    for name, hint in hints.items():
        if name in params:
            clean[name] = convert(params[name], hint, f"{where}.{name}")
    return cls, clean


def convert(value: Any, hint: Any, where: str) -> Any:
    """JSON value -> the Python value of type `hint` (raises ProjectError on mismatch)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if hint is type(None):
        if value is not None:
            raise ProjectError(f"{where} should be null")
        return None
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return convert(value, option, where)
            except ProjectError as exc:
                errors.append(str(exc))
        raise ProjectError(errors[0] if len(errors) == 1 else
                           f"{where} has the wrong type ({'; '.join(errors)})")
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if not any(type(value) is type(a) and value == a for a in allowed):
            raise ProjectError(f"{where} should be one of {', '.join(map(repr, allowed))}, "
                               f"found {value!r:.60}")
        return value
    if origin is tuple:
        args = typing.get_args(hint)
        items = jsonio.array(value, where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(items))
        if len(items) != len(args):
            raise ProjectError(f"{where} should have {len(args)} items, found {len(items)}")
        return tuple(convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(
            zip(items, args, strict=True)))
    if hint is bool:
        if type(value) is not bool:
            raise ProjectError(f"{where} should be true or false")
        return value
    if hint is int:
        return jsonio.integer(value, where)
    if hint is float:
        return jsonio.number(value, where)
    if hint is str:
        return jsonio.string(value, where)
    if hint is ModelIdentity:
        # Validated here, kept as a dict: `from_params` builds the ModelIdentity itself.
        data = jsonio.obj(value, where, {"kind", "source"},
                          {"revision", "sha256", "family", "prediction_type"})
        out = {"kind": jsonio.string(data["kind"], f"{where}.kind"),
               "source": jsonio.string(data["source"], f"{where}.source"),
               "revision": jsonio.opt_string(data.get("revision"), f"{where}.revision"),
               "sha256": jsonio.opt_string(data.get("sha256"), f"{where}.sha256")}
        # Files written before model families have neither key: SD 1.x, ε-prediction.
        for key, known in (("family", FAMILIES), ("prediction_type", PREDICTION_TYPES)):
            if key in data:
                text = jsonio.string(data[key], f"{where}.{key}")
                if text not in known:
                    raise ProjectError(f"{where}.{key} {text!r:.40} is not one this version "
                                       f"knows ({', '.join(known)})")
                out[key] = text
        return out
    # A programming error, not a bad file: a request field of a type this reader lacks.
    raise TypeError(f"no JSON reader for request field type {hint!r} ({where})")


def check_panel_params(kind: Any, params: Any, where: str) -> dict[str, Any]:
    """Validates the stored next-edit parameters of one edit kind (a request's parameters
    without the arrays, the model and the points, as the method panels hold them): every key
    known, every value of the field's type and in its schema range. Missing keys are left out
    (the caller takes the defaults)."""
    clean, problems = read_panel_params(kind, params, where)
    if problems:
        raise ProjectError(problems[0])
    return clean


def read_panel_params(kind: Any, params: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """Lenient `check_panel_params` for older or hand-edited files: keeps every value it can
    read and returns what it ignored, one message per problem."""
    cls = REQUEST_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return {}, [f"{where}: {kind!r} is not an edit this version knows"]
    if not isinstance(params, dict):
        return {}, [f"{where} should be an object, found {type(params).__name__}"]
    hints = {name: hint for name, hint in _hints(cls).items() if name not in NOT_PARAMS}
    declared = {entry.name: entry for entry in schema(cls)}
    clean: dict[str, Any] = {}
    problems = []
    for name, value in params.items():
        if name in _EXTRA_KEYS or name in NOT_PARAMS:
            continue  # a whole request's params() may be given: its other keys are not params
        if name not in hints:
            problems.append(f"{where} has a parameter this version does not know for a "
                            f"{cls.kind} edit: {name}")
            continue
        try:
            converted = convert(value, hints[name], f"{where}.{name}")
            if name in declared:
                check_value(declared[name], converted)
        except (ProjectError, EditError) as exc:
            problems.append(f"{where}.{name}: {exc}" if isinstance(exc, EditError) else str(exc))
            continue
        clean[name] = converted
    return clean, problems


def build_request(cls: type[EditRequest], params: dict[str, Any], image: np.ndarray,
                  mask: np.ndarray | None, where: str) -> EditRequest:
    try:
        return EditRequest.from_params(params, image, mask)
    except (TypeError, ValueError) as exc:  # e.g. a validating __post_init__ in a request type
        raise ProjectError(f"{where} cannot be rebuilt as a {cls.kind} edit: {exc}") from exc

