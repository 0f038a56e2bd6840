"""LoRA training in half precision: float32 LoRA parameters, autocast for the UNet, and in
float16 a GradScaler, so gradients too small for float16 still train (the reference code trains
through accelerate's fp16 mode with a GradScaler)."""

import numpy as np
import pytest
import torch

from sdedit_desktop.models.lora import LoraSettings, train_lora


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return (rng.random((64, 64, 3)) * 255).astype(np.uint8)


def _lora_b(model):
    return [p for n, p in model.unet.named_parameters() if "lora_B" in n]


def test_float16_training_survives_gradients_below_float16_range(make_tiny_model,
                                                                 image, monkeypatch):
    # Shrink the loss by 1e-7: its gradient at the UNet output (~1e-9) is below float16's
    # smallest subnormal (6e-8), so plain float16 backpropagation gives exactly zero gradients
    # and lora_B (initialised to zero) would stay zero. Loss scaling keeps them.
    real = torch.nn.functional.mse_loss
    monkeypatch.setattr(torch.nn.functional, "mse_loss", lambda a, b: 1e-7 * real(a, b))
    model = make_tiny_model(0, dtype=torch.float16)

    # the construction does underflow: the tiny loss backpropagated in plain float16
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)).half()
    x.requires_grad_(True)
    pred = model.unet(x, torch.tensor([500]), encoder_hidden_states=model.encode_prompt("a cat"),
                      return_dict=False)[0]
    torch.nn.functional.mse_loss(pred.float(), torch.zeros_like(pred).float()).backward()
    assert x.grad is not None and not bool(x.grad.abs().sum() > 0)

    train_lora(model, image, "a cat", LoraSettings(steps=2, rank=4, sample_posterior=False))
    weights = _lora_b(model)
    assert weights and all(p.dtype == torch.float32 for p in weights)
    assert any(bool(p.abs().sum() > 0) for p in weights)
