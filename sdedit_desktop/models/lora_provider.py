"""The LoRA hook the edits call (`edits.options.LoraProvider`): "auto" trains or reuses the
cached per-image LoRA, anything else is a path to a LoRA .safetensors file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sdedit_desktop.core.progress import StepReporter
from sdedit_desktop.models.errors import LoraError
from sdedit_desktop.models.lora import LoraCache, LoraSettings, ensure_lora, load_lora_file


def lora_provider(cache: LoraCache | None = None, settings: LoraSettings | None = None
                  ) -> Callable[[object, str, object, str, StepReporter, int | None], str]:
    """A provider bound to one cache (default: the user cache dir) and training settings
    (default: the paper's). The request's rank, when given, replaces the settings' rank (and
    with it the cache key)."""
    cache = cache if cache is not None else LoraCache()
    settings = settings or LoraSettings()

    def provide(model, setting: str, image, prompt: str, reporter: StepReporter,
                rank: int | None = None) -> str:
        if not hasattr(model, "attach_lora"):
            raise LoraError("This model does not support LoRA.")
        if setting == "auto":
            trained = settings if rank is None else replace(settings, rank=rank)
            return ensure_lora(model, image, prompt, trained, cache, reporter)
        return load_lora_file(model, setting)

    return provide
