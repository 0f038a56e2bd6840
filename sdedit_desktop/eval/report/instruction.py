"""The instruction image of a drag: what a participant must see to judge whether the drag was
followed. The area that may not change is dimmed, each handle is a red dot with an arrow to its
blue target (as DragDiffusion's `user_drag.png` and SDE-Drag's `input_image.png` show it)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

HANDLE = (230, 30, 30)
TARGET = (30, 90, 230)


def drag_instruction_image(image: np.ndarray, mask: np.ndarray | None,
                           points: Sequence[tuple[tuple[int, int], tuple[int, int]]],
                           ) -> np.ndarray:
    """HxWx3 uint8: `image` with the mask (255 = may change) and the handle -> target arrows."""
    out = image.astype(np.float32)
    if mask is not None:
        fixed = mask[..., None] == 0
        out = np.where(fixed, out * 0.45, out)  # the part that must stay is dimmed
    canvas = Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    side = min(image.shape[:2])
    radius = max(3, round(side / 64))
    width = max(2, round(side / 128))
    for (hx, hy), (tx, ty) in points:
        draw.line([(hx, hy), (tx, ty)], fill=(255, 255, 255), width=width + 2)
        draw.line([(hx, hy), (tx, ty)], fill=(255, 200, 40), width=width)
        _arrow_head(draw, (hx, hy), (tx, ty), radius * 3, width)
        for (x, y), colour in (((hx, hy), HANDLE), ((tx, ty), TARGET)):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour,
                         outline=(255, 255, 255))
    return np.asarray(canvas, dtype=np.uint8).copy()


def _arrow_head(draw: ImageDraw.ImageDraw, start: tuple[int, int], end: tuple[int, int],
                length: float, width: int) -> None:
    dx, dy = end[0] - start[0], end[1] - start[1]
    if dx == 0 and dy == 0:
        return
    angle = math.atan2(dy, dx)
    for turn in (2.6, -2.6):  # about 150 degrees back from the direction of the drag
        tip = (end[0] + length * math.cos(angle + turn), end[1] + length * math.sin(angle + turn))
        draw.line([end, tip], fill=(255, 200, 40), width=width)
