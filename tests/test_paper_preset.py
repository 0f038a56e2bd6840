"""The paper's settings: inpainting's first-order default, the LoRA rank as a request parameter
(and part of the LoRA cache key), and `sdedit eval drag --preset paper`, the official DragBench
script's settings (docs/algorithms.md, "SDE-Drag", "Per-image LoRA training")."""

import json

import numpy as np
import pytest
from eval_data import sde_drag_sample
from safetensors import safe_open

from sdedit_desktop.cli import main
from sdedit_desktop.edits import DragRequest, InpaintRequest, run_edit
from sdedit_desktop.edits.kinds import kind_named
from sdedit_desktop.edits.presets import PAPER, preset_of
from sdedit_desktop.edits.schema import schema_field
from sdedit_desktop.models.lora import LoraCache, LoraSettings
from sdedit_desktop.models.lora_provider import lora_provider


def test_inpainting_defaults_to_the_first_order_solver_of_the_papers_table_2():
    order = schema_field(InpaintRequest, "order")
    assert order.default == 1 and order.info.paper == 1
    assert {value for value, _ in order.info.choices} == {1, 2}  # order 2 stays a choice


def test_lora_rank_is_a_request_parameter_with_the_papers_value():
    rank = schema_field(DragRequest, "lora_rank")
    assert rank.default == 16 and rank.info.paper == 4 and rank.info.advanced
    with pytest.raises(Exception, match="lora_rank must be at least 1"):
        DragRequest(image=np.zeros((64, 64, 3), np.uint8), points=(((8, 8), (20, 8)),),
                    lora_rank=0).validate()


def _ranks(tmp_path):
    """The rank of every LoRA in the cache (from its weights, not its metadata)."""
    ranks = []
    for path in sorted(tmp_path.glob("*.safetensors")):
        with safe_open(str(path), "pt") as weights:
            down = next(k for k in weights.keys() if "lora_A" in k)  # noqa: SIM118
            ranks.append(int(weights.get_tensor(down).shape[0]))
    return sorted(ranks)


def test_the_request_rank_is_trained_and_keys_the_cache(make_tiny_model, tmp_path):
    model = make_tiny_model(0)
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    provide = lora_provider(LoraCache(tmp_path), LoraSettings(steps=2))
    request = DragRequest(image=image, points=(((10, 10), (30, 20)),), steps=4, lora="auto",
                          prompt="a photo", lora_rank=4)
    four = run_edit(model, request, lora=provide)
    again = run_edit(model, request, lora=provide)
    sixteen = run_edit(model, request.with_changes(lora_rank=16), lora=provide)
    assert four.lora_id == again.lora_id != sixteen.lora_id
    assert _ranks(tmp_path) == [4, 16]
    meta = json.loads((tmp_path / f"{four.lora_id}.json").read_text())
    assert meta["settings"]["rank"] == 4


def test_the_paper_study_preset_is_data_in_the_kinds_eval_spec():
    study = kind_named("drag").eval.presets["paper"]
    assert study["lora"] == "auto" and study["lora_rank"] == 4 and study["grid"] == "reference"
    defaults = DragRequest.defaults()
    for name in ("steps", "t0", "step_size", "half_size", "source_scale", "target_scale",
                 "cfg_min", "cfg_max", "lora_scale_min", "lora_scale_max", "seed"):
        assert study[name] == defaults[name], name  # the paper's defaults, pinned
    assert kind_named("inpaint").eval.presets.get("paper", {}) == {}
    # the editor's "paper" preset is still the request defaults, LoRA off
    assert preset_of("drag", defaults) == PAPER


@pytest.fixture
def one_sample(tmp_path):
    sde_drag_sample(tmp_path / "bench" / "0", seed=1)
    return tmp_path / "bench"


def _requests(out):
    """The request parameters of every edit record of a run."""
    records = [json.loads(p.read_text()) for p in sorted((out / "samples").rglob("*.json"))]
    found = [r["params"] for r in records if r.get("status") == "ok"]
    assert found, "no edit records"
    return found


@pytest.mark.slow
def test_eval_drag_preset_paper_runs_the_official_settings(one_sample, tmp_path, monkeypatch):
    monkeypatch.setenv("SDEDIT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    # --steps set to another value than its default overrides the preset (a short test run)
    assert main(["eval", "drag", str(one_sample), "--out", str(out), "--preset", "paper",
                 "--model", "tiny", "--method", "sde", "--steps", "4", "--dift-ensemble", "1",
                 "--quiet"]) == 0
    (request,) = _requests(out)
    assert (request["lora"], request["lora_rank"], request["grid"]) == ("auto", 4, "reference")
    assert request["steps"] == 4 and request["max_side"] == 512 and request["seed"] == 1234
    assert request["region"] == "whole"  # the whole image, as the official script
    assert len(list((tmp_path / "cache" / "lora").glob("*.safetensors"))) == 1
    assert _ranks(tmp_path / "cache" / "lora") == [4]
    config = json.loads((out / "run.json").read_text())
    assert config["common"]["lora_rank"] == 4


def test_without_the_preset_eval_drag_keeps_the_defaults(one_sample, tmp_path):
    out = tmp_path / "run"
    assert main(["eval", "drag", str(one_sample), "--out", str(out), "--model", "tiny",
                 "--method", "sde", "--steps", "2", "--dift-ensemble", "1", "--quiet"]) == 0
    (request,) = _requests(out)
    assert (request["lora"], request["lora_rank"], request["grid"]) == ("off", 16, "uniform")
