"""Model families (SD 1.x, SD 2.x with v-prediction, SDXL): tiny random models of each, saved as
diffusers folders that diffusers' own pipelines load and as original-layout single files, loaded
back by our loader; every edit on each; Cycle-SDE exact in float64 on each; the v-prediction
conversion exact by construction; detection, prediction-type memory and mixed-family errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from family_helpers import FAMILIES, save_tiny_families
from safetensors.torch import save_file

from sdedit_desktop.core.families import default_max_side, native_side
from sdedit_desktop.core.identity import ModelIdentity
from sdedit_desktop.diffusion.ddim import ddim_step
from sdedit_desktop.diffusion.grids import Step
from sdedit_desktop.diffusion.schedule import schedule_from_config
from sdedit_desktop.edits import (
    DiffEditRequest,
    DragRequest,
    InpaintRequest,
    ReconstructRequest,
    run_edit,
)
from sdedit_desktop.edits.region import auto_region
from sdedit_desktop.models.errors import LoraError, PredictionTypeNeededError
from sdedit_desktop.models.interface import LatentDiffusionModel, ModelSpec
from sdedit_desktop.models.loading import load_model
from sdedit_desktop.models.sd_model import StableDiffusionModel
from sdedit_desktop.models.tiny import tiny_ldm_state_dict


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("SDEDIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return save_tiny_families(tmp_path_factory.mktemp("families"))


@pytest.fixture(scope="module")
def models(make_tiny_model):
    return {family: make_tiny_model(0, family=family) for family in FAMILIES}


def image(height: int = 64, width: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, height * width * 3).reshape(height, width, 3)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def outputs(model):
    gen = torch.Generator().manual_seed(3)
    latent = torch.randn(2, 4, 8, 12, generator=gen)
    pixels = torch.rand(1, 3, 64, 96, generator=gen) * 2 - 1
    cond = model.encode_prompt("a photo of a cat")
    return (model.predict_noise(latent, torch.tensor([10, 900]), cond),
            model.encode_image(pixels), model.decode_latent(latent[:1]))


# -- loading ---------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_folder_and_single_file_load_as_the_family_they_are(files, models, family):
    folder, single = files[family]
    from_folder = load_model(ModelSpec(str(folder)))
    # The folder's configs stand in for the bundled real-size ones.
    from_file = load_model(ModelSpec(str(single)), config_dir=folder)
    reference = outputs(models[family])
    for model in (from_folder, from_file):
        assert isinstance(model, LatentDiffusionModel)
        assert model.family.name == family == model.identity.family
        assert model.prediction_type == models[family].prediction_type
        for got, want in zip(outputs(model), reference, strict=True):
            assert torch.equal(got, want)
    assert from_file.identity.kind == "single-file"
    assert models["sd2"].prediction_type == "v_prediction"
    assert models["sdxl"].scaling_factor == 0.13025 and models["sd1"].scaling_factor == 0.18215


@pytest.mark.slow
def test_diffusers_pipelines_load_the_folders_and_agree_on_the_conditioning(files, models):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    for family in FAMILIES:
        cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
        pipe = cls.from_pretrained(str(files[family][0]), local_files_only=True)
        assert type(pipe) is cls
        model = models[family]
        x = torch.randn(2, 4, 8, 12, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            if family != "sdxl":
                cond, uncond = pipe.encode_prompt("a photo of a cat", "cpu", 1, True,
                                                  negative_prompt="")
                assert torch.equal(cond, model.encode_prompt("a photo of a cat"))
                assert torch.equal(uncond, model.encode_prompt("", negative=True))
                continue
            cond, uncond, pooled, uncond_pooled = pipe.encode_prompt(
                "a photo of a cat", device="cpu", num_images_per_prompt=1,
                do_classifier_free_guidance=True)
            ours = model.encode_prompt("a photo of a cat")
            assert torch.equal(cond, ours["embeds"])
            assert torch.allclose(pooled, ours["pooled"], atol=1e-6)
            # An empty negative prompt is zeros (force_zeros_for_empty_prompt).
            zeros = model.encode_prompt("", negative=True)
            assert not uncond.any() and not uncond_pooled.any()
            assert not zeros["embeds"].any() and not zeros["pooled"].any()
            # The size ids of a 64x96 working image: orig = target = its size, crop 0.
            ids = pipe._get_add_time_ids((64, 96), (0, 0), (64, 96), dtype=cond.dtype,
                                         text_encoder_projection_dim=32)
            want = pipe.unet(x, 500, encoder_hidden_states=cond.expand(2, -1, -1),
                             added_cond_kwargs={"text_embeds": pooled.expand(2, -1),
                                                "time_ids": ids.expand(2, -1)}).sample
            assert torch.allclose(model.predict_noise(x, 500, ours), want, atol=1e-5)


def test_single_files_have_the_original_key_layouts(files):
    keys = {family: set(json.loads(_header(files[family][1]))) for family in FAMILIES}
    assert "cond_stage_model.transformer.text_model.final_layer_norm.weight" in keys["sd1"]
    # SD 2.x: OpenCLIP names, q/k/v as one in_proj, and one layer more than the UNet sees.
    assert "cond_stage_model.model.transformer.resblocks.2.attn.in_proj_weight" in keys["sd2"]
    assert "cond_stage_model.model.ln_final.weight" in keys["sd2"]
    # SDXL: CLIP-L as embedders.0, OpenCLIP bigG (with its projection) as embedders.1, and the
    # "text_time" embedding as label_emb.
    assert "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight" \
        in keys["sdxl"]
    assert "conditioner.embedders.1.model.text_projection" in keys["sdxl"]
    assert "model.diffusion_model.label_emb.0.2.weight" in keys["sdxl"]
    assert "model.diffusion_model.input_blocks.5.1.transformer_blocks.1.attn2.to_k.weight" \
        in keys["sdxl"]


def _header(path: Path) -> bytes:
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    return raw[8:8 + length]


@pytest.fixture(scope="module")
def real_architectures():
    """SD 2.1's and SDXL's real modules from the bundled configs, on the meta device."""
    from sdedit_desktop.models.components import (
        empty_text_encoder,
        empty_unet,
        empty_vae,
        read_family_configs,
    )
    from sdedit_desktop.models.families import SD2, SDXL

    out = {}
    for family in (SD2, SDXL):
        cfg = read_family_configs(family)
        texts = [empty_text_encoder(c, s.with_projection)
                 for s, c in zip(family.encoders, cfg.text_encoders, strict=True)]
        out[family.name] = (family, cfg, empty_unet(cfg.unet), empty_vae(cfg.vae), texts)
    return out


@pytest.mark.slow
def test_real_architectures_have_the_published_sizes_and_layouts(real_architectures, tmp_path):
    """The bundled configs are the real SD 2.1 / SDXL base ones (parameter counts as
    published), their original single-file layout has the names of the released files, and a
    header with it is detected as its family from the header alone (meta tensors, no data)."""
    from sdedit_desktop.models.components import model_config, read_family_configs
    from sdedit_desktop.models.families import SD2
    from sdedit_desktop.models.ldm_layout import to_ldm_state_dict
    from sdedit_desktop.models.single_file import check_checkpoint_header

    def count(module):
        return sum(p.numel() for p in module.parameters())

    sizes = {name: (count(unet), [count(t) for t in texts])
             for name, (_, _, unet, _, texts) in real_architectures.items()}
    assert sizes == {"sd2": (865_910_724, [340_387_840]),
                     "sdxl": (2_567_463_684, [123_060_480, 694_659_840])}
    layouts = {"sd2": "cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight",
               "sdxl": "conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight"}
    for name, (family, cfg, unet, vae, texts) in real_architectures.items():
        state = to_ldm_state_dict(unet.state_dict(), vae.state_dict(),
                                  [t.state_dict() for t in texts], model_config(cfg.unet),
                                  model_config(cfg.vae), family,
                                  unused_text_layers=1 if name == "sd2" else 0)
        assert layouts[name] in state
        header = {k: {"dtype": "F16", "shape": list(v.shape), "data_offsets": [0, 0]}
                  for k, v in state.items()}
        assert check_checkpoint_header(header, tmp_path / "model.safetensors") is family
    assert real_architectures["sdxl"][1].unet["cross_attention_dim"] == 768 + 1280
    # An SD 2.x epsilon model is the 512 px line.
    assert read_family_configs(SD2, None, "epsilon").unet["sample_size"] == 64


def test_sd2_single_file_asks_for_its_prediction_type_once(files, tmp_path):
    folder = shutil.copytree(files["sd2"][0], tmp_path / "configs")
    sched = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(sched.read_text())
    del config["prediction_type"]  # the configs do not say either: only the user can
    sched.write_text(json.dumps(config))
    single = shutil.copyfile(files["sd2"][1], tmp_path / "sd2.safetensors")
    with pytest.raises(PredictionTypeNeededError, match="--prediction-type") as info:
        load_model(ModelSpec(str(single)), config_dir=folder)
    assert "sd2.safetensors" in str(info.value) and "768" in str(info.value)
    first = load_model(ModelSpec(str(single), prediction_type="v_prediction"), config_dir=folder)
    assert first.prediction_type == "v_prediction" and first.native_side == 768
    again = load_model(ModelSpec(str(single)), config_dir=folder)  # remembered for this file
    assert again.prediction_type == "v_prediction"
    assert again.identity.prediction_type == "v_prediction"
    eps = load_model(ModelSpec(str(single), prediction_type="epsilon"), config_dir=folder)
    assert eps.prediction_type == "epsilon" and eps.native_side == 512
    # A changed file is asked about again.
    os.utime(single, ns=(1, 1))
    with pytest.raises(PredictionTypeNeededError):
        load_model(ModelSpec(str(single)), config_dir=folder)


def test_a_safetensors_header_length_ending_in_0x80_is_no_pickle(tmp_path):
    """(The tiny SD 2.x file hit it: one file in 256 has this first byte, the pickle marker.)"""
    from sdedit_desktop.models.weights import read_safetensors, sniff_format

    header = json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
    raw = header.encode().ljust(0x80, b" ")
    path = tmp_path / "odd.safetensors"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0\0\0\0")
    assert path.read_bytes()[0] == 0x80
    assert sniff_format(path) == "safetensors"
    assert read_safetensors(path)["x"].shape == (1,)


def test_v_pred_marker_and_refused_files(files, tmp_path):
    from sdedit_desktop.models.errors import WrongCheckpointError

    state = tiny_ldm_state_dict(family="sdxl")
    marked = tmp_path / "vpred.safetensors"
    save_file({**state, "v_pred": torch.zeros(0)}, str(marked))
    assert load_model(ModelSpec(str(marked)), config_dir=files["sdxl"][0]).prediction_type \
        == "v_prediction"
    flux = tmp_path / "flux.safetensors"
    save_file({"double_blocks.0.img_attn.qkv.weight": torch.zeros(2, 2)}, str(flux))
    with pytest.raises(WrongCheckpointError, match="flow-matching"):
        load_model(ModelSpec(str(flux)))
    inpaint = tmp_path / "inpaint"
    shutil.copytree(files["sd1"][0], inpaint)
    cfg = json.loads((inpaint / "unet" / "config.json").read_text())
    (inpaint / "unet" / "config.json").write_text(json.dumps({**cfg, "in_channels": 9}))
    with pytest.raises(WrongCheckpointError, match="9 input channels"):
        load_model(ModelSpec(str(inpaint)))


# -- every edit on every family --------------------------------------------------------------
def _requests(img: np.ndarray) -> dict[str, object]:
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[16:48, 24:72] = 255
    return {
        "drag": DragRequest(image=img, points=(((30, 30), (40, 34)),), steps=20, lora="off"),
        "inpaint": InpaintRequest(image=img, mask=mask, prompt="a photo", steps=8),
        "diffedit": DiffEditRequest(image=img, source_prompt="a cat", target_prompt="a dog",
                                    steps=10, mask_samples=2),
        "reconstruct": ReconstructRequest(image=img, prompt="a photo", steps=10),
    }


@pytest.mark.parametrize("kind", ["drag", "inpaint", "diffedit", "reconstruct"])
@pytest.mark.parametrize("method", ["sde", "ode"])
def test_every_edit_runs_on_every_family(models, kind, method):
    img = image()
    calls = set()
    for family in FAMILIES:
        model = models[family]
        request = _requests(img)[kind].with_changes(method=method, model=model.identity)
        result = run_edit(model, request)
        assert result.image.shape == img.shape and result.image.dtype == np.uint8
        assert result.unet_calls > 0
        calls.add(result.unet_calls)
        if kind == "diffedit":  # the auto mask was computed (may be empty on random weights)
            assert result.mask is not None and result.mask.shape == img.shape[:2]
    # The same edit costs the same UNet calls on every family: only the network differs.
    assert len(calls) == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_cycle_sde_reconstruction_is_exact_in_float64_on_every_family(make_tiny_model, family):
    model = make_tiny_model(0, family=family, dtype=torch.float64)
    request = ReconstructRequest(image=image(64, 64, seed=3), steps=20, guidance=7.5,
                                 prompt="a photo", seed=0, method="sde", dtype="float64")
    result = run_edit(model, request)
    assert result.metrics["latent_max_abs_err"] <= 1e-10
    ddim = run_edit(model, request.with_changes(method="ode"))
    assert ddim.metrics["latent_max_abs_err"] > 1e3 * result.metrics["latent_max_abs_err"]


class _VelocityUNet(torch.nn.Module):
    """An ε-UNet that outputs v = (eps - sqrt(1 - ab) x) / sqrt(ab) instead: a v-model whose
    converted noise is the ε-model's exactly (up to float64 rounding)."""

    def __init__(self, unet, alphas_cumprod: torch.Tensor):
        super().__init__()
        self.inner = unet
        self.register_buffer("ab", alphas_cumprod)

    @property
    def config(self):
        return self.inner.config

    def forward(self, sample, timestep, **kwargs):
        eps = self.inner(sample, timestep, **kwargs)[0]
        ab = self.ab[timestep.reshape(-1).long().cpu()].to(sample).view(-1, 1, 1, 1)
        return ((eps - (1 - ab).sqrt() * sample) / ab.sqrt(),)


