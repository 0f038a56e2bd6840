"""Strict JSON in and out, and typed field readers that name the offending field on error.

JSON is UTF-8 without BOM; duplicate keys are refused (a file whose meaning depends on which
duplicate wins is damaged). Python's Infinity/NaN tokens are accepted and written, because
metrics can legitimately be infinite (the PSNR of an exact reconstruction).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import numpy as np

from sdedit_desktop.project.errors import ProjectError


def dumps(value: Any) -> bytes:
    """UTF-8 JSON. Strings with lone surrogates (a `\\ud800` escape read from a file, a file
    name that is not valid UTF-8) cannot be UTF-8 encoded: then every non-ASCII character is
    written as a `\\uXXXX` escape, which `loads` reads back to the very same string."""
    text = json.dumps(value, ensure_ascii=False, indent=1, default=_numpy_scalar)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, indent=1,
                          default=_numpy_scalar).encode("ascii")


def _numpy_scalar(value: Any) -> Any:
    # numpy scalars slip into settings and parameters easily (spin boxes, array maths); they
    # are plain numbers in JSON. Anything else is a programming error the caller reports.
    if isinstance(value, np.generic) and isinstance(value.item(), bool | int | float | str):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def loads(data: bytes, what: str, max_depth: int) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{what} is not valid UTF-8 text (byte {exc.start})") from exc
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise ProjectError(f"{what} has the key {exc.args[0]!r} twice in one object") from exc
    except json.JSONDecodeError as exc:
        raise ProjectError(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column "
                           f"{exc.colno})") from exc
    except RecursionError as exc:
        raise ProjectError(f"{what} is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer literal with too many digits
        raise ProjectError(f"{what} is not valid JSON ({exc})") from exc
    check_depth(value, what, max_depth)
    return value


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def check_depth(value: Any, what: str, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise ProjectError(f"{what} is nested more than {max_depth} levels deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


# --- typed readers: `where` is a human path such as "history[3].result.metrics" --------------

def obj(value: Any, where: str, required: set[str], optional: set[str] = frozenset()
        ) -> dict[str, Any]:
    """A JSON object with exactly the required keys and possibly the optional ones."""
    if not isinstance(value, dict):
        raise ProjectError(f"{where} should be an object, found {_kind(value)}")
    missing = required - value.keys()
    if missing:
        raise ProjectError(f"{where} is missing {', '.join(sorted(missing))}")
    unknown = value.keys() - required - optional
    if unknown:
        raise ProjectError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}")
    return value


def string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ProjectError(f"{where} should be a string, found {_kind(value)}")
    return value


def opt_string(value: Any, where: str) -> str | None:
    return None if value is None else string(value, where)


def integer(value: Any, where: str, minimum: int | None = None) -> int:
    if type(value) is not int:
        raise ProjectError(f"{where} should be an integer, found {_kind(value)}")
    if minimum is not None and value < minimum:
        raise ProjectError(f"{where} should be at least {minimum}, found {value}")
    return value


def number(value: Any, where: str, finite: bool = True) -> float:
    if type(value) not in (int, float):
        raise ProjectError(f"{where} should be a number, found {_kind(value)}")
    value = float(value)
    if finite and not math.isfinite(value):
        raise ProjectError(f"{where} should be a finite number, found {value}")
    return value


def array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProjectError(f"{where} should be a list, found {_kind(value)}")
    return value


def number_map(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ProjectError(f"{where} should be an object, found {_kind(value)}")
    return {k: number(v, f"{where}.{k}", finite=False) for k, v in value.items()}


def timestamp(value: Any, where: str) -> datetime:
    text = string(value, where)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ProjectError(f"{where} is not an ISO 8601 time: {text[:40]!r}") from exc
    if parsed.tzinfo is None:
        raise ProjectError(f"{where} has no time zone: {text[:40]!r}")
    return parsed


def format_time(value: datetime) -> str:
    return value.isoformat()


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)
