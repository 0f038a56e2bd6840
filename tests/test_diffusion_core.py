"""The diffusion core against diffusers and against exact analytic models."""

import itertools
import math

import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

from sdedit_desktop.diffusion.cycle_sde import (
    cycle_sde_sample,
    noise_adding_trajectory,
    trajectory_noise_predictions,
)
from sdedit_desktop.diffusion.ddim import ddim_invert, ddim_step, sample
from sdedit_desktop.diffusion.dpm_solver import dpm_solver_sample, dpm_solver_step
from sdedit_desktop.diffusion.grids import (
    CLEAN,
    Step,
    edit_window,
    lowest_steps,
    reference_grid,
    uniform_grid,
)
from sdedit_desktop.diffusion.guidance import guided
from sdedit_desktop.diffusion.schedule import cosine_schedule, sd15_schedule
from sdedit_desktop.diffusion.toy import GaussianMixture1D, mixture_noise_predictor

SD15_SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    clip_sample=False, set_alpha_to_one=False, steps_offset=1, timestep_spacing="leading",
)


def test_sd15_schedule_is_float64_and_matches_diffusers():
    sched = sd15_schedule()
    assert sched.alphas_cumprod.dtype == torch.float64
    ref = DDIMScheduler(**SD15_SCHEDULER_CONFIG).alphas_cumprod.double()
    assert torch.allclose(sched.alphas_cumprod, ref, rtol=1e-5, atol=1e-7)
    assert sched.final_alpha_cumprod == pytest.approx(float(sched.alphas_cumprod[0]))


def test_uniform_grid_is_diffusers_leading_spacing():
    grid = uniform_grid(200)
    assert [s.t for s in grid[:3]] == [996, 991, 986] and grid[-1] == Step(1, CLEAN)
    assert all(a.s == b.t for a, b in itertools.pairwise(grid))  # neighbour to neighbour
    ref = DDIMScheduler(**SD15_SCHEDULER_CONFIG)
    ref.set_timesteps(50)
    assert [s.t for s in uniform_grid(50)] == ref.timesteps.tolist()


def test_reference_grid_steps_go_to_t_minus_spacing():
    grid = reference_grid(200)
    # The official code never steps from its last timestep (5): the clean latent sits there.
    assert len(grid) == 199 and grid[0].t == 999 and grid[-1].t == 10
    assert all(s.s == s.t - 5 for s in grid)
    assert any(a.s != b.t for a, b in itertools.pairwise(grid))  # not always the next one
    assert grid[-1].s == 5


def test_reference_window_is_the_official_drag_window():
    # SDE-Drag's utils/drag.py at N = 200, t0 = 0.6: timesteps[t_begin - 1 : -1] with
    # t_begin = N - int(t0 N), each step to t - 5: (604 -> 599) ... (10 -> 5), clean at ab[5].
    window = edit_window("reference", 200, 0.6)
    assert len(window) == 120
    assert (window[0].t, window[0].s) == (604, 599) and (window[-1].t, window[-1].s) == (10, 5)
    # the official code's scheduler: SD 1.5's config in DPMSolverMultistepScheduler ("linspace")
    scheduler = DPMSolverMultistepScheduler(**{
        k: v for k, v in SD15_SCHEDULER_CONFIG.items()
        if k not in ("clip_sample", "set_alpha_to_one", "timestep_spacing")})
    scheduler.set_timesteps(200)
    official = scheduler.timesteps.tolist()
    assert [s.t for s in window] == official[200 - 120 - 1:-1] and official[-1] == 5