def test_a_v_model_gives_the_eps_models_edit_exactly(make_tiny_model):
    eps_model = make_tiny_model(0, dtype=torch.float64)
    unet = make_tiny_model(0, dtype=torch.float64).unet
    v_model = StableDiffusionModel(
        family=eps_model.family, unet=unet, vae=eps_model.vae,
        text_encoders=eps_model.text_encoders, tokenizers=eps_model.tokenizers,
        scheduler_config={**eps_model.scheduler_config, "prediction_type": "v_prediction"},
        device=torch.device("cpu"), dtype=torch.float64,
        identity=ModelIdentity("tiny", "tiny-as-v"))
    v_model.unet = _VelocityUNet(unet, eps_model.schedule.alphas_cumprod)
    assert v_model.prediction_type == "v_prediction"
    img = image(64, 64, seed=5)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    for request in (DragRequest(image=img, points=(((20, 20), (34, 30)),), steps=10, lora="off"),
                    InpaintRequest(image=img, mask=mask, prompt="a photo", steps=6, order=2),
                    DiffEditRequest(image=img, source_prompt="a cat", target_prompt="a dog",
                                    steps=6, method="ode", mask_samples=2)):
        a, b = run_edit(eps_model, request), run_edit(v_model, request)
        assert np.array_equal(a.image, b.image)
    latent = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    cond = eps_model.encode_prompt("x")
    diff = eps_model.predict_noise(latent, torch.tensor([3, 997]), cond) - \
        v_model.predict_noise(latent, torch.tensor([3, 997]), cond)
    assert diff.abs().max() < 1e-12


