"""The official code's timesteps, reproduced from diffusers' own schedulers for every step count:
the drag code's DPM-Solver "linspace" table (numpy rounding of the 499.5 tie), the DDIM table
the official DiffEdit runs on, and the exact statement docs/algorithms.md makes about where the
official forward and backward pairs disagree."""

import functools
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler, DPMSolverMultistepScheduler
from diffusers.pipelines.deprecated.stable_diffusion_diffedit import (
    pipeline_stable_diffusion_diffedit as diffedit_pipeline,
)

from sdedit_desktop.diffusion.grids import (
    CLEAN,
    GridError,
    Step,
    ddim_timesteps,
    diffusers_ddim_window,
    official_diffedit_sde_window,
    reference_timesteps,
)
from sdedit_desktop.models.tiny import SCHEDULER_CONFIG

T = 1000
SD15 = {k: v for k, v in SCHEDULER_CONFIG.items() if not k.startswith("_")}  # SD 1.5's config


@functools.cache
def _scheduler(scheduler_class):
    return scheduler_class.from_config(SD15)


def _timesteps(scheduler_class, n: int) -> list[int]:
    scheduler = _scheduler(scheduler_class)
    scheduler.set_timesteps(n)
    return scheduler.timesteps.tolist()


def test_reference_timesteps_equal_diffusers_for_every_step_count():
    # The official drag code: DPMSolverMultistepScheduler with SD 1.5's config ("linspace").
    differ = [n for n in range(1, T + 1)
              if reference_timesteps(n) != _timesteps(DPMSolverMultistepScheduler, n)]
    assert differ == []


def test_the_499_5_tie_is_rounded_as_numpy_and_diffusers_round_it():
    # torch.linspace computes k (T-1) / N a hair differently from numpy at the tie k / N = 1/2,
    # so torch's rounding moved one window step by a level for 138 even step counts.
    def torch_table(n):
        values = torch.round(torch.linspace(0, T - 1, n + 1, dtype=torch.float64)).long()
        return values.tolist()[::-1][:-1]

    moved = [n for n in range(1, T + 1) if torch_table(n) != reference_timesteps(n)]
    assert len(moved) == 138 and all(n % 2 == 0 for n in moved)
    for n in moved[:5]:
        (only,) = {a for a, b in zip(torch_table(n), reference_timesteps(n), strict=True) if a != b}
        assert only in (499, 500)
        assert reference_timesteps(n) == _timesteps(DPMSolverMultistepScheduler, n)


def test_ddim_timesteps_equal_diffusers_for_every_step_count():
    differ = [n for n in range(1, T) if ddim_timesteps(n) != _timesteps(DDIMScheduler, n)]
    assert differ == []
    with pytest.raises(GridError, match="beyond"):
        ddim_timesteps(T)  # diffusers would index level 1000


def test_official_diffedit_sde_window_at_the_defaults():
    window = official_diffedit_sde_window(50, 0.7)
    assert len(window) == 35 and window[0] == Step(701, 681) and window[-1] == Step(21, 1)
    assert all(step.t - step.s == 20 for step in window)  # the clean latent sits at ab[1]


@pytest.mark.parametrize("n", [10, 20, 25, 37, 50, 64, 100, 200, 333])
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.7, 0.9])
def test_official_diffedit_sde_window_is_the_scripts_slice(n, ratio):
    # diffedit.py: for t in scheduler.timesteps[t_begin - 1:-1], each step to t - T // N
    timesteps = _timesteps(DDIMScheduler, n)
    t_begin = n - int(ratio * n)
    expect = [Step(t, t - T // n) for t in timesteps[t_begin - 1:-1]]
    assert official_diffedit_sde_window(n, ratio) == expect


@pytest.mark.parametrize("n", [10, 25, 37, 50, 64, 100, 200, 333, 999])
@pytest.mark.parametrize("strength", [0.3, 0.5, 0.7, 1.0])
def test_diffusers_ddim_window_is_the_pipelines_own(n, strength):
    """DiffEdit's sampling (`get_timesteps`) and inversion (`get_inverse_timesteps`) timesteps,
    each DDIM step going to t - T // N (below 0: the clean latent, ab[0])."""
    forward = DDIMScheduler.from_config(SD15)
    forward.set_timesteps(n)
    inverse = DDIMInverseScheduler.from_config(SD15)
    inverse.set_timesteps(n)
    owner = SimpleNamespace(scheduler=forward, inverse_scheduler=inverse)
    pipeline = diffedit_pipeline.StableDiffusionDiffEditPipeline
    sampled, count = pipeline.get_timesteps(owner, n, strength, "cpu")
    inverted, _ = pipeline.get_inverse_timesteps(owner, n, strength, "cpu")
    window = diffusers_ddim_window(n, strength)
    assert [step.t for step in window] == sampled.tolist() == inverted.tolist()[::-1]
    assert len(window) == count
    assert [step.s for step in window] == [t - T // n if t >= T // n else CLEAN
                                           for t in sampled.tolist()]


def test_forward_and_backward_pairs_of_the_official_drag_code():
    """docs/algorithms.md: for N dividing 1000 every gap of the linspace table is D = T // N
    except the one just above level (N // 2)·D (500 for even N), which is D - 1, so an official
    window of K = int(t0 N) steps holds exactly one disagreeing forward/backward pair when
    K >= N // 2 and none below; for other N anything from none to nearly all."""
    def disagreeing(n, t0):
        ts, d = reference_timesteps(n), T // n
        k = min(int(t0 * n), n - 1)
        t_begin = n - k
        # backward step j goes ts[t_begin - 1 + j] -> - d; it pairs with the forward step that
        # went ts[t_begin + j] -> + d
        return [(ts[t_begin - 1 + j], ts[t_begin + j]) for j in range(k)
                if ts[t_begin - 1 + j] - ts[t_begin + j] != d]

    for n in (d for d in range(2, T + 1) if T % d == 0):
        ts = np.array(reference_timesteps(n))
        gaps = ts[:-1] - ts[1:]
        odd = np.flatnonzero(gaps != T // n)
        assert len(odd) == 1 and gaps[odd[0]] == T // n - 1, n
        assert ts[odd[0] + 1] == n // 2 * (T // n), n
        for t0 in (0.2, 0.49, 0.5, 0.6, 0.9):
            count = len(disagreeing(n, t0))
            assert count == (1 if min(int(t0 * n), n - 1) >= n // 2 else 0), (n, t0)
    assert disagreeing(200, 0.6) == [(504, 500)]  # forward 500 -> 505, backward 504 -> 499
    assert len(disagreeing(300, 0.6)) == 60  # of 180
    assert len(disagreeing(512, 0.6)) == 292  # of 307
