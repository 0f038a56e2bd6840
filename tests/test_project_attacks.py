"""Each kind of damaged or hostile file is refused with a specific ProjectError, loads nothing
and leaves the file exactly as it was."""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image
from project_helpers import (
    add_array,
    digest,
    drop_unused_arrays,
    grey,
    lora_bytes,
    read_zip,
    rgb,
    saved,
    write_zip,
)

from sdedit_desktop.project import LoadLimits, ProjectError, load_project, pngcodec, safezip
from sdedit_desktop.project.limits import MiB


def refused(path, pattern, **kwargs):
    before = digest(path)
    with pytest.raises(ProjectError, match=pattern) as info:
        load_project(path, **kwargs)
    assert digest(path) == before
    assert info.value.path == path and str(info.value) == info.value.reason
    return info.value


@pytest.fixture
def good(tmp_path):
    return saved(tmp_path)


def mutated(tmp_path, good, edit, name="bad.sdeproj"):
    """Writes a copy of the good project after `edit(manifest, members)`."""
    manifest, members = read_zip(good)
    edit(manifest, members)
    return write_zip(tmp_path / name, manifest, members)


# --- format version --------------------------------------------------------------------------

def test_newer_format_version_asks_for_an_update(tmp_path, good):
    def newer(m, _):
        m["format_version"] = 3
        m["app_version"] = "9.0.0"
        m["something_new"] = {"x": 1}
    err = refused(mutated(tmp_path, good, newer), r"saved by sdedit-desktop 9\.0\.0 in format "
                  r"version 3; this sdedit-desktop \(0\.1\.0\) reads format versions up to 2\. "
                  "Please update")
    assert "format version 3" in err.reason


def test_not_an_sdedit_manifest(tmp_path, good):
    refused(mutated(tmp_path, good, lambda m, _: m.update(format="other")),
            "does not describe an sdedit project")
    refused(write_zip(tmp_path / "list.sdeproj", b"[1, 2]", {}), "should be an object")
    refused(mutated(tmp_path, good, lambda m, _: m.update(format_version="1")),
            "format_version should be an integer")
    refused(mutated(tmp_path, good, lambda m, _: m.update(format_version=-1)),
            "format_version should be at least 0")


# --- missing or extra entries ----------------------------------------------------------------

def test_missing_manifest(tmp_path, good):
    _, members = read_zip(good)
    refused(write_zip(tmp_path / "x.sdeproj", None, members), "no manifest.json")


def test_missing_image_member(tmp_path, good):
    def drop(m, members):
        del members[f"arrays/{m['source']['image']}.png"]
    refused(mutated(tmp_path, good, drop), r"missing arrays/[0-9a-f]{64}\.png")


def test_missing_lora_member(tmp_path, good):
    def drop(m, members):
        del members[next(n for n in members if n.startswith("loras/"))]
    refused(mutated(tmp_path, good, drop), r"missing loras/[0-9a-f]{64}\.safetensors")


def test_missing_manifest_field(tmp_path, good):
    refused(mutated(tmp_path, good, lambda m, _: m.pop("history")),
            "manifest.json is missing history")
    refused(mutated(tmp_path, good, lambda m, _: m["history"][3]["result"].pop("metrics")),
            r"history\[3\].result is missing metrics")


def test_unexpected_member_and_unused_array(tmp_path, good):
    refused(mutated(tmp_path, good, lambda _, members: members.update({"notes.txt": b"hi"})),
            "unexpected archive member 'notes.txt'")
    refused(mutated(tmp_path, good, lambda m, members: add_array(m, members, rgb(77))),
            "is stored but nothing uses it")


def test_reference_to_an_unlisted_array(tmp_path, good):
    def retarget(m, _):
        m["history"][0]["result"]["image"] = "0" * 64
    refused(mutated(tmp_path, good, retarget),
            r"history\[0\].result.image refers to array '0000000000000000'… which the file "
            "does not list")


# --- entries that are not what they claim ----------------------------------------------------

def test_png_that_is_not_a_png(tmp_path, good):
    def fake(m, members):
        members[f"arrays/{m['source']['image']}.png"] = b"GIF89a" + bytes(100)
    refused(mutated(tmp_path, good, fake), r"arrays/[0-9a-f]{64}\.png is not a PNG image")


