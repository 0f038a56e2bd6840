"""Models: loading SD 1.x, SD 2.x and SDXL (hub cache, diffusers folder, single .safetensors; the
families in `families/`), the tiny test models, device/precision choice, per-image LoRA. Kept
import-light: `interface` is imported by the edits and must not pull in diffusers; import the
submodules you need (`loading.load_model`, `lora.ensure_lora`, `tiny.build_tiny_model`,
`random_model.build_random_model`)."""
