"""Inpainting data set: images and masks paired by file stem (white = fill in).

Either `images/` and `masks/` sub-folders (`images/a.png` + `masks/a.png`), or one folder with
`a.png` + `a_mask.png`. An image without a mask is a sample that fails with that reason.
"""

from __future__ import annotations

from pathlib import Path

from sdedit_desktop.eval.datasets.files import is_image_file, read_image, read_mask
from sdedit_desktop.eval.samples import Sample, SampleError, SampleInputs, safe_ids


def inpaint_samples(root: Path) -> list[Sample]:
    if (root / "images").is_dir():
        images = sorted(p for p in (root / "images").iterdir() if is_image_file(p))
        masks = {p.stem: p for p in (root / "masks").iterdir() if is_image_file(p)} \
            if (root / "masks").is_dir() else {}
    else:
        files = sorted(p for p in root.iterdir() if is_image_file(p))
        images = [p for p in files if not p.stem.endswith("_mask")]
        masks = {p.stem[: -len("_mask")]: p for p in files if p.stem.endswith("_mask")}
    ids = safe_ids([p.stem for p in images])
    return [Sample(id=sid, source=str(img), load=_loader(img, masks.get(img.stem)))
            for sid, img in zip(ids, images, strict=True)]


def _loader(image_path: Path, mask_path: Path | None):
    def load() -> SampleInputs:
        if mask_path is None:
            raise SampleError(f"{image_path}: no mask with the stem {image_path.stem!r}")
        image = read_image(image_path)
        mask = read_mask(mask_path, image)
        if not mask.any():
            raise SampleError(f"{mask_path}: the mask is empty (nothing to fill in)")
        return SampleInputs(image=image, mask=mask)
    return load
