"""`sdedit eval inpaint|diffedit|reconstruct` on the tiny model: the sweeps and the metrics."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from eval_data import noise_image
from PIL import Image

from sdedit_desktop.cli import main
from sdedit_desktop.edits.kinds.inpaint import PAPER_EVAL_PROMPT as DEFAULT_INPAINT_PROMPT


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_inpaint_sweeps_steps_and_orders_with_the_fixed_prompt(tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    noise_image(tmp_path / "data" / "im0.png", 0)
    Image.fromarray(mask).save(tmp_path / "data" / "im0_mask.png")
    out = tmp_path / "run"
    assert main(["eval", "inpaint", str(tmp_path / "data"), "--out", str(out), "--model",
                 "tiny", "--steps", "1,3", "--order", "1,2", "--quiet"]) == 0
    rows = _rows(out)
    assert len(rows) == 2 * 2 * 2 and all(r["status"] == "ok" for r in rows)
    assert {r["setting"] for r in rows} == {"order=1 steps=1", "order=2 steps=1",
                                            "order=1 steps=3", "order=2 steps=3"}
    record = json.loads((out / "samples" / "im0" / "ode_steps3_order1.json").read_text())
    assert record["params"]["prompt"] == DEFAULT_INPAINT_PROMPT
    assert record["unet_calls"] == 3 and record["params"]["method"] == "ode"
    summary = json.loads((out / "summary.json").read_text())
    assert "fid" in summary["unavailable_metrics"] or "fid" in summary["groups"][0]


def test_diffedit_sweeps_encode_ratios_and_reconstruct_scores_psnr(tmp_path):
    for i in range(2):
        noise_image(tmp_path / "d" / f"im{i}.png", i)
    (tmp_path / "d" / "samples.jsonl").write_text("\n".join(json.dumps(
        {"image": f"im{i}.png", "source_prompt": "a dog", "target_prompt": "a cat"})
        for i in range(2)))
    out = tmp_path / "run_d"
    assert main(["eval", "diffedit", str(tmp_path / "d"), "--out", str(out), "--model", "tiny",
                 "--steps", "3", "--mask-samples", "2", "--encode-ratio", "0.5,0.7",
                 "--method", "sde", "--quiet"]) == 0
    rows = _rows(out)
    assert [r["setting"] for r in rows] == ["encode_ratio=0.5", "encode_ratio=0.7"] * 2
    assert {r["method"] for r in rows} == {"sde"}
    out = tmp_path / "run_r"
    assert main(["eval", "reconstruct", str(tmp_path / "d"), "--out", str(out), "--model",
                 "tiny", "--steps", "3", "--dtype", "float64", "--quiet"]) == 0
    rows = _rows(out)
    assert len(rows) == 4 and all(float(r["psnr"]) > 0 and -1 <= float(r["ssim"]) <= 1
                                  for r in rows)
