"""The parameter schema: what a request field means to people and which values it accepts.

Every tunable field of a request is declared with `param(...)`, which stores a `ParamInfo` in the
dataclass field's metadata: label, tooltip, range, step/decimals for spin boxes, whether it sits
under "Advanced", the paper's default and the labels of its choices. The method panels
(ui/params.py), the CLI's options (cli/edit_commands.py) and `validate_fields` below are all
generated from it, so a parameter is described once.

`convert` reads a JSON value as a request field's type and `read_params` reads a whole set of
stored parameters (the editor's next-edit values, a project's requests), each value checked by
the same `check_value` as a live request. Pure Python (no torch, no Qt).
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, Field, dataclass, field, fields
from functools import cache
from typing import Any

from sdedit_desktop.core.families import FAMILIES, PREDICTION_TYPES
from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.textsafe import shown

# Request fields the editor gets from the canvas or the engine, not from the parameter panels.
NOT_PARAMS = frozenset({"image", "mask", "model", "points", "region"})
ARRAY_FIELDS = frozenset({"image", "mask"})
# Keys of a request's `params()` that are not dataclass fields.
RECORD_KEYS = frozenset({"kind", "image_sha256", "mask_sha256"})

PARAM_KEY = "sdedit.param"


@dataclass(frozen=True)
class ParamInfo:
    label: str  # short label on the panel
    tip: str  # what the value does (tooltip, CLI help); the paper default is appended
    lo: float | None = None  # smallest allowed value (numbers)
    hi: float | None = None  # largest allowed value (numbers)
    lo_open: bool = False  # lo itself is not allowed (t0 in (0, 1])
    step: float = 1.0  # spin box step
    decimals: int = 2  # spin box decimals (floats)
    advanced: bool = False  # shown under "Advanced" (collapsed by default)
    paper: Any = None  # the paper's value, when the paper gives one
    choices: tuple[tuple[Any, str], ...] = ()  # (value, label) of a choice, in display order
    panel: bool = True  # has a generated widget on its method panel
    cli: bool = True  # has a generated `sdedit KIND --option`
    cli_flag: str | None = None  # the option's name when it is not --field-name

    def tooltip(self) -> str:
        return self.tip if self.paper is None else f"{self.tip} (paper: {self.paper})"

    def range_text(self) -> str:
        if self.lo is None and self.hi is None:
            return ""
        low = "" if self.lo is None else f"{_num(self.lo)} {'<' if self.lo_open else '<='} "
        high = "" if self.hi is None else f" <= {_num(self.hi)}"
        return f"{low}value{high}"


def _shown(value: Any) -> str:
    """A value in a message: repr, on one line, cut (a 5000-digit number is not echoed)."""
    return shown(repr(value), 60)


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def param(default: Any, *, label: str, tip: str, lo: float | None = None,
          hi: float | None = None, lo_open: bool = False, step: float = 1.0, decimals: int = 2,
          advanced: bool = False, paper: Any = None, choices: tuple[tuple[Any, str], ...] = (),
          panel: bool = True, cli: bool = True, cli_flag: str | None = None) -> Any:
    """A request field with its schema entry (use in place of a plain default)."""
    info = ParamInfo(label, tip, lo, hi, lo_open, step, decimals, advanced, paper, choices,
                     panel, cli, cli_flag)
    return field(default=default, metadata={PARAM_KEY: info})


def info_of(f: Field) -> ParamInfo | None:
    return f.metadata.get(PARAM_KEY)


@dataclass(frozen=True)
class SchemaField:
    name: str
    info: ParamInfo
    hint: Any  # the field's resolved type
    default: Any

    @property
    def base_type(self) -> Any:
        """The type without `| None` (int, float, str, or a Literal)."""
        return _without_none(self.hint)

    @property
    def optional(self) -> bool:
        return _allows_none(self.hint)

    @property
    def literal_values(self) -> tuple[Any, ...]:
        base = self.base_type
        return typing.get_args(base) if typing.get_origin(base) is typing.Literal else ()


@cache
def schema(cls: type) -> tuple[SchemaField, ...]:
    """The declared parameters of a request type, in field order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        info = info_of(f)
        if info is None:
            continue
        default = f.default if f.default is not MISSING else None
        out.append(SchemaField(f.name, info, hints[f.name], default))
    return tuple(out)


def schema_field(cls: type, name: str) -> SchemaField:
    for entry in schema(cls):
        if entry.name == name:
            return entry
    raise KeyError(f"{cls.__name__} has no parameter {name!r}")


def _allows_none(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)


