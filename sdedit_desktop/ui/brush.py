"""Mask painting as pure numpy: a round brush swept along a segment (a capsule), with a hardness
fall-off. The mask array at image resolution is the truth the edit requests use, so strokes are
computed on it directly in image pixels (pixel (x, y) has its centre at (x + 0.5, y + 0.5))."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BrushSpec:
    radius: float = 12.0  # image pixels
    hardness: float = 1.0  # 1 = hard edge; 0 = fully feathered from the centre
    erase: bool = False


def _capsule_distance(x0: float, y0: float, x1: float, y1: float, xs: np.ndarray,
                      ys: np.ndarray) -> np.ndarray:
    """Distance from each (xs, ys) to the segment (x0, y0)-(x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    if length2 <= 1e-12:
        return np.hypot(xs - x0, ys - y0)
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0)
    return np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))


def brush_alpha(distance: np.ndarray, radius: float, hardness: float) -> np.ndarray:
    """Coverage in [0, 1]: 1 inside hardness*radius, a smooth fall-off to 0 at the radius."""
    radius = max(float(radius), 0.5)
    inner = radius * float(np.clip(hardness, 0.0, 1.0))
    alpha = np.zeros_like(distance, dtype=np.float64)
    alpha[distance <= inner] = 1.0
    ramp = (distance > inner) & (distance <= radius)
    if inner < radius and ramp.any():
        u = (radius - distance[ramp]) / (radius - inner)
        alpha[ramp] = u * u * (3.0 - 2.0 * u)  # smoothstep: no visible ring at the edge
    return alpha


def stroke_segment(mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
                   brush: BrushSpec) -> tuple[int, int, int, int] | None:
    """Paint (or erase) the capsule p0-p1 into `mask` in place. Returns the touched box
    (x0, y0, x1, y1), exclusive ends, or None when the segment misses the image."""
    h, w = mask.shape
    r = max(float(brush.radius), 0.5)
    bx0 = max(int(np.floor(min(p0[0], p1[0]) - r)), 0)
    by0 = max(int(np.floor(min(p0[1], p1[1]) - r)), 0)
    bx1 = min(int(np.ceil(max(p0[0], p1[0]) + r)) + 1, w)
    by1 = min(int(np.ceil(max(p0[1], p1[1]) + r)) + 1, h)
    if bx0 >= bx1 or by0 >= by1:
        return None
    ys, xs = np.mgrid[by0:by1, bx0:bx1].astype(np.float64)
    dist = _capsule_distance(p0[0], p0[1], p1[0], p1[1], xs + 0.5, ys + 0.5)
    alpha = brush_alpha(dist, r, brush.hardness)
    region = mask[by0:by1, bx0:bx1]
    value = np.rint(alpha * 255.0).astype(np.uint8)
    if brush.erase:
        np.minimum(region, 255 - value, out=region)
    else:
        np.maximum(region, value, out=region)
    return bx0, by0, bx1, by1


def union_box(a: tuple[int, int, int, int] | None,
              b: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def changed_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int] | None:
    """The smallest box holding every pixel that differs, or None when nothing changed."""
    diff = before != after
    if not diff.any():
        return None
    rows = np.flatnonzero(diff.any(axis=1))
    cols = np.flatnonzero(diff.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
