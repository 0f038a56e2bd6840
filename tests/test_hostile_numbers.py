"""Issue 15, class 6 (the parts outside the edit request) and the foreign-LoRA part of class 8:
non-finite theory inputs, LoRA alpha/weights from files, `--model tiny:<huge>`, bench counts;
a foreign LoRA fails with our one message and no library log lines."""

from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from sdedit_desktop.cli import main
from sdedit_desktop.models.errors import LoraError, ModelError
from sdedit_desktop.models.interface import ModelSpec
from sdedit_desktop.models.loading import load_model
from sdedit_desktop.models.lora import LoraCache, LoraSettings, ensure_lora, load_lora_file


@contextmanager
def _no_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert [str(w.message) for w in caught] == []


def _one_line_exit_2(capsys, argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize("extra", [
    ["--means", "nan,1"], ["--stds", "0.5,inf"],
    ["--prior", "normal:nan,1"], ["--prior", "uniform:-inf,1"], ["--samples", "10000000000"],
])
def test_theory_refuses_non_finite_and_unbounded_inputs(tmp_path, capsys, extra):
    out = tmp_path / "theory"
    _one_line_exit_2(capsys, ["theory", "--steps", "5", "--samples", "2000", "--out", str(out),
                              *extra])
    assert not (out / "theory.json").exists()


@pytest.mark.parametrize("source", ["tiny:99999999999999999999999", "tiny:-5"])
def test_tiny_seed_out_of_range_is_a_model_error(tmp_path, capsys, source):
    with pytest.raises(ModelError, match="tiny model seed"):
        load_model(ModelSpec(source))
    image = tmp_path / "in.png"
    from PIL import Image

    Image.new("RGB", (16, 16)).save(image)
    _one_line_exit_2(capsys, ["reconstruct", "--model", source, "--image", str(image),
                              "--out", str(tmp_path / "o.png")])


@pytest.mark.parametrize("extra", [["--steps", "0"], ["--inpaint-steps", "0"],
                                   ["--diffedit-steps", "-1"], ["--lora-steps", "0"],
                                   ["--trajectory-batch", "-1"],
                                   ["--size", "1000000"]])
def test_bench_refuses_counts_out_of_range(capsys, extra):
    _one_line_exit_2(capsys, ["bench", "--model", "tiny", "--method", "drag", "--no-lora",
                              "--no-reference", *extra])


@pytest.fixture(scope="module")
def lora_file(make_tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lora")
    model = make_tiny_model(0)
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cache = LoraCache(folder / "cache")
    key = ensure_lora(model, image, "a cat", LoraSettings(steps=2, rank=4), cache)
    return cache.weights_path(key)


@pytest.mark.parametrize("alpha", ["nan", "inf", "-4"])
def test_lora_file_alpha_must_be_finite_and_positive(make_tiny_model, tmp_path, lora_file, alpha):
    state = load_file(str(lora_file))
    path = tmp_path / "alpha.safetensors"
    save_file(state, str(path), metadata={"format": "sdedit-lora", "alpha": alpha})
    model = make_tiny_model(0)
    with pytest.raises(LoraError, match=r"alpha\.safetensors: .*alpha must be a finite number"):
        load_lora_file(model, path)
    assert not model.has_lora


def test_lora_file_weights_must_be_finite(make_tiny_model, tmp_path, lora_file):
    state = load_file(str(lora_file))
    name = next(iter(state))
    state[name] = state[name].clone()
    state[name][0, 0] = float("nan")
    path = tmp_path / "nan.safetensors"
    save_file(state, str(path), metadata={"format": "sdedit-lora", "alpha": "4"})
    model = make_tiny_model(0)
    with pytest.raises(LoraError, match="non-finite values"):
        load_lora_file(model, path)
    assert not model.has_lora


def test_cached_lora_with_nan_weights_is_retrained(make_tiny_model, tmp_path):
    model = make_tiny_model(0)
    image = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cache = LoraCache(tmp_path / "cache")
    settings = LoraSettings(steps=2, rank=4)
    key = ensure_lora(model, image, "a dog", settings, cache)
    state = {k: torch.full_like(v, float("nan")) for k, v in load_file(
        str(cache.weights_path(key))).items()}
    save_file(state, str(cache.weights_path(key)), metadata={"format": "sdedit-lora"})
    model.detach_lora()
    assert ensure_lora(model, image, "a dog", settings, cache) == key
    assert all(torch.isfinite(v).all() for v in model.lora_state_dict().values())
    assert json.loads(cache.metadata_path(key).read_text())["prompt"] == "a dog"


def test_foreign_lora_prints_nothing_but_our_error(make_tiny_model, tmp_path, capfd, caplog):
    module = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
    path = tmp_path / "foreign.safetensors"
    save_file({f"{module}.lora_down.weight": torch.zeros(4, 999),
               f"{module}.lora_up.weight": torch.zeros(999, 4)}, str(path))
    model = make_tiny_model(0)
    capfd.readouterr()
    with caplog.at_level(logging.DEBUG), _no_warnings(), pytest.raises(
            LoraError, match=r"foreign\.safetensors is not a LoRA this model can"):
        load_lora_file(model, path)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    # Outside pytest these records reach stderr (logging's last-resort handler).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not model.has_lora
