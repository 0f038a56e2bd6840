"""Upgrading files written in older format versions, one version at a time.

A migration takes the raw content of a file in format version N (the parsed manifest and the
other members as bytes) and returns it in format N + 1. `MIGRATIONS` maps N to that function;
loading chains them up to `FORMAT_VERSION` and only then validates, so the validator only ever
knows the current format.

To introduce format N + 1: bump `schema.FORMAT_VERSION`, change the encoder/decoder in schema.py,
and register the upgrade of old files here with `@register(N)` (see `_v1_to_v2`).

Migrations run on unvalidated content and must not trust it: they raise ProjectError for what
they cannot upgrade (anything else they raise on malformed input is turned into one too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sdedit_desktop import __version__
from sdedit_desktop.project.errors import ProjectError
from sdedit_desktop.project.schema import FORMAT_VERSION, read_header
from sdedit_desktop.textsafe import shown


@dataclass
class RawProject:
    manifest: dict[str, Any]
    members: dict[str, bytes]  # every archive member but manifest.json


Migration = Callable[[RawProject], RawProject]
MIGRATIONS: dict[int, Migration] = {}


def register(from_version: int, registry: dict[int, Migration] | None = None
             ) -> Callable[[Migration], Migration]:
    """Decorator: registers the migration from `from_version` to `from_version + 1`."""
    table = MIGRATIONS if registry is None else registry

    def decorate(fn: Migration) -> Migration:
        if from_version in table:
            raise ValueError(f"a migration from format {from_version} is already registered")
        table[from_version] = fn
        return fn

    return decorate


def migrate(raw: RawProject, *, target: int = FORMAT_VERSION,
            registry: dict[int, Migration] | None = None) -> RawProject:
    """Brings `raw` to format `target`. Raises ProjectError for a newer format or a version with
    no upgrade path."""
    table = MIGRATIONS if registry is None else registry
    version = read_header(raw.manifest)
    if version > target:
        writer = raw.manifest.get("app_version")
        by = f" by sdedit-desktop {shown(writer, 40)}" if isinstance(writer, str) else ""
        raise ProjectError(f"this project was saved{by} in format version {version}; this "
                           f"sdedit-desktop ({__version__}) reads format versions up to {target}. "
                           "Please update sdedit-desktop to open it.")
    while version < target:
        step = table.get(version)
        if step is None:
            raise ProjectError(f"format version {version} is not supported (no upgrade path to "
                               f"version {version + 1})")
        try:
            raw = step(raw)
        except ProjectError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ProjectError(f"cannot upgrade this project from format version {version}: "
                               f"its content is malformed ({type(exc).__name__}: {exc})") from exc
        reached = read_header(raw.manifest)
        if reached != version + 1:
            raise ProjectError(f"internal: the migration from format {version} produced format "
                               f"{reached}")
        version = reached
    return raw


@register(1)
def _v1_to_v2(raw: RawProject) -> RawProject:
    """Format 2 adds the edit region to every request (`region`, `feather`). Format-1 edits ran
    on the whole image, so they get the whole image as their region: replayed, they edit what
    they edited then (a missing region would mean "auto" and crop around the points or mask)."""
    manifest = dict(raw.manifest, format_version=2)
    arrays = manifest.get("arrays")
    history = manifest.get("history")
    if not isinstance(history, list):
        return RawProject(manifest, raw.members)  # the validator says what is wrong
    upgraded = []
    for entry in history:
        request = entry.get("request") if isinstance(entry, dict) else None
        if isinstance(request, dict) and "region" not in request:
            size = _image_size(arrays, request.get("image_sha256"))
            if size is not None:
                entry = dict(entry, request=dict(request, region=[0, 0, *size]))
        upgraded.append(entry)
    manifest["history"] = upgraded
    return RawProject(manifest, raw.members)


def _image_size(arrays: Any, sha: Any) -> tuple[int, int] | None:
    """(width, height) of the RGB image `sha` as the manifest lists it, or None when the listing
    is unusable (the validator then refuses the file for that)."""
    info = arrays.get(sha) if isinstance(arrays, dict) and isinstance(sha, str) else None
    shape = info.get("shape") if isinstance(info, dict) else None
    if not isinstance(shape, list) or len(shape) != 3 or \
            not all(type(v) is int and v > 0 for v in shape[:2]):
        return None
    return shape[1], shape[0]
