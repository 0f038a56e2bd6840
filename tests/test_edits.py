"""The editing methods end to end on the tiny model: semantics, determinism, masks, cancel."""

import itertools

import numpy as np
import pytest
import torch

from sdedit_desktop.edits import (
    DiffEditRequest,
    DragRequest,
    EditCancelled,
    EditError,
    InpaintRequest,
    ReconstructRequest,
    run_edit,
)
from sdedit_desktop.edits import drag as drag_module
from sdedit_desktop.edits.drag import copy_paste, drag_plan, drag_step_count, patch_box
from sdedit_desktop.edits.tensors import image_to_tensor


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, 128 * 96 * 3).reshape(96, 128, 3)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def fast_drag(image, **kw):
    kw.setdefault("points", (((20, 30), (60, 50)),))
    return DragRequest(image=image, steps=kw.pop("steps", 20), **kw)


@pytest.mark.parametrize("dmax, step, expected", [
    (0.5, 2, 1), (2.0, 2, 1), (2.1, 2, 1), (2.6, 2, 1), (3.0, 2, 2), (3.1, 2, 2), (5.0, 2, 3),
    (6.0, 2, 3), (7.0, 2, 4), (10.0, 2, 5), (20.0, 2, 10), (21.0, 2, 11), (9.0, 3, 3),
    (4.5, 3, 2), (100.0, 2.5, 40), (141.4, 2, 71),
])
def test_drag_step_count_is_the_closest_step_length(dmax, step, expected):
    m = drag_step_count(dmax, step)
    assert m == expected
    if dmax > step:  # no other m gives a step length closer to step_size
        assert all(abs(dmax / m - step) <= abs(dmax / k - step) for k in range(1, 200))


def test_drag_plan_truncates_toward_zero_and_ends_on_target():
    plan = drag_plan([((10, 10), (3, 17)), ((0, 0), (1, 0))], step_size=2)
    assert len(plan) == drag_step_count(np.hypot(7, 7), 2) == 5
    assert plan[0][0] == ((10, 10), (10 + int(-7 / 5), 10 + int(7 / 5)))
    assert plan[-1][0][1] == (3, 17) and plan[-1][1][1] == (1, 0)
    for a, b in itertools.pairwise(plan):  # each step starts where the last ended
        assert a[0][1] == b[0][0]


def test_copy_paste_at_borders_and_with_overlap():
    latent = torch.arange(2 * 10 * 12, dtype=torch.float64).reshape(1, 2, 10, 12)
    # source on the top-left corner, target near the right border: both patches clipped alike
    box = patch_box((0, 0), (11, 3), 5, 12, 10)
    assert (box.left, box.right, box.top, box.bottom) == (0, 1, 0, 5)
    out = copy_paste(latent, [((0, 0), (11, 3))], 5, 0.3, 1.1, torch.Generator().manual_seed(0))
    assert torch.equal(out[..., 3:8, 11:12], 1.1 * latent[..., 0:5, 0:1])
    # overlapping patches: the feature is copied before the source is noised
    src, tgt = (5, 5), (7, 5)
    out = copy_paste(latent, [(src, tgt)], 3, 0.3, 1.1, torch.Generator().manual_seed(0))
    assert torch.equal(out[..., 2:8, 4:10], 1.1 * latent[..., 2:8, 2:8])
    noised = out[..., 2:8, 2:4]  # part of the source square not covered by the target
    gen = torch.Generator().manual_seed(0)
    noise = torch.randn((1, 2, 6, 6), generator=gen).double()  # drawn in float32, then cast
    expected = 0.3 * latent[..., 2:8, 2:8] + np.sqrt(1 - 0.09) * noise
    assert torch.allclose(noised, expected[..., :, 0:2])
    assert torch.equal(latent, torch.arange(240, dtype=torch.float64).reshape(1, 2, 10, 12))


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_drag_runs_end_to_end_and_is_deterministic(tiny_model, image, method):
    req = fast_drag(image, method=method)
    a, b = run_edit(tiny_model, req), run_edit(tiny_model, req)
    assert a.image.shape == image.shape and a.image.dtype == np.uint8
    assert np.array_equal(a.image, b.image)
    assert len(a.trajectory) == len(drag_plan([((2, 3), (7, 6))], 2.0)) == 3
    assert np.array_equal(a.trajectory[-1], a.image)
    c = run_edit(tiny_model, req.with_changes(seed=99))
    assert not np.array_equal(a.image, c.image)
    assert a.unet_calls > 0 and a.unet_samples >= a.unet_calls


