"""`--region` / `--feather` on the edit commands and the region in the `--json` record."""

import json

import numpy as np
import pytest
from PIL import Image

from sdedit_desktop.cli import main

W, H = 320, 240


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((H, W, 3)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    mask = np.zeros((H, W), np.uint8)
    mask[100:140, 150:200] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def unchanged_outside(files, name, region):
    before = np.asarray(Image.open(files / "in.png"))
    after = np.asarray(Image.open(files / name))
    x, y, w, h = region
    outside = np.ones((H, W), bool)
    outside[y:y + h, x:x + w] = False
    return after.shape == before.shape and np.array_equal(after[outside], before[outside])


def test_drag_region_and_feather_go_into_the_request_and_the_json_record(files, capsys):
    code, _, err = run(capsys, "drag", "--model", "tiny", "--image", str(files / "in.png"),
                       "--points", "100,100:110,100", "--steps", "2", "--t0", "0.5",
                       "--region", "64,48,128,96", "--feather", "4", "--out",
                       str(files / "out.png"), "--json", str(files / "out.json"), "--quiet")
    assert code == 0, err
    record = json.loads((files / "out.json").read_text())
    assert record["region"] == [64, 48, 128, 96] and record["work_scale"] == 1.0
    assert record["request"]["region"] == [64, 48, 128, 96]
    assert record["request"]["feather"] == 4
    assert unchanged_outside(files, "out.png", (64, 48, 128, 96))


def test_auto_and_whole_regions(files, capsys):
    code, _, err = run(capsys, "inpaint", "--model", "tiny", "--image", str(files / "in.png"),
                       "--mask", str(files / "mask.png"), "--steps", "1", "--max-side", "160",
                       "--json", str(files / "auto.json"), "--quiet")
    assert code == 0, err
    record = json.loads((files / "auto.json").read_text())
    assert record["request"]["region"] is None  # auto: resolved when the edit runs
    assert record["region"] == [0, 0, W, H] and record["work_scale"] == 0.5  # scaled to fit
    code, _, err = run(capsys, "diffedit", "--model", "tiny", "--image", str(files / "in.png"),
                       "--target-prompt", "a dog", "--mask-mode", "full", "--steps", "2",
                       "--region", "whole", "--max-side", "160", "--json",
                       str(files / "whole.json"), "--quiet")
    assert code == 0, err
    record = json.loads((files / "whole.json").read_text())
    assert record["region"] == record["request"]["region"] == [0, 0, W, H]


@pytest.mark.parametrize("argv, message", [
    (["--region", "1,2,3"], "expected auto, whole or X,Y,W,H"),
    (["--region", "a,b,c,d"], "expected auto, whole or X,Y,W,H"),
    (["--region", "0,0,0,64"], "is empty"),
    (["--region", "300,0,64,64"], "reaches outside the 320x240 image"),
    (["--region", "0,0,64,64"], "does not contain the source (100, 100) of point pair 1"),
    (["--feather", "-1"], "feather must be at least 0"),
])
def test_bad_regions_are_one_line_with_exit_code_2(files, capsys, argv, message):
    code, out, err = run(capsys, "drag", "--model", "tiny", "--image", str(files / "in.png"),
                         "--points", "100,100:110,100", "--steps", "2", *argv)
    assert code == 2 and message in err, err
    assert err.startswith("sdedit: error: ") and err.count("\n") == 1
    assert "Traceback" not in err + out
