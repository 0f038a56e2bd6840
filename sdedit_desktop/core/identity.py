"""Which weights made a result (torch-free, so requests can carry it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from sdedit_desktop.core.progress import EditError


@dataclass(frozen=True)
class ModelIdentity:
    """Which weights made a result: enough to tell whether a replay uses the same weights."""

    kind: str  # "tiny", "hub", "folder", "single-file", "random-sd15"
    source: str  # hub id, path, or "tiny"
    revision: str | None = None  # hub commit hash, when known
    sha256: str | None = None  # content hash of the weights (single file) or of the folder index

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelIdentity:
        return cls(**{k: data.get(k) for k in ("kind", "source", "revision", "sha256")})

    @classmethod
    def check_dict(cls, data: Any, where: str) -> dict:
        """A stored identity (`to_dict` form) checked field by field, or EditError naming the
        offending field: kind and source are text, the others text or null."""
        if not isinstance(data, dict):
            raise EditError(f"{where} should be an object")
        names = [f.name for f in fields(cls)]
        unknown = data.keys() - set(names)
        if unknown:
            raise EditError(f"{where} has unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        out = {}
        for name in names:
            value = data.get(name)
            required = name in ("kind", "source")
            if value is None and required:
                raise EditError(f"{where} is missing {name}")
            if value is not None and not isinstance(value, str):
                raise EditError(f"{where}.{name} should be a string")
            out[name] = value
        return out