def test_lowest_steps_take_the_end_of_the_grid():
    grid = uniform_grid(200)
    k = lowest_steps(grid, int(0.6 * 200))
    assert len(k) == 120 and k[0].t == 596 and k[-1].t == 1
    with pytest.raises(ValueError):
        lowest_steps(grid, 0)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_and_ddpm_steps_agree_with_diffusers(eta):
    ref = DDIMScheduler(**SD15_SCHEDULER_CONFIG)
    ref.set_timesteps(50)
    sched = sd15_schedule()
    gen = torch.Generator().manual_seed(0)
    for step in [*uniform_grid(50)[::7], uniform_grid(50)[-1]]:
        x = torch.randn(1, 4, 8, 8, generator=gen)
        eps = torch.randn(1, 4, 8, 8, generator=gen)
        z = torch.randn(1, 4, 8, 8, generator=gen)
        ours = ddim_step(x, eps, step, sched, eta=eta, noise=z)
        theirs = ref.step(eps, step.t, x, eta=eta, variance_noise=z).prev_sample
        assert torch.allclose(ours, theirs, atol=2e-5, rtol=1e-4), step


def _toy():
    data = GaussianMixture1D.create([-1.0, 1.5], [0.4, 0.6], [0.3, 0.7])
    sched = sd15_schedule()
    return data, sched, mixture_noise_predictor(data, sched)


def test_toy_predictor_is_the_exact_score():
    data, sched, eps = _toy()
    x = torch.linspace(-3, 3, 41, dtype=torch.float64)
    for t in (10, 400, 900):
        ab = sched.alpha_bar(t)
        marg = data.marginal(ab)
        h = 1e-5  # finite difference of log density via the CDF's derivative
        def logpdf(v, marg=marg, h=h):
            return torch.log((marg.cdf(v + h) - marg.cdf(v - h)) / (2 * h))
        num_score = (logpdf(x + 1e-4) - logpdf(x - 1e-4)) / 2e-4
        assert torch.allclose(eps(x, t), -math.sqrt(1 - ab) * num_score, atol=1e-4)


@pytest.mark.parametrize("grid_fn", [uniform_grid, reference_grid])
def test_cycle_sde_reconstructs_exactly_in_float64(grid_fn):
    data, sched, eps = _toy()
    steps = lowest_steps(grid_fn(100), 60)
    x0 = data.sample(512, torch.Generator().manual_seed(1))
    traj = noise_adding_trajectory(x0, steps, sched, torch.Generator().manual_seed(2))
    out = cycle_sde_sample(traj.start.clone(), traj, eps, sched)
    assert (out - x0).abs().max() < 1e-9
    # and DDIM inversion of the same model does not reconstruct nearly as well
    states = ddim_invert(x0, steps, eps, sched)
    back = sample(states[0], steps, eps, sched, eta=0.0)
    assert (back - x0).abs().max() > 1e3 * (out - x0).abs().max()


def test_cycle_sde_states_follow_eq7_marginals():
    # The Markov chain of Eq. 7 must have the forward marginals N(sqrt(ab) x0, 1 - ab).
    sched = sd15_schedule()
    steps = lowest_steps(uniform_grid(50), 30)
    x0 = torch.full((200_000,), 2.0, dtype=torch.float64)
    traj = noise_adding_trajectory(x0, steps, sched, torch.Generator().manual_seed(0))
    # The clean latent sits at the level of ab[0] (SD 1.5's final alpha), so the state at t has
    # the marginal of level t relative to that one.
    ab0 = sched.final_alpha_cumprod
    for i in (0, 10, 29):
        ratio = sched.alpha_bar(steps[i].t) / ab0
        assert traj.states[i].mean().item() == pytest.approx(2 * math.sqrt(ratio), abs=0.01)
        assert traj.states[i].var().item() == pytest.approx(1 - ratio, rel=0.02)


def test_batched_trajectory_predictions_equal_per_step_ones():
    data, sched, eps = _toy()
    steps = lowest_steps(uniform_grid(50), 20)
    x0 = data.sample(16, torch.Generator().manual_seed(3))
    traj = noise_adding_trajectory(x0, steps, sched, torch.Generator().manual_seed(4))
    one = trajectory_noise_predictions(traj, eps, batch_size=1)
    many = trajectory_noise_predictions(traj, eps, batch_size=7)
    assert all(torch.allclose(a, b, atol=0, rtol=1e-12) for a, b in zip(one, many, strict=True))
    out = cycle_sde_sample(traj.start, traj, eps, sched, trajectory_eps=many)
    assert (out - x0).abs().max() < 1e-9


