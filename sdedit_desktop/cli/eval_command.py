"""`sdedit eval KIND DATASET --out DIR` for every edit kind with an eval spec, and
`eval report|study|tally`.

The edit options are those of the single-image commands (taken from their parsers, so the two
never drift apart); the fields the kind sweeps become comma-separated lists, the fields its data
supplies are left out, and its metric options are added (all from `EditKind.eval`). Under
`accelerate launch` the same command runs one share per process.
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
from pathlib import Path
from typing import Any

from sdedit_desktop.cli.common import CliError, float_list, whole_number
from sdedit_desktop.edits.kind import EditKind, EvalOption, EvalSpec
from sdedit_desktop.edits.kinds import all_kinds, kind_named
from sdedit_desktop.edits.schema import field_hints, schema_field

# Options of the single-image commands that a batch run does not take from the command line:
# files of one image, and what the data set supplies per sample.
NOT_MIRRORED = {"help", "image", "out", "json_out", "save_trajectory", "save_mask", "mask",
                "points", "method"}
# Mirrored options that choose the model or the execution, not request fields.
NOT_REQUEST = {"model", "device", "dtype", "allow_pickle", "download", "trajectory_batch",
               "quiet", "prediction_type"}


def eval_kinds() -> list[EditKind]:
    return [kind for kind in all_kinds() if kind.eval is not None]


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers of at least 1, got {text!r}")
    return values


def bounded_whole_number(option: EvalOption):
    """The argparse type of a whole-number metric option with bounds."""
    lo, hi = option.bounds or (None, None)

    def parse(text: str) -> int:
        value = whole_number(text)
        if lo is not None and not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected {lo} to {hi}, got {value}")
        return value
    return parse


def _edit_parsers() -> dict[str, argparse.ArgumentParser]:
    from sdedit_desktop.cli import edit_commands

    commands = argparse.ArgumentParser(add_help=False).add_subparsers()
    edit_commands.register(commands)
    return dict(commands.choices)


def _mirror(source: argparse.ArgumentParser, target: argparse.ArgumentParser,
            skip: set[str]) -> dict[str, Any]:
    """Add `source`'s options to `target` (same flags, types, defaults, help) except `skip`;
    returns the request-field dests added with their defaults. Each option is a copy: changing
    one here (its default, its help) leaves the single-image command as it is."""
    dests = {}
    for action in source._actions:
        if action.dest in skip or not action.option_strings:
            continue
        target._add_action(copy.copy(action))
        if action.dest not in NOT_REQUEST:
            dests[action.dest] = action.default
    return dests


def _preset_help(spec: EvalSpec) -> str:
    texts = [f"{name}: " + ", ".join(f"{k}={v}" for k, v in values.items())
             for name, values in spec.presets.items()]
    return ("the settings of a published evaluation as its official script ran it ("
            + "; ".join(texts) + "); options you set to other values than their defaults "
            "override it")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="batch runs over data sets, SDE vs ODE (accelerate-aware)")
    kinds = p.add_subparsers(dest="eval_command", required=True, parser_class=type(p))
    edit_parsers = _edit_parsers()
    for kind in eval_kinds():
        spec = kind.eval
        q = kinds.add_parser(kind.name, help=f"run {kind.name} over a data set: {spec.layout}")
        q.add_argument("dataset", type=Path, help=spec.layout)
        q.add_argument("--out", type=Path, required=True,
                       help="run folder (resumable: finished samples are skipped)")
        q.add_argument("--method", choices=("sde", "ode"), action="append", dest="methods",
                       help="run only this form (repeatable; default: both)")
        q.add_argument("--replace", action="store_true",
                       help="redo the run already in --out with these settings (without it, a "
                            "folder holding a run of other settings is refused)")
        dests = _mirror(edit_parsers[kind.name], q,
                        NOT_MIRRORED | spec.from_data | set(spec.sweeps))
        for name, (values, what) in spec.sweeps.items():
            whole = schema_field(kind.request_type, name).base_type is int
            q.add_argument("--" + name.replace("_", "-"), type=int_list if whole else float_list,
                           default=list(values), dest=f"{name}_list",
                           help=f"comma-separated {what} to sweep (default "
                                f"{','.join(map(str, values))})")
        for name, (value, text) in spec.defaults.items():
            _set_option(q, name, value, text)
        for option in spec.options:
            q.add_argument("--" + option.name.replace("_", "-"), default=option.default,
                           type=bounded_whole_number(option) if option.type is int
                           else option.type, metavar=option.metavar, help=option.help)
        if spec.presets:
            q.add_argument("--preset", choices=tuple(spec.presets), default=None,
                           help=_preset_help(spec))
        q.set_defaults(handler=_run, eval_kind=kind.name, request_dests=dests)

    q = kinds.add_parser("report", help="rewrite a run folder's reports from its records")
    q.add_argument("run", type=Path)
    q.set_defaults(handler=_report)
    q = kinds.add_parser("study", help="write the blind 2AFC user-study pages of a run")
    q.add_argument("run", type=Path)
    q.add_argument("--seed", type=int, default=0,
                   help="draws which result gets which neutral name (per participant order "
                        "and sides are drawn from the study and the participant id)")
    q.add_argument("--question", default=None, help="the question shown to participants")
    q.add_argument("--participants", default="20", metavar="N|ID,ID,...",
                   help="a number of participants (ids p01, p02, ...) or their ids; each gets "
                        "a page with their own question order and sides (default 20)")
    q.set_defaults(handler=_study)
    q = kinds.add_parser("tally", help="count the answers of the user study")
    q.add_argument("run", type=Path)
    q.add_argument("answers", type=Path, nargs="+", help="answers files saved by the page")
    q.set_defaults(handler=_tally)


def _set_option(parser: argparse.ArgumentParser, dest: str, default: Any, help_text: str
                ) -> None:
    """Give a mirrored option this command's own default and help."""
    for action in parser._actions:
        if action.dest == dest:
            action.default, action.help = default, help_text


