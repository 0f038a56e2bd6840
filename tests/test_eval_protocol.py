"""`sdedit eval` numbers computed as the published protocols compute them: DragBench's DIFT
point matching against a literal run of the protocol's steps, DragBench's LPIPS/CLIP inputs,
the CLIP cosine scale, the choice of the DIFT feature model, exact t quantiles, paired
differences and the clustered bootstrap."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from sdedit_desktop.eval.metrics.dift import DiftMatcher, dift_features, posterior_samples
from sdedit_desktop.eval.metrics.dift_model import (
    PUBLISHED_FEATURE_MODEL,
    FeatureModelError,
    feature_model_for,
)
from sdedit_desktop.eval.metrics.learned import LearnedMetrics, lpips_inputs
from sdedit_desktop.eval.stats import (
    _expansion_quantile,
    _own_t_quantile,
    mean_ci,
    paired_difference,
    t_quantile,
    two_way_bootstrap,
    wilson_interval,
)
from sdedit_desktop.models.tiny import save_tiny_model


@pytest.fixture(scope="module")
def tiny(make_tiny_model):
    return make_tiny_model()


def _image(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    smooth = np.stack([np.sin(xx / 5.0), np.cos(yy / 7.0), np.sin((xx + yy) / 9.0)], -1)
    noisy = smooth * 100 + 128 + rng.normal(0, 20, (height, width, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def published_protocol(model, source: np.ndarray, dragged: np.ndarray, prompt: str,
                       pairs) -> list[float]:
    """DragBench's point matching written out step by step as the published script does it,
    with diffusers' own pieces: the global RNG seeded 42, the image repeated 8 times and
    encoded to posterior samples, DDIM's add_noise at t=261, a full UNet forward whose
    up-block 1 output is averaged, full-size bilinear upsampling, nn.CosineSimilarity and
    numpy's argmax in (row, column)."""
    from diffusers import DDIMScheduler

    torch.manual_seed(42)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012,
                              beta_schedule="scaled_linear", num_train_timesteps=1000)
    ids = model.tokenizers[0](prompt, padding="max_length", truncation=True, return_tensors="pt",
                          max_length=model.tokenizers[0].model_max_length).input_ids

    def features(image: np.ndarray) -> torch.Tensor:
        tensor = (torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255.0 - 0.5) * 2
        batch = tensor.repeat(8, 1, 1, 1)
        with torch.no_grad():
            latents = model.vae.encode(batch).latent_dist.sample() \
                * model.vae.config.scaling_factor
            # The script's randn_like(latents): on its CUDA run the latents are contiguous and
            # that is a draw of the shape in order (on a CPU, oneDNN may hand back a
            # channels-last VAE output, and randn_like would permute the same draws).
            noise = torch.randn(latents.shape)
            t = torch.tensor(261, dtype=torch.long)
            noisy = scheduler.add_noise(latents, noise, t)
            embeds = model.text_encoders[0](ids)[0].repeat(8, 1, 1)
            seen = {}
            hook = model.unet.up_blocks[1].register_forward_hook(
                lambda _m, _i, out: seen.setdefault("up", out))
            model.unet(noisy, t, encoder_hidden_states=embeds)
            hook.remove()
        return seen["up"].mean(0, keepdim=True)

    height, width = source.shape[:2]
    dragged = np.asarray(Image.fromarray(dragged).resize((width, height), Image.BILINEAR))
    ft_source = F.interpolate(features(source), (height, width), mode="bilinear")
    ft_dragged = F.interpolate(features(dragged), (height, width), mode="bilinear")
    cos = torch.nn.CosineSimilarity(dim=1)
    out = []
    for (hx, hy), (tx, ty) in pairs:
        vector = ft_source[0, :, hy, hx].view(1, -1, 1, 1)
        cos_map = cos(vector, ft_dragged).numpy()[0]
        row, col = np.unravel_index(cos_map.argmax(), cos_map.shape)
        out.append(float((torch.tensor([ty, tx]) - torch.tensor([row, col])).float().norm()))
    return out


@pytest.mark.parametrize("size, edited_size", [((64, 64), (64, 64)), ((96, 64), (64, 48))])
def test_dift_distance_equals_a_literal_run_of_the_published_protocol(tiny, size, edited_size):
    source = _image(*size, seed=0)
    edited = np.asarray(Image.fromarray(np.roll(source, 5, axis=1)).resize(edited_size))
    pairs = [((20, 30), (25, 30)), ((40, 12), (48, 20)), ((10, 50), (10, 40))]
    expected = published_protocol(tiny, source, edited, "a photo of a cat", pairs)
    got = DiftMatcher(tiny, ensemble=8).distances(source, edited, "a photo of a cat", pairs)
    assert got == pytest.approx(expected, abs=1e-5)


