"""`sdedit bench`: seconds per edit, UNet calls and batch sizes, peak memory, time to first
preview, LoRA training, and the same drag run the way the reference code runs it."""