def _without_none(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if _allows_none(hint) and len(args) == 1:
        return args[0]
    return hint


def check_value(entry: SchemaField, value: Any) -> None:
    """Raises EditError naming the parameter when `value` is not acceptable for it."""
    name, info = entry.name, entry.info
    if value is None:
        if entry.optional:
            return
        raise EditError(f"{name} must be set")
    base = entry.base_type
    choices = entry.literal_values or tuple(v for v, _ in info.choices)
    if choices:
        if not any(type(value) is type(c) and value == c for c in choices):
            raise EditError(f"unknown {name} {_shown(value)}: expected "
                            f"{' or '.join(repr(c) for c in choices)}")
        return
    if base is str:
        if not isinstance(value, str):
            raise EditError(f"{name} must be text, got {type(value).__name__}")
        return
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EditError(f"{name} must be a whole number, got {_shown(value)}")
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EditError(f"{name} must be a number, got {_shown(value)}")
        if not math.isfinite(value):
            raise EditError(f"{name} must be a finite number, got {_shown(value)}")
    else:
        return
    if info.lo is not None and (value <= info.lo if info.lo_open else value < info.lo):
        bound = "greater than" if info.lo_open else "at least"
        raise EditError(f"{name} must be {bound} {_num(info.lo)}, got {_shown(value)}")
    if info.hi is not None and value > info.hi:
        raise EditError(f"{name} must be at most {_num(info.hi)}, got {_shown(value)}")


def validate_fields(request: Any) -> None:
    """Every declared parameter of `request` is of its type, finite and in its range."""
    for entry in schema(type(request)):
        check_value(entry, getattr(request, entry.name))


# -- stored values ---------------------------------------------------------------------------
@cache
def field_hints(cls: type) -> dict[str, Any]:
    """The resolved type of every request field but the arrays, in field order."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls) if f.name not in ARRAY_FIELDS}


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def convert(value: Any, hint: Any, where: str) -> Any:
    """JSON value -> the Python value of type `hint`, or EditError naming `where`. Types only:
    ranges are `check_value`'s."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if hint is type(None):
        if value is not None:
            raise EditError(f"{where} should be null")
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
            except EditError as exc:
                errors.append(str(exc))
        raise EditError(errors[0] if len(errors) == 1 else
                        f"{where} has the wrong type ({'; '.join(errors)})")
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if not any(type(value) is type(a) and value == a for a in allowed):
            raise EditError(f"{where} should be one of {', '.join(map(repr, allowed))}, "
                            f"found {value!r:.60}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise EditError(f"{where} should be a list, found {_json_kind(value)}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise EditError(f"{where} should have {len(args)} items, found {len(value)}")
        return tuple(convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(
            zip(value, args, strict=True)))
    if hint in (bool, int, str):
        if type(value) is not hint:
            expected = {bool: "true or false", int: "an integer", str: "a string"}[hint]
            raise EditError(f"{where} should be {expected}, found {_json_kind(value)}")
        return value
    if hint is float:
        if type(value) not in (int, float):
            raise EditError(f"{where} should be a number, found {_json_kind(value)}")
        if not math.isfinite(value):
            raise EditError(f"{where} should be a finite number, found {value}")
        return float(value)
    if hint is ModelIdentity:
        # Checked here, kept as a dict: `from_params` builds the ModelIdentity itself. Files
        # written before model families have neither family nor prediction type: SD 1.x, ε.
        data = ModelIdentity.check_dict(value, where)
        for key, known in (("family", FAMILIES), ("prediction_type", PREDICTION_TYPES)):
            if data.get(key) is not None and data[key] not in known:
                raise EditError(f"{where}.{key} {data[key]!r:.40} is not one this version "
                                f"knows ({', '.join(known)})")
        return data
    # A programming error, not bad data: a request field of a type this reader lacks.
    raise TypeError(f"no JSON reader for request field type {hint!r} ({where})")


def read_params(cls: type, params: Any, where: str, skip: frozenset[str] = NOT_PARAMS
                ) -> tuple[dict[str, Any], list[str]]:
    """Stored parameters of a `cls` request (e.g. the editor's next-edit values): every value
    that is of its field's type and in its schema range, and one message per value ignored.
    Keys in `skip` and a request record's own keys (kind, hashes) are passed over."""
    if not isinstance(params, dict):
        return {}, [f"{where} should be an object, found {_json_kind(params)}"]
    hints = {name: hint for name, hint in field_hints(cls).items() if name not in skip}
    declared = {entry.name: entry for entry in schema(cls)}
    clean: dict[str, Any] = {}
    problems = []
    for name, value in params.items():
        if name in RECORD_KEYS or name in skip:
            continue
        if name not in hints:
            problems.append(f"{where} has a parameter this version does not know for a "
                            f"{cls.kind} edit: {name}")
            continue
        try:
            converted = convert(value, hints[name], f"{where}.{name}")
            if name in declared:
                check_value(declared[name], converted)
        except EditError as exc:
            text = str(exc)
            problems.append(text if text.startswith(where) else f"{where}.{name}: {text}")
            continue
        clean[name] = converted
    return clean, problems


def check_params(cls: type, params: Any, where: str) -> dict[str, Any]:
    """`read_params`, strict: EditError with the first problem."""
    clean, problems = read_params(cls, params, where)
    if problems:
        raise EditError(problems[0])
    return clean
