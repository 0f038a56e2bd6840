"""Argument parsing helpers shared by the sub-commands."""

from __future__ import annotations

import argparse

from sdedit_desktop.cli import CliError

__all__ = ["CliError", "float_list"]


def float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}") from None