def test_jpeg_under_a_png_name(tmp_path, good):
    def jpeg(m, members):
        out = io.BytesIO()
        Image.fromarray(rgb(1)).save(out, "JPEG")
        members[f"arrays/{m['source']['image']}.png"] = out.getvalue()
    refused(mutated(tmp_path, good, jpeg), "is not a PNG image")


def test_png_with_other_pixels_fails_its_content_hash(tmp_path, good):
    def swap(m, members):
        altered = rgb(1).copy()
        altered[0, 0] ^= 1
        members[f"arrays/{m['source']['image']}.png"] = pngcodec.encode_png(altered)
    refused(mutated(tmp_path, good, swap), "does not match its content hash")


def test_truncated_png_inside_a_valid_zip(tmp_path, good):
    def cut(m, members):
        name = f"arrays/{m['source']['image']}.png"
        members[name] = members[name][:60]
    refused(mutated(tmp_path, good, cut), "is a damaged PNG image")


def test_png_of_the_wrong_kind(tmp_path, good):
    def grey_for_rgb(m, members):
        sha = m["source"]["image"]
        members[f"arrays/{sha}.png"] = pngcodec.encode_png(grey(1))
    refused(mutated(tmp_path, good, grey_for_rgb), r"is \(16, 24\), but the manifest says "
            r"\(16, 24, 3\)")

    def sixteen_bit(m, members):
        out = io.BytesIO()
        Image.fromarray(np.zeros((16, 24), np.uint16)).save(out, "PNG")
        members[f"arrays/{m['source']['mask']}.png"] = out.getvalue()
    refused(mutated(tmp_path, good, sixteen_bit), "unsupported PNG .bit depth 16")


def test_mask_used_where_an_image_belongs(tmp_path, good):
    def swap(m, _):
        m["history"][0]["result"]["image"] = m["source"]["mask"]
    refused(mutated(tmp_path, good, swap), r"history\[0\].result.image should be an RGB image")


def test_embedded_lora_that_is_not_safetensors(tmp_path, good):
    import hashlib

    def fake(m, members):
        junk = b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": {\"dtype\": \"F32\"}}" + bytes(8)
        sha = hashlib.sha256(junk).hexdigest()
        del members[next(n for n in members if n.startswith("loras/"))]
        members[f"loras/{sha}.safetensors"] = junk
        m["loras"]["lora-abc"].update(sha256=sha, size=len(junk))
    refused(mutated(tmp_path, good, fake), "safetensors")


def test_embedded_lora_altered(tmp_path, good):
    def alter(_, members):
        name = next(n for n in members if n.startswith("loras/"))
        members[name] = lora_bytes(seed=1)
    refused(mutated(tmp_path, good, alter), "does not match its recorded size and hash")


# --- JSON of the wrong shape / types ---------------------------------------------------------

@pytest.mark.parametrize(("edit", "pattern"), [
    (lambda m: m["history"][0]["request"].update(seed="7"),
     r"history\[0\].request.seed should be an integer, found a string"),
    (lambda m: m["history"][0]["request"].update(seed=True),
     r"request.seed should be an integer, found a boolean"),
    (lambda m: m["history"][0]["request"].update(t0=None),
     r"history\[0\].request.t0 should be a number, found null"),
    (lambda m: m["history"][0]["request"].update(t0=float("nan")),
     r"request.t0 should be a finite number"),
    (lambda m: m["history"][0]["request"].update(method="dpm"),
     r"request.method should be one of 'sde', 'ode'"),
    (lambda m: m["history"][0]["request"].update(kind="blur"),
     r"request.kind 'blur' is not an edit this version knows"),
    (lambda m: m["history"][0]["request"].update(points=[[[1, 2], [3]]]),
     r"request.points\[0\]\[1\] should have 2 items"),
    (lambda m: m["history"][0]["request"].update(points=[[[1, 2], [300, 4]]]),
     r"request.points\[0\] target \(300, 4\) is outside the 24x16 image"),
    (lambda m: m["history"][0]["request"].update(model={"kind": "hub"}),
     r"request.model is missing source"),
    (lambda m: m["history"][0]["request"].update(colour="red"),
     "parameter.s. this version does not know for a drag edit: colour"),
    (lambda m: m["history"][0]["request"].pop("image_sha256"),
     r"request is missing image_sha256"),
    (lambda m: m["history"][1]["result"].update(unet_calls=-1),
     r"unet_calls should be at least 0"),
    (lambda m: m["history"][1]["result"]["metrics"].update(psnr="high"),
     r"history\[1\].result.metrics.psnr should be a number"),
    (lambda m: m["history"][1]["result"].update(trajectory={}),
     r"trajectory should be a list, found an object"),
    (lambda m: m["history"][1].update(created="yesterday"),
     r"history\[1\].created is not an ISO 8601 time"),
    (lambda m: m["history"][1].update(created="2026-01-01T00:00:00"),
     r"history\[1\].created has no time zone"),
    (lambda m: m["history"][1].update(duration_s=-3),
     r"duration_s is negative"),
    (lambda m: m["history"][1].update(id="e0"),
     r"history\[1\].id 'e0' is used by two history entries"),
    (lambda m: m["history"][9].update(parent_id="c1"),
     r"history\[9\].parent_id 'c1' is not an earlier history entry"),
    (lambda m: m.update(history={}), r"history should be a list"),
    (lambda m: m["source"].update(points="none"), r"source.points should be a list"),
    (lambda m: m.update(ui=[1]), r"ui should be an object"),
    (lambda m: m["arrays"][next(iter(m["arrays"]))].update(shape=[16, 24, 4]),
     r"is neither HxW nor HxWx3"),
    (lambda m: m["arrays"].update({"not-a-hash": {"shape": [1, 1]}}),
     r"is not a SHA-256 content hash"),
    (lambda m: m["loras"]["lora-abc"].update(metadata=[]), r"metadata should be an object"),
])
def test_json_of_the_wrong_shape(tmp_path, good, edit, pattern):
    refused(mutated(tmp_path, good, lambda m, _: edit(m)), pattern)


