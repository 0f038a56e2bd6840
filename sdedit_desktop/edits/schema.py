"""The parameter schema: what a request field means to people and which values it accepts.

Every tunable field of a request is declared with `param(...)`, which stores a `ParamInfo` in the
dataclass field's metadata: label, tooltip, range, step/decimals for spin boxes, whether it sits
under "Advanced", the paper's default and the labels of its choices. The method panels
(ui/params.py), the CLI's options (cli/edit_commands.py) and `validate_fields` below are all
generated from it, so a parameter is described once. Pure Python (no torch, no Qt).
"""

from __future__ import annotations

import math
import typing
from dataclasses import MISSING, Field, dataclass, field, fields
from functools import cache
from typing import Any

from sdedit_desktop.core.progress import EditError
from sdedit_desktop.textsafe import shown

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
