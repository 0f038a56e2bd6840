"""Argument parsing helpers shared by the sub-commands, and the one check of their outputs."""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path

from sdedit_desktop.cli import CliError
from sdedit_desktop.textsafe import shown

__all__ = ["CliError", "Output", "check_outputs", "check_range", "float_list", "shown_value",
           "trajectory_batch", "whole_number"]


def whole_number(text: str) -> int:
    """An option's whole number (its range is the request's, or the option's, to check)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {shown_value(text)}") from None


def float_list(text: str) -> list[float]:
    """Comma-separated finite numbers (nan and inf are refused: they only make NaN results)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {shown_value(text)}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {shown_value(text)}")
    return values


def check_range(name: str, value: int | float, low: float, high: float) -> None:
    """A CliError unless low <= value <= high (NaN is never in range)."""
    if not low <= value <= high:
        raise CliError(f"{name} must be between {low:g} and {high:g}, got {shown_value(value)}")


def trajectory_batch(text: str) -> int:
    """--trajectory-batch: checked by the engine's own rule (edits/options.py)."""
    from sdedit_desktop.edits.options import check_trajectory_batch
    from sdedit_desktop.edits.progress import EditError

    value = whole_number(text)
    try:
        return check_trajectory_batch(value)
    except EditError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def shown_value(value: object, limit: int = 60) -> str:
    """A value the user typed, quoted for an error message and cut to `limit` characters: a
    5000-digit number is not echoed whole."""
    return shown(repr(value) if isinstance(value, str) else value, limit)


@dataclass(frozen=True)
class Output:
    """One output path of a command: the option that named it, the extensions it may have
    (None = any) and whether it is a folder the command creates or fills."""

    path: Path | None
    option: str
    suffixes: tuple[str, ...] | None = None
    folder: bool = False


def check_outputs(*outputs: Output) -> None:
    """Every output of a command checked at once, before anything slow runs (a model load, an
    edit): extension, folder, name length, what already stands there, writability, and no two
    options naming the same file. Raises CliError naming the option."""
    from sdedit_desktop.filesave import check_output_folder, check_output_path

    seen: dict[Path, str] = {}
    for out in outputs:
        if out.path is None:
            continue
        try:
            if out.folder:
                check_output_folder(out.path)
            else:
                check_output_path(out.path, suffixes=out.suffixes)
        except OSError as exc:
            raise CliError(f"{out.option} {exc}") from None
        key = Path(os.path.abspath(out.path))
        if key in seen:
            raise CliError(f"{seen[key]} and {out.option} name the same file {out.path}: one "
                           "would overwrite the other")
        seen[key] = out.option