def test_drag_mask_holds_outside_region_to_the_trajectory(tiny_model, image, monkeypatch):
    recorded = []
    real = drag_module.noise_adding_trajectory

    def spy(*args, **kw):
        traj = real(*args, **kw)
        recorded.append(traj)
        return traj

    monkeypatch.setattr(drag_module, "noise_adding_trajectory", spy)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[16:80, 8:88] = 255
    latents = []
    req = fast_drag(image, mask=mask)
    run_edit(tiny_model, req, progress=lambda p: latents.append((p.phase, p.step, p.latent)))
    outside = torch.ones(1, 1, 12, 16, dtype=torch.bool)
    outside[..., 2:10, 1:11] = False
    per_step = [(ph, s, x) for ph, s, x in latents if ph.startswith("drag step") and s > 0]
    k = int(req.t0 * req.steps)
    assert len(per_step) == len(recorded) * (k + 1)  # every reverse step + the decoded image
    for n, traj in enumerate(recorded):
        steps = [(s, x) for ph, s, x in per_step if ph == f"drag step {n + 1}/{len(recorded)}"]
        for s, x in steps[:k]:
            assert torch.equal(x.expand(1, 4, 12, 16)[outside.expand(1, 4, 12, 16)],
                               traj.states[s][outside.expand(1, 4, 12, 16)])
    # and the final latent outside the mask is the input latent exactly
    x0 = tiny_model.encode_image(image_to_tensor(image, tiny_model.device)).float()
    final = per_step[-1][2]
    sel = outside.expand(1, 4, 12, 16)
    assert torch.equal(final[sel], x0[sel])
    assert torch.equal(recorded[0].states[-1], x0)


def test_cancel_stops_within_one_model_call(tiny_model, image):
    calls = {"n": 0}
    real = tiny_model.predict_noise

    class Counting:
        def __getattr__(self, name):
            return getattr(tiny_model, name)

        def predict_noise(self, *a, **kw):
            calls["n"] += 1
            return real(*a, **kw)

    seen = []

    def cancel():
        return len(seen) >= 5

    with pytest.raises(EditCancelled):
        run_edit(Counting(), fast_drag(image), progress=seen.append, cancel=cancel)
    # cancel became true at progress report 5; at most one more model call may have started
    assert calls["n"] <= 6


def test_progress_sees_every_step(tiny_model, image):
    seen = []
    run_edit(tiny_model, InpaintRequest(image=image, mask=_mask(image), steps=7),
             progress=seen.append)
    assert [(p.phase, p.step, p.total) for p in seen] == [("inpainting", i, 7) for i in
                                                          range(1, 8)]


def _mask(image):
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[24:72, 32:96] = 255
    return mask


@pytest.mark.parametrize("method", ["sde", "ode"])
@pytest.mark.parametrize("order", [1, 2])
def test_inpaint_keeps_the_known_region_and_is_deterministic(tiny_model, image, method, order):
    req = InpaintRequest(image=image, mask=_mask(image), method=method, order=order, steps=6,
                         prompt="a cat")
    a, b = run_edit(tiny_model, req), run_edit(tiny_model, req)
    assert np.array_equal(a.image, b.image)
    far = np.ones(image.shape[:2], bool)
    far[16:80, 24:104] = False  # beyond the feathered seam (3 blur radii + 1 px)
    assert np.array_equal(a.image[far], image[far])
    assert not np.array_equal(a.image[24:72, 32:96], image[24:72, 32:96])
    assert a.unet_calls == 6


