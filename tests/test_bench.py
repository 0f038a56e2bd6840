"""`sdedit bench` on the tiny model: the report's structure and the execution it claims."""

import json
import math

from sdedit_desktop.cli import main


def test_bench_reports_every_method_and_the_reference_execution(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--model", "tiny", "--size", "128", "--steps", "20", "--lora-steps",
                 "3", "--trajectory-batch", "4", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["methods"]) == {"drag", "inpaint", "diffedit", "reconstruct"}
    drag = report["methods"]["drag"]
    k = int(0.6 * 20)
    m = drag["drag_steps"]
    assert m == 5  # the bench drags 10 latent pixels: the paper's default m
    # ours: one batch-2 call per reverse step (sample, CFG) except the last (guidance 1: batch
    # 1), plus the trajectory side precomputed 4 steps (x2 for CFG) per call
    assert drag["unet_batch_sizes"] == {"1": m, "2": m * (k - 1), "8": m * math.ceil(k / 4)}
    ref = report["reference_drag"]
    assert ref["unet_batch_sizes"] == {"4": m * k} and ref["dtype"] == "float32"
    assert report["drag_speedup"] > 0
    assert report["lora"]["train_seconds"] > report["lora"]["cached_seconds"]
    assert set(report["unet_call_seconds"]) == {"1", "2", "4", "16"}
    table = capsys.readouterr().out
    assert "drag, reference execution" in table and "speed-up" in table
