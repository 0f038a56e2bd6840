"""Load DragDiffusion's `meta_data.pkl` without running code from it.

A pickle can call any importable function while it loads. This unpickler resolves only the
globals that plain containers and numpy arrays need; any other global is refused by name before
it is imported, so a hostile payload never runs.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from pathlib import Path
from typing import Any

# (module, name) pairs a pickled dict/list of numpy arrays and scalars refers to. numpy 2 moved
# numpy.core to numpy._core; pickles from either version name their own.
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [(core, name)
     for core in ("numpy.core.multiarray", "numpy._core.multiarray")
     for name in ("_reconstruct", "scalar")]
    + [(core, "_frombuffer") for core in ("numpy.core.numeric", "numpy._core.numeric")]
    + [("numpy", "ndarray"), ("numpy", "dtype")]
    + [("builtins", name) for name in ("set", "frozenset", "bytearray", "complex", "slice")]
    + [("collections", "OrderedDict")]
    # protocol 0-2 pickles store bytes as latin-1 text turned back into bytes by this
    + [("_codecs", "encode")]
)


class UnsafePickleError(ValueError):
    """The pickle refers to something other than containers and numpy arrays."""


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Python 2 era names (protocol < 3) are checked under their Python 3 names.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) not in _ALLOWED:
            raise UnsafePickleError(
                f"refused to load {module}.{name}: only plain containers and numpy arrays are "
                "allowed in this pickle")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused a persistent reference: not a plain data pickle")


def safe_load_bytes(data: bytes) -> Any:
    return RestrictedUnpickler(io.BytesIO(data)).load()


def safe_load(path: str | Path) -> Any:
    """Unpickle `path` admitting only containers and numpy arrays. Raises UnsafePickleError
    naming the refused global, or pickle.UnpicklingError / EOFError for a damaged file."""
    return safe_load_bytes(Path(path).read_bytes())