def test_dift_uses_posterior_samples_of_the_image_at_its_own_size(tiny):
    image = _image(80, 48, seed=1)  # not a multiple of 64: the script never resizes
    seen = []
    hook = tiny.vae.encoder.register_forward_hook(lambda _m, inputs, _o: seen.append(
        tuple(inputs[0].shape)))
    try:
        features = dift_features(tiny, image, "x", ensemble=3)
    finally:
        hook.remove()
    assert seen == [(1, 3, 48, 80)]
    assert features.shape[0] == tiny.unet.up_blocks[1].resnets[-1].out_channels
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    draws = posterior_samples(tiny, x, 3, torch.Generator().manual_seed(0))
    mean = tiny.encode_image(x).float()
    assert draws.shape == (3, *mean.shape[1:])
    assert not torch.allclose(draws[0], mean[0]) and not torch.allclose(draws[0], draws[1])
    # averaged over many draws the samples centre on the posterior mean
    many = posterior_samples(tiny, x, 400, torch.Generator().manual_seed(0))
    standard_error = many.std(0) / math.sqrt(len(many))
    assert bool(((many.mean(0) - mean[0]).abs() < 5 * standard_error).all())


def test_dift_matcher_reuses_the_input_features_and_the_same_noise_for_every_method(tiny,
                                                                                   monkeypatch):
    import sdedit_desktop.eval.metrics.dift as dift

    source = _image(64, 64, seed=2)
    edited = np.roll(source, 3, axis=0)
    calls = []
    real = dift.dift_features
    monkeypatch.setattr(dift, "dift_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    matcher = DiftMatcher(tiny, ensemble=2)
    pairs = [((20, 20), (20, 23))]
    first = matcher.distances(source, edited, "p", pairs)
    second = matcher.distances(source, edited, "p", pairs)  # another method, same result image
    assert len(calls) == 3 and first == second  # the input's features were computed once


def test_lpips_inputs_are_resized_to_224_in_the_unit_range():
    a = _image(512, 384, seed=3)
    x, y = lpips_inputs(a, a[::-1].copy(), 224)
    assert x.shape == y.shape == (1, 3, 224, 224)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    reference = F.interpolate(torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1,
                              (224, 224), mode="bilinear", align_corners=False)
    assert torch.equal(x, reference)
    assert lpips_inputs(a, a, None)[0].shape == (1, 3, 384, 512)


def _tiny_clip(_name: str):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from sdedit_desktop.models.tokenizer import build_clip_tokenizer

    torch.manual_seed(0)
    tokenizer = build_clip_tokenizer(512)
    config = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                     "num_hidden_layers": 2, "vocab_size": tokenizer.vocab_size,
                     "max_position_embeddings": 77,
                     "bos_token_id": tokenizer.bos_token_id,
                     "eos_token_id": tokenizer.eos_token_id,
                     "pad_token_id": tokenizer.pad_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                       "num_hidden_layers": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16)
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size=32),
                              tokenizer=tokenizer)
    return CLIPModel(config).eval(), processor


def test_clip_similarities_are_plain_cosines_of_the_clip_embeddings():
    metrics = LearnedMetrics("cpu", clip_factory=_tiny_clip)
    a, b = _image(64, 64, seed=4), _image(64, 64, seed=5)
    model, processor = metrics._clip("tiny")
    with torch.no_grad():
        pixels = processor(images=[a, b], return_tensors="pt")["pixel_values"]
        emb = model.get_image_features(pixel_values=pixels)
        emb = getattr(emb, "pooler_output", emb)
    expected = float(F.cosine_similarity(emb[0:1], emb[1:2]))
    got = metrics.clip_image_similarity(a, b, "tiny")
    assert got == pytest.approx(expected, abs=1e-5) and -1.0 <= got <= 1.0
    assert metrics.clip_image_similarity(a, a, "tiny") == pytest.approx(1.0, abs=1e-5)
    text = metrics.clip_text_similarity(a, "a red house", "tiny")
    assert -1.0 <= text <= 1.0  # the cosine itself: never x100, never clamped at 0


def _hub_snapshot(root, repo_id: str):
    folder = root / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    save_tiny_model(folder / "snapshots" / commit)
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)