def request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The request keyword arguments from the command line (unset ones keep the defaults); with
    `--preset NAME`, the preset's values for every option left at its default."""
    common = {d: getattr(args, d) for d in args.request_dests if getattr(args, d) is not None}
    preset = getattr(args, "preset", None)
    if preset is not None:
        for name, value in kind_named(args.eval_kind).eval.presets[preset].items():
            if common.get(name) == args.request_dests.get(name):
                common[name] = value
    if "max_side" in common:
        common["max_side"] = common["max_side"] or None  # 0 = no limit, as the single commands
    if "dtype" in field_hints(kind_named(args.eval_kind).request_type):
        # A request's latent precision follows the model's --dtype (float64 only on request).
        common["dtype"] = "float64" if args.dtype == "float64" else "float32"
    return common


def sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    from sdedit_desktop.eval.tasks import setting_grid

    sweeps = kind_named(args.eval_kind).eval.sweeps
    return setting_grid({name: getattr(args, f"{name}_list") for name in sweeps})


def _check_out_folder(out: Path) -> None:
    """--out must be a folder this process can create files in, before the model loads (a
    read-only folder holding an earlier run included)."""
    if out.exists() and not out.is_dir():
        raise CliError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".write-test.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CliError(f"{out}: cannot write into the folder ({exc.strerror or exc})") from None


