"""Timestep grids for every step count the UI offers (10 … 1000) and every t0: t0 keeps its
meaning, sampling from noise starts near T-1, every Cycle-SDE step has sigma > 0, and the
default grids (N dividing 1000) are unchanged. See docs/algorithms.md, "Timestep grids"."""

import itertools
import math

import pytest
import torch
from diffusers import DDIMScheduler
from hypothesis import given, settings
from hypothesis import strategies as st

from sdedit_desktop.diffusion.cycle_sde import cycle_sde_sample, noise_adding_trajectory
from sdedit_desktop.diffusion.ddim import step_sigma
from sdedit_desktop.diffusion.grids import (
    CLEAN,
    GridError,
    edit_window,
    make_grid,
    reference_grid,
    uniform_grid,
)
from sdedit_desktop.diffusion.schedule import sd15_schedule
from sdedit_desktop.diffusion.toy import GaussianMixture1D, mixture_noise_predictor

T = 1000
SCHEDULE = sd15_schedule()
step_counts = st.integers(min_value=10, max_value=1000)
times = st.floats(min_value=0.01, max_value=1.0, allow_nan=False)


def _sigmas(steps):
    return [step_sigma(SCHEDULE.alpha_bar(s.t), SCHEDULE.alpha_bar(s.s), 1.0) for s in steps]


@settings(max_examples=300, deadline=None)
@given(n=step_counts, t0=times)
def test_uniform_window_starts_within_one_spacing_of_t0(n, t0):
    grid = uniform_grid(n)
    window = edit_window("uniform", n, t0)
    assert window == grid[len(grid) - len(window):]  # the lowest steps, down to the clean latent
    start = window[0].t
    assert 0 <= t0 * T - start <= math.ceil(T / n)  # the highest level not above t0 T
    if len(window) < len(grid):
        assert grid[len(grid) - len(window) - 1].t > t0 * T


@settings(max_examples=300, deadline=None)
@given(n=step_counts)
def test_uniform_grid_samples_from_noise_and_every_step_has_noise(n):
    grid = uniform_grid(n)
    assert T - 1 - T / n <= grid[0].t <= T - 1  # "from noise" starts within a spacing of T-1
    assert grid[-1].s == CLEAN and all(a.s == b.t for a, b in itertools.pairwise(grid))
    assert len(grid) in (n, n - 1)  # N - 1 when the lowest level is the clean level itself
    assert min(_sigmas(grid)) > 0


@settings(max_examples=200, deadline=None)
@given(n=step_counts, t0=times)
def test_reference_window_is_the_official_slice_and_has_noise_everywhere(n, t0):
    grid = reference_grid(n)
    window = edit_window("reference", n, t0)
    count = min(max(int(t0 * n), 1), n - 1)
    assert window == grid[n - 1 - count:] and min(_sigmas(window)) > 0


@pytest.mark.parametrize("n", [d for d in range(1, T) if T % d == 0])
def test_default_grids_are_unchanged_for_n_dividing_1000(n):
    spacing = T // n
    assert [s.t for s in uniform_grid(n)] == [k * spacing + 1 for k in range(n - 1, -1, -1)]
    ref = DDIMScheduler(num_train_timesteps=T, beta_start=0.00085, beta_end=0.012,
                        beta_schedule="scaled_linear", clip_sample=False,
                        set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading")
    ref.set_timesteps(n)
    assert [s.t for s in uniform_grid(n)] == ref.timesteps.tolist()


def test_default_drag_window_is_unchanged():
    window = edit_window("uniform", 200, 0.6)
    assert len(window) == 120 and window[0].t == 596 and window[-1].t == 1


def test_n_1000_runs_cycle_sde_to_the_clean_latent():
    # Offset 0: level 0 is the clean latent itself, so the grid ends 1 -> clean.
    grid = uniform_grid(1000)
    assert [s.t for s in grid[:2]] == [999, 998] and grid[-1].t == 1 and len(grid) == 999
    data = GaussianMixture1D.create([-1.0, 1.5], [0.4, 0.6], [0.3, 0.7])
    eps = mixture_noise_predictor(data, SCHEDULE)
    steps = edit_window("uniform", 1000, 0.05)
    x0 = data.sample(64, torch.Generator().manual_seed(0))
    traj = noise_adding_trajectory(x0, steps, SCHEDULE, torch.Generator().manual_seed(1))
    assert (cycle_sde_sample(traj.start, traj, eps, SCHEDULE) - x0).abs().max() < 1e-9


@pytest.mark.parametrize("kind, n, t0", [
    ("uniform", 0, 0.5), ("uniform", 1001, 0.5), ("reference", 1, 0.5), ("uniform", 50, 0.0),
    ("uniform", 50, 1.5), ("sideways", 50, 0.5),
])
def test_impossible_settings_are_grid_errors(kind, n, t0):
    with pytest.raises(GridError):
        edit_window(kind, n, t0)
    with pytest.raises(ValueError):  # GridError stays a ValueError for callers of diffusion/
        make_grid(kind, n) if t0 == 0.5 else edit_window(kind, n, t0)
