"""Thm 3.1/3.2 measured: SDE forgets a mismatched start, the ODE keeps it."""

import json

import pytest

from sdedit_desktop.cli import main
from sdedit_desktop.diffusion.schedule import cosine_schedule
from sdedit_desktop.diffusion.theory import Prior, kl_along_sampling, kl_samples_to_mixture
from sdedit_desktop.diffusion.toy import GaussianMixture1D

MIXTURE = GaussianMixture1D.create([-1, 1], [0.5, 0.5], [0.5, 0.5])


def test_kl_estimator_on_known_gaussians():
    import torch
    target = GaussianMixture1D.create([0.0], [1.0], [1.0])
    x = 2.0 * torch.randn(400_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = -0.6931471805599453 + 2.0 - 0.5  # KL(N(0,4) || N(0,1))
    assert kl_samples_to_mixture(x, target) == pytest.approx(exact, rel=0.02)
    same = torch.randn(400_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert kl_samples_to_mixture(same, target) < 0.002


@pytest.mark.parametrize("spec", ["normal:0,2", "uniform:-3,3", "normal:1,1"])
def test_sde_contracts_kl_and_ode_keeps_it(spec):
    curve = kl_along_sampling(MIXTURE, Prior.parse(spec), cosine_schedule(), steps=50,
                              samples=100_000)
    assert curve.t[0] > curve.t[-1] == 0
    assert curve.kl_sde[-1] <= curve.kl_sde[0] / 4
    assert curve.kl_ode[-1] == pytest.approx(curve.kl_ode[0], rel=0.15)
    assert curve.kl_ode[0] > 0.3


def test_matching_prior_stays_near_zero():
    curve = kl_along_sampling(MIXTURE, Prior.parse("normal:0,1"), cosine_schedule(), steps=50,
                              samples=100_000)
    assert max(curve.kl_sde) < 0.01 and max(curve.kl_ode) < 0.01


def test_other_mixtures_and_a_late_start_work():
    data = GaussianMixture1D.create([-2, 0, 3], [0.3, 0.8, 0.5], [1, 2, 1])
    curve = kl_along_sampling(data, Prior.parse("normal:2,0.5"), cosine_schedule(), steps=40,
                              samples=50_000, start=0.6)
    assert curve.t[0] == pytest.approx(0.6, abs=0.03)
    # less time to forget from t = 0.6, but the SDE still contracts and the ODE still does not
    assert curve.kl_sde[-1] < 0.75 * curve.kl_sde[0]
    assert curve.kl_ode[-1] == pytest.approx(curve.kl_ode[0], rel=0.15)


def test_theory_cli_writes_json_and_plot(tmp_path, capsys):
    code = main(["theory", "--prior", "normal:0,2", "--prior", "uniform:-3,3", "--steps", "30",
                 "--samples", "20000", "--out", str(tmp_path)])
    assert code == 0
    record = json.loads((tmp_path / "theory.json").read_text())
    assert set(record["priors"]) == {"normal:0,2", "uniform:-3,3"}
    for curve in record["priors"].values():
        assert len(curve["t"]) == len(curve["kl_sde"]) == len(curve["kl_ode"]) == 31
        assert curve["t"][0] > curve["t"][-1] == 0
    png = (tmp_path / "theory.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.parametrize("argv, message", [
    (["--prior", "gamma:1,2"], "bad prior"),
    (["--prior", "normal:0,-1"], "bad prior"),
    (["--means", "0,1", "--stds", "1", "--weights", "1,1"], "same, non-zero number"),
    (["--stds", "0.5,0"], "positive"),
    (["--means", "a,b"], "comma-separated numbers"),
    (["--steps", "0"], "--steps"),
])
def test_theory_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    assert main(["theory", "--out", str(tmp_path), "--samples", "2000", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