def test_feature_model_is_sd21_when_cached_else_the_loaded_model_marked_not_comparable(
        tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    fallback = feature_model_for(None, tiny, "cpu")
    assert fallback.model is tiny and not fallback.comparable
    assert "NOT COMPARABLE" in fallback.note and "not in the local" in fallback.note
    loaded = feature_model_for("loaded", tiny, "cpu")
    assert loaded.model is tiny and not loaded.comparable
    with pytest.raises(FeatureModelError, match=r"--feature-model .*nowhere"):
        feature_model_for(str(tmp_path / "nowhere"), tiny, "cpu")
    _hub_snapshot(tmp_path / "hub", PUBLISHED_FEATURE_MODEL)
    published = feature_model_for(None, tiny, "cpu")
    assert published.comparable and published.model is not tiny
    assert published.identity["source"] == PUBLISHED_FEATURE_MODEL
    assert "DragBench protocol" in published.note
    assert str(published.model.dtype) == "torch.float32"


# Two-sided 95% points as printed in the NIST/SEMATECH e-Handbook's t table (3 decimals) and,
# to 6 decimals, as R's qt(0.975, dof) gives them.
NIST = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 25: 2.060, 29: 2.045, 30: 2.042, 40: 2.021,
        50: 2.009, 60: 2.000, 80: 1.990, 100: 1.984}
SIX_DECIMALS = {31: 2.039513, 40: 2.021075, 60: 2.000298, 120: 1.979930, 1000: 1.962339}


def test_t_quantile_is_exact_for_every_sample_size():
    for dof, expected in NIST.items():
        assert t_quantile(dof) == pytest.approx(expected, abs=5.1e-4), dof
    for dof, expected in SIX_DECIMALS.items():
        assert t_quantile(dof) == pytest.approx(expected, abs=5.1e-7), dof
    # no step to the normal's 1.96 past 30 degrees of freedom: it keeps falling towards it
    dofs = [*range(1, 80), 99, 100, 101, 500, 998, 999, 1000, 1001, 1002, 5000, 10**6]
    values = [t_quantile(d) for d in dofs]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert values[-1] > 1.959963984540054


def test_own_t_quantile_agrees_with_closed_forms_and_across_its_two_methods():
    for p in (0.6, 0.9, 0.975, 0.995):
        assert _own_t_quantile(p, 1.0) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-12)
        two = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
        assert _own_t_quantile(p, 2.0) == pytest.approx(two, rel=1e-12)
        a = 4 * p * (1 - p)  # four degrees of freedom have a closed form too
        four = 2 * math.sqrt(math.cos(math.acos(math.sqrt(a)) / 3) / math.sqrt(a) - 1)
        assert _own_t_quantile(p, 4.0) == pytest.approx(four, rel=1e-12)
        assert _own_t_quantile(1 - p, 7.0) == pytest.approx(-_own_t_quantile(p, 7.0), rel=1e-12)
    # the 1/dof expansion used from 1000 on meets the exact inversion there
    from sdedit_desktop.eval import stats

    for dof in (400.0, 999.0):
        assert _expansion_quantile(0.975, dof) == pytest.approx(
            stats._own_t_quantile(0.975, dof), rel=1e-12)


def test_t_quantile_agrees_with_scipy_when_it_is_installed():
    scipy_t = pytest.importorskip("scipy.stats").t
    for dof in (1, 2, 7, 31, 99, 999, 1001, 12345):
        assert _own_t_quantile(0.975, float(dof)) == pytest.approx(scipy_t.ppf(0.975, dof),
                                                                   rel=1e-11)


def test_mean_ci_paired_difference_and_wilson():
    stat = mean_ci([1.0, 2.0, 3.0])
    assert stat["mean"] == 2.0 and stat["ci95"] == pytest.approx(4.302652729749464 / math.sqrt(3))
    assert mean_ci([5.0])["ci95"] is None and mean_ci([])["mean"] is None
    sde = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 9.0}
    ode = {"a": 1.5, "b": 2.4, "c": 3.6}  # d has no ODE result: not paired
    diff = paired_difference(sde, ode)
    assert diff["n"] == 3 and diff["mean"] == pytest.approx(-0.5)
    assert diff["ci95"] == pytest.approx(4.302652729749464 * 0.1 / math.sqrt(3))
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)


def test_clustered_bootstrap_is_wider_than_the_pooled_interval_when_participants_differ():
    # 10 participants x 20 questions; half always pick SDE, half always ODE
    cells = {(f"p{p}", f"q{q}"): float(p < 5) for p in range(10) for q in range(20)}
    low, high = two_way_bootstrap(cells, draws=1000)
    assert low < 0.5 < high
    pooled_low, pooled_high = wilson_interval(100, 200)
    assert high - low > 2 * (pooled_high - pooled_low)  # 10 independent voices, not 200
    same = {(f"p{p}", f"q{q}"): 1.0 for p in range(5) for q in range(4)}
    assert two_way_bootstrap(same, draws=200) == (1.0, 1.0)
    assert two_way_bootstrap({}, draws=10) is None