def _run(args: argparse.Namespace) -> int:
    from sdedit_desktop.cli.edit_commands import cli_lora_provider, load_cli_model
    from sdedit_desktop.edits import ExecutionOptions
    from sdedit_desktop.eval.datasets import DatasetError
    from sdedit_desktop.eval.metrics.base import MetricOptions
    from sdedit_desktop.eval.metrics.dift_model import FeatureModelError
    from sdedit_desktop.eval.processes import accelerate_processes
    from sdedit_desktop.eval.report.run_folder import ReportError
    from sdedit_desktop.eval.run_settings import RunConflictError
    from sdedit_desktop.eval.runner import EvalConfig, run_evaluation
    from sdedit_desktop.eval.samples import SampleError
    from sdedit_desktop.eval.store import RunFolderError

    _check_out_folder(args.out)
    processes = accelerate_processes(args.device)
    model_args = argparse.Namespace(**vars(args))
    if args.device == "auto" and processes.device is not None:
        model_args.device = processes.device  # one accelerator per process
    batch = getattr(args, "trajectory_batch", None)
    # The kind's metric options, as given (unset ones keep MetricOptions' defaults).
    chosen = {o.name: getattr(args, o.name) for o in kind_named(args.eval_kind).eval.options}
    metrics = MetricOptions(**{k: v for k, v in chosen.items() if v is not None})
    config = EvalConfig(kind=args.eval_kind, dataset=args.dataset, out=args.out,
                        methods=tuple(dict.fromkeys(args.methods or ("sde", "ode"))),
                        settings=sweep(args), common=request_options(args),
                        options=None if batch is None else ExecutionOptions(
                            trajectory_batch=batch),
                        metrics=metrics, model_source=args.model, replace=args.replace,
                        show_progress=not args.quiet)
    try:
        summary = run_evaluation(config, processes, lambda: load_cli_model(model_args),
                                 lora=cli_lora_provider(config.common.get("lora", "off")))
    except (DatasetError, SampleError, RunConflictError, FeatureModelError, ReportError,
            RunFolderError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:  # a full disk, a folder made read-only during the run
        raise CliError(f"{args.out}: cannot write the run ({exc.strerror or exc})") from None
    if summary is not None and not args.quiet:
        print(f"{summary['ok']}/{summary['tasks']} tasks ok, {summary['failed']} failed "
              f"({summary['this_run']['ran']} edited now); report: {args.out / 'results.md'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from sdedit_desktop.eval.report.merge import merge_run
    from sdedit_desktop.eval.report.run_folder import ReportError
    from sdedit_desktop.eval.store import RunFolderError, RunStore

    store = RunStore(args.run)
    try:
        summary = merge_run(store)
    except (ReportError, RunFolderError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{args.run}: cannot write the reports ({exc.strerror or exc})") \
            from None
    print(f"{summary['ok']}/{summary['tasks']} tasks ok, {summary['failed']} failed; "
          f"report: {args.run / 'results.md'}")
    return 0


def _study(args: argparse.Namespace) -> int:
    from sdedit_desktop.eval.report.run_folder import ReportError
    from sdedit_desktop.eval.report.user_study import (
        DEFAULT_QUESTION,
        StudyError,
        participant_ids,
        write_study,
    )
    from sdedit_desktop.eval.store import RunFolderError, RunStore

    try:
        page = write_study(RunStore(args.run), args.seed, args.question or DEFAULT_QUESTION,
                           participants=participant_ids(args.participants))
    except (ReportError, StudyError, RunFolderError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{args.run}: cannot write the study ({exc.strerror or exc})") from None
    print(f"study pages: {page} (one page per participant; each saves answers-<id>.json)")
    return 0


def _tally(args: argparse.Namespace) -> int:
    from sdedit_desktop.eval.report.user_study import StudyError, tally
    from sdedit_desktop.eval.store import RunStore

    try:
        result = tally(RunStore(args.run), args.answers)
    except StudyError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{args.run}: cannot write study/tally.json ({exc.strerror or exc})") \
            from None
    print(f"{result['answers']} answers from {result['participants']} participants")
    for method, stat in result["methods"].items():
        share = "-" if stat["share"] is None else f"{stat['share']:.1%}"
        ci = "" if not stat["ci95"] else \
            f" (95% CI {stat['ci95'][0]:.1%}-{stat['ci95'][1]:.1%}, bootstrap over " \
            "participants and questions)"
        print(f"{method.upper()} preferred in {share} of the answers, {stat['votes']} votes{ci}")
    return 0