def test_eps_from_v_agrees_with_diffusers_v_prediction_scheduler(make_tiny_model):
    from diffusers import DDIMScheduler

    config = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
              "num_train_timesteps": 1000, "set_alpha_to_one": False, "steps_offset": 1,
              "clip_sample": False, "prediction_type": "v_prediction"}
    scheduler = DDIMScheduler(**config)
    scheduler.set_timesteps(50)
    schedule = schedule_from_config(config)
    model = make_tiny_model(0, family="sd2", dtype=torch.float64)
    x = torch.randn(1, 4, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    cond = model.encode_prompt("a photo")
    t, s = int(scheduler.timesteps[10]), int(scheduler.timesteps[11])
    v = model.unet_output(x, t, cond)
    want = scheduler.step(v, t, x, eta=0.0).prev_sample
    got = ddim_step(x, model.predict_noise(x, t, cond), Step(t, s), schedule)
    # (diffusers keeps its schedule in float32: agreement to its rounding)
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(ddim_step(x, v, Step(t, s), schedule), want, atol=1e-2)


@pytest.mark.parametrize("config", [
    {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02},
    {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012},
    {"beta_schedule": "squaredcos_cap_v2"},
    {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
     "rescale_betas_zero_snr": True},
])
def test_schedule_from_config_is_diffusers_schedule(config):
    from diffusers import DDPMScheduler

    ours = schedule_from_config({"num_train_timesteps": 1000, **config}).alphas_cumprod
    theirs = DDPMScheduler(num_train_timesteps=1000, **config).alphas_cumprod.double()
    if config.get("rescale_betas_zero_snr"):
        assert ours[-1] == 2.0 ** -24 and theirs[-1] == 0.0  # kept off zero: x0 divides by it
        ours, theirs = ours[:-1], theirs[:-1]
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-7)


