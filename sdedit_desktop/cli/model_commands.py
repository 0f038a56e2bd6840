"""`sdedit models list|download|verify`: what is installed, get SD 1.5, check downloaded files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sdedit_desktop.cli import CliError
from sdedit_desktop.textsafe import shown


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser("models", help="list, download and verify models",
                                   description="Models: list, download, verify.")
    sub = models.add_subparsers(dest="models_command", required=True,
                                parser_class=type(models))
    p = sub.add_parser("list", help="known models and whether they are downloaded")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("download", help="download a model into the Hugging Face cache (resumes)")
    p.add_argument("model", nargs="?", default=None,
                   help="hub id (default: stable-diffusion-v1-5/stable-diffusion-v1-5)")
    p.add_argument("--variant", default=None,
                   help="weight variant: fp32 (default, ~4.3 GB) or fp16 (~2.1 GB)")
    p.add_argument("--revision", default="main", help="branch, tag or commit (default main)")
    p.set_defaults(handler=cmd_download)

    p = sub.add_parser("verify", help="check a downloaded model, a folder or a .safetensors file")
    p.add_argument("source", nargs="?", default=None,
                   help="hub id, diffusers folder or .safetensors file (default: SD 1.5)")
    p.add_argument("--variant", default=None, help="fp32 or fp16 (default: what is present)")
    p.add_argument("--config-dir", type=Path, default=None,
                   help="for a single file: the diffusers folder whose configs give the "
                        "architecture (default: the bundled configs of the file's family, as "
                        "loading uses)")
    p.set_defaults(handler=cmd_verify)


def _size(n: int | None) -> str:
    from sdedit_desktop.models.hub_progress import format_bytes

    return format_bytes(n)


def cmd_list(args: argparse.Namespace) -> int:
    from sdedit_desktop.models.errors import ModelError
    from sdedit_desktop.models.hub import find_snapshot, hub_cache_dir, partial_download_bytes
    from sdedit_desktop.models.manifest import detect_variant, load_manifest, verify_folder

    print(f"Hugging Face cache: {hub_cache_dir()}")
    for model in load_manifest().values():
        try:
            snapshot = find_snapshot(model.hub_id, model.revision)
        except ModelError:
            kept = partial_download_bytes(model.hub_id)
            state = (f"partly downloaded ({_size(kept)} kept) — `sdedit models download` "
                     "resumes it" if kept else "not downloaded — `sdedit models download` gets it")
            print(f"{model.hub_id}  ({model.name}): {state}")
            continue
        variant = detect_variant(snapshot.path, model)
        report = verify_folder(snapshot.path, model, variant)
        size = sum(c.size or 0 for c in report.checks)
        state = "complete" if report.ok else "INCOMPLETE — run `sdedit models download` to finish"
        print(f"{model.hub_id}  ({model.name}): {state}, variant {variant}, {_size(size)}, "
              f"revision {snapshot.revision[:12]}\n    {snapshot.path}")
    print("tiny  (random tiny model for tests and demos): built in, always available")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from sdedit_desktop.cli.download_display import DownloadDisplay
    from sdedit_desktop.models.errors import ModelError
    from sdedit_desktop.models.hub import DownloadPlan, download_model, partial_download_bytes
    from sdedit_desktop.models.manifest import default_model, known_model_for_hub_id, verify_folder

    repo = args.model or default_model().hub_id
    known = known_model_for_hub_id(repo)
    if known and args.variant and args.variant not in known.variants:
        raise CliError(f"unknown variant {args.variant!r}: use {' or '.join(known.variants)}")
    display = DownloadDisplay()

    def announce(plan: DownloadPlan) -> None:
        variant = args.variant or (known.default_variant if known else "default")
        print(f"{repo} (variant {variant}): {len(plan.files)} files, {_size(plan.total_bytes)}; "
              f"{_size(plan.needed_bytes)} to fetch into {plan.cache} "
              f"({_size(plan.free_bytes)} free)", flush=True)

    try:
        snapshot = download_model(repo, revision=args.revision, variant=args.variant,
                                  progress=display, plan=announce)
    except ModelError as exc:
        display.close()
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:  # Ctrl+C: what arrived stays for the next run
        display.close()
        kept = partial_download_bytes(repo)
        print(f"sdedit: download stopped; {_size(kept)} of {repo} kept in the cache: run "
              f"`sdedit models download {repo}` again to resume", file=sys.stderr)
        return 130
    display.close()
    print(f"downloaded {repo} at revision {snapshot.revision} to {snapshot.path}")
    if known:
        report = verify_folder(snapshot.path, known, args.variant)
        _print_report(report)
        return 0 if report.ok else 1
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from sdedit_desktop.models.errors import ModelError
    from sdedit_desktop.models.hub import find_snapshot, is_hub_id
    from sdedit_desktop.models.manifest import (
        default_model,
        known_model_for_family,
        known_model_for_hub_id,
        verify_folder,
    )

    source = args.source or default_model().hub_id
    path = Path(source).expanduser()
    try:
        if path.is_file():
            return _verify_file(path, args.config_dir)
        if path.is_dir():
            from sdedit_desktop.models.folder import folder_family

            family = folder_family(path) if (path / "unet").is_dir() else None
            known = known_model_for_family(family.name) if family else default_model()
            report = verify_folder(path, known, args.variant)
        elif is_hub_id(source):
            snapshot = find_snapshot(source)
            report = verify_folder(snapshot.path, known_model_for_hub_id(source) or default_model(),
                                   args.variant)
        else:
            raise CliError(f"no such file or folder, and not a hub id: {source}")
    except ModelError as exc:
        raise CliError(str(exc)) from None
    _print_report(report)
    return 0 if report.ok else 1


def _print_report(report) -> None:
    print(f"{report.folder} (variant {report.variant}):")
    for check in report.checks:
        mark = "ok " if check.ok else "BAD"
        size = f" [{_size(check.size)}]" if check.size is not None else ""
        print(f"  {mark} {check.file}{size}: {check.message}")
    print("all files complete" if report.ok else
          "problems found: run `sdedit models download` again (it resumes and replaces "
          "broken files) or replace the files named above")


def _verify_file(path: Path, config_dir: Path | None = None) -> int:
    """A single checkpoint: complete safetensors, and the layout of a family we load."""
    from sdedit_desktop.models.errors import ModelError
    from sdedit_desktop.models.single_file import check_checkpoint_header
    from sdedit_desktop.models.weights import PICKLE_SUFFIXES, safetensors_header, sniff_format

    try:
        pickled = path.suffix.lower() in PICKLE_SUFFIXES or sniff_format(path) == "pickle"
    except ModelError as exc:
        print(f"BAD {path.name}: {shown(exc, None)}")
        return 1
    if pickled:
        print(f"BAD {path.name}: a pickle checkpoint; it cannot be checked without loading it "
              "(which can run code). Prefer a .safetensors file.")
        return 1
    try:
        header = safetensors_header(path)
        # Everything loading would refuse (layout, architecture, every tensor's shape).
        family = check_checkpoint_header(header, path, config_dir)
    except ModelError as exc:
        print(f"BAD {path.name}: {shown(exc, None)}")
        return 1
    keys = [k for k in header if k != "__metadata__"]
    print(f"ok  {path.name}: complete ({_size(path.stat().st_size)}, {len(keys)} tensors), "
          f"{family.info.label} layout")
    return 0