def test_non_utf8_manifest(tmp_path, good):
    manifest, members = read_zip(good)
    text = json.dumps(manifest, ensure_ascii=False).replace("edit 0 «ü»", "edit 0 \udcfc")
    data = text.encode("utf-8", "surrogateescape")  # a lone latin-1 byte 0xfc
    refused(write_zip(tmp_path / "x.sdeproj", data, members), r"not valid UTF-8 text")


def test_manifest_with_bom_duplicate_keys_or_syntax_errors(tmp_path, good):
    manifest, members = read_zip(good)
    data = json.dumps(manifest).encode()
    refused(write_zip(tmp_path / "a.sdeproj", b"\xef\xbb\xbf" + data, members),
            "not valid JSON")
    dup = data.replace(b'"format": "sdeproj"', b'"format": "sdeproj", "format": "sdeproj"')
    refused(write_zip(tmp_path / "b.sdeproj", dup, members), "has the key 'format' twice")
    refused(write_zip(tmp_path / "c.sdeproj", data[:-10], members), r"not valid JSON .* line 1")
    deep = data.replace(b'"ui": {', b'"ui": {"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b", ")
    refused(write_zip(tmp_path / "d.sdeproj", deep, members), "nested too deeply|nested more")
    many = data.replace(b'"ui": {', b'"ui": {"x": ' + b"[" * 70 + b"]" * 70 + b", ")
    refused(write_zip(tmp_path / "e.sdeproj", many, members), "ui is nested more than 64 levels")
    huge_int = data.replace(b'"seed": 7', b'"seed": ' + b"9" * 5000)
    refused(write_zip(tmp_path / "f.sdeproj", huge_int, members), "not valid JSON")


# --- wrong image sizes -----------------------------------------------------------------------

def test_mask_size_differs_from_image_size(tmp_path, good):
    def wrong(m, members):
        m["source"]["mask"] = add_array(m, members, grey(1, 16, 32))
        drop_unused_arrays(m, members)
    refused(mutated(tmp_path, good, wrong),
            r"source.mask is 32x16 pixels but the source image is 24x16")


def test_request_mask_size_differs_from_request_image(tmp_path, good):
    def wrong(m, members):
        m["history"][2]["request"]["mask_sha256"] = add_array(m, members, grey(1, 8, 24))
    refused(mutated(tmp_path, good, wrong),
            r"history\[2\].request.mask_sha256 is 24x8 pixels but the request image is 24x16")


def test_result_and_trajectory_sizes_differ_from_input(tmp_path, good):
    def result(m, members):
        m["history"][3]["result"]["image"] = add_array(m, members, rgb(3, 16, 16))
    refused(mutated(tmp_path, good, result, "r.sdeproj"),
            r"history\[3\].result.image is 16x16 pixels")

    def frame(m, members):
        m["history"][1]["result"]["trajectory"][0] = add_array(m, members, rgb(3, 20, 24))
        drop_unused_arrays(m, members)
    refused(mutated(tmp_path, good, frame, "t.sdeproj"),
            r"history\[1\].result.trajectory\[0\] is 24x20 pixels")


# --- decompression bombs ---------------------------------------------------------------------

def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB and whose data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    return (pngcodec.PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def test_absurd_png_dimensions_are_refused_before_decoding(tmp_path, good, monkeypatch):
    def bomb(m, members):
        sha = m["source"]["image"]
        members[f"arrays/{sha}.png"] = _png_header_only(100_000, 100_000)
    path = mutated(tmp_path, good, bomb)

    def no_decode(*args, **kwargs):
        raise AssertionError("Pillow must not be asked to decode it")
    monkeypatch.setattr(pngcodec.Image, "open", no_decode)
    refused(path, r"is \(100000, 100000, 3\), but the manifest says \(16, 24, 3\)")

    def declared(m, members):
        sha = m["source"]["image"]
        m["arrays"][sha]["shape"] = [100_000, 100_000, 3]
        members[f"arrays/{sha}.png"] = _png_header_only(100_000, 100_000)
    refused(mutated(tmp_path, good, declared, "d.sdeproj"),
            r"is 100000x100000 pixels, more than the limit of 64000000")


def test_png_header_beyond_the_pixel_limit(tmp_path, monkeypatch):
    data = _png_header_only(5000, 5000)
    with pytest.raises(ProjectError, match="claims 5000x5000 pixels, more than the limit"):
        pngcodec.decode_png(data, "x.png", max_pixels=1_000_000)


def test_real_png_bomb_under_a_small_pixel_limit(tmp_path, good):
    def bomb(m, members):
        big = np.zeros((1200, 1000, 3), np.uint8)  # 3.6 MB of pixels, a few kB of PNG
        m["source"]["image"] = add_array(m, members, big)
        m["source"]["mask"] = None
        m["source"]["points"] = []
        drop_unused_arrays(m, members)
    path = mutated(tmp_path, good, bomb)
    assert path.stat().st_size < 200_000
    refused(path, "is 1000x1200 pixels, more than the limit of 1000000",
            limits=LoadLimits(max_image_pixels=1_000_000))
    refused(path, "exceed 1100000 pixels in total", limits=LoadLimits(max_total_pixels=1_100_000))
    assert load_project(path).image.shape == (1200, 1000, 3)  # fine under the default limits


# --- zip bombs -------------------------------------------------------------------------------

def test_declared_size_above_the_member_limit_is_refused_unread(tmp_path, good, monkeypatch):
    def reading(*args, **kwargs):
        raise AssertionError("nothing may be inflated")
    monkeypatch.setattr(safezip, "_read_member", reading)
    refused(good, r"declares \d+ bytes, more than the limit of 1000",
            limits=LoadLimits(max_entry_bytes=1000))


def test_total_declared_size_cap(tmp_path, good):
    size = good.stat().st_size
    refused(good, "declares more than 20000 bytes uncompressed in total",
            limits=LoadLimits(max_total_bytes=min(20_000, size)))


def test_deflate_bomb_is_refused(tmp_path, good):
    manifest, members = read_zip(good)
    members["arrays/bomb.png"] = bytes(64 * MiB)
    path = write_zip(tmp_path / "bomb.sdeproj", manifest, members, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 200_000
    refused(path, "'arrays/bomb.png' declares 67108864 bytes, more than the limit",
            limits=LoadLimits(max_entry_bytes=8 * MiB))


def _lie_about_size(path, member: str, size: int) -> None:
    """Rewrites the declared uncompressed size of `member` in both zip headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
        real = info.file_size
    local = info.header_offset
    assert struct.unpack("<I", data[local + 22:local + 26])[0] == real
    data[local + 22:local + 26] = struct.pack("<I", size)
    central = data.rfind(b"PK\x01\x02" + data[local + 4:local + 6], 0)
    while True:  # the central directory record of this member
        name_len = struct.unpack("<H", data[central + 28:central + 30])[0]
        if data[central + 46:central + 46 + name_len] == member.encode():
            break
        central = data.rfind(b"PK\x01\x02", 0, central)
    data[central + 24:central + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


def test_member_inflating_beyond_its_declared_size_is_stopped(tmp_path, good):
    manifest, members = read_zip(good)
    path = write_zip(tmp_path / "lie.sdeproj", manifest, members, zipfile.ZIP_DEFLATED)
    _lie_about_size(path, "manifest.json", 100)
    refused(path, "'manifest.json' is damaged .Bad CRC-32")


def test_read_cap_stops_an_endless_stream(monkeypatch):
    """Whatever the zip library does, the reader pulls at most cap + 1 bytes."""
    pulled = [0]

    class Endless(io.RawIOBase):
        def read(self, n=-1):
            n = 1 << 16 if n is None or n < 0 else n
            pulled[0] += n
            return b"\0" * n

    class FakeArchive:
        def open(self, info, mode):
            return Endless()

    info = zipfile.ZipInfo("arrays/x.png")
    info.file_size = 5000
    with pytest.raises(ProjectError, match="inflates beyond its declared size"):
        safezip._read_member(FakeArchive(), info, LoadLimits(), budget=10**9)
    assert pulled[0] == 5001


def test_too_many_members(tmp_path, good):
    refused(good, "members, more than the limit of 3", limits=LoadLimits(max_entries=3))


def test_encrypted_and_unsupported_compression(tmp_path, good):
    manifest, members = read_zip(good)
    path = write_zip(tmp_path / "bz.sdeproj", manifest, members, zipfile.ZIP_BZIP2)
    refused(path, "uses compression method 12; only stored and deflated")
    data = bytearray(good.read_bytes())
    pos = data.find(b"PK\x01\x02")  # first central directory record: set the encrypted flag
    data[pos + 8] |= 1
    enc = tmp_path / "enc.sdeproj"
    enc.write_bytes(bytes(data))
    refused(enc, "is encrypted")


def test_zip_needing_a_newer_zip_version(tmp_path, good):
    data = bytearray(good.read_bytes())
    pos = data.find(b"PK\x01\x02")  # central directory: "version needed to extract" = 8.4
    data[pos + 6] = 84
    path = tmp_path / "v84.sdeproj"
    path.write_bytes(bytes(data))
    refused(path, r"not a readable .sdeproj file .*zip file version 8.4")


# --- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../evil.png", "arrays/../../evil.png", "/etc/passwd",
                                  "arrays\\x.png", "C:evil.png", "arrays//x.png", "./x.png",
                                  "arrays/.hidden", "arrays/x y.png"])
def test_path_traversal_and_odd_names(tmp_path, good, name):
    manifest, members = read_zip(good)
    path = tmp_path / "t.sdeproj"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for member, blob in members.items():
            archive.writestr(member, blob)
        info = zipfile.ZipInfo("x")
        info.filename = name  # bypass zipfile's own normalisation, as an attacker would
        archive.writestr(info, b"payload")
    refused(path, r"archive member .*(path traversal|absolute or non-portable|characters "
            "this format never uses)")
    assert not (tmp_path.parent / "evil.png").exists()


def test_duplicate_names(tmp_path, good):
    manifest, members = read_zip(good)
    path = tmp_path / "dup.sdeproj"
    first = next(iter(members))
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as archive:
        warnings.simplefilter("ignore")
        archive.writestr("manifest.json", json.dumps(manifest))
        for member, blob in members.items():
            archive.writestr(member, blob)
        archive.writestr(first, b"second copy")
    refused(path, f"archive member '{first}' appears more than once")
    path2 = tmp_path / "case.sdeproj"
    with zipfile.ZipFile(path2, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("MANIFEST.json", b"{}")
    refused(path2, "appears more than once")


# --- truncation and non-zip files ------------------------------------------------------------

@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, good, fraction):
    data = good.read_bytes()
    path = tmp_path / "cut.sdeproj"
    path.write_bytes(data[:int(len(data) * fraction)])
    refused(path, "not a readable .sdeproj file|damaged|truncated")


def test_other_files(tmp_path):
    png = tmp_path / "photo.sdeproj"
    png.write_bytes(pngcodec.encode_png(rgb(1)))
    refused(png, r"not a readable \.sdeproj file \(damaged or not a zip archive")
    refused(write_zip(tmp_path / "empty.sdeproj", None, {}), "the archive is empty")
    with pytest.raises(ProjectError, match="no such file"):
        load_project(tmp_path / "missing.sdeproj")
    with pytest.raises(ProjectError, match="is a folder"):
        load_project(tmp_path)
