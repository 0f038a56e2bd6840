"""The edit region and the composite as pure functions: auto regions per kind, validation,
mapping into the crop and back, and a seam that never touches a pixel outside the mask."""

import numpy as np
import pytest

from sdedit_desktop.edits import DiffEditRequest, DragRequest, EditError, InpaintRequest
from sdedit_desktop.edits.composite import Compositor, seam_alpha
from sdedit_desktop.edits.region import (
    CONTEXT,
    auto_region,
    expand_to_region,
    mask_bounds,
    point_from_crop,
    point_to_crop,
    resolve_region,
)

W, H = 3000, 2000


def blank(h=H, w=W):
    return np.zeros((h, w, 3), np.uint8)


def box_mask(x0, y0, x1, y1, h=H, w=W):
    mask = np.zeros((h, w), np.uint8)
    mask[y0:y1, x0:x1] = 255
    return mask


def contains(region, x, y):
    rx, ry, rw, rh = region
    return rx <= x < rx + rw and ry <= y < ry + rh


def test_drag_auto_region_covers_points_patch_and_context_at_native_size():
    pts = (((1500, 1000), (1516, 1004)),)
    region = auto_region(DragRequest(image=blank(), points=pts, half_size=5))
    x, y, w, h = region
    assert (w, h) == (512, 512) and x % 8 == 0 and y % 8 == 0
    for px, py in ((1500 - 40 - CONTEXT, 1000 - 40 - CONTEXT), (1516 + 40 + CONTEXT, 1004 + 40)):
        assert contains(region, px, py)


def test_drag_auto_region_grows_past_native_for_far_points_and_stays_inside():
    pts = (((10, 5), (900, 30)), ((2990, 1990), (2900, 1900)))
    x, y, w, h = auto_region(DragRequest(image=blank(), points=pts))
    assert (x, y, w, h) == (0, 0, W, H)  # the points span the photo: the whole image
    pts = (((10, 5), (900, 30)),)
    x, y, w, h = auto_region(DragRequest(image=blank(), points=pts))
    assert (x, y) == (0, 0) and w >= 900 + 40 + CONTEXT and w % 8 == 0 and h == 512


def test_auto_region_at_the_far_border_keeps_its_size():
    pts = (((2995, 1995), (2999, 1999)),)
    x, y, w, h = auto_region(DragRequest(image=blank(), points=pts))
    assert (x + w, y + h) == (W, H) and (w, h) == (512, 512)


def test_small_images_use_the_whole_image():
    img = blank(96, 130)
    assert auto_region(DragRequest(image=img, points=(((3, 3), (9, 9)),))) == (0, 0, 130, 96)
    assert auto_region(InpaintRequest(image=img, mask=box_mask(5, 5, 9, 9, 96, 130))) == \
        (0, 0, 130, 96)


def test_masked_kinds_use_the_mask_bounds_plus_context():
    mask = box_mask(1000, 300, 1800, 500)
    assert mask_bounds(mask).__dict__ == {"x0": 1000, "y0": 300, "x1": 1800, "y1": 500}
    for req in (InpaintRequest(image=blank(), mask=mask),
                DiffEditRequest(image=blank(), mask=mask, mask_mode="user")):
        x, y, w, h = auto_region(req)
        assert x <= 1000 - CONTEXT and x + w >= 1800 + CONTEXT and w % 8 == 0
        assert h == 512 and y <= 300 - CONTEXT and y + h >= 500 + CONTEXT


def test_diffedit_without_its_user_mask_uses_the_whole_image():
    mask = box_mask(1000, 300, 1800, 500)
    for mode in ("auto", "full"):
        assert auto_region(DiffEditRequest(image=blank(), mask=mask, mask_mode=mode)) == \
            (0, 0, W, H)


def test_expand_keeps_a_bounding_box_that_is_already_large():
    region = expand_to_region(mask_bounds(box_mask(3, 7, 2000, 1500)), W, H, 0, 512)
    assert region == (0, 0, 2000, 1504)


@pytest.mark.parametrize("region, message", [
    ((0, 0, 0, 10), "is empty"),
    ((10, 10, 5, -3), "is empty"),
    ((-8, 0, 512, 512), "outside the 3000x2000 image"),
    ((2600, 0, 512, 512), "outside the 3000x2000 image"),
    ((0, 1900, 512, 512), "outside the 3000x2000 image"),
    ((0, 0, 512), "four whole numbers"),
    ((0, 0, 512.5, 8), "four whole numbers"),
    ("whole", "four whole numbers"),
])
def test_bad_regions_are_clear_errors(region, message):
    req = InpaintRequest(image=blank(), mask=box_mask(0, 0, 50, 50), region=region)
    with pytest.raises(EditError, match=message):
        resolve_region(req)


