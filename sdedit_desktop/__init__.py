"""sdedit-desktop: SDE-based diffusion image editing (SDE-Drag, inpainting, DiffEdit) on SD 1.5."""

__version__ = "0.1.0"
