"""Issue 15, class 4: images. Decompression bombs refused with one message and no PIL warning,
PNGs whose data stops early refused, FIFOs refused before opening (never a hang), 16-bit
greyscale scaled the same way by the CLI and the GUI (one loader)."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from sdedit_desktop.cli import main
from sdedit_desktop.imaging import ImageFileError, load_image
from sdedit_desktop.project import ProjectError, load_project
from sdedit_desktop.ui import imageio


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, rows: int) -> bytes:
    """An RGB PNG that declares width x height but whose (well-formed) data holds `rows` rows."""
    raw = b"".join(b"\x00" + bytes([200]) * (width * 3) for _ in range(rows))
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [20000, 10000])  # PIL raises / PIL only warns
def test_decompression_bomb_is_one_line_no_warning_exit_2(tmp_path, capsys, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(side, side, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning PIL printed would fail the test
        with pytest.raises(ImageFileError, match="too large"):
            load_image(path)
        code = main(["reconstruct", "--model", "tiny", "--image", str(path),
                     "--out", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "too large" in err
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(imageio.ImageLoadError, match="refused"):
        imageio.load_image_file(path)


def test_png_whose_data_ends_early_is_refused(tmp_path):
    path = tmp_path / "short.png"
    path.write_bytes(_png(32, 32, 2))
    with pytest.raises(ImageFileError, match="damaged or truncated"):
        load_image(path)
    with pytest.raises(imageio.ImageLoadError, match="damaged or truncated"):
        imageio.load_image_file(path)
    # The same image complete (written by PIL, interlaced or not) loads.
    for interlace in (0, 1):
        Image.fromarray(np.full((32, 29, 3), 200, np.uint8)).save(path, interlace=interlace)
        assert (load_image(path) == 200).all()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_fifo_as_image_or_project_is_refused_without_waiting(tmp_path, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # no writer: a plain open() would wait forever
    with pytest.raises(ImageFileError, match="named pipe"):
        load_image(fifo)
    with pytest.raises(imageio.ImageLoadError, match="named pipe"):
        imageio.load_image_file(fifo)
    project = tmp_path / "pipe.sdeproj"
    os.mkfifo(project)
    with pytest.raises(ProjectError, match="named pipe"):
        load_project(project)
    assert main(["project", "info", str(project)]) == 2
    assert "named pipe" in capsys.readouterr().err


def test_16_bit_greyscale_is_scaled_alike_in_cli_and_gui(tmp_path):
    grey = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")
    path = tmp_path / "grey16.png"
    path.write_bytes(buffer.getvalue())
    expected = np.clip(grey / 65535.0 * 255.0 + 0.5, 0, 255).astype(np.uint8)
    cli, gui = load_image(path), imageio.load_image_file(path)
    assert (cli[..., 0] == expected).all()
    assert np.array_equal(cli, gui)
    assert np.array_equal(imageio.load_image_bytes(buffer.getvalue()), cli)