# -- sizes -------------------------------------------------------------------------------------
def test_auto_region_and_max_side_follow_the_model_family():
    photo = np.zeros((3000, 4000, 3), np.uint8)
    drag = DragRequest(image=photo, points=(((2000, 1500), (2040, 1520)),))
    for identity, side in ((None, 512), (ModelIdentity("hub", "a"), 512),
                           (ModelIdentity("hub", "b", family="sd2",
                                          prediction_type="v_prediction"), 768),
                           (ModelIdentity("hub", "c", family="sd2"), 512),
                           (ModelIdentity("hub", "d", family="sdxl"), 1024)):
        assert native_side(identity) == side
        region = auto_region(drag.with_changes(model=identity))
        assert min(region[2:]) == side  # a drag's box is smaller: the region is native size
        assert default_max_side(identity) == side * 3 // 2


def test_a_12_megapixel_photo_is_edited_in_a_native_region_at_scale_1_on_sdxl(models):
    """A drag in a 12 MP photo with an SDXL model: the region is 1024 px at scale 1 (the
    plan: running the tiny model at 1024 x 1024 takes a minute on a CPU, so the run below edits
    a 1200 x 160 strip, whose region is 1024 px wide at scale 1), and pixels outside stay the
    photo's."""
    from sdedit_desktop.edits.geometry import working_size
    from sdedit_desktop.edits.regional import plan_region

    model = models["sdxl"]
    big = np.zeros((3000, 4000, 3), np.uint8)
    request = DragRequest(image=big, points=(((2000, 1500), (2016, 1508)),), lora="off",
                          model=model.identity, max_side=default_max_side(model.identity))
    _, _, w, h = plan_region(request)
    assert (w, h) == (1024, 1024) and working_size(w, h, request.max_side).identity
    photo = image(160, 1200, seed=2)
    result = run_edit(model, request.with_changes(
        image=photo, points=(((600, 80), (610, 84)),), steps=4))
    x, _, w, h = result.region
    assert (w, h) == (1024, 160) and result.work_scale == 1.0
    assert np.array_equal(result.image[:, :x], photo[:, :x])
    assert np.array_equal(result.image[:, x + w:], photo[:, x + w:])


