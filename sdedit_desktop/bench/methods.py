"""The edits `sdedit bench` times (torch-free, so the CLI can list them without loading torch)."""

METHODS = ("drag", "inpaint", "diffedit", "reconstruct")
