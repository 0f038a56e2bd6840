"""The edits keep the paper's semantics for every step count (docs/algorithms.md): t0 means t0,
"from noise" means from noise, and N = 1000 runs Cycle-SDE to the end."""

import numpy as np
import pytest
import torch

from sdedit_desktop.edits import (
    DragRequest,
    EditError,
    InpaintRequest,
    ReconstructRequest,
    run_edit,
)
from sdedit_desktop.edits import drag as drag_module
from sdedit_desktop.edits import inpaint as inpaint_module
from sdedit_desktop.models.tiny import build_tiny_model


@pytest.fixture(scope="module")
def model():
    return build_tiny_model(0)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    return (rng.random((64, 64, 3)) * 255).astype(np.uint8)


def test_drag_t0_keeps_its_meaning_when_n_does_not_divide_1000(model, image, monkeypatch):
    starts = []
    real = drag_module.noise_adding_trajectory

    def spy(x0, steps, *args, **kw):
        starts.append(steps[0].t)
        return real(x0, steps, *args, **kw)

    monkeypatch.setattr(drag_module, "noise_adding_trajectory", spy)
    req = DragRequest(image=image, points=(((20, 20), (30, 20)),), steps=30, t0=0.6)
    run_edit(model, req)
    # (1000 // 30 spacing started it at 17 * 33 + 1 = 562, more than a spacing below 600)
    assert starts and all(0 <= 600 - t <= 1000 / 30 for t in starts)


def test_inpainting_starts_from_noise_when_n_does_not_divide_1000(model, image, monkeypatch):
    tops = []
    real = inpaint_module.dpm_solver_sample

    def spy(x, steps, *args, **kw):
        tops.append(steps[0].t)
        return real(x, steps, *args, **kw)

    monkeypatch.setattr(inpaint_module, "dpm_solver_sample", spy)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[16:48, 16:48] = 255
    run_edit(model, InpaintRequest(image=image, mask=mask, steps=35))
    assert tops and tops[0] >= 999 - 1000 / 35  # (was 34 * 28 + 1 = 953)


def test_cycle_sde_at_1000_steps_reconstructs_instead_of_failing():
    m64 = build_tiny_model(0, dtype=torch.float64)
    img = (np.random.default_rng(3).random((32, 32, 3)) * 255).astype(np.uint8)
    req = ReconstructRequest(image=img, method="sde", dtype="float64", steps=1000, t0=0.01,
                             guidance=1.0, prompt="a photo", seed=0)
    result = run_edit(m64, req)  # the last step used to be 0 -> clean with sigma = 0
    assert result.metrics["latent_max_abs_err"] < 1e-9


def test_a_reference_grid_without_steps_is_an_edit_error(model, image):
    # round(linspace(0, 999, 2)) reversed without its last element leaves one timestep, where
    # the clean latent sits: there is nothing to run (it used to run 999 -> 0 silently).
    with pytest.raises(EditError, match="reference grid needs at least 2 steps"):
        run_edit(model, ReconstructRequest(image=image, steps=1, grid="reference"))
