"""contact_sheet.png: one row per sample and setting, input | (what was asked) | each method.

Thumbnails fit a box of `height` x 2*`height` (a 1 x 65536 image becomes a thin strip, not a
12 GB sheet), and at most MAX_ROWS rows are drawn, so the sheet's size is bounded whatever the
images are.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from sdedit_desktop.eval.report.run_folder import RunInfo
from sdedit_desktop.eval.store import RunStore, write_bytes_atomic

MAX_ROWS = 200  # a larger sheet is unreadable; index.html shows every sample
MAX_ASPECT = 2  # thumbnail width at most this many times its height


def _thumb(store: RunStore, path: Path | None, height: int) -> Image.Image:
    blank = Image.new("RGB", (height, height), (200, 200, 200))  # failed or missing: grey
    if path is None or not path.is_file():
        return blank
    from sdedit_desktop.imaging import load_image_bytes

    try:
        image = Image.fromarray(load_image_bytes(store.read_bytes(path), path.name))
    except (OSError, ValueError):
        return blank
    scale = min(height / image.height, MAX_ASPECT * height / image.width)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size)


def write_contact_sheet(store: RunStore, run: RunInfo, rows: list[dict[str, Any]],
                        path: Path, height: int = 128) -> None:
    methods = run.methods
    by_row: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        label = " ".join(f"{k}={v}" for k, v in r["setting"].items())
        by_row[(r["sample"], label)][r["method"]] = r
    keys = list(by_row)[:MAX_ROWS]
    asked = any(store.instruction_path(sample).is_file() for sample, _ in keys)
    tiles = []
    for sample, label in keys:
        cells = [_thumb(store, store.input_path(sample), height)]
        if asked:
            cells.append(_thumb(store, store.instruction_path(sample), height))
        for m in methods:
            rec = by_row[(sample, label)].get(m, {})
            ok = rec.get("status") == "ok"
            cells.append(_thumb(store, store.root / rec["image"] if ok else None, height))
        tiles.append(((sample, label), cells))
    caption = 14
    col_width = max((c.width for _, cells in tiles for c in cells), default=height)
    columns = ["input", *(["asked"] if asked else []), *(m.upper() for m in methods)]
    sheet = Image.new("RGB", (col_width * len(columns),
                              caption + len(tiles) * (height + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, name in enumerate(columns):
        draw.text((i * col_width + 4, 1), name[:40], fill="black")
    for row, ((sample, label), cells) in enumerate(tiles):
        top = caption + row * (height + caption)
        draw.text((4, top + 1), f"{sample} {label}".strip()[:120], fill="black")
        for col, cell in enumerate(cells):
            sheet.paste(cell, (col * col_width + (col_width - cell.width) // 2,
                               top + caption + (height - cell.height) // 2))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    write_bytes_atomic(path, lambda h: h.write(buffer.getvalue()))
