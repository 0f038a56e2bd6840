"""Full-resolution edits of a large photo on the tiny model: every method, with and without a
mask, SDE and ODE, edits its region at scale 1 and gives back the photo at full size with every
pixel outside the mask and its seam (or the region) unchanged, bit for bit. Drag's seam lies
inside its mask; inpainting's and DiffEdit's outside, in the known region (docs/edit-region.md).
"""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from sdedit_desktop.edits import (
    DiffEditRequest,
    DragRequest,
    EditError,
    InpaintRequest,
    run_edit,
)

H, W = 2000, 3000
MASK_BOX = (slice(900, 1100), slice(1400, 1700))  # rows, cols


@pytest.fixture(scope="module")
def photo():
    """A textured 3000x2000 'photo': gradients, a fine pattern and sensor-like noise."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    rgb = np.stack([xx * 255 / W, yy * 255 / H,
                    128 + 60 * np.sin(xx / 7.0) * np.cos(yy / 11.0)], axis=-1)
    noise = np.random.default_rng(0).normal(0, 12, rgb.shape).astype(np.float32)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def mask():
    m = np.zeros((H, W), np.uint8)
    m[MASK_BOX] = 255
    return m


def with_outer_seam(mask, feather=8):
    """The painted area grown by the seam outside it: feather - 1 pixels (chessboard)."""
    grown = Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8))
    grown = grown.filter(ImageFilter.MaxFilter(2 * (feather - 1) + 1))
    return np.asarray(grown) > 0


def region_area(region):
    x, y, w, h = region
    inside = np.zeros((H, W), bool)
    inside[y:y + h, x:x + w] = True
    return inside


def assert_only_inside(result, photo, allowed):
    """Same size as the input, identical outside `allowed`, changed somewhere inside."""
    assert result.image.shape == photo.shape
    for image in (result.image, *result.trajectory):
        assert np.array_equal(image[~allowed], photo[~allowed])
    assert not np.array_equal(result.image[allowed], photo[allowed])


def drag(photo, **kw):
    # one short drag step, one reverse step: cheap, but the whole pipeline
    return DragRequest(image=photo, points=(((1500, 1000), (1516, 1000)),), steps=2, t0=0.5,
                       **kw)


@pytest.mark.parametrize("method", ["sde", "ode"])
@pytest.mark.parametrize("masked", [False, True])
def test_drag_edits_its_region_at_scale_1(tiny_model, photo, mask, method, masked):
    seen = []
    result = run_edit(tiny_model, drag(photo, method=method, mask=mask if masked else None),
                      progress=seen.append)
    x, y, w, h = result.region
    assert (w, h) == (512, 512) and x % 8 == 0 and y % 8 == 0
    assert x <= 1500 - 40 and x + w > 1516 + 40 and y <= 1000 - 40 and y + h > 1000 + 40
    assert result.work_scale == 1.0 and len(result.trajectory) == 1
    allowed = region_area(result.region)
    if masked:
        allowed &= mask > 0  # drag's seam lies inside its mask
    assert_only_inside(result, photo, allowed)
    # previews: decoded images come back as the whole photo, latents say where they belong
    previews = [p.image for p in seen if p.image is not None]
    assert len(previews) == 1 and np.array_equal(previews[0], result.image)
    assert {p.region for p in seen} == {result.region}
    assert all(p.latent.shape[-2:] == (h // 8, w // 8) for p in seen if p.latent is not None)
    assert result.request.points == (((1500, 1000), (1516, 1000)),)  # the caller's request


def test_drag_point_on_the_region_border_stays_inside(tiny_model, photo):
    region = (1000, 600, 256, 256)
    pts = (((1255, 855), (1240, 850)), ((1000, 600), (1010, 600)))
    result = run_edit(tiny_model, DragRequest(image=photo, points=pts, region=region, steps=2,
                                         t0=0.5, feather=0))
    assert result.region == region and result.work_scale == 1.0
    assert_only_inside(result, photo, region_area(region))
    # without a feather the region's last pixel is the edit's own, not the original's
    assert result.image.shape == photo.shape


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sde", "ode"])
def test_inpaint_changes_only_the_mask_at_scale_1(tiny_model, photo, mask, method):
    result = run_edit(tiny_model, InpaintRequest(image=photo, mask=mask, method=method, steps=2))
    x, y, w, h = result.region
    assert x <= 1400 - 64 and x + w >= 1700 + 64 and y <= 900 - 64 and y + h >= 1100 + 64
    assert (w, h) == (512, 512) and result.work_scale == 1.0
    assert_only_inside(result, photo, with_outer_seam(mask))
    seam = with_outer_seam(mask) & (mask == 0)
    assert not np.array_equal(result.image[seam], photo[seam])  # the seam blends out there


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_diffedit_with_the_user_mask_changes_only_the_mask(tiny_model, photo, mask, method):
    req = DiffEditRequest(image=photo, mask=mask, mask_mode="user", method=method, steps=2,
                          encode_ratio=0.5, source_prompt="a cat", target_prompt="a dog")
    result = run_edit(tiny_model, req)
    assert result.work_scale == 1.0 and result.region[2:] == (512, 512)
    assert np.array_equal(result.mask, mask)  # the mask used, back at the photo's size
    assert_only_inside(result, photo, with_outer_seam(mask))


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_diffedit_without_a_mask_in_a_chosen_region(tiny_model, photo, method):
    region = (200, 1200, 320, 256)
    req = DiffEditRequest(image=photo, mask_mode="full", method=method, steps=2, region=region,
                          encode_ratio=0.5, source_prompt="a cat", target_prompt="a dog")
    result = run_edit(tiny_model, req)
    assert result.region == region and result.work_scale == 1.0 and result.mask is None
    assert_only_inside(result, photo, region_area(region))


def test_diffedit_auto_mask_on_the_whole_photo_keeps_everything_outside_its_mask(tiny_model, photo):
    req = DiffEditRequest(image=photo, steps=2, encode_ratio=0.5, mask_samples=1,
                          mask_threshold=0.2, max_side=384, source_prompt="a cat",
                          target_prompt="a dog")
    result = run_edit(tiny_model, req)
    assert result.region == (0, 0, W, H) and result.work_scale == 384 / W  # scaled: too large
    assert result.mask.shape == (H, W) and (result.mask == 255).any()
    assert_only_inside(result, photo, with_outer_seam(result.mask))


def test_a_region_larger_than_max_side_is_scaled_down_only_then(tiny_model, photo, mask):
    region = (1000, 700, 1600, 800)
    req = InpaintRequest(image=photo, mask=mask, steps=1, region=region, max_side=400)
    result = run_edit(tiny_model, req)
    assert result.region == region and result.work_scale == 0.25
    assert_only_inside(result, photo, with_outer_seam(mask))


@pytest.mark.parametrize("req, message", [
    (lambda p, m: drag(p, region=(0, 0, 512, 512)), "does not contain the source (1500, 1000)"),
    (lambda p, m: drag(p, region=(2800, 1000, 512, 64)), "reaches outside the 3000x2000 image"),
    (lambda p, m: InpaintRequest(image=p, mask=m, region=(10, 10, 0, 64)), "is empty"),
    (lambda p, m: InpaintRequest(image=p, mask=m, region=(0, 0, 64, 64)), "entirely outside"),
])
def test_bad_regions_fail_before_any_model_call(tiny_model, photo, mask, req, message):
    calls = tiny_model.unet_calls
    with pytest.raises(EditError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_edit(tiny_model, req(photo, mask))
    assert tiny_model.unet_calls == calls
