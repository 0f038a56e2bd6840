"""Which weights made a result (torch-free, so requests can carry it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from sdedit_desktop.core.progress import EditError

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

    @classmethod
    def check_dict(cls, data: Any, where: str) -> dict:
        """A stored identity (`to_dict` form) checked field by field, or EditError naming the
        offending field: kind and source are text, the others text or left out."""
        if not isinstance(data, dict):
            raise EditError(f"{where} should be an object")
        names = [f.name for f in fields(cls)]
        unknown = data.keys() - set(names)
        if unknown:
            raise EditError(f"{where} has unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        out = {}
        for name in names:
            value = data.get(name)
            if value is None and name in ("kind", "source"):
                raise EditError(f"{where} is missing {name}")
            if value is not None and not isinstance(value, str):
                raise EditError(f"{where}.{name} should be a string")
            if name in data:
                out[name] = value
        return out
