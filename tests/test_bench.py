"""`sdedit bench` on the tiny model: the report's structure and the execution it claims."""

import json
import math

import numpy as np

from sdedit_desktop.cli import main


def test_bench_reports_every_method_and_the_reference_execution(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--model", "tiny", "--size", "128", "--steps", "20", "--lora-steps",
                 "3", "--trajectory-batch", "4", "--no-cpu-threads", "--json", str(out)])
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
    # The second LoRA call is a cache hit: no training step (a timing comparison would be
    # flaky: 3 tiny steps train faster than a cache read on a loaded machine).
    assert report["lora"]["cached_training_steps"] == 0
    assert report["lora"]["train_seconds"] > 0 and report["lora"]["cached_seconds"] > 0
    assert set(report["unet_call_seconds"]) == {"1", "2", "4", "16"}
    # Per-call seconds measured inside each edit, for exactly the batch sizes it used.
    for method in report["methods"].values():
        in_edit = method["unet_call_seconds"]
        assert set(in_edit) == set(method["unet_batch_sizes"])
        assert all(0 < s < method["seconds"] for s in in_edit.values())
    table = capsys.readouterr().out
    assert "drag, reference execution" in table and "speed-up" in table


def test_unet_call_timer_times_every_call_and_restores_the_model(make_tiny_model):
    from sdedit_desktop.bench.call_timer import UnetCallTimer
    from sdedit_desktop.edits import DragRequest, run_edit

    model = make_tiny_model()
    image = np.zeros((64, 64, 3), np.uint8)
    request = DragRequest(image=image, points=(((16, 16), (40, 16)),), steps=10, max_side=None)
    timer = UnetCallTimer(model)
    with timer.active():
        result = run_edit(model, request)
    assert "predict_noise" not in vars(model)  # the class's method again
    assert set(timer.median_seconds()) == {str(b) for b in result.unet_batch_sizes}
    assert sum(len(v) for v in timer._seconds.values()) == result.unet_calls


def test_bench_ui_mode_reports_stall_and_first_preview(qapp, tmp_path):
    out = tmp_path / "bench.json"
    code = main(["bench", "--model", "tiny", "--size", "64", "--steps", "20", "--no-lora",
                 "--no-reference", "--method", "drag", "--ui", "--no-cpu-threads", "--json",
                 str(out)])
    assert code == 0
    ui = json.loads(out.read_text())["ui"]
    assert ui["outcome"] == "finished" and ui["previews"] >= 1
    assert 0 < ui["first_preview_seconds"] < ui["seconds"]
    assert ui["longest_ui_stall_seconds"] >= ui["heartbeat_interval_seconds"] / 2
