"""The edits keep the paper's semantics for every step count (docs/algorithms.md): t0 means t0,
"from noise" means from noise, and N = 1000 runs Cycle-SDE to the end."""

import numpy as np
import pytest
import torch

from sdedit_desktop.edits import (
    DiffEditRequest,
    DragRequest,
    EditError,
    InpaintRequest,
    ReconstructRequest,
    run_edit,
)
from sdedit_desktop.edits import drag as drag_module
from sdedit_desktop.edits import inpaint as inpaint_module
from sdedit_desktop.edits.diffedit import diffedit_mask, normalised_difference
from sdedit_desktop.edits.model_calls import ModelCalls


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    return (rng.random((64, 64, 3)) * 255).astype(np.uint8)


def test_drag_t0_keeps_its_meaning_when_n_does_not_divide_1000(tiny_model, image, monkeypatch):
    starts = []
    real = drag_module.noise_adding_trajectory

    def spy(x0, steps, *args, **kw):
        starts.append(steps[0].t)
        return real(x0, steps, *args, **kw)

    monkeypatch.setattr(drag_module, "noise_adding_trajectory", spy)
    req = DragRequest(image=image, points=(((20, 20), (30, 20)),), steps=30, t0=0.6)
    run_edit(tiny_model, req)
    # (1000 // 30 spacing started it at 17 * 33 + 1 = 562, more than a spacing below 600)
    assert starts and all(0 <= 600 - t <= 1000 / 30 for t in starts)


def test_inpainting_starts_from_noise_when_n_does_not_divide_1000(tiny_model, image, monkeypatch):
    tops = []
    real = inpaint_module.dpm_solver_sample

    def spy(x, steps, *args, **kw):
        tops.append(steps[0].t)
        return real(x, steps, *args, **kw)

    monkeypatch.setattr(inpaint_module, "dpm_solver_sample", spy)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[16:48, 16:48] = 255
    run_edit(tiny_model, InpaintRequest(image=image, mask=mask, steps=35))
    assert tops and tops[0] >= 999 - 1000 / 35  # (was 34 * 28 + 1 = 953)


def test_cycle_sde_at_1000_steps_reconstructs_instead_of_failing(make_tiny_model):
    m64 = make_tiny_model(0, dtype=torch.float64)
    img = (np.random.default_rng(3).random((32, 32, 3)) * 255).astype(np.uint8)
    req = ReconstructRequest(image=img, method="sde", dtype="float64", steps=1000, t0=0.01,
                             guidance=1.0, prompt="a photo", seed=0)
    result = run_edit(m64, req)  # the last step used to be 0 -> clean with sigma = 0
    assert result.metrics["latent_max_abs_err"] < 1e-9


def test_a_reference_grid_without_steps_is_an_edit_error(tiny_model, image):
    # round(linspace(0, 999, 2)) reversed without its last element leaves one timestep, where
    # the clean latent sits: there is nothing to run (it used to run 999 -> 0 silently).
    with pytest.raises(EditError, match="reference grid needs at least 2 steps"):
        run_edit(tiny_model, ReconstructRequest(image=image, steps=1, grid="reference"))


def test_diffedit_ode_is_the_papers_baseline(tiny_model, image, monkeypatch):
    # DDIM inversion with the source prompt at the request's CFG; sampling with the target
    # prompt against the source prompt as the negative prompt, at the same CFG.
    made = []
    real = ModelCalls.predictor

    def spy(self, prompt, guidance=1.0, lora_scale=1.0, negative_prompt=""):
        made.append((prompt, guidance, negative_prompt))
        return real(self, prompt, guidance, lora_scale, negative_prompt)

    monkeypatch.setattr(ModelCalls, "predictor", spy)
    req = DiffEditRequest(image=image, method="ode", mask_mode="full", steps=6, guidance=5.0,
                          source_prompt="a cat", target_prompt="a dog")
    run_edit(tiny_model, req)
    assert sorted(made) == [("a cat", 5.0, ""), ("a dog", 5.0, "a cat")]


def test_diffedit_mask_normalises_by_three_times_the_mean():
    # DiffEdit / diffusers' generate_mask: clamp to [0, 3 mean], divide by 3 mean, threshold.
    flat = torch.full((8, 8), 0.7)
    assert not (normalised_difference(flat) > 0.5).any()  # a global edit: empty mask
    peaked = torch.full((8, 8), 0.1)
    peaked[2:4, 5:7] = 4.0
    mask = normalised_difference(peaked) > 0.5
    assert mask[2:4, 5:7].all() and mask.sum() == 4
    assert not (normalised_difference(torch.zeros(8, 8)) > 0.5).any()


def _difference_predictors(diff):
    """eps_target - eps_source = diff on every sample and channel."""
    def source(x, t):
        return torch.zeros_like(x)

    def target(x, t):
        return diff.expand_as(x).to(x.dtype)
    return target, source


@pytest.mark.parametrize("shape, expected", [("flat", 0), ("peaked", 4)])
def test_diffedit_auto_mask_of_a_flat_and_a_peaked_map(shape, expected):
    diff = torch.full((1, 1, 8, 8), 0.5)
    if shape == "peaked":
        diff[..., 3:5, 3:5] = 6.0
    target, source = _difference_predictors(diff)
    x0 = torch.zeros(1, 4, 8, 8)
    mask = diffedit_mask(x0, 481, 0.3, target, source, samples=2, threshold=0.5,
                         generator=torch.Generator().manual_seed(0))
    assert mask.shape == (1, 1, 8, 8) and int(mask.sum()) == expected
    if expected:
        assert mask[..., 3:5, 3:5].all()


def test_one_seed_gives_the_same_drag_in_float32_and_float64(make_tiny_model, image):
    # Noise is drawn in float32 and cast, so float64 differs from float32 only by rounding.
    req = DragRequest(image=image, points=(((20, 20), (30, 20)),), steps=10, seed=7)
    a = run_edit(make_tiny_model(0), req).image.astype(int)
    b = run_edit(make_tiny_model(0, dtype=torch.float64), req).image.astype(int)
    assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() < 0.1
