"""Reconstruction data set: images with captions. Either a folder of images, each with an
optional `<stem>.txt` caption, or a JSONL/CSV list with `image` and `caption` (or `prompt`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdedit_desktop.eval.datasets.files import (
    is_image_file,
    read_image,
    read_table,
    read_text,
    row_name,
    row_path,
    row_text,
)
from sdedit_desktop.eval.samples import Sample, SampleError, SampleInputs, safe_ids


def reconstruct_samples(path: Path) -> list[Sample]:
    if path.is_file():
        rows = read_table(path)
        names = [row_name(row, n) for n, row in rows]
        return [Sample(id=sid, source=f"{path}:{n}", load=_row_loader(path.parent, row,
                                                                      f"{path}:{n}"))
                for sid, (n, row) in zip(safe_ids(names), rows, strict=True)]
    images = sorted(p for p in path.iterdir() if is_image_file(p))
    return [Sample(id=sid, source=str(img), load=_file_loader(img))
            for sid, img in zip(safe_ids([p.stem for p in images]), images, strict=True)]


def _file_loader(image_path: Path):
    def load() -> SampleInputs:
        caption_path = image_path.with_suffix(".txt")
        # read_text refuses a FIFO or a device under the caption's name instead of waiting
        caption = read_text(caption_path).strip() if caption_path.exists() else ""
        return SampleInputs(image=read_image(image_path), fields={"prompt": caption},
                            instruction_text=caption)
    return load


def _row_loader(base: Path, row: dict[str, Any] | str, where: str):
    def load() -> SampleInputs:
        if isinstance(row, str):
            raise SampleError(row)
        caption = row_text(row, where, "caption", "prompt")
        return SampleInputs(image=read_image(row_path(base, row, "image", where)),
                            fields={"prompt": caption}, instruction_text=caption)
    return load
