"""Per-image LoRA defaults that lighter layers need too (the job plan counts the training
steps) without importing the trainer, which pulls in torch and diffusers."""

LORA_TRAIN_STEPS = 100  # training steps of a per-image LoRA (DragDiffusion: 80-200)
