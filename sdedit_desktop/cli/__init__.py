"""`sdedit`: the headless entry point over the same edits/ code as the GUI.

Each sub-command lives in its own module exposing `register(subparsers)`; the handler it sets
returns an exit code. User errors (`CliError`) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sdedit_desktop import __version__
from sdedit_desktop.textsafe import shown

# Modules that add sub-commands, in help order. A missing module is skipped so that a partial
# install still runs the commands it has.
COMMAND_MODULES = (
    "sdedit_desktop.cli.edit_commands",
    "sdedit_desktop.cli.theory_command",
    "sdedit_desktop.cli.model_commands",
    "sdedit_desktop.cli.lora_commands",
    "sdedit_desktop.cli.project_commands",
    "sdedit_desktop.cli.bench_command",
    "sdedit_desktop.cli.eval_command",
)


class CliError(Exception):
    """A user error: bad argument, bad file. Printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default prints usage; keep it to one line
        raise CliError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sdedit", description="SDE-based diffusion image editing, headless.")
    parser.add_argument("--version", action="version", version=f"sdedit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


# Options whose value may start with "-" ("-5,10:20,20"): argparse would take such a value for
# an option and answer "expected one argument", so "--points -5,..." is read as "--points=-5,...".
DASH_VALUE_OPTIONS = ("--points", "--region")


def attach_dash_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        value = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in DASH_VALUE_OPTIONS and value[:1] == "-" and value[1:2].isdigit():
            out.append(f"{token}={value}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    try:
        argv = attach_dash_values(sys.argv[1:] if argv is None else argv)
        args = build_parser().parse_args(argv)
        return int(args.handler(args) or 0)
    except CliError as exc:
        # One line, whatever file-supplied text the message quotes.
        print(f"sdedit: error: {shown(exc, limit=None)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sdedit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