def test_a_region_must_contain_every_point_and_some_of_the_mask():
    pts = (((100, 100), (700, 100)),)
    with pytest.raises(EditError, match=r"not contain the target \(700, 100\) of point pair 1"):
        resolve_region(DragRequest(image=blank(), points=pts, region=(0, 0, 512, 512)))
    with pytest.raises(EditError, match="mask lies entirely outside the edit region"):
        resolve_region(InpaintRequest(image=blank(), mask=box_mask(0, 0, 50, 50),
                                      region=(1000, 1000, 64, 64)))
    with pytest.raises(EditError, match="feather"):
        resolve_region(InpaintRequest(image=blank(), mask=box_mask(0, 0, 50, 50), feather=-1))
    ok = DragRequest(image=blank(), points=pts, region=(96, 96, 608, 64))
    assert resolve_region(ok) == (96, 96, 608, 64)
    # 608x8 would need 4864x64 px to give the model its 64 px short side: past max_side
    with pytest.raises(EditError, match="too narrow to edit"):
        resolve_region(DragRequest(image=blank(), points=pts, region=(96, 96, 608, 8)))


def test_points_and_masks_map_into_the_crop_and_back():
    region = (1248, 744, 512, 512)
    corner = (1248 + 511, 744 + 511)  # the last pixel of the region
    pts = (((1248, 744), corner), ((1500, 1000), (1510, 990)))
    mask = box_mask(1300, 800, 1310, 805)
    req = DragRequest(image=np.arange(H * W * 3, dtype=np.uint32).reshape(H, W, 3).astype(
        np.uint8), mask=mask, points=pts, region=region)
    cropped = req.in_region(region)
    assert cropped.points == (((0, 0), (511, 511)), ((252, 256), (262, 246)))
    assert cropped.image.shape == (512, 512, 3) and cropped.mask.shape == (512, 512)
    assert np.array_equal(cropped.image[10, 20], req.image[754, 1268])
    assert mask_bounds(cropped.mask).__dict__ == {"x0": 52, "y0": 56, "x1": 62, "y1": 61}
    assert cropped.region is None and cropped.seed == req.seed
    for p in (pts[0][0], corner, (1500, 1000)):
        assert point_from_crop(point_to_crop(p, region), region) == p


def test_seam_rises_inside_the_mask_and_is_zero_outside():
    allowed = np.zeros((40, 40), bool)
    allowed[10:30, 10:30] = True
    alpha = seam_alpha(allowed, 4)
    assert (alpha[~allowed] == 0).all()
    assert alpha[20, 10] == pytest.approx(0.25) and alpha[20, 11] == pytest.approx(0.5)
    assert alpha[20, 13] == 1 and alpha[20, 20] == 1
    assert (seam_alpha(allowed, 0) == allowed).all()


def test_seam_is_absent_on_sides_that_lie_on_the_image_border():
    allowed = np.ones((20, 30), bool)
    alpha = seam_alpha(allowed, 5, open_sides=(True, False, True, True))
    assert (alpha[5:] == 1).all() and alpha[0, 15] == pytest.approx(0.2)
    assert (seam_alpha(allowed, 5, open_sides=(True,) * 4) == 1).all()


@pytest.mark.parametrize("with_mask", [False, True])
def test_composite_changes_nothing_outside_and_everything_deep_inside(with_mask):
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    region = (96, 40, 200, 160)
    mask = box_mask(120, 60, 260, 180, 300, 400) if with_mask else None
    edited = 255 - original[40:200, 96:296]
    out = Compositor(original, region, mask, 8).apply(edited)
    outside = np.ones((300, 400), bool)
    if with_mask:
        outside[60:180, 120:260] = False
    else:
        outside[40:200, 96:296] = False
    assert out.shape == original.shape and np.array_equal(out[outside], original[outside])
    inner = (slice(80, 160), slice(140, 240))  # more than 8 px inside both
    assert np.array_equal(out[inner], (255 - original)[inner])
    # the seam's first ring mixes in 1/8 of the edit
    y0, x0 = (60, 150) if with_mask else (40, 150)
    before = original[y0, x0].astype(float)
    expect = np.rint(before * 7 / 8 + (255 - before) / 8)
    assert np.array_equal(out[y0, x0], expect.astype(np.uint8))


def test_a_whole_image_region_without_a_mask_is_the_edit_itself():
    rng = np.random.default_rng(1)
    original = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    edited = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    assert np.array_equal(Compositor(original, (0, 0, 80, 64), None, 8).apply(edited), edited)