@pytest.mark.parametrize("method", ["sde", "ode"])
@pytest.mark.parametrize("mode", ["auto", "user", "full"])
def test_diffedit_all_mask_modes(tiny_model, image, method, mode):
    mask = _mask(image) if mode == "user" else None
    req = DiffEditRequest(image=image, mask=mask, method=method, mask_mode=mode, steps=10,
                          source_prompt="a cat", target_prompt="a dog")
    a, b = run_edit(tiny_model, req), run_edit(tiny_model, req)
    assert np.array_equal(a.image, b.image) and a.image.shape == image.shape
    if mode == "full":
        assert a.mask is None
    else:
        assert a.mask.shape == image.shape[:2] and set(np.unique(a.mask)) <= {0, 255}
    if mode == "user":
        assert np.array_equal(a.mask, mask)


def test_diffedit_auto_mask_follows_the_prompt_difference(tiny_model, image):
    same = run_edit(tiny_model, DiffEditRequest(image=image, source_prompt="a dog", mask_samples=2,
                                           target_prompt="a dog", steps=4))
    # identical prompts: no difference anywhere, so nothing passes the threshold
    assert not same.mask.any()


def test_reconstruction_cycle_sde_float64_is_exact_and_beats_ddim(make_tiny_model):
    m64 = make_tiny_model(0, dtype=torch.float64)
    img = (np.random.default_rng(3).random((64, 64, 3)) * 255).astype(np.uint8)
    common = dict(image=img, steps=50, guidance=7.5, prompt="a photo", seed=0)
    sde64 = run_edit(m64, ReconstructRequest(method="sde", dtype="float64", **common))
    ode64 = run_edit(m64, ReconstructRequest(method="ode", dtype="float64", **common))
    sde32 = run_edit(make_tiny_model(0), ReconstructRequest(method="sde", **common))
    assert sde64.metrics["latent_max_abs_err"] < 1e-9
    assert sde32.metrics["latent_max_abs_err"] > 100 * sde64.metrics["latent_max_abs_err"]
    assert ode64.metrics["latent_max_abs_err"] > 1e3 * sde64.metrics["latent_max_abs_err"]
    assert sde64.metrics["psnr"] > ode64.metrics["psnr"]


@pytest.mark.parametrize("points, message", [
    ((), "no drag points"),
    ((((10, 10), (10, 10)),), "same source and target"),
    ((((10, 10), (128, 10)),), "outside"),
    ((((-1, 10), (20, 10)),), "outside"),
    ((((10, 96), (20, 10)),), "outside"),
])
def test_bad_points_are_clear_errors(tiny_model, image, points, message):
    with pytest.raises(EditError, match=message):
        run_edit(tiny_model, fast_drag(image, points=points))


def test_points_on_the_border_work(tiny_model, image):
    req = fast_drag(image, points=(((0, 0), (127, 95)), ((127, 0), (0, 95))), steps=10)
    assert run_edit(tiny_model, req).image.shape == image.shape


@pytest.mark.parametrize("shape", [(50, 70, 3), (97, 131, 3), (40, 300, 3)])
def test_any_size_comes_back_at_the_input_size(tiny_model, shape):
    img = (np.random.default_rng(1).random(shape) * 255).astype(np.uint8)
    h, w = shape[:2]
    # max_side 512: 40x300 is scaled up to 64x480 (at 256 its 7.5:1 shape would be refused)
    req = fast_drag(img, points=(((0, 0), (w - 1, h - 1)),), steps=5, max_side=512)
    assert run_edit(tiny_model, req).image.shape == shape


def test_inpaint_needs_a_mask(tiny_model, image):
    with pytest.raises(EditError, match="needs a mask"):
        run_edit(tiny_model, InpaintRequest(image=image))
    with pytest.raises(EditError, match="empty"):
        run_edit(tiny_model, InpaintRequest(image=image, mask=np.zeros(image.shape[:2], np.uint8)))
    with pytest.raises(EditError, match="must match"):
        run_edit(tiny_model, InpaintRequest(image=image, mask=np.zeros((5, 5), np.uint8)))
