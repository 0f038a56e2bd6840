"""Load DragDiffusion's `meta_data.pkl` without running code from it and without letting it
allocate more memory than its own size justifies.

A pickle can call any importable function while it loads. This unpickler resolves only the
globals that plain containers and numpy arrays need; any other global is refused by name before
it is imported, so a hostile payload never runs.

A pickle can also ask for huge allocations with a few bytes: `bytearray(10**12)`, an ndarray of
shape (10**7, 10**6), a BINBYTES8 whose length says 2**62. Every length-prefixed argument is
first checked to lie inside the file (a pass over the opcodes), and every allocation the allowed
callables would make is charged against a budget of twice the file's size: a genuine pickle of
an array holds the array's bytes, so real files never come near it.
"""

from __future__ import annotations

import _codecs
import _compat_pickle
import io
import math
import pickle
import pickletools
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sdedit_desktop.fileopen import read_regular_bytes

MAX_PICKLE_BYTES = 256 * 1024 * 1024  # a DragBench meta_data.pkl is a few hundred KB
_BUDGET_FLOOR = 64 * 1024  # small allocations of a tiny pickle (an empty array's header)

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


_RECONSTRUCT = np.zeros(0).__reduce__()[0]  # numpy's array rebuilder, whatever its module


class UnsafePickleError(ValueError):
    """The pickle refers to something other than containers and numpy arrays, or asks for more
    memory than its size allows."""


def _nbytes(shape: Any, dtype: Any) -> int:
    """Bytes an array of `shape` and `dtype` needs (object arrays: one pointer per item)."""
    if isinstance(shape, int | np.integer):
        shape = (shape,)
    if not isinstance(shape, tuple | list) or not all(
            isinstance(n, int | np.integer) and not isinstance(n, bool) for n in shape):
        raise UnsafePickleError(f"refused an array of shape {shape!r:.80}: not whole numbers")
    if any(n < 0 for n in shape):
        raise UnsafePickleError(f"refused an array of negative shape {tuple(shape)!r:.80}")
    try:
        itemsize = np.dtype(dtype).itemsize if dtype is not None else 8
    except (TypeError, ValueError) as exc:
        raise UnsafePickleError(f"refused an array of unknown dtype ({exc})") from None
    return math.prod(int(n) for n in shape) * max(itemsize, 1)


class RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler (its opcode handlers can be guarded) with allowed globals only
    and an allocation budget."""

    dispatch: ClassVar[dict] = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: io.BytesIO, budget: int):
        super().__init__(file)
        self.budget = budget

    def charge(self, size: int, what: str) -> None:
        if size > self.budget:
            raise UnsafePickleError(f"refused {what}: {size:,} bytes is more than a pickle of "
                                    "this size can hold")
        self.budget -= size

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

    # -- guarded opcodes ------------------------------------------------------------------------
    def _guard_call(self, func: Any, args: Any) -> None:
        if not isinstance(args, tuple):
            raise UnsafePickleError("refused a call whose arguments are not a tuple")
        if func is bytearray and args and isinstance(args[0], int | np.integer):
            self.charge(int(args[0]), f"bytearray({int(args[0])})")
        elif func is np.ndarray:
            shape = args[0] if args else ()
            dtype = args[1] if len(args) > 1 else float
            if len(args) < 3 or args[2] is None:  # no buffer given: numpy allocates
                self.charge(_nbytes(shape, dtype), f"an array of shape {shape!r:.80}")
        elif func is _RECONSTRUCT:
            if len(args) != 3 or args[0] is not np.ndarray:
                raise UnsafePickleError("refused an array of a type other than numpy.ndarray")
            self.charge(_nbytes(args[1], args[2] if not isinstance(args[2], bytes) else "b"),
                        f"an array of shape {args[1]!r:.80}")
        elif func is _codecs.encode:
            encoding = args[1] if len(args) > 1 else "utf-8"
            if str(encoding).lower().replace("-", "").replace("_", "") != "latin1":
                raise UnsafePickleError(f"refused _codecs.encode with {encoding!r:.40}")

    def load_reduce(self) -> None:
        self._guard_call(self.stack[-2], self.stack[-1])
        super().load_reduce()

    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_build(self) -> None:
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.ndarray):
            # ndarray.__setstate__((version, shape, dtype, fortran, data)) allocates the shape
            # before it looks at the data.
            if not isinstance(state, tuple) or len(state) not in (4, 5):
                raise UnsafePickleError("refused an array with a malformed state")
            shape, dtype = state[-4], state[-3]
            self.charge(_nbytes(shape, dtype), f"an array of shape {shape!r:.80}")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def _refuse_newobj(self) -> None:
        raise UnsafePickleError("refused NEWOBJ: not needed by plain containers and arrays")

    dispatch[pickle.NEWOBJ[0]] = _refuse_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _refuse_newobj
    dispatch[pickle.INST[0]] = _refuse_newobj
    dispatch[pickle.OBJ[0]] = _refuse_newobj


def _check_opcodes(data: bytes) -> None:
    """Walk the opcodes without building anything: every counted argument (BINBYTES8 of 2**62)
    must lie inside the data, every opcode must be known."""
    try:
        for _ in pickletools.genops(data):
            pass
    except ValueError as exc:  # truncated argument, unknown opcode, bad text number
        raise pickle.UnpicklingError(f"damaged or hostile pickle ({exc})") from None


def safe_load_bytes(data: bytes) -> Any:
    _check_opcodes(data)
    unpickler = RestrictedUnpickler(io.BytesIO(data), 2 * len(data) + _BUDGET_FLOOR)
    return unpickler.load()


def safe_load(path: str | Path) -> Any:
    """Unpickle `path` (a regular file of at most MAX_PICKLE_BYTES) admitting only containers
    and numpy arrays. Raises UnsafePickleError naming the refused global or allocation,
    pickle.UnpicklingError / EOFError for a damaged file, OSError when it cannot be read."""
    return safe_load_bytes(read_regular_bytes(path, MAX_PICKLE_BYTES))
