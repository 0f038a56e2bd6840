"""Whether a learned metric can run here: its package is installed and its weights are already
on this machine. Nothing is downloaded; an unavailable metric is reported with the reason."""

from __future__ import annotations

import importlib.util
from pathlib import Path

# DiffEdit's CLIP score: torchmetrics' CLIPScore default backbone (ViT-L/14), reported as the
# plain cosine (`--clip-model` picks another backbone).
CLIP_MODEL = "openai/clip-vit-large-patch14"
# DragBench's CLIP image similarity (run_eval_similarity.py loads CLIP "ViT-B/32").
DRAGBENCH_CLIP_MODEL = "openai/clip-vit-base-patch32"
FID_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's Inception


def _torch_hub_checkpoint(name: str) -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _missing(package: str, purpose: str) -> str | None:
    if importlib.util.find_spec(package) is None:
        return f"{package} is not installed ({purpose})"
    return None


def lpips_unavailable() -> str | None:
    """None when torchmetrics' LPIPS (AlexNet) can run without downloading, else why not."""
    reason = _missing("torchvision", "torchmetrics' LPIPS takes its AlexNet from it")
    if reason:
        return reason
    from torchvision.models import AlexNet_Weights

    name = AlexNet_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    if not _torch_hub_checkpoint(name).is_file():
        return f"the AlexNet weights {name} are not in the torch hub cache"
    return None


def clip_unavailable(model: str = CLIP_MODEL) -> str | None:
    """None when the CLIP model `model` (a hub id) is complete in the local cache."""
    from huggingface_hub import try_to_load_from_cache

    def cached(*names: str) -> bool:
        try:
            return any(isinstance(try_to_load_from_cache(model, n), str) for n in names)
        except ValueError:  # not a valid hub id
            return False

    for names in (("config.json",), ("model.safetensors", "pytorch_model.bin"),
                  ("preprocessor_config.json",), ("tokenizer.json", "vocab.json")):
        if not cached(*names):
            return f"{model} ({names[0]}) is not in the local Hugging Face cache"
    return None


def fid_unavailable() -> str | None:
    reason = _missing("torch_fidelity", "torchmetrics' FID takes its Inception network from it")
    if reason:
        return reason
    if not _torch_hub_checkpoint(FID_WEIGHTS).is_file():
        return f"the Inception weights {FID_WEIGHTS} are not in the torch hub cache"
    return None
