"""Resource limits applied while reading a project file, so a hostile or damaged file cannot
exhaust memory (zip bombs, PNG decompression bombs, absurd entry counts)."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class LoadLimits:
    """Every cap is checked against the declared sizes first and enforced again while reading."""

    max_entries: int = 50_000  # zip members
    # Uncompressed size of one member: a 64-megapixel RGB PNG is at most ~192 MiB; a per-image
    # LoRA (rank 16) is ~13 MiB.
    max_entry_bytes: int = 256 * MiB
    max_total_bytes: int = 2048 * MiB  # all members together (all are held in memory)
    max_manifest_bytes: int = 64 * MiB  # manifest.json
    max_image_pixels: int = 64_000_000  # one image (width * height), checked on the PNG header
    max_total_pixels: int = 1 << 30  # all decoded images together (~3 GiB as RGB)
    max_json_depth: int = 64  # nesting of free-form JSON (UI settings, LoRA metadata)


DEFAULT_LIMITS = LoadLimits()
