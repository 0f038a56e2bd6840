"""What the edits need from a loaded latent-diffusion model.

`edits/` programs against this protocol only, so a real model of any family, the tiny random
models of the tests and any future backend are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sdedit_desktop.core.identity import ModelIdentity

if TYPE_CHECKING:  # annotations only: the editor imports this module before torch has loaded
    import torch

    from sdedit_desktop.diffusion.conditioning import Cond
    from sdedit_desktop.diffusion.schedule import NoiseSchedule

__all__ = ["LatentDiffusionModel", "LoraCapable", "ModelIdentity", "ModelSpec"]


@runtime_checkable
class LatentDiffusionModel(Protocol):
    """A latent diffusion model of one family (core/families.py). It owns everything that is
    model-specific: its noise schedule (from its scheduler config), what its network predicts
    (`predict_noise` always hands back eps), its conditioning, its native side and its latent
    scaling, so the edits and the solvers never name a family."""

    identity: ModelIdentity  # names the weights, the family and the prediction type
    device: torch.device
    dtype: torch.dtype  # compute dtype of the UNet (latents may be float64; cast inside)
    vae_scale_factor: int  # image pixels per latent pixel (8 for every SD family)
    schedule: NoiseSchedule  # the training noise schedule (float64)
    prediction_type: str  # "epsilon" or "v_prediction" (what the UNet outputs)
    native_side: int  # the training resolution, px (512, 768, 1024)

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [-1,1] -> latent [B,4,H/8,W/8], already multiplied by the VAE scaling
        factor; deterministic (the posterior mean)."""

    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent [B,4,h,w] -> image [B,3,8h,8w] float32 in [-1,1] on the CPU."""

    def encode_prompt(self, prompt: str, negative: bool = False) -> Cond:
        """Text -> the model's conditioning of batch 1 on its device: opaque to the caller,
        batched by `diffusion.conditioning` (SD 1.x/2.x: token embeddings [1,77,D]). `negative`:
        the prompt guidance pushes away from (SDXL base uses zeros for an empty one)."""

    def predict_noise(self, latent: torch.Tensor, timestep: int | torch.Tensor,
                      cond: Cond, lora_scale: float = 1.0) -> torch.Tensor:
        """The noise eps the model predicts (a v-model's output converted). latent [B,4,h,w]
        (any float dtype; the result has the same dtype), timestep an int or a [B] tensor,
        cond a conditioning of batch B or 1. lora_scale scales an attached per-image LoRA
        (0 = the base model exactly); ignored when none is attached."""


@runtime_checkable
class LoraCapable(Protocol):
    """A model that a per-image LoRA can be attached to (models/lora.py attaches it); the edits
    only need to take it off again."""

    def detach_lora(self) -> None:
        """Remove the attached LoRA, if any (a no-op when none is attached)."""


@dataclass(frozen=True)
class ModelSpec:
    """What the user asked to load. source: "tiny", a hub id, a diffusers folder or a single
    .safetensors/.ckpt file. device: "auto", "cuda", "cuda:1", "mps", "cpu". dtype: "auto",
    "float16", "bfloat16", "float32", "float64"."""

    source: str
    device: str = "auto"
    dtype: str = "auto"
    allow_pickle: bool = False  # .ckpt/.bin pickle checkpoints execute code when loaded
    allow_download: bool = False  # offline first: the hub is only contacted when asked
    # What an SD 2.x single file's UNet predicts ("epsilon" or "v_prediction"): the weights do
    # not say. None: the folder's scheduler config, or the choice remembered for that file.
    prediction_type: str | None = None