# -- LoRA across families ----------------------------------------------------------------------
@pytest.mark.parametrize("family", ["sd2", "sdxl"])
def test_per_image_lora_trains_on_every_family(models, tmp_path, family):
    from sdedit_desktop.models.lora import LoraCache, LoraSettings, ensure_lora

    model = models[family]
    cache = LoraCache(tmp_path / "lora")
    settings = LoraSettings(steps=5, learning_rate=1e-2)
    key = ensure_lora(model, image(64, 64), "a photo", settings, cache)
    meta = cache.read_metadata(key)
    assert meta["base"]["family"] == family and len(meta["losses"]) == 5
    x = torch.randn(1, 4, 8, 8)
    cond = model.encode_prompt("a photo")
    assert not torch.equal(model.predict_noise(x, 500, cond, 1.0),
                           model.predict_noise(x, 500, cond, 0.0))
    model.detach_lora()
    # Cached under the model's identity: found again, not retrained.
    assert ensure_lora(model, image(64, 64), "a photo", settings, cache) == key
    model.detach_lora()


def test_a_v_model_trains_on_v(make_tiny_model):
    """LoRA training's target is what the UNet predicts: v for a v-model (diffusers'
    get_velocity), the noise for an ε-model."""
    from diffusers import DDIMScheduler

    v_model, eps_model = make_tiny_model(0, family="sd2"), make_tiny_model(0)
    gen = torch.Generator().manual_seed(0)
    clean, noise = torch.randn(3, 4, 8, 8, generator=gen), torch.randn(3, 4, 8, 8, generator=gen)
    t = torch.tensor([5, 400, 990])
    want = DDIMScheduler.from_config(v_model.scheduler_config).get_velocity(clean, noise, t)
    assert torch.allclose(v_model.training_target(clean, noise, t), want, atol=1e-6)
    assert torch.equal(eps_model.training_target(clean, noise, t), noise)


