"""Image files of any mode come in as RGB uint8; bad files give clear errors."""

import numpy as np
import pytest
from PIL import Image

from sdedit_desktop.imaging import ImageFileError, load_image, load_mask, save_image


def test_modes_are_converted_to_rgb(tmp_path):
    rgb = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(load_image(tmp_path / "rgb.png"), rgb)

    grey = rgb[..., 0]
    Image.fromarray(grey).save(tmp_path / "l.png")
    out = load_image(tmp_path / "l.png")
    assert out.shape == (20, 30, 3) and np.array_equal(out[..., 2], grey)

    # 16-bit greyscale: full range maps to full range
    deep = (np.arange(20 * 30).reshape(20, 30) * 100).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "i16.png")
    out = load_image(tmp_path / "i16.png")
    assert out.dtype == np.uint8
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == round(deep.max() / 65535 * 255)

    # RGBA: transparent pixels become white, opaque ones keep their colour
    rgba = np.dstack([rgb, np.full((20, 30), 255, np.uint8)])
    rgba[:5, :, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    out = load_image(tmp_path / "rgba.png")
    assert (out[:5] == 255).all() and np.array_equal(out[5:], rgb[5:])

    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (20, 30, 3)


def test_exif_orientation_is_applied(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[:, :5] = 255  # a white band on the left
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    out = load_image(tmp_path / "rot.jpg")
    assert out.shape == (30, 20, 3)
    assert out[:5].mean() > 200 and out[-5:].mean() < 50  # the band is now on top


def test_bad_files_have_clear_errors(tmp_path):
    with pytest.raises(ImageFileError, match="no such file"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageFileError, match="not an image file"):
        load_image(tmp_path / "text.png")
    Image.fromarray(np.zeros((200, 200, 3), np.uint8) + 7).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="damaged or truncated"):
        load_image(tmp_path / "cut.png")
    with pytest.raises(ImageFileError, match="is a folder"):
        load_image(tmp_path)


def test_decompression_bombs_are_refused_before_decoding(tmp_path, monkeypatch):
    import sdedit_desktop.imaging as imaging

    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(imaging, "MAX_PIXELS", 5000)
    with pytest.raises(ImageFileError, match="too large"):
        load_image(tmp_path / "big.png")


def test_masks_threshold_and_must_match_the_image(tmp_path):
    m = np.zeros((20, 30), np.uint8)
    m[5:10, 5:10] = 200
    m[0, 0] = 100
    Image.fromarray(m).save(tmp_path / "m.png")
    out = load_mask(tmp_path / "m.png", (30, 20))
    assert set(np.unique(out)) == {0, 255} and out[7, 7] == 255 and out[0, 0] == 0
    with pytest.raises(ImageFileError, match="same size"):
        load_mask(tmp_path / "m.png", (31, 20))


def test_save_writes_text_chunks_and_refuses_unknown_formats(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    save_image(tmp_path / "o.png", img, {"sdedit": '{"a": 1}'})
    assert Image.open(tmp_path / "o.png").text["sdedit"] == '{"a": 1}'
    with pytest.raises(ImageFileError, match="unsupported output format"):
        save_image(tmp_path / "o.xyz", img)
    with pytest.raises(ImageFileError, match="does not exist"):
        save_image(tmp_path / "nope" / "o.png", img)
