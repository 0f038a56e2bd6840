"""Which weights made a result (torch-free, so requests can carry it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
