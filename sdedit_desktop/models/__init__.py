"""Models: loading SD 1.5 (hub cache, diffusers folder, single .safetensors), the tiny test
model, device/precision choice, per-image LoRA. Kept import-light: `interface` is imported by
the edits and must not pull in diffusers; import the submodules you need
(`loading.load_model`, `lora.ensure_lora`, `tiny.build_tiny_model`, `sd15.build_random_sd15`)."""
