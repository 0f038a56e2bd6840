"""The command line with SD 2.x and SDXL models (tiny random ones saved as diffusers folders and
single files): the family's working size, the prediction type of an SD 2.x model that does not
say it, `models verify` naming the layout, and `bench` reporting the same fields on every
family."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from family_helpers import save_tiny_families
from PIL import Image
from safetensors.torch import save_file

from sdedit_desktop.cli import main
from sdedit_desktop.models.tiny import tiny_ldm_state_dict


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("SDEDIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    saved = save_tiny_families(tmp_path_factory.mktemp("cli-families"))
    return {family: folder for family, (folder, _) in saved.items()}


@pytest.fixture()
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "in.png"
    Image.fromarray((rng.random((96, 128, 3)) * 255).astype(np.uint8)).save(path)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_sdxl_edit_records_the_family_and_uses_its_working_size(folders, photo, tmp_path,
                                                                    capsys):
    code, _, err = run(capsys, "drag", "--model", folders["sdxl"], "--image", photo,
                         "--points", "40,40:56,48", "--steps", "6", "--lora", "off",
                         "--out", tmp_path / "out.png", "--json", tmp_path / "out.json")
    assert code == 0, err
    request = json.loads((tmp_path / "out.json").read_text())["request"]
    assert request["model"]["family"] == "sdxl" and request["max_side"] == 1536
    code, _, err = run(capsys, "drag", "--model", folders["sdxl"], "--image", photo,
                       "--points", "40,40:56,48", "--steps", "6", "--lora", "off",
                       "--max-side", "512", "--out", tmp_path / "o2.png",
                       "--json", tmp_path / "o2.json")
    assert code == 0, err  # an explicit --max-side stays the user's
    assert json.loads((tmp_path / "o2.json").read_text())["request"]["max_side"] == 512


def test_an_sd2_model_without_its_prediction_type_asks_for_it(folders, photo, tmp_path,
                                                               capsys):
    folder = shutil.copytree(folders["sd2"], tmp_path / "sd2")
    shutil.rmtree(folder / "scheduler")  # nothing says whether it predicts eps or v
    args = ["reconstruct", "--model", folder, "--image", photo, "--steps", "4",
            "--out", tmp_path / "r.png", "--json", tmp_path / "r.json"]
    code, _, err = run(capsys, *args)
    assert code == 2 and "--prediction-type" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.png").exists()
    code, _, err = run(capsys, *args, "--prediction-type", "v_prediction")
    assert code == 0, err
    model = json.loads((tmp_path / "r.json").read_text())["request"]["model"]
    assert model["family"] == "sd2" and model["prediction_type"] == "v_prediction"


def test_models_verify_names_the_family_of_a_single_file(folders, tmp_path, capsys):
    for family, label in (("sd2", "SD 2.x layout"), ("sdxl", "SDXL layout")):
        single = tmp_path / f"{family}.safetensors"
        save_file(tiny_ldm_state_dict(family=family), str(single))
        code, out, err = run(capsys, "models", "verify", single, "--config-dir",
                             folders[family])
        assert code == 0, out + err
        assert label in out


@pytest.mark.slow
def test_bench_reports_the_same_fields_on_every_family(folders, tmp_path, capsys):
    reports = {}
    for family in ("sd1", "sdxl"):
        out = tmp_path / f"{family}.json"
        code, _, err = run(capsys, "bench", "--model", folders[family], "--size", "64",
                           "--steps", "10", "--method", "drag", "--method", "reconstruct",
                           "--no-lora", "--no-reference", "--json", out)
        assert code == 0, err
        reports[family] = json.loads(out.read_text())

    def fields(report):
        return {key: sorted(value) if isinstance(value, dict) and key != "model" else None
                for key, value in report.items()}

    assert fields(reports["sd1"]) == fields(reports["sdxl"])
    for method in ("drag", "reconstruct"):
        assert sorted(reports["sd1"]["methods"][method]) == \
            sorted(reports["sdxl"]["methods"][method])
    assert reports["sdxl"]["family"] == "sdxl" and reports["sd1"]["family"] == "sd1"
    assert reports["sdxl"]["size"] == 64


def test_bench_knows_the_random_architectures(capsys):
    from sdedit_desktop.models.random_model import RANDOM_MODELS

    assert set(RANDOM_MODELS) >= {"random-sd15", "random-sd21v", "random-sdxl"}
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    help_text = capsys.readouterr().out
    assert "random-sdxl" in help_text and "random-sd21v" in help_text


def test_eval_takes_dift_features_from_a_named_model_of_another_family(folders, tmp_path):
    from eval_data import sde_drag_sample

    data = tmp_path / "DragBench"
    sde_drag_sample(data / "s0", seed=0)
    out = tmp_path / "run"
    assert main(["eval", "drag", str(data), "--out", str(out), "--model", "tiny", "--steps",
                 "4", "--dift-ensemble", "2", "--method", "sde", "--quiet",
                 "--feature-model", str(folders["sdxl"])]) == 0
    run = json.loads((out / "run.json").read_text())
    features = run["metrics"]["dift_feature_model"]
    # the edit ran on the tiny SD 1.x model, DIFT on the SDXL one (not the published SD 2.1)
    assert features["family"] == "sdxl" and features["comparable"] is False
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] == 1 and summary["groups"][0]["metrics"]["dift_distance"]["n"] >= 1
