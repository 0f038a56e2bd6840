"""`sdedit project info|validate|export`: inspect and check `.sdeproj` files without the GUI."""

from __future__ import annotations

import argparse
from pathlib import Path

from sdedit_desktop.cli.common import CliError, Output, check_outputs
from sdedit_desktop.project import (
    FileInfo,
    Project,
    ProjectError,
    export_history,
    export_result_png,
    jsonio,
    load_project_with_info,
)
from sdedit_desktop.project.summary import format_summary, summarize


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("project", help="inspect, validate or export .sdeproj project files",
                       description="Work with .sdeproj project files (read-only on the file).")
    commands = p.add_subparsers(dest="project_command", required=True,
                                parser_class=type(p))
    info = commands.add_parser("info", help="summary of a project file")
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(handler=run_info)

    validate = commands.add_parser("validate", help="check a project file completely "
                                   "(exit 0 if sound, 2 with the reason if not)")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=run_validate)

    export = commands.add_parser("export", help="export the history as a folder of images + "
                                 "JSON, or one result as a PNG with its parameters")
    export.add_argument("file", type=Path)
    export.add_argument("--out", type=Path, required=True,
                        help="new (or empty) folder; with --entry, the PNG file to write")
    export.add_argument("--entry", help="history entry id (or 1-based number) to export as PNG")
    export.set_defaults(handler=run_export)


def _load(path: Path) -> tuple[Project, FileInfo]:
    try:
        return load_project_with_info(path)
    except ProjectError as exc:
        raise CliError(f"{path}: {exc.reason}") from None


def run_info(args: argparse.Namespace) -> int:
    project, info = _load(args.file)
    summary = summarize(project, info)
    # jsonio.dumps writes even strings a UTF-8 encoder refuses (as \u escapes).
    print(jsonio.dumps(summary).decode("utf-8") if args.json else format_summary(summary))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    project, info = _load(args.file)
    print(f"{args.file}: OK (format version {info.format_version}, {len(project.history)} "
          f"edit(s), {len(project.loras)} embedded LoRA(s))")
    return 0


def run_export(args: argparse.Namespace) -> int:
    if args.entry is None:
        check_outputs(Output(args.out, "--out", folder=True))
    else:
        check_outputs(Output(args.out, "--out", (".png",)))
    project, _ = _load(args.file)
    try:
        if args.entry is None:
            print(export_history(project, args.out))
            return 0
        entry = project.find_entry(args.entry)
        number = args.entry.isascii() and args.entry.isdigit()  # not "²" or "٣"
        if entry is None and number and 1 <= int(args.entry) <= len(project.history):
            entry = project.history[int(args.entry) - 1]
        if entry is None:
            raise CliError(f"no history entry {args.entry!r} in {args.file} (see `sdedit "
                           "project info`)")
        print(export_result_png(entry, args.out))
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    return 0