def test_a_lora_of_another_family_is_refused_in_one_message(make_tiny_model, tmp_path):
    from sdedit_desktop.models.lora import LoraCache, LoraSettings, ensure_lora, load_lora_file

    sdxl, sd1 = make_tiny_model(0, family="sdxl"), make_tiny_model(0)
    cache = LoraCache(tmp_path / "lora")
    key = ensure_lora(sdxl, image(64, 64), "a photo", LoraSettings(steps=2), cache)
    exported = tmp_path / "sdxl-lora.safetensors"
    cache.export(key, exported)
    with pytest.raises(LoraError) as info:
        load_lora_file(sd1, exported)
    message = str(info.value)
    assert "SDXL" in message and "SD 1.x" in message and "sdxl-lora.safetensors" in message
    assert not sd1.has_lora and exported.is_file() and cache.has(key)  # nothing lost


def test_a_community_lora_of_another_width_is_refused(make_tiny_model, tmp_path):
    """A community LoRA's family shows in its cross-attention width (768 SD 1.x, 1024 SD 2.x,
    2048 SDXL); one that does not fit the model is refused before anything is attached."""
    from sdedit_desktop.models.lora import load_lora_file

    sd1 = make_tiny_model(0)
    key = "lora_unet_down_blocks_3_attentions_0_transformer_blocks_0_attn2_to_k"
    for width, said in ((2048, "SDXL"), (64, "64-wide")):
        path = tmp_path / f"community-{width}.safetensors"
        save_file({f"{key}.lora_down.weight": torch.zeros(4, width),
                   f"{key}.lora_up.weight": torch.zeros(32, 4),
                   f"{key}.alpha": torch.tensor(4.0)}, str(path))
        with pytest.raises(LoraError, match=said):
            load_lora_file(sd1, path)
        assert not sd1.has_lora


def test_an_edit_made_with_another_family_says_so():
    from sdedit_desktop.engine.worker import model_mismatch_message

    sdxl = ModelIdentity("hub", "stabilityai/stable-diffusion-xl-base-1.0", family="sdxl")
    sd15 = ModelIdentity("hub", "stable-diffusion-v1-5/stable-diffusion-v1-5")
    message = model_mismatch_message(sdxl, sd15)
    assert "SDXL" in message and "SD 1.x" in message
    assert "SDXL" not in model_mismatch_message(sd15, ModelIdentity("hub", "other"))


def test_identities_keep_their_family_and_old_ones_mean_sd1():
    sdxl = ModelIdentity("hub", "x", "rev", "abc", family="sdxl")
    assert ModelIdentity.from_dict(sdxl.to_dict()) == sdxl
    old = {"kind": "hub", "source": "runwayml/stable-diffusion-v1-5", "revision": None,
           "sha256": None}
    assert ModelIdentity.from_dict(old).family == "sd1"
    # SD 1.x identities are written as before (LoRA cache keys, eval hashes unchanged).
    assert ModelIdentity.from_dict(old).to_dict() == old


def test_sdxl_vae_runs_in_float32_under_half_precision(make_tiny_model):
    model = make_tiny_model(0, family="sdxl", dtype=torch.float16)
    assert model.vae_dtype == torch.float32 and model.vae.dtype == torch.float32
    assert model.unet.dtype == torch.float16
    sd1 = make_tiny_model(0, dtype=torch.float16)
    assert sd1.vae.dtype == torch.float16  # SD 1.x's VAE is fine in float16
    latent = model.encode_image(torch.zeros(1, 3, 64, 64))
    assert latent.dtype == torch.float32 and torch.isfinite(model.decode_latent(latent)).all()
    from sdedit_desktop.models.lora import _posterior_std  # LoRA training's VAE use too

    assert _posterior_std(model, image(64, 64)).shape == (1, 4, 8, 8)
