"""Upgrading files written in older format versions, one version at a time.

A migration takes the raw content of a file in format version N (the parsed manifest and the
other members as bytes) and returns it in format N + 1. `MIGRATIONS` maps N to that function;
loading chains them up to `FORMAT_VERSION` and only then validates, so the validator only ever
knows the current format. Version 1 is the first released format, so the registry is empty today.

To introduce format 2: bump `schema.FORMAT_VERSION`, change the encoder/decoder in schema.py, and
register the upgrade of old files here:

    @register(1)
    def _v1_to_v2(raw: RawProject) -> RawProject:
        manifest = dict(raw.manifest, format_version=2)
        ...  # rename fields, move members
        return RawProject(manifest, raw.members)

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
