"""contact_sheet.png: one row per sample and setting, input | each method's result."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from sdedit_desktop.eval.store import RunStore, write_bytes_atomic

MAX_ROWS = 200  # a larger sheet is unreadable; index.html shows every sample


def _thumb(path: Path | None, height: int) -> Image.Image:
    if path is None or not path.is_file():
        return Image.new("RGB", (height, height), (200, 200, 200))  # failed: grey tile
    with Image.open(path) as img:
        img = img.convert("RGB")
        width = max(1, round(img.width * height / img.height))
        return img.resize((width, height))


def write_contact_sheet(store: RunStore, run: dict[str, Any], rows: list[dict[str, Any]],
                        path: Path, height: int = 128) -> None:
    methods = list(run["methods"])
    by_row: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        label = " ".join(f"{k}={v}" for k, v in r["setting"].items())
        by_row[(r["sample"], label)][r["method"]] = r
    keys = list(by_row)[:MAX_ROWS]
    tiles = []
    for sample, label in keys:
        cells = [_thumb(store.input_path(sample), height)]
        for m in methods:
            rec = by_row[(sample, label)].get(m, {})
            cells.append(_thumb(store.root / rec["image"] if rec.get("image") else None, height))
        tiles.append(((sample, label), cells))
    caption = 14
    col_width = max((c.width for _, cells in tiles for c in cells), default=height)
    sheet = Image.new("RGB", (col_width * (1 + len(methods)),
                              caption + len(tiles) * (height + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, name in enumerate(["input", *(m.upper() for m in methods)]):
        draw.text((i * col_width + 4, 1), name, fill="black")
    for row, ((sample, label), cells) in enumerate(tiles):
        top = caption + row * (height + caption)
        draw.text((4, top + 1), f"{sample} {label}".strip(), fill="black")
        for col, cell in enumerate(cells):
            sheet.paste(cell, (col * col_width, top + caption))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    write_bytes_atomic(path, lambda h: h.write(buffer.getvalue()))
