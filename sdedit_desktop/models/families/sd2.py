"""SD 2.x (2.0, 2.1 and fine-tunes): one OpenCLIP ViT-H text encoder (diffusers' config already
drops its last layer, so its last hidden state is what the UNet was trained on; padded with "!"),
UNet attention with linear projections. The 512 px models predict ε, the 768 px ones v; the
weights do not say which (a single file needs the user's word, models/prediction_choice.py)."""

from __future__ import annotations

from dataclasses import replace

from sdedit_desktop.core.families import FAMILIES
from sdedit_desktop.models.families.base import FamilyConfigs, TextEncoderSpec
from sdedit_desktop.models.families.sd1 import SD1Family


class SD2Family(SD1Family):
    info = FAMILIES["sd2"]
    configs_name = "sd21"
    context_width = 1024
    encoders = (TextEncoderSpec("text_encoder", "tokenizer", False, "cond_stage_model.model.",
                                "open_clip"),)

    def adapt_configs(self, configs: FamilyConfigs, prediction_type: str) -> FamilyConfigs:
        """The bundled configs are SD 2.1's (768 px, v); an ε-model is a 512 px one."""
        side = self.info.side(prediction_type) // 8
        return replace(configs,
                       unet={**configs.unet, "sample_size": side},
                       vae={**configs.vae, "sample_size": side * 8},
                       scheduler={**configs.scheduler, "prediction_type": prediction_type})
