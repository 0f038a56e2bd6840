"""The version-2 document: `manifest.json` plus the members it references, to and from `Project`.

See docs/sdeproj.md for the layout. Decoding validates everything (types, references, sizes,
content hashes) before it returns, so a project is either complete and consistent or not loaded.
Saving runs the same decoder over what it is about to write, so a file that this version would
refuse to open is never written.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from sdedit_desktop import __version__
from sdedit_desktop.edits.progress import EditError
from sdedit_desktop.edits.region import check_region
from sdedit_desktop.edits.requests import EditResult, PointPair, image_sha256
from sdedit_desktop.project import jsonio
from sdedit_desktop.project.errors import ProjectError
from sdedit_desktop.project.limits import LoadLimits
from sdedit_desktop.project.model import EmbeddedLora, HistoryEntry, Project
from sdedit_desktop.project.pngcodec import decode_png, encode_png, read_png_header
from sdedit_desktop.project.requestcodec import build_request, check_params
from sdedit_desktop.project.safetensors_check import check_safetensors

FORMAT_NAME = "sdeproj"
FORMAT_VERSION = 2  # 2: requests carry their edit region (migrate.py upgrades 1)
MANIFEST = "manifest.json"

_SHA = re.compile(r"^[0-9a-f]{64}$")
_TOP_KEYS = {"format", "format_version", "app_version", "project_id", "created", "modified",
             "arrays", "source", "ui", "history", "loras"}
_ENTRY_KEYS = {"id", "created", "duration_s", "parent_id", "label", "request", "result"}
_RESULT_KEYS = {"image", "trajectory", "mask", "metrics", "timings", "unet_calls",
                "unet_samples", "lora_id"}
# The region the edit ran on and its scale (format 2; absent in results of older files).
_RESULT_OPTIONAL_KEYS = {"region", "work_scale"}


def array_member(sha: str) -> str:
    return f"arrays/{sha}.png"


def lora_member(sha: str) -> str:
    return f"loras/{sha}.safetensors"


# --- encoding --------------------------------------------------------------------------------

@dataclass
class Encoded:
    manifest: dict[str, Any]
    members: dict[str, bytes]  # every member except manifest.json
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # sha -> array, to skip decoding


def encode_project(project: Project, modified: datetime,
                   png_cache: dict[str, bytes] | None = None) -> Encoded:
    """Project -> manifest + members. `png_cache` (sha -> PNG bytes) avoids re-encoding arrays
    that an earlier save or the load already encoded; it is updated and pruned."""
    arrays: dict[str, np.ndarray] = {}

    def ref(array: np.ndarray | None, where: str, channels: int) -> str | None:
        if array is None:
            return None
        _check_array(array, where, channels)
        sha = image_sha256(array)
        arrays.setdefault(sha, array)
        return sha

    source = {"image": ref(project.image, "the source image", 3),
              "mask": ref(project.mask, "the source mask", 1),
              "points": [[list(map(int, s)), list(map(int, t))] for s, t in project.points]}
    history = []
    for i, entry in enumerate(project.history):
        where = f"history[{i}]"
        try:
            history.append(_encode_entry(entry, where, ref))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ProjectError(f"{where} ({getattr(entry, 'id', '?')}) cannot be written: {exc}"
                               ) from exc
    members: dict[str, bytes] = {}
    cache = png_cache if png_cache is not None else {}
    for sha, array in arrays.items():
        if sha not in cache:
            cache[sha] = encode_png(array)
        members[array_member(sha)] = cache[sha]
    for stale in set(cache) - set(arrays):
        del cache[stale]
    loras = {}
    for lora_id, lora in project.loras.items():
        sha = hashlib.sha256(lora.weights).hexdigest()
        members[lora_member(sha)] = lora.weights
        loras[lora_id] = {"sha256": sha, "size": len(lora.weights), "metadata": lora.metadata}
    manifest = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "app_version": __version__,
        "project_id": project.id, "created": jsonio.format_time(project.created),
        "modified": jsonio.format_time(modified),
        "arrays": {sha: {"shape": list(a.shape)} for sha, a in arrays.items()},
        "source": source, "ui": project.ui, "history": history, "loras": loras,
    }
    return Encoded(manifest, members, arrays)


def _encode_entry(entry: HistoryEntry, where: str, ref: Any) -> dict[str, Any]:
    request, result = entry.request, entry.result
    ref(request.image, f"{where}.request image", 3)
    ref(request.mask, f"{where}.request mask", 1)
    return {
        "id": entry.id, "created": jsonio.format_time(entry.created),
        "duration_s": float(entry.duration_s), "parent_id": entry.parent_id,
        "label": entry.label, "request": request.params(),
        "result": {
            "image": ref(result.image, f"{where}.result image", 3),
            "trajectory": [ref(frame, f"{where}.result trajectory frame {j + 1}", 3)
                           for j, frame in enumerate(result.trajectory)],
            "mask": ref(result.mask, f"{where}.result mask", 1),
            "metrics": {k: float(v) for k, v in result.metrics.items()},
            "timings": {k: float(v) for k, v in result.timings.items()},
            "unet_calls": int(result.unet_calls), "unet_samples": int(result.unet_samples),
            "lora_id": result.lora_id,
            "region": None if result.region is None else [int(v) for v in result.region],
            "work_scale": float(result.work_scale),
        },
    }


def _check_array(array: Any, where: str, channels: int) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        raise ProjectError(f"{where} must be a uint8 numpy array")
    ok = array.ndim == 2 if channels == 1 else (array.ndim == 3 and array.shape[2] == 3)
    if not ok or 0 in array.shape:
        raise ProjectError(f"{where} has shape {array.shape}; expected "
                           f"{'HxW' if channels == 1 else 'HxWx3'}")


# --- decoding --------------------------------------------------------------------------------

def read_header(manifest: Any) -> int:
    """The format version of a manifest of any version (the part every version shares)."""
    if not isinstance(manifest, dict):
        raise ProjectError("manifest.json should be an object")
    if manifest.get("format") != FORMAT_NAME:
        raise ProjectError("manifest.json does not describe an sdedit project "
                           f"(format {manifest.get('format')!r:.40})")
    return jsonio.integer(manifest.get("format_version"), "manifest format_version", minimum=0)


def decode_project(manifest: Any, members: Mapping[str, bytes], limits: LoadLimits,
                   known_arrays: Mapping[str, np.ndarray] | None = None) -> Project:
    """A current-version manifest + members -> Project. `known_arrays` (sha -> array) are taken
    as decoded (used by save, which just encoded them)."""
    doc = jsonio.obj(manifest, "manifest.json", _TOP_KEYS)
    if doc["format_version"] != FORMAT_VERSION:
        raise ProjectError(f"internal: decoder for format {FORMAT_VERSION} got "
                           f"{doc['format_version']}")
    jsonio.string(doc["app_version"], "app_version")
    arrays = _decode_arrays(doc["arrays"], members, limits, known_arrays or {})
    used: set[str] = set()

    def get(sha: Any, where: str, channels: int, optional: bool = False) -> np.ndarray | None:
        if sha is None and optional:
            return None
        sha = jsonio.string(sha, where)
        array = arrays.get(sha)
        if array is None:
            raise ProjectError(f"{where} refers to array {sha[:16]!r}… which the file does not "
                               "list")
        if (array.ndim == 2) != (channels == 1):
            wanted = "a mask (HxW)" if channels == 1 else "an RGB image (HxWx3)"
            raise ProjectError(f"{where} should be {wanted} but refers to shape {array.shape}")
        used.add(sha)
        return array

    source = jsonio.obj(doc["source"], "source", {"image", "mask", "points"})
    image = get(source["image"], "source.image", 3)
    mask = get(source["mask"], "source.mask", 1, optional=True)
    _same_size(mask, image, "source.mask", "the source image")
    points = _points(source["points"], image, "source.points")
    ui = doc["ui"]
    if not isinstance(ui, dict):
        raise ProjectError("ui should be an object")
    jsonio.check_depth(ui, "ui", limits.max_json_depth)
    if ui.get("region") is not None:  # the editor's region choice: what File > Open applies
        _check_region(ui["region"], image, "ui.region")

    history: list[HistoryEntry] = []
    ids: set[str] = set()
    for i, raw in enumerate(jsonio.array(doc["history"], "history")):
        entry = _decode_entry(raw, f"history[{i}]", get, ids)
        ids.add(entry.id)
        history.append(entry)

    loras = _decode_loras(doc["loras"], members, limits)
    unused = set(arrays) - used
    if unused:
        raise ProjectError(f"array {sorted(unused)[0][:16]}… is stored but nothing uses it")
    expected = {MANIFEST} | {array_member(s) for s in arrays} | {
        lora_member(v["sha256"]) for v in doc["loras"].values()}
    extra = set(members) - expected
    if extra:
        raise ProjectError(f"unexpected archive member {sorted(extra)[0]!r}")
    project = Project(image=np.array(image), mask=None if mask is None else np.array(mask),
                      points=points, ui=ui, history=history, loras=loras,
                      id=jsonio.string(doc["project_id"], "project_id"),
                      created=jsonio.timestamp(doc["created"], "created"),
                      modified=jsonio.timestamp(doc["modified"], "modified"))
    if not project.id:
        raise ProjectError("project_id is empty")
    return project


def _decode_arrays(table: Any, members: Mapping[str, bytes], limits: LoadLimits,
                   known: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    if not isinstance(table, dict):
        raise ProjectError("arrays should be an object")
    shapes: dict[str, tuple[int, ...]] = {}
    total = 0
    for sha, info in table.items():
        where = f"arrays[{sha[:16]!r}]"
        if not _SHA.match(sha):
            raise ProjectError(f"{where} is not a SHA-256 content hash")
        info = jsonio.obj(info, where, {"shape"})
        dims = jsonio.array(info["shape"], f"{where}.shape")
        rgb = len(dims) == 3 and type(dims[2]) is int and dims[2] == 3
        if not (len(dims) == 2 or rgb):
            raise ProjectError(f"{where}.shape {dims!r:.40} is neither HxW nor HxWx3")
        for d in dims[:2]:
            jsonio.integer(d, f"{where}.shape", minimum=1)
        pixels = dims[0] * dims[1]
        if pixels > limits.max_image_pixels:
            raise ProjectError(f"{where} is {dims[1]}x{dims[0]} pixels, more than the limit of "
                               f"{limits.max_image_pixels}")
        total += pixels
        if total > limits.max_total_pixels:
            raise ProjectError(f"the images of this project exceed {limits.max_total_pixels} "
                               "pixels in total")
        if array_member(sha) not in members:
            raise ProjectError(f"the file is missing {array_member(sha)}")
        shapes[sha] = tuple(dims)
    out: dict[str, np.ndarray] = {}
    for sha, shape in shapes.items():
        name = array_member(sha)
        if sha in known:
            array = known[sha]
        else:
            data = members[name]
            header = read_png_header(data, name)
            found = (header.height, header.width) + ((3,) if header.channels == 3 else ())
            if found != shape:
                raise ProjectError(f"{name} is {found}, but the manifest says {shape}")
            array = decode_png(data, name, limits.max_image_pixels)
            if image_sha256(array) != sha:
                raise ProjectError(f"{name} does not match its content hash (damaged or "
                                   "altered)")
            array.flags.writeable = False
        out[sha] = array
    return out


def _decode_entry(raw: Any, where: str, get: Any, earlier_ids: set[str]) -> HistoryEntry:
    data = jsonio.obj(raw, where, _ENTRY_KEYS)
    entry_id = jsonio.string(data["id"], f"{where}.id")
    if not entry_id:
        raise ProjectError(f"{where}.id is empty")
    if entry_id in earlier_ids:
        raise ProjectError(f"{where}.id {entry_id!r:.40} is used by two history entries")
    parent = jsonio.opt_string(data["parent_id"], f"{where}.parent_id")
    if parent is not None and parent not in earlier_ids:
        raise ProjectError(f"{where}.parent_id {parent!r:.40} is not an earlier history entry")
    duration = jsonio.number(data["duration_s"], f"{where}.duration_s")
    if duration < 0:
        raise ProjectError(f"{where}.duration_s is negative")
    cls, params = check_params(data["request"], f"{where}.request")
    req_where = f"{where}.request"
    image = get(data["request"]["image_sha256"], f"{req_where}.image_sha256", 3)
    mask = get(data["request"]["mask_sha256"], f"{req_where}.mask_sha256", 1, optional=True)
    _same_size(mask, image, f"{req_where}.mask_sha256", "the request image")
    if "points" in params:
        _check_bounds(params["points"], image, f"{req_where}.points")
    if params.get("region") is not None:
        _check_region(params["region"], image, f"{req_where}.region")
    request = build_request(cls, params, image, mask, req_where)

    res = jsonio.obj(data["result"], f"{where}.result", _RESULT_KEYS, _RESULT_OPTIONAL_KEYS)
    rw = f"{where}.result"
    used_region = None
    if res.get("region") is not None:
        used_region = _check_region(res["region"], image, f"{rw}.region")
    work_scale = jsonio.number(res.get("work_scale", 1.0), f"{rw}.work_scale")
    if work_scale <= 0:
        raise ProjectError(f"{rw}.work_scale must be positive, got {work_scale}")
    result_image = get(res["image"], f"{rw}.image", 3)
    _same_size(result_image, image, f"{rw}.image", "the request image")
    trajectory = []
    for j, sha in enumerate(jsonio.array(res["trajectory"], f"{rw}.trajectory")):
        frame = get(sha, f"{rw}.trajectory[{j}]", 3)
        _same_size(frame, image, f"{rw}.trajectory[{j}]", "the request image")
        trajectory.append(frame)
    result_mask = get(res["mask"], f"{rw}.mask", 1, optional=True)
    _same_size(result_mask, image, f"{rw}.mask", "the request image")
    result = EditResult(
        request=request, image=result_image, trajectory=trajectory, mask=result_mask,
        metrics=jsonio.number_map(res["metrics"], f"{rw}.metrics"),
        timings=jsonio.number_map(res["timings"], f"{rw}.timings"),
        unet_calls=jsonio.integer(res["unet_calls"], f"{rw}.unet_calls", minimum=0),
        unet_samples=jsonio.integer(res["unet_samples"], f"{rw}.unet_samples", minimum=0),
        lora_id=jsonio.opt_string(res["lora_id"], f"{rw}.lora_id"),
        region=used_region, work_scale=work_scale)
    return HistoryEntry(result=result, id=entry_id,
                        created=jsonio.timestamp(data["created"], f"{where}.created"),
                        duration_s=duration, parent_id=parent,
                        label=jsonio.string(data["label"], f"{where}.label"))


def _decode_loras(table: Any, members: Mapping[str, bytes], limits: LoadLimits
                  ) -> dict[str, EmbeddedLora]:
    if not isinstance(table, dict):
        raise ProjectError("loras should be an object")
    out = {}
    for lora_id, info in table.items():
        where = f"loras[{lora_id!r:.40}]"
        if not lora_id:
            raise ProjectError("loras has an empty LoRA id")
        info = jsonio.obj(info, where, {"sha256", "size", "metadata"})
        sha = jsonio.string(info["sha256"], f"{where}.sha256")
        if not _SHA.match(sha):
            raise ProjectError(f"{where}.sha256 is not a SHA-256 hash")
        size = jsonio.integer(info["size"], f"{where}.size", minimum=0)
        metadata = info["metadata"]
        if not isinstance(metadata, dict):
            raise ProjectError(f"{where}.metadata should be an object")
        jsonio.check_depth(metadata, f"{where}.metadata", limits.max_json_depth)
        name = lora_member(sha)
        weights = members.get(name)
        if weights is None:
            raise ProjectError(f"the file is missing {name}")
        if len(weights) != size or hashlib.sha256(weights).hexdigest() != sha:
            raise ProjectError(f"{name} does not match its recorded size and hash (damaged or "
                               "altered)")
        check_safetensors(weights, name)
        out[lora_id] = EmbeddedLora(weights=weights, metadata=metadata)
    return out


def _same_size(array: np.ndarray | None, image: np.ndarray, where: str, other: str) -> None:
    if array is not None and array.shape[:2] != image.shape[:2]:
        raise ProjectError(f"{where} is {array.shape[1]}x{array.shape[0]} pixels but "
                           f"{other} is {image.shape[1]}x{image.shape[0]}")


def _points(value: Any, image: np.ndarray, where: str) -> list[PointPair]:
    """JSON [[[sx, sy], [tx, ty]], ...] -> point pairs inside the image."""
    out: list[PointPair] = []
    for i, pair in enumerate(jsonio.array(value, where)):
        pw = f"{where}[{i}]"
        pair = jsonio.array(pair, pw)
        if len(pair) != 2:
            raise ProjectError(f"{pw} should be a (source, target) pair")
        ends = []
        for point, name in zip(pair, ("source", "target"), strict=True):
            point = jsonio.array(point, f"{pw} {name}")
            if len(point) != 2:
                raise ProjectError(f"{pw} {name} should be an (x, y) pair")
            ends.append((jsonio.integer(point[0], f"{pw} {name} x"),
                         jsonio.integer(point[1], f"{pw} {name} y")))
        out.append((ends[0], ends[1]))
    _check_bounds(out, image, where)
    return out


def _check_bounds(points: Any, image: np.ndarray, where: str) -> None:
    height, width = image.shape[:2]
    for i, pair in enumerate(points):
        for (x, y), name in zip(pair, ("source", "target"), strict=True):
            if not (0 <= x < width and 0 <= y < height):
                raise ProjectError(f"{where}[{i}] {name} ({x}, {y}) is outside the "
                                   f"{width}x{height} image")


def _check_region(value: Any, image: np.ndarray, where: str) -> tuple[int, int, int, int]:
    """The edits' own check of a region value (edits/region.py), naming the field."""
    height, width = image.shape[:2]
    try:
        return check_region(value, width, height)
    except EditError as exc:
        raise ProjectError(f"{where}: {exc}") from None
