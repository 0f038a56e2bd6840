"""Argument parsing helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import math

from sdedit_desktop.cli import CliError

__all__ = ["CliError", "check_range", "float_list"]


def float_list(text: str) -> list[float]:
    """Comma-separated finite numbers (nan and inf are refused: they only make NaN results)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def check_range(name: str, value: int | float, low: float, high: float) -> None:
    """A CliError unless low <= value <= high (NaN is never in range)."""
    if not low <= value <= high:
        raise CliError(f"{name} must be between {low:g} and {high:g}, got {value}")
