"""`StableDiffusionModel`: SD 1.x components behind the `LatentDiffusionModel` protocol.

One object owns the UNet, VAE, text encoder and tokenizer on one device in one precision, counts
UNet calls for the edits' reports, caches prompt embeddings, and carries at most one per-image
LoRA whose strength is set per call (`lora_scale`; 0 runs the base UNet untouched).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from sdedit_desktop.models.errors import is_out_of_memory, out_of_memory_error
from sdedit_desktop.models.interface import ModelIdentity

LORA_ADAPTER = "sdedit_lora"


class StableDiffusionModel:
    """Implements `interface.LatentDiffusionModel` for SD 1.x (and the tiny test model)."""

    def __init__(self, *, unet: UNet2DConditionModel, vae: AutoencoderKL,
                 text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, scheduler_config: dict,
                 device: torch.device, dtype: torch.dtype,
                 identity: ModelIdentity | Callable[[], ModelIdentity]):
        from sdedit_desktop.models.components import quiet_diffusers

        with quiet_diffusers():  # diffusers warns about every dtype cast
            self.unet = unet.to(device=device, dtype=dtype).eval().requires_grad_(False)
            self.vae = vae.to(device=device, dtype=dtype).eval().requires_grad_(False)
            self.text_encoder = text_encoder.to(device=device, dtype=dtype).eval()
        self.text_encoder.requires_grad_(False)
        self.tokenizer = tokenizer
        self.scheduler_config = dict(scheduler_config)
        self.device = torch.device(device)
        self.dtype = dtype
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.scaling_factor = float(vae.config.scaling_factor)
        self.unet_calls = 0
        self.unet_samples = 0
        self.lora_id: str | None = None
        self._identity = identity
        self._prompt_cache: dict[str, torch.Tensor] = {}
        self._lora_layers: list = []
        self._lora_base_scaling: list[float] = []
        self._lora_scale: float | None = None

    # -- identity -----------------------------------------------------------------------------
    @property
    def identity(self) -> ModelIdentity:
        """Which weights these are; computed on first use (hashing large files takes time)."""
        if callable(self._identity):
            self._identity = self._identity()
        return self._identity

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """The training noise schedule (float64, CPU) from the scheduler config."""
        cfg = self.scheduler_config
        n = int(cfg.get("num_train_timesteps", 1000))
        start, end = float(cfg.get("beta_start", 0.00085)), float(cfg.get("beta_end", 0.012))
        if cfg.get("beta_schedule", "scaled_linear") == "scaled_linear":
            betas = torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float64) ** 2
        else:
            betas = torch.linspace(start, end, n, dtype=torch.float64)
        return torch.cumprod(1.0 - betas, dim=0)

    # -- the protocol -------------------------------------------------------------------------
    @torch.no_grad()
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """[B,3,H,W] in [-1,1] -> scaled posterior mean [B,4,H/8,W/8] (float32, or float64 for a
        float64 model), on the model's device."""
        out_dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
        try:
            x = image.to(device=self.device, dtype=self.dtype)
            latent = self.vae.encode(x).latent_dist.mean * self.scaling_factor
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, "encoding the image", self.device) from exc
            raise
        return latent.to(out_dtype)

    @torch.no_grad()
    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        try:
            z = latent.to(device=self.device, dtype=self.dtype) / self.scaling_factor
            image = self.vae.decode(z).sample
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, "decoding the image", self.device) from exc
            raise
        return image.float().clamp(-1.0, 1.0).cpu()

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> torch.Tensor:
        cached = self._prompt_cache.get(prompt)
        if cached is not None:
            return cached
        ids = self.tokenizer(prompt, padding="max_length",
                             max_length=self.tokenizer.model_max_length, truncation=True,
                             return_tensors="pt").input_ids.to(self.device)
        try:
            embeds = self.text_encoder(ids)[0]
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, "encoding the prompt", self.device) from exc
            raise
        self._prompt_cache[prompt] = embeds
        return embeds

    def predict_noise(self, latent: torch.Tensor, timestep: int | torch.Tensor,
                      prompt_embeds: torch.Tensor, lora_scale: float = 1.0) -> torch.Tensor:
        batch = latent.shape[0]
        if prompt_embeds.shape[0] == 1 and batch > 1:
            prompt_embeds = prompt_embeds.expand(batch, -1, -1)
        if not isinstance(timestep, torch.Tensor):
            timestep = torch.tensor(timestep)
        timestep = timestep.to(self.device)
        self._apply_lora_scale(lora_scale)
        try:
            with torch.no_grad():
                out = self.unet(latent.to(device=self.device, dtype=self.dtype), timestep,
                                encoder_hidden_states=prompt_embeds.to(self.device, self.dtype),
                                return_dict=False)[0]
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                raise out_of_memory_error(exc, "predicting noise", self.device) from exc
            raise
        self.unet_calls += 1
        self.unet_samples += batch
        return out.to(latent.dtype)

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
        for name in ("unet", "vae", "text_encoder"):
            setattr(self, name, None)
        gc.collect()
        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
        elif self.device.type == "mps" and hasattr(torch, "mps"):
            torch.mps.empty_cache()
