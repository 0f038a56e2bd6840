"""DiffEdit with `grid="reference"` is the official code: DiffEdit-ODE is diffusers' own DiffEdit
pipeline (run here on the tiny model's components: its DDIM inversion, its sampling and its
reset one level too noisy outside the mask), DiffEdit-SDE runs 701 -> 1 on the DDIM timesteps.
The default (uniform) ODE resets at the right level and ends on the input outside the mask
(docs/algorithms.md, "DiffEdit")."""

import numpy as np
import pytest
import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler
from diffusers.pipelines.deprecated.stable_diffusion_diffedit import (
    pipeline_stable_diffusion_diffedit as diffedit_pipeline,
)

from sdedit_desktop.diffusion.grids import Step
from sdedit_desktop.edits import DiffEditRequest, run_edit
from sdedit_desktop.edits.diffedit import diffedit_window
from sdedit_desktop.edits.session import EditSession
from sdedit_desktop.models.tiny import SCHEDULER_CONFIG, build_tiny_model

SD15 = {k: v for k, v in SCHEDULER_CONFIG.items() if not k.startswith("_")}
SIZE = 64  # an 8x8 latent


@pytest.fixture(scope="module")
def model():
    return build_tiny_model(0)


def _image():
    return (np.random.default_rng(3).random((SIZE, SIZE, 3)) * 255).astype(np.uint8)


def _mask():
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[16:48, 8:40] = 255  # whole 8x8 blocks: the latent mask is exact
    return mask


def _latents(model, monkeypatch, request):
    """Run the edit; return its encoded input, latent mask and final latent."""
    seen: dict[str, torch.Tensor] = {}
    encode, decode, latent_mask = EditSession.encode, EditSession.decode, EditSession.latent_mask

    def spy_encode(self, image=None):
        seen["x0"] = encode(self, image)
        return seen["x0"]

    def spy_mask(self, latent, mask=None):
        seen["mask"] = latent_mask(self, latent, mask)
        return seen["mask"]

    def spy_decode(self, latent):
        seen["out"] = latent
        return decode(self, latent)

    monkeypatch.setattr(EditSession, "encode", spy_encode)
    monkeypatch.setattr(EditSession, "latent_mask", spy_mask)
    monkeypatch.setattr(EditSession, "decode", spy_decode)
    run_edit(model, request)
    return seen["x0"], seen["mask"], seen["out"]


def _request(**changes):
    fields = {"mask_mode": "user", "method": "ode", "source_prompt": "a cat",
              "target_prompt": "a dog", **changes}
    return DiffEditRequest(image=_image(), mask=_mask(), **fields)


def _diffusers_diffedit(model, x0, mask, steps, ratio, guidance):
    pipe = diffedit_pipeline.StableDiffusionDiffEditPipeline(
        vae=model.vae, text_encoder=model.text_encoders[0], tokenizer=model.tokenizers[0],
        unet=model.unet, scheduler=DDIMScheduler.from_config(SD15), safety_checker=None,
        feature_extractor=None, inverse_scheduler=DDIMInverseScheduler.from_config(SD15),
        requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    source, target = model.encode_prompt("a cat"), model.encode_prompt("a dog")
    empty = model.encode_prompt("")
    inverted = pipe.invert(image=x0, prompt_embeds=source, negative_prompt_embeds=empty,
                           guidance_scale=guidance, inpaint_strength=ratio,
                           num_inference_steps=steps).latents
    out = pipe(prompt_embeds=target, negative_prompt_embeds=source, mask_image=mask,
               image_latents=inverted, inpaint_strength=ratio, num_inference_steps=steps,
               guidance_scale=guidance, output_type="latent").images
    return inverted[0], out


@pytest.mark.parametrize("steps, ratio", [
    pytest.param(50, 0.7, marks=pytest.mark.slow), (20, 0.5)])
def test_reference_diffedit_ode_is_diffusers_pipeline(model, monkeypatch, steps, ratio):
    x0, mask, ours = _latents(model, monkeypatch, _request(grid="reference", steps=steps,
                                                           encode_ratio=ratio))
    inverted, theirs = _diffusers_diffedit(model, x0, mask, steps, ratio, 7.5)
    # float32 rounding apart (diffusers' coefficients are float32, ours float64)
    assert float((ours - theirs).abs().max()) < 5e-4
    outside = ~mask.bool().expand_as(ours)
    # diffusers keeps the level-1 inversion latent outside the mask, not the input
    assert float((ours - inverted[-1:])[outside].abs().max()) < 5e-4
    assert float((ours - x0)[outside].abs().max()) > 5e-3


@pytest.mark.slow
def test_default_diffedit_ode_resets_at_the_right_level(model, monkeypatch):
    x0, mask, ours = _latents(model, monkeypatch, _request())
    outside = ~mask.bool().expand_as(ours)
    assert torch.equal(ours[outside], x0[outside])  # the input itself outside the mask
    _, _, reference = _latents(model, monkeypatch, _request(grid="reference"))
    inside = ~outside
    assert float((ours - reference)[inside].abs().max()) > 5e-3  # the reset differs


def test_diffedit_windows_per_grid_and_method():
    def window(**kw):
        return diffedit_window(_request(**kw))

    assert window()[0] == Step(681, 661) and window()[-1].t == 1 and len(window()) == 35
    assert window(method="sde") == window()  # SDE and ODE share the uniform window
    sde = window(method="sde", grid="reference")
    assert (sde[0], sde[-1], len(sde)) == (Step(701, 681), Step(21, 1), 35)  # official SDE
    assert window(grid="reference") == window()  # diffusers' ODE window at 50 steps
