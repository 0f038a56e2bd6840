"""The bundled SD 1.5 configs and tokenizer are the real ones: parameter counts, the original
single-file key names, CLIP's token ids. Built on the meta device: no memory, no download."""

import torch

from sdedit_desktop.models.components import (
    empty_text_encoder,
    empty_unet,
    empty_vae,
    model_config,
    read_json,
)
from sdedit_desktop.models.families import SD1
from sdedit_desktop.models.ldm_layout import fit_text_keys, from_ldm_state_dict, to_ldm_state_dict
from sdedit_desktop.models.tokenizer import build_clip_tokenizer, bytes_to_unicode


def _configs():
    root = SD1.config_dir()
    return {c: read_json(root / c / "config.json", c) for c in ("unet", "vae", "text_encoder")}


def test_sd15_architecture_matches_the_published_parameter_counts():
    cfg = _configs()
    builders = {"unet": empty_unet, "vae": empty_vae, "text_encoder": empty_text_encoder}
    counts = {name: sum(p.numel() for p in build(cfg[name]).parameters())
              for name, build in builders.items()}
    assert counts == {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}


def test_original_layout_names_and_round_trip_on_sd15():
    cfg = _configs()
    unet, vae, text = (empty_unet(cfg["unet"]), empty_vae(cfg["vae"]),
                       empty_text_encoder(cfg["text_encoder"]))
    ldm = to_ldm_state_dict(unet.state_dict(), vae.state_dict(), text.state_dict(),
                            model_config(cfg["unet"]), model_config(cfg["vae"]))
    # Names as they appear in v1-5-pruned-emaonly.safetensors.
    for key in ("model.diffusion_model.input_blocks.3.0.op.weight",
                "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
                "model.diffusion_model.middle_block.1.proj_in.weight",
                "model.diffusion_model.output_blocks.2.1.conv.weight",
                "model.diffusion_model.output_blocks.5.2.conv.weight",
                "model.diffusion_model.output_blocks.11.0.skip_connection.weight",
                "model.diffusion_model.time_embed.0.weight",
                "first_stage_model.decoder.up.3.upsample.conv.weight",
                "first_stage_model.encoder.down.1.block.0.nin_shortcut.weight",
                "first_stage_model.encoder.mid.attn_1.q.weight",
                "cond_stage_model.transformer.text_model.final_layer_norm.weight"):
        assert key in ldm, key
    assert ldm["first_stage_model.encoder.mid.attn_1.q.weight"].shape == (512, 512, 1, 1)
    assert len(ldm) == len(unet.state_dict()) + len(vae.state_dict()) + len(
        [k for k in text.state_dict() if not k.endswith("position_ids")])
    back = from_ldm_state_dict(ldm, model_config(cfg["unet"]), model_config(cfg["vae"]))
    text_back = fit_text_keys(back.text_encoder, text)
    for module, state in ((unet, back.unet), (vae, back.vae), (text, text_back)):
        want = {k: tuple(v.shape) for k, v in module.state_dict().items()
                if not k.endswith("position_ids")}
        assert {k: tuple(v.shape) for k, v in state.items()} == want


def test_clip_tokenizer_from_the_bundled_bpe():
    tok = build_clip_tokenizer()
    assert len(tok) == 49408 and len(bytes_to_unicode()) == 256
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    ids = tok("A Photo", padding="max_length", max_length=77, truncation=True,
              return_tensors="pt").input_ids
    assert ids.shape == (1, 77) and ids[0, 3:].eq(49407).all()  # lower-cased, padded with EOS
    assert torch.equal(ids[0, :3], torch.tensor([49406, 320, 1125]))
    long = tok(" ".join(["cat"] * 200), truncation=True, max_length=77).input_ids
    assert len(long) == 77 and long[-1] == 49407
