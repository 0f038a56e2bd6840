"""`sdedit eval` metrics: the FID formula against the closed form for two Gaussians, the DIFT
matcher on a synthetic feature map, DIFT features of the tiny model, PSNR/SSIM, the intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sdedit_desktop.eval.metrics.availability import fid_unavailable
from sdedit_desktop.eval.metrics.dift import (
    dift_features,
    drag_distance,
    match_points,
    mean_distance,
)
from sdedit_desktop.eval.metrics.fid import fid, frechet_distance, gaussian_of
from sdedit_desktop.eval.metrics.pixels import psnr, ssim
from sdedit_desktop.eval.stats import mean_ci, wilson_interval


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def closed_form_frechet(mu1, s1, mu2, s2) -> float:
    """W2^2 between N(mu1, s1) and N(mu2, s2): |mu1-mu2|^2 + Tr(s1 + s2 - 2 (s1^½ s2 s1^½)^½)."""
    root = _sqrtm_psd(s1)
    cross = _sqrtm_psd(root @ s2 @ root)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * cross))


def _random_covariance(rng, dim):
    a = rng.normal(size=(dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


@pytest.mark.parametrize("dim", [1, 3, 16])
def test_frechet_distance_matches_the_closed_form_for_two_gaussians(dim):
    rng = np.random.default_rng(dim)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    s1, s2 = _random_covariance(rng, dim), _random_covariance(rng, dim)  # not commuting
    ours = frechet_distance(*(torch.from_numpy(x) for x in (mu1, s1, mu2, s2)))
    assert ours == pytest.approx(closed_form_frechet(mu1, s1, mu2, s2), rel=1e-6, abs=1e-9)


def test_frechet_distance_of_diagonal_gaussians_and_of_identical_ones():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([3.0, -1.0])
    s1, s2 = np.diag([4.0, 1.0]), np.diag([1.0, 9.0])
    expected = 9 + 4 + (2 - 1) ** 2 + (1 - 3) ** 2  # |dmu|^2 + sum (sqrt s1 - sqrt s2)^2
    t = [torch.from_numpy(x) for x in (mu1, s1, mu2, s2)]
    assert frechet_distance(*t) == pytest.approx(expected)
    assert frechet_distance(t[0], t[1], t[0], t[1]) == pytest.approx(0.0, abs=1e-9)


def test_feature_gaussians_of_samples_approach_the_true_distance():
    rng = np.random.default_rng(0)
    s2 = np.array([[2.0, 0.5], [0.5, 1.0]])
    a = rng.normal(size=(200_000, 2))
    b = rng.multivariate_normal([1.0, 0.0], s2, size=200_000)
    ours = frechet_distance(*gaussian_of(torch.from_numpy(a)), *gaussian_of(torch.from_numpy(b)))
    assert ours == pytest.approx(closed_form_frechet(np.zeros(2), np.eye(2),
                                                     np.array([1.0, 0.0]), s2), rel=0.02)


def test_fid_without_its_weights_says_why_instead_of_estimating():
    reason = fid_unavailable()
    if reason is None:
        pytest.skip("the Inception weights are on this machine")
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(RuntimeError, match="not"):
        fid([image] * 2, [image] * 2)


@pytest.mark.parametrize("shift", [(5, 3), (-7, 0), (0, -4)])
def test_dift_matcher_finds_a_known_displacement(shift):
    dx, dy = shift
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(96, 40, 40, generator=gen)
    edited = torch.roll(source, shifts=(dy, dx), dims=(1, 2))  # content moved by (dx, dy)
    handles = [(10, 12), (20, 25), (30, 8)]
    matched = match_points(source, edited, handles, (40, 40))
    assert matched == [(x + dx, y + dy) for x, y in handles]
    targets = [(x + dx, y + dy) for x, y in handles]
    assert mean_distance(matched, targets) == 0.0
    assert mean_distance(handles, targets) == pytest.approx(math.hypot(dx, dy))


def test_dift_matcher_upsamples_features_to_image_pixels():
    # 16x16 features for a 64x64 image: a shift of 2 feature cells is 8 image pixels
    gen = torch.Generator().manual_seed(1)
    source = torch.randn(64, 16, 16, generator=gen)
    edited = torch.roll(source, shifts=(0, 2), dims=(1, 2))
    matched = match_points(source, edited, [(22, 30)], (64, 64))
    assert matched == [(30, 30)]


def test_dift_features_come_from_the_unet_up_block_and_an_unchanged_image_scores_zero(
        make_tiny_model):

    model = make_tiny_model()
    rng = np.random.default_rng(0)
    image = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    feats = dift_features(model, image, "a photo", ensemble=2)
    assert feats.shape[0] == model.unet.up_blocks[1].resnets[-1].out_channels
    assert torch.equal(feats, dift_features(model, image, "a photo", ensemble=2))
    # the same noise draws for both images: an unchanged image matches every point to itself
    same = [((20, 20), (20, 20)), ((40, 50), (40, 50))]
    src = dift_features(model, image, "a photo", ensemble=2)
    assert match_points(src, src, [h for h, _ in same], (64, 64)) == [h for h, _ in same]
    assert drag_distance(model, image, image, "a photo", same, ensemble=2) >= 0.0


def test_psnr_and_ssim():
    rng = np.random.default_rng(0)
    a = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    assert psnr(a, a) == math.inf and ssim(a, a) == pytest.approx(1.0)
    b = a.copy()
    b[0, 0, 0] = a[0, 0, 0] ^ 16  # one value off by 16
    mse = 16 ** 2 / a.size
    assert psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / mse))
    noisy = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    assert 0 < ssim(a, noisy) < ssim(a, b) < 1


def test_mean_ci_and_wilson():
    stat = mean_ci([1.0, 2.0, 3.0])
    assert stat["mean"] == 2.0 and stat["ci95"] == pytest.approx(4.302653 / math.sqrt(3))
    assert mean_ci([5.0])["ci95"] is None and mean_ci([])["mean"] is None
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
