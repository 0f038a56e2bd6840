"""`StableDiffusionModel`: an SD-family model behind the `LatentDiffusionModel` protocol.

One object owns the UNet, VAE, text encoder(s) and tokenizer(s) on one device in one precision,
and its family (models/families/), which says how prompts become conditioning and how the UNet
is called. It derives its noise schedule once from its scheduler config, hands the solvers eps
whatever its UNet predicts, counts UNet calls for the edits' reports, caches prompt
conditionings, and carries at most one per-image LoRA whose strength is set per call
(`lora_scale`; 0 runs the base UNet untouched).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

from sdedit_desktop.diffusion.conditioning import Cond, batch_of, expand_batch, to_device
from sdedit_desktop.diffusion.prediction import (
    PREDICTION_TYPES,
    eps_from_prediction,
    training_target,
)
from sdedit_desktop.diffusion.schedule import (
    NoiseSchedule,
    ScheduleConfigError,
    schedule_from_config,
)
from sdedit_desktop.models.errors import (
    WrongCheckpointError,
    is_out_of_memory,
    out_of_memory_error,
)
from sdedit_desktop.models.families import ModelFamily
from sdedit_desktop.models.interface import ModelIdentity

if TYPE_CHECKING:
    from sdedit_desktop.models.components import ModelParts

LORA_ADAPTER = "sdedit_lora"


def model_schedule(scheduler_config: dict) -> tuple[NoiseSchedule, str]:
    """The noise schedule and prediction type a scheduler config describes; a schedule or a
    prediction this app cannot use is a WrongCheckpointError naming it."""
    try:
        schedule = schedule_from_config(scheduler_config)
    except (ScheduleConfigError, TypeError, ValueError) as exc:
        raise WrongCheckpointError(f"The model's noise schedule cannot be used: {exc}.",
                                   detail=str(scheduler_config)) from None
    prediction = str(scheduler_config.get("prediction_type", "epsilon"))
    if prediction not in PREDICTION_TYPES:
        raise WrongCheckpointError(
            f"The model predicts {prediction!r}; this app runs models that predict the noise "
            "(epsilon) or v (v_prediction).", detail=str(scheduler_config))
    return schedule, prediction


class StableDiffusionModel:
    """Implements `interface.LatentDiffusionModel` for every SD family (and the tiny models)."""

    def __init__(self, *, family: ModelFamily, unet: UNet2DConditionModel, vae: AutoencoderKL,
                 text_encoders: Sequence[torch.nn.Module], tokenizers: Sequence[Any],
                 scheduler_config: dict, device: torch.device, dtype: torch.dtype,
                 identity: ModelIdentity | Callable[[], ModelIdentity],
                 pipeline_config: dict | None = None):
        from sdedit_desktop.models.components import quiet_diffusers

        self.family = family
        self.scheduler_config = dict(scheduler_config)
        self.schedule, self.prediction_type = model_schedule(self.scheduler_config)
        self.native_side = family.info.side(self.prediction_type)
        self.pipeline_config = dict(pipeline_config or {})
        # SDXL's VAE overflows in float16 (NaN images): it runs in float32 then.
        self.vae_dtype = torch.float32 if (
            dtype == torch.float16 and family.vae_needs_float32_in_half
            and vae.config.get("force_upcast", True)) else dtype
        with quiet_diffusers():  # diffusers warns about every dtype cast
            self.unet = unet.to(device=device, dtype=dtype).eval().requires_grad_(False)
            self.vae = vae.to(device=device, dtype=self.vae_dtype).eval().requires_grad_(False)
            self.text_encoders = tuple(
                enc.to(device=device, dtype=dtype).eval().requires_grad_(False)
                for enc in text_encoders)
        self.tokenizers = tuple(tokenizers)
        self.device = torch.device(device)
        self.dtype = dtype
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.scaling_factor = float(vae.config.scaling_factor)
        self.unet_calls = 0
        self.unet_samples = 0
        self.lora_id: str | None = None
        self._identity = identity
        self._identity_done = False
        self._prompt_cache: dict[tuple[str, bool], Cond] = {}
        self._lora_layers: list = []
        self._lora_base_scaling: list[float] = []
        self._lora_scale: float | None = None

    @classmethod
    def from_parts(cls, parts: ModelParts, device: torch.device, dtype: torch.dtype,
                   identity: ModelIdentity | Callable[[], ModelIdentity]) -> StableDiffusionModel:
        return cls(family=parts.family, unet=parts.unet, vae=parts.vae,
                   text_encoders=parts.text_encoders, tokenizers=parts.tokenizers,
                   scheduler_config=parts.scheduler_config, device=device, dtype=dtype,
                   identity=identity, pipeline_config=parts.pipeline_config)

    # -- identity -----------------------------------------------------------------------------
    @property
    def identity(self) -> ModelIdentity:
        """Which weights these are, of which family and prediction type; computed on first
        use (hashing large files takes time)."""
        if not self._identity_done:
            base = self._identity() if callable(self._identity) else self._identity
            self._identity = replace(base, family=self.family.name,
                                     prediction_type=self.prediction_type)
            self._identity_done = True
        return self._identity  # type: ignore[return-value]

    # -- the protocol -------------------------------------------------------------------------
    @torch.no_grad()
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [-1,1] -> scaled posterior mean [B,4,H/8,W/8] (float32, or float64 for a
        float64 model), on the model's device."""
        out_dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
        try:
            x = image.to(device=self.device, dtype=self.vae_dtype)
            latent = self.vae.encode(x).latent_dist.mean * self.scaling_factor
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, "encoding the image", self.device) from exc
            raise
        return latent.to(out_dtype)

    @torch.no_grad()
    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        try:
            z = latent.to(device=self.device, dtype=self.vae_dtype) / self.scaling_factor
            image = self.vae.decode(z).sample
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, "decoding the image", self.device) from exc
            raise
        return image.float().clamp(-1.0, 1.0).cpu()

    @torch.no_grad()
    def encode_prompt(self, prompt: str, negative: bool = False) -> Cond:
        key = (prompt, negative)
        cached = self._prompt_cache.get(key)
        if cached is not None:
            return cached
        try:
            cond = self.family.encode_prompt(self.text_encoders, self.tokenizers, prompt,
                                             negative, self.device, self.pipeline_config)
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, "encoding the prompt", self.device) from exc
            raise
        self._prompt_cache[key] = cond
        return cond

    def unet_output(self, latent: torch.Tensor, timestep: int | torch.Tensor,
                    cond: Cond) -> torch.Tensor:
        """The UNet's own output (eps or v, see `prediction_type`) in the model's dtype, with
        gradients when the caller enables them (LoRA training)."""
        batch = latent.shape[0]
        if batch_of(cond) == 1 and batch > 1:
            cond = expand_batch(cond, batch)
        if not isinstance(timestep, torch.Tensor):
            timestep = torch.tensor(timestep)
        x = latent.to(device=self.device, dtype=self.dtype)
        inputs = self.family.unet_inputs(to_device(cond, self.device, self.dtype), x,
                                         self.vae_scale_factor)
        return self.unet(x, timestep.to(self.device), **inputs, return_dict=False)[0]

    def alpha_bars(self, timestep: int | torch.Tensor) -> torch.Tensor:
        """alpha_bar of each sample's level, [B] or [1] (float64, CPU)."""
        levels = timestep if isinstance(timestep, torch.Tensor) else torch.tensor([timestep])
        return self.schedule.alpha_bars(levels.reshape(-1))

    def eps(self, output: torch.Tensor, latent: torch.Tensor,
            timestep: int | torch.Tensor) -> torch.Tensor:
        """The noise a UNet `output` at `latent` means (the output itself for an ε-model)."""
        if self.prediction_type == "epsilon":
            return output.to(latent.dtype)
        return eps_from_prediction(output, latent, self.alpha_bars(timestep),
                                   self.prediction_type)

    def training_target(self, clean: torch.Tensor, noise: torch.Tensor,
                        timestep: torch.Tensor) -> torch.Tensor:
        """What the UNet should output for clean + noise at `timestep` (eps, or v)."""
        return training_target(clean, noise, self.alpha_bars(timestep), self.prediction_type)

    def predict_noise(self, latent: torch.Tensor, timestep: int | torch.Tensor,
                      cond: Cond, lora_scale: float = 1.0) -> torch.Tensor:
        self._apply_lora_scale(lora_scale)
        try:
            with torch.no_grad():
                out = self.unet_output(latent, timestep, cond)
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, "predicting noise", self.device) from exc
            raise
        self.unet_calls += 1
        self.unet_samples += latent.shape[0]
        # eps from a v-model's output at the (possibly float64) latent itself, so an exact
        # float64 run stays exact.
        return self.eps(out, latent.to(self.device), timestep)

    # -- LoRA ---------------------------------------------------------------------------------
    @property
    def has_lora(self) -> bool:
        return bool(self._lora_layers)

    def attach_lora(self, config, state_dict: dict[str, torch.Tensor] | None,
                    lora_id: str) -> None:
        """Add a LoRA adapter (peft `LoraConfig`) to the UNet, with `state_dict` weights or, when
        None, peft's initialisation (for training). Replaces any LoRA already attached."""
        from peft import set_peft_model_state_dict

        from sdedit_desktop.models.errors import LoraError

        self.detach_lora()
        self.unet.add_adapter(config, adapter_name=LORA_ADAPTER)
        try:
            if state_dict is not None:
                result = set_peft_model_state_dict(self.unet, state_dict, adapter_name=LORA_ADAPTER)
                unexpected = list(getattr(result, "unexpected_keys", []) or [])
                if unexpected:
                    raise LoraError("The LoRA weights do not fit this model's UNet (layer names "
                                    "differ: made for another base model?).",
                                    detail=f"unexpected keys, e.g. {unexpected[:3]}")
                missing = [k for k in (getattr(result, "missing_keys", []) or [])
                           if "lora_" in k]
                if missing:
                    raise LoraError("The LoRA file lacks weights this model needs.",
                                    detail=f"missing keys, e.g. {missing[:3]}")
        except LoraError:
            self.detach_lora_layers()
            raise
        except RuntimeError as exc:  # shape mismatch: another rank or another architecture
            self.detach_lora_layers()
            raise LoraError("The LoRA weights do not fit this model (tensor shapes differ: made "
                            "for another base model?).", detail=str(exc)) from exc
        self.adopt_lora(lora_id)

    def adopt_lora(self, lora_id: str) -> None:
        """Take over the adapter named LORA_ADAPTER already added to the UNet (by `attach_lora`
        or by diffusers' LoRA loader) so `predict_noise` can scale it per call."""
        from peft.tuners.lora import LoraLayer

        # Adapter weights in at least float32 (half-precision AdamW is unstable); float64 models
        # keep float64 so exact runs stay exact.
        adapter_dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
        layers = []
        for module in self.unet.modules():
            if isinstance(module, LoraLayer) and LORA_ADAPTER in module.lora_A:
                module.lora_A[LORA_ADAPTER].to(adapter_dtype)
                module.lora_B[LORA_ADAPTER].to(adapter_dtype)
                layers.append(module)
        self._lora_layers = layers
        self._lora_base_scaling = [float(m.scaling[LORA_ADAPTER]) for m in layers]
        self._lora_scale = 1.0
        self.lora_id = lora_id

    def lora_parameters(self) -> list[torch.nn.Parameter]:
        params: list[torch.nn.Parameter] = []
        for module in self._lora_layers:
            params.extend(module.lora_A[LORA_ADAPTER].parameters())
            params.extend(module.lora_B[LORA_ADAPTER].parameters())
        return params

    def lora_state_dict(self) -> dict[str, torch.Tensor]:
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(self.unet, adapter_name=LORA_ADAPTER)
        return {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()}

    def detach_lora(self) -> None:
        """Remove the LoRA: the UNet is exactly the base model again."""
        if self._lora_layers:
            self.detach_lora_layers()

    def detach_lora_layers(self) -> None:
        if getattr(self.unet, "_hf_peft_config_loaded", False) or self._lora_layers:
            self.unet.unload_lora()
        self._lora_layers = []
        self._lora_base_scaling = []
        self._lora_scale = None
        self.lora_id = None

    def _apply_lora_scale(self, scale: float) -> None:
        """Set the LoRA strength for the next UNet call (cheap: only when it changes)."""
        if not self._lora_layers or scale == self._lora_scale:
            return
        for module, base in zip(self._lora_layers, self._lora_base_scaling, strict=True):
            if scale == 0.0:
                module.enable_adapters(False)  # skip the adapter: the base layer, exactly
            else:
                if self._lora_scale == 0.0:
                    module.enable_adapters(True)
                module.scaling[LORA_ADAPTER] = base * float(scale)
        self._lora_scale = float(scale)

    # -- lifetime -----------------------------------------------------------------------------
    def release(self) -> None:
        """Drop the weights and free device memory; the object is unusable afterwards."""
        self._prompt_cache.clear()
        self._lora_layers = []
        for name in ("unet", "vae"):
            setattr(self, name, None)
        self.text_encoders = ()
        gc.collect()
        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
        elif self.device.type == "mps" and hasattr(torch, "mps"):
            torch.mps.empty_cache()