def test_sde_dpm_solver_first_order_is_the_ddpm_step_and_ode_is_ddim():
    sched = sd15_schedule()
    gen = torch.Generator().manual_seed(5)
    x, eps, z = (torch.randn(3, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    step = Step(501, 481)
    from sdedit_desktop.diffusion.ddim import predict_x0
    m0 = predict_x0(x, eps, sched.alpha_bar(step.t))
    sde = dpm_solver_step(x, m0, step, sched, "sde", noise=z)
    ode = dpm_solver_step(x, m0, step, sched, "ode")
    assert torch.allclose(sde, ddim_step(x, eps, step, sched, eta=1.0, noise=z), atol=1e-12)
    assert torch.allclose(ode, ddim_step(x, eps, step, sched, eta=0.0), atol=1e-12)


def test_second_order_dpm_solver_is_more_accurate_than_first():
    _data, sched, eps = _toy()
    x_T = torch.randn(4096, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    # Away from the stiff end near t = 0 (where the leading grid's last step stays long in
    # log-SNR whatever N), order 2 must beat order 1 by far and converge about 4x per doubling.
    errors = {}
    for n in (10, 20):
        grid = [s for s in uniform_grid(n) if s.s >= 200]
        unit = [Step(t, t - 1) for t in range(grid[0].t, grid[-1].s, -1)]
        fine = sample(x_T, unit, eps, sched, eta=0.0)  # near-exact ODE solution
        for order in (1, 2):
            out = dpm_solver_sample(x_T, grid, eps, sched, "ode", order=order)
            errors[n, order] = (out - fine).abs().mean().item()
    assert errors[20, 2] < 0.1 * errors[20, 1]
    assert errors[10, 1] / errors[20, 1] == pytest.approx(2.0, rel=0.2)  # first order
    assert errors[10, 2] / errors[20, 2] > 3.0  # second order


def test_sde_dpm_solver_samples_the_data_distribution():
    data, sched, eps = _toy()
    gen = torch.Generator().manual_seed(7)
    x_T = torch.randn(100_000, generator=gen, dtype=torch.float64)
    for order in (1, 2):
        x0 = dpm_solver_sample(x_T, uniform_grid(50), eps, sched, "sde", order, generator=gen)
        expected_mean = sum(m * w for m, w in zip(data.means, data.weights, strict=True))
        assert x0.mean().item() == pytest.approx(expected_mean, abs=0.02)
        assert ((x0 < 0).double().mean().item()) == pytest.approx(data.cdf(torch.zeros(1)).item(),
                                                                 abs=0.01)


def test_guidance_per_step_and_per_sample():
    calls = []

    def predict(x, t, emb, lora_scale):
        calls.append((x.shape[0], lora_scale))
        tt = t if isinstance(t, torch.Tensor) else torch.full((x.shape[0],), t)
        return x * emb[:, 0:1] + tt.view(-1, 1).double() * 0.01 * lora_scale

    cond, uncond = torch.tensor([[2.0]]), torch.tensor([[1.0]])
    eps = guided(predict, cond, uncond, guidance=lambda t: 1 + t / 100, lora_scale=lambda t: 0.5)
    x = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    single = torch.cat([eps(x[:1], 10), eps(x[1:], 300)])
    batched = eps(x, torch.tensor([10, 300]))
    assert torch.allclose(single, batched)
    # u + g (c - u) with u = x, c = 2x (+ the same t term): x + g x + t-term
    assert torch.allclose(batched[0], 1.0 + 1.1 * 1.0 + 0.05 * torch.ones(1, dtype=torch.float64))
    # groups with different LoRA scales go to separate calls
    calls.clear()
    eps2 = guided(predict, cond, None, lora_scale=lambda t: 1.0 if t < 100 else 0.5)
    eps2(x, torch.tensor([10, 300]))
    assert sorted(c[1] for c in calls) == [0.5, 1.0]


def test_cosine_schedule_for_the_toy():
    sched = cosine_schedule()
    assert sched.alphas_cumprod.dtype == torch.float64
    assert 0 < sched.alpha_bar(999) < 1e-3 and sched.alpha_bar(0) > 0.9999
