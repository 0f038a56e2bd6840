"""Facts remembered about a file (its content hash, what an SD 2.x single file predicts), kept
in a small JSON file in the cache and valid while the file's size and modification time stay:
a file that changed is asked about again. Torch-free: the setup dialog reads it."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from sdedit_desktop.fileopen import read_regular_bytes
from sdedit_desktop.filesave import write_text

_LOCK = threading.Lock()
_MAX_STORE_BYTES = 64_000_000  # ~200 bytes per remembered file


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
        try:  # a regular file of bounded size: a planted FIFO or device never blocks
            data = json.loads(read_regular_bytes(self.store, _MAX_STORE_BYTES))
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict) -> None:
        try:  # the app's safe writer: an exclusive temp file renamed over the store
            self.store.parent.mkdir(parents=True, exist_ok=True)
            write_text(self.store, json.dumps(data, indent=0, sort_keys=True), durable=False)
        except OSError:
            pass  # a store that cannot be written only costs asking or computing again
