"""Hostile input, round three (issue #26, classes 6, 9, 11 and the echoed --region; issue #27
item 8): --max-side is an upper bound, one validator per value for every reader, overflowing
safetensors shapes, and images that fit are padded, never resampled."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sdedit_desktop.cli import main
from sdedit_desktop.core.progress import EditError
from sdedit_desktop.edits.geometry import MAX_SIDE_LIMIT, MIN_SIDE, working_size
from sdedit_desktop.edits.kinds import InpaintRequest, ReconstructRequest
from sdedit_desktop.edits.options import ExecutionOptions, check_trajectory_batch
from sdedit_desktop.edits.region import check_region


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def no_model(monkeypatch):
    from sdedit_desktop.cli import edit_commands

    monkeypatch.setattr(edit_commands, "load_cli_model",
                        lambda *_: pytest.fail("the model was loaded before the check"))


def _png(path, width, height):
    rng = np.random.default_rng(width * 7 + height)
    Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8)).save(path)
    return path


# --- class 6: --max-side is an upper bound -----------------------------------------------------

@pytest.mark.parametrize("width, height, max_side", [
    (8192, 8, 768), (8192, 8, None), (1, 65536, 4096), (776, 64, 768), (100, 60, 64)])
def test_shapes_the_cap_cannot_hold_are_refused(width, height, max_side):
    with pytest.raises(EditError, match="too narrow to edit"):
        working_size(width, height, max_side)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 20_000), st.integers(1, 20_000),
       st.one_of(st.none(), st.integers(MIN_SIDE, MAX_SIDE_LIMIT)))
def test_the_working_size_never_passes_the_cap(width, height, max_side):
    cap = max(MAX_SIDE_LIMIT, -(-max(width, height) // 8) * 8) if max_side is None \
        else max_side - max_side % 8
    try:
        size = working_size(width, height, max_side)
    except EditError:
        # refused only when the short side cannot reach MIN_SIDE without the long side passing
        assert max(width, height) * MIN_SIDE / min(width, height) > cap
        return
    ww, wh = size.work
    assert ww % 8 == 0 and wh % 8 == 0 and max(ww, wh) <= cap
    assert min(size.content) >= min(MIN_SIDE, min(width, height), cap) or size.resampled
    assert size.content[0] <= ww < size.content[0] + 8 and size.content[1] <= wh < \
        size.content[1] + 8
    if max(width, height) <= cap and min(width, height) >= MIN_SIDE:
        assert not size.resampled and size.scale == 1.0  # fits: never resampled


def test_a_one_pixel_high_region_is_refused_before_the_model_loads(tmp_path, capsys,
                                                                   no_model):
    image = _png(tmp_path / "in.png", 640, 480)
    mask = np.zeros((480, 640), np.uint8)
    mask[100, 10:600] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _, err = run(capsys, "inpaint", "--model", "tiny", "--image", image, "--mask",
                       tmp_path / "mask.png", "--region", "0,100,640,1", "--out",
                       tmp_path / "o.png")
    assert code == 2 and "too narrow to edit" in err and "640x1" in err


def test_the_engine_refuses_the_same_shape_as_the_cli():
    from sdedit_desktop.edits.regional import plan_region

    image = np.zeros((8, 2048, 3), np.uint8)
    with pytest.raises(EditError, match="too narrow"):
        plan_region(ReconstructRequest(image=image, max_side=768))


# --- issue #27 item 8: pad, never resample, at scale 1 ------------------------------------------

def test_an_image_that_fits_is_padded_to_multiples_of_8_and_cropped_back():
    rng = np.random.default_rng(0)
    image = (rng.random((300, 451, 3)) * 255).astype(np.uint8)
    size = working_size(451, 300, 768)
    assert size.content == (451, 300) and size.work == (456, 304)
    assert not size.resampled and size.scale == 1.0
    work = size.to_work(image)
    assert work.shape == (304, 456, 3) and np.array_equal(work[:300, :451], image)
    assert np.array_equal(work[300:, :451], image[298:294:-1])  # reflected, not black
    assert np.array_equal(size.to_original(work), image)
    mask = np.full((300, 451), 255, np.uint8)
    padded = size.mask_to_work(mask)
    assert padded.shape == (304, 456) and not padded[300:].any() and not padded[:, 451:].any()
    assert np.array_equal(size.mask_to_original(padded), mask)
    assert size.point_to_work((450, 299)) == (450, 299)


def test_a_larger_image_keeps_its_aspect_ratio_when_scaled():
    size = working_size(1000, 701, 768)
    assert size.content == (768, 538) and size.work == (768, 544)
    assert abs(size.content[0] / size.content[1] - 1000 / 701) < 0.003


def test_an_edit_at_scale_1_sees_the_exact_pixels_and_returns_them_outside_the_mask(
        make_tiny_model):
    from sdedit_desktop.edits.run import run_edit

    model = make_tiny_model(0)
    seen = []
    encode = model.encode_image

    def spy(pixels):
        seen.append(pixels.detach().clone())
        return encode(pixels)

    model.encode_image = spy
    rng = np.random.default_rng(1)
    image = (rng.random((300, 451, 3)) * 255).astype(np.uint8)
    mask = np.zeros((300, 451), np.uint8)
    mask[100:180, 200:300] = 255
    request = InpaintRequest(image=image, mask=mask, steps=2, region=(0, 0, 451, 300))
    result = run_edit(model, request)
    assert result.image.shape == image.shape and result.work_scale == 1.0
    # Inpainting's seam lies outside its mask (edits/composite.SeamSide): beyond it, every pixel
    # comes back as it was.
    f = request.feather
    beyond = np.ones(mask.shape, bool)
    beyond[100 - f:180 + f, 200 - f:300 + f] = False
    assert np.array_equal(result.image[beyond], image[beyond])
    pixels = seen[0][0].permute(1, 2, 0).double().numpy()
    assert pixels.shape == (304, 456, 3)
    assert np.allclose((pixels[:300, :451] + 1) * 127.5, image, atol=1e-3)


# --- class 9: one validator per value -------------------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "257", "100000000000000000000", "1.5", "x"])
def test_trajectory_batch_out_of_range_is_refused_by_every_reader(value, tmp_path, capsys,
                                                                  no_model):
    image = _png(tmp_path / "in.png", 64, 64)
    code, _, err = run(capsys, "reconstruct", "--model", "tiny", "--image", image,
                       "--trajectory-batch", value)
    assert code == 2 and "--trajectory-batch" in err and len(err) < 300
    code, _, err = run(capsys, "bench", "--model", "tiny", "--trajectory-batch", value)
    assert code == 2 and "--trajectory-batch" in err


def test_trajectory_batch_in_range_and_in_the_engine():
    assert check_trajectory_batch(0) == 0 and check_trajectory_batch(256) == 256
    for bad in (-1, 257, 10**20, True, 2.0):
        with pytest.raises(EditError, match="trajectory batch"):
            ExecutionOptions(trajectory_batch=bad)


@pytest.mark.parametrize("region", [
    [True, 0, 8, 8], [0, 0, 8.0, 8], [float("inf"), 0, 8, 8], [0, 0, 8], "0,0,8,8",
    [10**5000, 0, 8, 8], None])
def test_a_region_must_be_four_whole_numbers(region):
    with pytest.raises(EditError, match=r"four whole numbers|outside") as info:
        check_region(region, 24, 16)
    assert len(str(info.value)) < 300
    assert check_region([np.int64(0), 0, 8, 8], 24, 16) == (0, 0, 8, 8)


def _manifest_edit(tmp_path, change):
    from project_helpers import read_zip, saved, write_zip

    manifest, members = read_zip(saved(tmp_path))
    change(manifest)
    return write_zip(tmp_path / "bad.sdeproj", manifest, members)


@pytest.mark.parametrize("feather", [-1, 10**9, 2.5, True])
def test_project_validate_refuses_a_feather_every_other_check_refuses(tmp_path, capsys,
                                                                      feather):
    def change(manifest):
        manifest["history"][0]["request"]["feather"] = feather

    path = _manifest_edit(tmp_path, change)
    code, _, err = run(capsys, "project", "validate", path)
    assert code == 2 and "history[0].request.feather" in err, err


@pytest.mark.parametrize("region", [[float("inf"), 0, 8, 8], [True, 0, 8, 8], [0, 0, 99, 8],
                                    "whole"])
def test_project_validate_refuses_a_bad_ui_region(tmp_path, capsys, region):
    def change(manifest):
        manifest["ui"]["region"] = region

    path = _manifest_edit(tmp_path, change)
    code, _, err = run(capsys, "project", "validate", path)
    assert code == 2 and "ui.region" in err, err


def test_opening_a_project_with_a_bad_region_never_leaves_the_editor_half_switched():
    from project_helpers import make_project
    from ui_helpers import FakeEngine

    from sdedit_desktop.ui.model.editor import EditorModel
    from sdedit_desktop.ui.model.project_binding import project_to_editor

    editor = EditorModel(FakeEngine())
    project = make_project()
    for region in ([float("inf"), 0, 8, 8], [True, 0, 8, 8], [0, 0, 10**400, 8]):
        project.ui = dict(project.ui, region=region)
        project_to_editor(editor, project, "p")
        assert editor.project is project and editor.doc.region is None


def test_a_5000_digit_region_is_not_echoed_whole(tmp_path, capsys):
    image = _png(tmp_path / "in.png", 64, 64)
    for digits in ("9" * 5000, "9" * 4000):
        code, _, err = run(capsys, "inpaint", "--model", "tiny", "--image", image, "--mask",
                           image, "--region", f"0,0,8,{digits}")
        assert code == 2 and len(err) < 400, err[:200]
    code, _, err = run(capsys, "inpaint", "--model", "tiny", "--image", image, "--mask", image,
                       "--feather", "9" * 4000)
    assert code == 2 and len(err) < 400


# --- class 11: models verify with an overflowing shape ------------------------------------------

def _safetensors(path, shape, dtype="F32", nbytes=4):
    header = json.dumps({"w": {"dtype": dtype, "shape": shape, "data_offsets": [0, nbytes]}})
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0" * nbytes)
    return path


@pytest.mark.parametrize("shape, dtype", [([2**40, 2**40], "F32"), ([2**62, 16], "F32"),
                                          ([3], "F32"), ([2**40, 2**40], "F4")])
def test_models_verify_refuses_shapes_that_do_not_fit_their_bytes(tmp_path, capsys, shape,
                                                                  dtype):
    path = _safetensors(tmp_path / "bad.safetensors", shape, dtype)
    code, out, err = run(capsys, "models", "verify", path)
    assert code == 1 and "BAD bad.safetensors" in out and "Traceback" not in err, out + err
    code, _, err = run(capsys, "reconstruct", "--model", path, "--image",
                       _png(tmp_path / "in.png", 64, 64))
    assert code == 2 and "damaged" in err


def test_a_consistent_safetensors_header_still_passes(tmp_path):
    from sdedit_desktop.models.weights import safetensors_header

    header = safetensors_header(_safetensors(tmp_path / "ok.safetensors", [2, 3], "F16", 12))
    assert header["w"]["shape"] == [2, 3]
