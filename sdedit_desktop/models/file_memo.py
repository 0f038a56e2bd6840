"""Facts remembered about a file (its content hash, what an SD 2.x single file predicts), kept
in a small JSON file in the cache and valid while the file's size and modification time stay:
a file that changed is asked about again. Torch-free: the setup dialog reads it."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()


class FileMemo:
    """One value per file (by resolved path) under `field` in the JSON file `store`. A store
    that cannot be read or written only costs asking or computing again."""

    def __init__(self, store: Path, field: str):
        self.store = Path(store)
        self.field = field

    @staticmethod
    def _stamp(file: Path) -> tuple[str, dict[str, int]]:
        real = Path(file).resolve()
        stat = real.stat()
        return str(real), {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def get(self, file: Path) -> Any | None:
        try:
            key, stamp = self._stamp(file)
        except OSError:
            return None
        with _LOCK:
            entry = self._read().get(key)
        if isinstance(entry, dict) and all(entry.get(k) == v for k, v in stamp.items()):
            return entry.get(self.field)
        return None

    def put(self, file: Path, value: Any) -> None:
        try:
            key, stamp = self._stamp(file)
        except OSError:
            return
        with _LOCK:
            data = self._read()
            old = data.get(key)
            # Other fields stay while the file is unchanged (one store may hold several).
            entry = dict(old) if isinstance(old, dict) and all(
                old.get(k) == v for k, v in stamp.items()) else {}
            data[key] = {**entry, **stamp, self.field: value}
            self._write(data)

    def _read(self) -> dict:
        try:
            data = json.loads(self.store.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict) -> None:
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            # A unique temp file created exclusively, then renamed over the store.
            fd, tmp = tempfile.mkstemp(prefix=self.store.name + ".", suffix=".tmp",
                                       dir=self.store.parent)
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=0, sort_keys=True)
            os.replace(tmp, self.store)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
