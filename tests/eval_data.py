"""Small data sets for the `sdedit eval` tests, written by the tests themselves."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def noise_image(path: Path, seed: int, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    array = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return array


def sde_drag_sample(folder: Path, seed: int, source=((16, 20),), target=((28, 20),),
                    prompt: str = "a cube", with_mask: bool = True) -> None:
    noise_image(folder / "origin_image.png", seed)
    (folder / "prompt.json").write_text(json.dumps(
        {"prompt": prompt, "source": [list(p) for p in source],
         "target": [list(p) for p in target]}))
    if with_mask:
        mask = np.zeros((64, 64), np.uint8)
        mask[8:40, 8:48] = 255
        Image.fromarray(mask).save(folder / "mask.png")


def drag_diffusion_sample(folder: Path, seed: int) -> None:
    noise_image(folder / "original_image.png", seed)
    mask = np.zeros((64, 64), np.uint8)
    mask[10:50, 10:50] = 1
    meta = {"prompt": "a photo", "points": [[20, 30], [36, 30], [40, 12], [44, 20]],
            "mask": mask}
    (folder / "meta_data.pkl").write_bytes(pickle.dumps(meta))


class CreatesFile:
    """A hostile pickle payload: unpickling it with plain pickle creates `path`."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def drag_bench(root: Path, n_good: int = 3) -> Path:
    """n_good SDE-Drag samples, one DragDiffusion sample, and one of each kind of bad data."""
    for i in range(n_good):
        sde_drag_sample(root / "sde" / f"s{i}", seed=i)
    drag_diffusion_sample(root / "dd" / "cat_0", seed=10)
    # bad data: missing image, unreadable image, point outside, hostile pickle
    (root / "bad" / "missing").mkdir(parents=True)
    (root / "bad" / "missing" / "prompt.json").write_text(
        json.dumps({"prompt": "", "source": [[1, 1]], "target": [[2, 2]]}))
    sde_drag_sample(root / "bad" / "unreadable", seed=20)
    (root / "bad" / "unreadable" / "origin_image.png").write_text("not a png")
    sde_drag_sample(root / "bad" / "outside", seed=21, source=((16, 20),), target=((90, 20),))
    hostile = root / "bad" / "hostile"
    noise_image(hostile / "original_image.png", 22)
    (hostile / "meta_data.pkl").write_bytes(
        pickle.dumps({"prompt": "x", "points": CreatesFile(root / "pwned.txt")}))
    return root
