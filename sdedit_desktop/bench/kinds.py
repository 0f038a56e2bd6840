"""The edit kinds `sdedit bench` times: those with a bench case (torch-free, so the CLI can list
them without loading torch)."""

from __future__ import annotations

from sdedit_desktop.edits.kinds import all_kinds


def bench_kinds() -> tuple[str, ...]:
    return tuple(k.name for k in all_kinds() if k.bench_case is not None)
