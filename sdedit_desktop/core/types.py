"""Small shared types: image points, drag point pairs and the timestep-grid choice."""

from __future__ import annotations

from typing import Literal

GridKind = Literal["uniform", "reference"]  # diffusion/schedule.make_grid
Point = tuple[int, int]  # image pixels (x, y)
# A complete drag pair (source, target) as requests and projects store it.
PointPair = tuple[Point, Point]
# A pair on the canvas while it is being placed: the target may still be missing.
PlacedPair = tuple[Point, Point | None]
