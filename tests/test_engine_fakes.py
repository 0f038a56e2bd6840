"""The engine tests' fakes (tests/engine_helpers.py) keep to the contracts the engine relies on:
the model protocol, run_edit's signature, step reports and the result's seed."""

from __future__ import annotations

import inspect

import torch
from engine_helpers import FakeModel, FakeRunner, make_request

from sdedit_desktop.edits import run_edit
from sdedit_desktop.models.interface import LatentDiffusionModel, ModelSpec


def test_fake_model_follows_the_model_protocol():
    model = FakeModel(ModelSpec("fake"))
    assert isinstance(model, LatentDiffusionModel)
    latent = torch.zeros(1, 4, 8, 8, dtype=torch.float64)
    out = model.predict_noise(latent, 10, model.encode_prompt(""))
    assert out.dtype == torch.float64 and out.shape == latent.shape
    assert model.calls == 1


def test_fake_runner_has_run_edit_signature():
    real = list(inspect.signature(run_edit).parameters)
    fake = list(inspect.signature(FakeRunner.__call__).parameters)[1:]
    assert real == fake


def test_fake_runner_reports_every_step_and_result_carries_seed():
    seen = []
    model = FakeModel(ModelSpec("fake"))
    result = FakeRunner()(model, make_request(seed=7, steps=6), progress=seen.append)
    assert [(p.phase, p.step) for p in seen] == (
        [("inverting", i) for i in range(1, 7)] + [("reconstructing", i) for i in range(1, 7)])
    assert result.unet_calls == 6 and int(result.image[0, 0, 0]) == 7
