"""DiffEdit data set: a JSONL or CSV list with `image`, `source_prompt`, `target_prompt` (paths
relative to the list file), optional `mask` (then the mask is the user's) and `id`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdedit_desktop.eval.datasets.files import (
    read_image,
    read_mask,
    read_table,
    row_name,
    row_path,
    row_text,
)
from sdedit_desktop.eval.samples import Sample, SampleError, SampleInputs, safe_ids


def diffedit_samples(path: Path) -> list[Sample]:
    rows = read_table(_list_file(path))
    names = [_name(row, n) for n, row in rows]
    base = _list_file(path).parent
    return [Sample(id=sid, source=f"{path}:{n}", load=_loader(base, row, f"{path}:{n}"))
            for sid, (n, row) in zip(safe_ids(names), rows, strict=True)]


def _list_file(path: Path) -> Path:
    if path.is_dir():
        for name in ("samples.jsonl", "samples.csv", "diffedit.jsonl", "diffedit.csv"):
            if (path / name).is_file():
                return path / name
        raise SampleError(f"{path}: no samples.jsonl or samples.csv in this folder")
    return path


def _name(row: dict[str, Any] | str, line: int) -> str:
    return row_name(row, line)


def _loader(base: Path, row: dict[str, Any] | str, where: str):
    def load() -> SampleInputs:
        if isinstance(row, str):
            raise SampleError(row)
        target = row_text(row, where, "target_prompt", "target")
        if not target.strip():
            raise SampleError(f"{where}: no target_prompt")
        source = row_text(row, where, "source_prompt", "source")
        image = read_image(row_path(base, row, "image", where))
        fields: dict[str, Any] = {"source_prompt": source, "target_prompt": target}
        mask = None
        if row.get("mask"):
            mask = read_mask(row_path(base, row, "mask", where), image)
            fields["mask_mode"] = "user"
        return SampleInputs(image=image, mask=mask, fields=fields,
                            instruction_text=f"{source} → {target}" if source else target)
    return load
