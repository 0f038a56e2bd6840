"""Reading a zip archive that may be hostile: names, sizes and methods are checked on the central
directory before anything is inflated, and every member is read with a hard cap, so a member that
inflates beyond what it declared (or beyond the limits) is stopped mid-stream.

Nothing is ever extracted to disk; members come back as bytes keyed by their name.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from pathlib import Path

from sdedit_desktop.fileopen import NotRegularFileError, open_regular_file
from sdedit_desktop.project.errors import ProjectError
from sdedit_desktop.project.limits import LoadLimits

_CHUNK = 1 << 20
_ALLOWED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# Member names this format writes: relative POSIX paths of plain ASCII words.
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_member_name(name: str) -> None:
    """Refuses absolute paths, drive letters, backslashes, '..' and other odd names."""
    if not name or len(name) > 255:
        raise ProjectError(f"archive member name {name!r} has an invalid length")
    if name.startswith("/") or "\\" in name or ":" in name:
        raise ProjectError(f"archive member {name!r} has an absolute or non-portable path")
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise ProjectError(f"archive member {name!r} tries to leave the archive folder "
                               "(path traversal)")
        if not _SAFE_PART.match(part):
            raise ProjectError(f"archive member {name!r} has characters this format never uses")


def read_archive(path: Path, limits: LoadLimits) -> dict[str, bytes]:
    """All members of the zip at `path`, validated and size-capped. Opens the file read-only."""
    try:
        with open_regular_file(path) as handle, zipfile.ZipFile(handle, "r") as archive:
            infos = archive.infolist()
            _check_directory(infos, limits)
            members: dict[str, bytes] = {}
            total = 0
            for info in infos:
                data = _read_member(archive, info, limits, limits.max_total_bytes - total)
                total += len(data)
                members[info.filename] = data
            return members
    except ProjectError:
        raise
    except FileNotFoundError as exc:
        raise ProjectError("no such file") from exc
    except NotRegularFileError as exc:
        if exc.what == "a folder":
            raise ProjectError("it is a folder, not a project file") from exc
        raise ProjectError(f"it is {exc.what}, not a project file") from exc
    except IsADirectoryError as exc:
        raise ProjectError("it is a folder, not a project file") from exc
    except PermissionError as exc:
        raise ProjectError("permission denied") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OverflowError,
            struct.error, NotImplementedError) as exc:  # e.g. "zip file version 8.4"
        raise ProjectError(f"not a readable .sdeproj file (damaged or not a zip archive: "
                           f"{exc})") from exc
    except OSError as exc:
        raise ProjectError(f"read error ({exc.strerror or exc})") from exc


def _check_directory(infos: list[zipfile.ZipInfo], limits: LoadLimits) -> None:
    if not infos:
        raise ProjectError("the archive is empty")
    if len(infos) > limits.max_entries:
        raise ProjectError(f"the archive has {len(infos)} members, more than the limit of "
                           f"{limits.max_entries}")
    seen: set[str] = set()
    declared = 0
    for info in infos:
        name = info.filename
        check_member_name(name)
        if info.is_dir():
            raise ProjectError(f"unexpected folder entry {name!r} in the archive")
        folded = name.casefold()
        if folded in seen:
            raise ProjectError(f"archive member {name!r} appears more than once")
        seen.add(folded)
        if info.flag_bits & 0x1:
            raise ProjectError(f"archive member {name!r} is encrypted")
        if info.compress_type not in _ALLOWED_METHODS:
            raise ProjectError(f"archive member {name!r} uses compression method "
                               f"{info.compress_type}; only stored and deflated are allowed")
        if info.file_size > limits.max_entry_bytes:
            raise ProjectError(f"archive member {name!r} declares {info.file_size} bytes, more "
                               f"than the limit of {limits.max_entry_bytes}")
        declared += info.file_size
        if declared > limits.max_total_bytes:
            raise ProjectError(f"the archive declares more than {limits.max_total_bytes} bytes "
                               "uncompressed in total (zip bomb?)")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: LoadLimits,
                 budget: int) -> bytes:
    """Reads one member, never more than its declared size, the per-member limit or what is left
    of the total budget (+1 byte to detect overflow). zipfile checks the CRC at the end."""
    cap = min(info.file_size, limits.max_entry_bytes, budget)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info, "r") as stream:
            while True:
                chunk = stream.read(min(_CHUNK, cap + 1 - size))
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise ProjectError(f"archive member {info.filename!r} inflates beyond its "
                                       f"declared size or the limits (zip bomb?)")
                chunks.append(chunk)
                if size == cap:
                    # Exactly at the cap: anything left is overflow. The zero-size read also
                    # lets zipfile run its CRC check at end of stream.
                    if stream.read(1):
                        raise ProjectError(f"archive member {info.filename!r} inflates beyond "
                                           "its declared size or the limits (zip bomb?)")
                    break
    except ProjectError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, OverflowError,
            struct.error, NotImplementedError, RuntimeError) as exc:
        raise ProjectError(f"archive member {info.filename!r} is damaged ({exc})") from exc
    data = b"".join(chunks)
    if len(data) != info.file_size:
        raise ProjectError(f"archive member {info.filename!r} is truncated ({len(data)} of "
                           f"{info.file_size} bytes)")
    return data
