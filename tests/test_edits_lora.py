"""Drag with per-image LoRA through the edits' provider hook (training itself: test_lora*)."""

import numpy as np

from sdedit_desktop.edits import DragRequest, run_edit
from sdedit_desktop.models.lora import LoraCache
from sdedit_desktop.models.lora_provider import lora_provider


def test_drag_with_auto_lora_trains_once_then_reuses(make_tiny_model, tmp_path):
    model = make_tiny_model(0)
    img = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    provide = lora_provider(LoraCache(tmp_path))
    req = DragRequest(image=img, points=(((10, 10), (30, 20)),), steps=10, lora="auto",
                      prompt="a photo")
    phases = []
    first = run_edit(model, req, progress=lambda p: phases.append(p.phase), lora=provide)
    assert "LoRA" in phases and first.lora_id
    phases.clear()
    second = run_edit(model, req, progress=lambda p: phases.append(p.phase), lora=provide)
    assert "LoRA" not in phases and second.lora_id == first.lora_id
    assert np.array_equal(first.image, second.image)
    assert not model.has_lora  # detached after the edit
    plain = run_edit(model, req.with_changes(lora="off"))
    assert plain.lora_id is None and not np.array_equal(plain.image, first.image)
    assert len(list(tmp_path.rglob("*.safetensors"))) == 1
