"""`sdedit eval drag|inpaint|diffedit|reconstruct DATASET --out DIR`, `eval report|study|tally`.

The edit options are those of the single-image commands (taken from their parsers, so the two
never drift apart); a few become comma-separated lists that the run sweeps. Under
`accelerate launch` the same command runs one share per process.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sdedit_desktop.cli.common import CliError, float_list

KINDS = ("drag", "inpaint", "diffedit", "reconstruct")

# Options of the single-image commands that a batch run does not take from the command line:
# files of one image, and what the data set supplies per sample.
NOT_MIRRORED = {"help", "image", "out", "json_out", "save_trajectory", "save_mask", "mask",
                "points", "method"}
FROM_DATA = {"drag": {"prompt"}, "inpaint": {"steps", "order"},
             "diffedit": {"source_prompt", "target_prompt", "encode_ratio"},
             "reconstruct": {"prompt"}}
# Mirrored options that choose the model or the execution, not request fields.
NOT_REQUEST = {"model", "device", "dtype", "allow_pickle", "download", "trajectory_batch",
               "quiet", "prediction_type"}

LAYOUTS = {
    "drag": "folders (at any depth) in SDE-Drag's DragBench layout (origin_image.png, "
            "prompt.json, optional mask.png) or DragDiffusion's (original_image.png, "
            "meta_data.pkl)",
    "inpaint": "images/ + masks/ paired by stem, or a.png + a_mask.png in one folder",
    "diffedit": "a JSONL/CSV list (or a folder with samples.jsonl/.csv) of image, "
                "source_prompt, target_prompt[, mask]",
    "reconstruct": "a folder of images with optional <stem>.txt captions, or a JSONL/CSV list "
                   "of image, caption",
}


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers of at least 1, got {text!r}")
    return values


def _edit_parsers() -> dict[str, argparse.ArgumentParser]:
    from sdedit_desktop.cli import edit_commands

    commands = argparse.ArgumentParser(add_help=False).add_subparsers()
    edit_commands.register(commands)
    return {name: parser for name, parser in commands.choices.items() if name in KINDS}


def _mirror(source: argparse.ArgumentParser, target: argparse.ArgumentParser,
            skip: set[str]) -> list[str]:
    """Add `source`'s options to `target` (same flags, types, defaults, help) except `skip`;
    returns the request-field dests added."""
    dests = []
    for action in source._actions:
        if action.dest in skip or not action.option_strings:
            continue
        target._add_action(action)
        if action.dest not in NOT_REQUEST:
            dests.append(action.dest)
    return dests


def register(sub: argparse._SubParsersAction) -> None:
    from sdedit_desktop.eval.datasets.inpaint import DEFAULT_INPAINT_PROMPT

    p = sub.add_parser("eval", help="batch runs over data sets, SDE vs ODE (accelerate-aware)")
    kinds = p.add_subparsers(dest="eval_command", required=True, parser_class=type(p))
    edit_parsers = _edit_parsers()
    for kind in KINDS:
        q = kinds.add_parser(kind, help=f"run {kind} over a data set: {LAYOUTS[kind]}")
        q.add_argument("dataset", type=Path, help=LAYOUTS[kind])
        q.add_argument("--out", type=Path, required=True,
                       help="run folder (resumable: finished samples are skipped)")
        q.add_argument("--method", choices=("sde", "ode"), action="append", dest="methods",
                       help="run only this form (repeatable; default: both)")
        dests = _mirror(edit_parsers[kind], q, NOT_MIRRORED | FROM_DATA[kind])
        if kind == "inpaint":
            q.add_argument("--steps", type=int_list, default=[25, 50, 100], dest="steps_list",
                           help="comma-separated step counts to sweep (default 25,50,100)")
            q.add_argument("--order", type=int_list, default=[1, 2], dest="order_list",
                           help="solver orders to sweep (default 1,2)")
            q.set_defaults(prompt=DEFAULT_INPAINT_PROMPT)
        if kind == "diffedit":
            q.add_argument("--encode-ratio", type=float_list, default=[0.7],
                           dest="encode_ratio_list", help="encode ratios to sweep (default 0.7)")
        if kind == "drag":
            q.add_argument("--dift-ensemble", type=int, default=8,
                           help="noise draws averaged for the DIFT features (DragBench: 8)")
            q.add_argument("--dift-model", default=None,
                           help="take the DIFT features from this model (any --model: e.g. "
                                "SD 2.1, as DIFT's paper, to compare models of different "
                                "families on one scale; default: the edited model)")
        q.set_defaults(handler=_run, eval_kind=kind, request_dests=dests)

    q = kinds.add_parser("report", help="rewrite a run folder's reports from its records")
    q.add_argument("run", type=Path)
    q.set_defaults(handler=_report)
    q = kinds.add_parser("study", help="write the blind 2AFC user-study page of a run")
    q.add_argument("run", type=Path)
    q.add_argument("--seed", type=int, default=0, help="draws left/right per question")
    q.add_argument("--question", default=None, help="the question shown to participants")
    q.set_defaults(handler=_study)
    q = kinds.add_parser("tally", help="count the answers of the user study")
    q.add_argument("run", type=Path)
    q.add_argument("answers", type=Path, nargs="+", help="answers files saved by the page")
    q.set_defaults(handler=_tally)


def request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The request keyword arguments from the command line (unset ones keep the defaults)."""
    common = {d: getattr(args, d) for d in args.request_dests if getattr(args, d) is not None}
    if "max_side" in common:
        common["max_side"] = args.max_side or None  # 0 = no limit, as in the single commands
    if args.eval_kind == "reconstruct":
        common["dtype"] = "float64" if args.dtype == "float64" else "float32"
    return common


def sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    from sdedit_desktop.eval.tasks import setting_grid

    if args.eval_kind == "inpaint":
        return setting_grid({"steps": args.steps_list, "order": args.order_list})
    if args.eval_kind == "diffedit":
        return setting_grid({"encode_ratio": args.encode_ratio_list})
    return [{}]


def _run(args: argparse.Namespace) -> int:
    from sdedit_desktop.cli.edit_commands import cli_lora_provider, load_cli_model
    from sdedit_desktop.edits import ExecutionOptions
    from sdedit_desktop.eval.datasets import DatasetError
    from sdedit_desktop.eval.processes import accelerate_processes
    from sdedit_desktop.eval.runner import EvalConfig, run_evaluation
    from sdedit_desktop.eval.samples import SampleError

    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"{args.out}: exists and is not a folder")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{args.out}: cannot create the folder ({exc.strerror})") from None
    processes = accelerate_processes(args.device)
    model_args = argparse.Namespace(**vars(args))
    if args.device == "auto" and processes.device is not None:
        model_args.device = processes.device  # one accelerator per process
    batch = getattr(args, "trajectory_batch", None)
    config = EvalConfig(kind=args.eval_kind, dataset=args.dataset, out=args.out,
                        methods=tuple(dict.fromkeys(args.methods or ("sde", "ode"))),
                        settings=sweep(args), common=request_options(args),
                        options=None if batch is None else ExecutionOptions(
                            trajectory_batch=batch),
                        dift_ensemble=getattr(args, "dift_ensemble", 8),
                        show_progress=not args.quiet,
                        dift_model=getattr(args, "dift_model", None))
    feature_args = None
    if config.dift_model is not None:
        feature_args = argparse.Namespace(**{**vars(model_args), "model": config.dift_model,
                                             "prediction_type": None})
    try:
        summary = run_evaluation(
            config, processes, lambda: load_cli_model(model_args), lora=cli_lora_provider(args),
            load_feature_model=None if feature_args is None else
            (lambda: load_cli_model(feature_args)))
    except (DatasetError, SampleError) as exc:
        raise CliError(str(exc)) from None
    if summary is not None and not args.quiet:
        print(f"{summary['ok']}/{summary['tasks']} tasks ok, {summary['failed']} failed "
              f"({summary['this_run']['ran']} edited now); report: {args.out / 'results.md'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from sdedit_desktop.eval.metrics.scoring import unavailable_metrics
    from sdedit_desktop.eval.report.merge import ReportError, load_rows, merge_run
    from sdedit_desktop.eval.store import RunStore

    store = RunStore(args.run)
    try:
        run, _rows = load_rows(store)
        summary = merge_run(store, unavailable_metrics(run["kind"]))
    except ReportError as exc:
        raise CliError(str(exc)) from None
    print(f"{summary['ok']}/{summary['tasks']} tasks ok, {summary['failed']} failed; "
          f"report: {args.run / 'results.md'}")
    return 0


def _study(args: argparse.Namespace) -> int:
    from sdedit_desktop.eval.report.merge import ReportError
    from sdedit_desktop.eval.report.user_study import DEFAULT_QUESTION, StudyError, write_study
    from sdedit_desktop.eval.store import RunStore

    try:
        page = write_study(RunStore(args.run), args.seed, args.question or DEFAULT_QUESTION)
    except (ReportError, StudyError) as exc:
        raise CliError(str(exc)) from None
    print(f"study page: {page} (answers are saved by the page as answers.json)")
    return 0


def _tally(args: argparse.Namespace) -> int:
    from sdedit_desktop.eval.report.user_study import StudyError, tally
    from sdedit_desktop.eval.store import RunStore

    try:
        result = tally(RunStore(args.run), args.answers)
    except StudyError as exc:
        raise CliError(str(exc)) from None
    for key, value in sorted(result.items()):
        if key.endswith("_preferred"):
            low, high = value["ci95"]
            print(f"{key[:-len('_preferred')].upper()} preferred in {value['share']:.1%} of "
                  f"{result['answers']} answers (95% CI {low:.1%}-{high:.1%})")
    return 0
