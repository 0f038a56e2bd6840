"""Which weights made a result (torch-free, so requests can carry it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

_DEFAULTS = {"family": "sd1", "prediction_type": "epsilon"}


@dataclass(frozen=True)
class ModelIdentity:
    """Which weights made a result: enough to tell whether a replay uses the same weights, and
    which model family they belong to (core/families.py) before the model is loaded."""

    kind: str  # "tiny", "hub", "folder", "single-file", "random-sd15", "random-sdxl", ...
    source: str  # hub id, path, or "tiny"
    revision: str | None = None  # hub commit hash, when known
    sha256: str | None = None  # content hash of the weights (single file) or of the folder index
    family: str = "sd1"  # "sd1", "sd2" or "sdxl"
    prediction_type: str = "epsilon"  # "epsilon" or "v_prediction"

    def to_dict(self) -> dict:
        # An SD 1.x ε identity is written as before families existed, so the LoRA cache keys
        # and eval request hashes of SD 1.x models stay what they were.
        return {k: v for k, v in asdict(self).items()
                if k not in _DEFAULTS or v != _DEFAULTS[k]}

    @classmethod
    def from_dict(cls, data: dict) -> ModelIdentity:
        """A stored identity; one without a family (older projects) is SD 1.x, ε-prediction."""
        values = {k: data.get(k) for k in ("kind", "source", "revision", "sha256")}
        for key, default in _DEFAULTS.items():
            values[key] = data.get(key) or default
        return cls(**values)
