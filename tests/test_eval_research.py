"""`sdedit eval` as a researcher uses it (issue #25): the reconstruction's latent error in every
report, paired SDE-ODE differences, FID with its sample size, a run folder that says which model
made it, reruns that keep results apart, inputs that follow the data, a study that shows what
was asked with per-participant order and balanced sides, and a tally that counts participants."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from eval_data import noise_image, sde_drag_sample
from PIL import Image

from sdedit_desktop.cli import main
from sdedit_desktop.eval.processes import threads_per_process
from sdedit_desktop.eval.report.user_study import participant_layout
from sdedit_desktop.eval.store import RunStore

TINY = ["--model", "tiny", "--quiet"]


def _csv(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def reconstruct_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("rec")
    for i in range(3):
        noise_image(data / f"im{i}.png", i)
    out = data.parent / "rec_run"
    assert main(["eval", "reconstruct", str(data), "--out", str(out), *TINY, "--steps", "3",
                 "--dtype", "float64"]) == 0
    return out


def test_reconstruction_latent_error_reaches_csv_markdown_and_summary(reconstruct_run):
    rows = _csv(reconstruct_run)
    by_method = {m: [r for r in rows if r["method"] == m] for m in ("sde", "ode")}
    # Cycle-SDE in float64 is exact up to rounding; DDIM inversion is not (the paper's Tab. 3)
    assert all(float(r["latent_rmse"]) < 1e-9 for r in by_method["sde"])
    assert all(float(r["latent_rmse"]) > 1e-6 for r in by_method["ode"])
    assert all("latent_max_abs_err" in r for r in rows)
    summary = json.loads((reconstruct_run / "summary.json").read_text())
    groups = {g["method"]: g for g in summary["groups"]}
    assert groups["ode"]["metrics"]["latent_rmse"]["n"] == 3
    assert "Tab. 3" in summary["metric_notes"]["latent_rmse"]
    text = (reconstruct_run / "results.md").read_text()
    assert "latent\\_rmse" in text and "latent\\_max\\_abs\\_err" in text


def test_paired_differences_on_the_same_samples(reconstruct_run):
    summary = json.loads((reconstruct_run / "summary.json").read_text())
    (paired,) = summary["paired"]
    assert (paired["first"], paired["second"], paired["samples"]) == ("sde", "ode", 3)
    rows = _csv(reconstruct_run)
    sde = {r["sample"]: float(r["latent_rmse"]) for r in rows if r["method"] == "sde"}
    ode = {r["sample"]: float(r["latent_rmse"]) for r in rows if r["method"] == "ode"}
    diffs = [sde[s] - ode[s] for s in sde]
    stat = paired["metrics"]["latent_rmse"]
    assert stat["mean"] == pytest.approx(np.mean(diffs)) and stat["n"] == 3
    assert stat["ci95"] == pytest.approx(4.302652729749464 * np.std(diffs, ddof=1) / np.sqrt(3))
    assert "sde - ode" in (reconstruct_run / "results.md").read_text()


def test_every_report_names_the_model_precision_device_and_versions(reconstruct_run):
    run = json.loads((reconstruct_run / "run.json").read_text())
    model = run["provenance"]["model"]
    assert model["identity"]["kind"] == "tiny" and model["dtype"] == "float64"
    assert model["device"] == "cpu" and "family" in model
    assert run["provenance"]["packages"]["torch"] and run["provenance"]["sdedit_desktop"]
    record = json.loads((reconstruct_run / "samples" / "im0" / "sde.json").read_text())
    assert record["provenance"] == run["provenance"]
    summary = json.loads((reconstruct_run / "summary.json").read_text())
    assert summary["provenance"] == run["provenance"]
    for name in ("results.md", "index.html"):
        text = (reconstruct_run / name).read_text()
        assert "float64 on cpu" in text and "sdedit-desktop" in text and "torch" in text


def test_fid_shows_its_sample_size_and_warns_below_the_feature_dimension(reconstruct_run,
                                                                         tmp_path, monkeypatch):
    import sdedit_desktop.eval.metrics.availability as availability
    import sdedit_desktop.eval.metrics.fid as fid_module
    from sdedit_desktop.eval.report.merge import FID_MIN_SAMPLES

    out = tmp_path / "run"
    shutil.copytree(reconstruct_run, out)
    run = json.loads((out / "run.json").read_text())
    run["kind"] = "inpaint"  # a kind whose groups get an FID
    (out / "run.json").write_text(json.dumps(run))
    seen = []
    monkeypatch.setattr(availability, "fid_unavailable", lambda: None)
    monkeypatch.setattr(fid_module, "fid", lambda ref, img: seen.append(len(img)) or 12.5)
    assert main(["eval", "report", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    fid = summary["groups"][0]["fid"]
    assert fid["value"] == 12.5 and fid["n"] == 3 and seen == [3, 3]
    assert str(FID_MIN_SAMPLES) in fid["warning"] and FID_MIN_SAMPLES == 2048
    text = (out / "results.md").read_text()
    assert "12.5 (n=3, too few)" in text and "not comparable with published FIDs" in text


@pytest.fixture(scope="module")
def drag_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("drag") / "bench"
    for i in range(2):
        sde_drag_sample(root / f"s{i}", seed=i)
    return root


FAST = [*TINY, "--steps", "2", "--dift-ensemble", "1"]


def test_a_method_run_later_into_the_same_folder_keeps_the_others(drag_data, tmp_path):
    out = tmp_path / "run"
    assert main(["eval", "drag", str(drag_data), "--out", str(out), *FAST,
                 "--method", "ode"]) == 0
    assert main(["eval", "drag", str(drag_data), "--out", str(out), *FAST,
                 "--method", "sde"]) == 0
    rows = _csv(out)
    assert sorted((r["sample"], r["method"]) for r in rows) == [
        ("s0", "ode"), ("s0", "sde"), ("s1", "ode"), ("s1", "sde")]
    assert all(r["status"] == "ok" for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert {g["method"] for g in summary["groups"]} == {"sde", "ode"}
    assert summary["paired"] and summary["this_run"]["ran"] == 2


def test_the_input_and_the_instruction_follow_a_data_image_changed_in_place(drag_data,
                                                                            tmp_path):
    data = tmp_path / "bench"
    shutil.copytree(drag_data, data)
    out = tmp_path / "run"
    assert main(["eval", "drag", str(data), "--out", str(out), *FAST, "--method", "sde"]) == 0
    store = RunStore(out)
    before = np.asarray(Image.open(store.instruction_path("s0")))
    changed = noise_image(data / "s0" / "origin_image.png", seed=99)
    assert main(["eval", "drag", str(data), "--out", str(out), *FAST, "--method", "sde"]) == 0
    assert np.array_equal(np.asarray(Image.open(store.input_path("s0"))), changed)
    assert not np.array_equal(np.asarray(Image.open(store.instruction_path("s0"))), before)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["this_run"] == {"ran": 1, "skipped": 1, "failed": 0}  # s0 edited again
    (data / "s0" / "origin_image.png").write_text("gone")
    assert main(["eval", "drag", str(data), "--out", str(out), *FAST, "--method", "sde"]) == 0
    assert not store.input_path("s0").exists()  # no stale input for a sample that now fails


def test_the_instruction_image_is_the_data_sets_own_drawing_when_it_has_one(drag_data,
                                                                            tmp_path):
    from sdedit_desktop.eval.datasets import list_samples

    data = tmp_path / "bench"
    shutil.copytree(drag_data, data)
    drawn = noise_image(data / "s1" / "input_image.png", seed=7)  # SDE-Drag's UI saves this
    samples = {s.id: s.load() for s in list_samples("drag", data)}
    assert np.array_equal(samples["s1"].instruction_image, drawn)
    ours = samples["s0"].instruction_image  # drawn: handle red, target blue, the rest dimmed
    image = samples["s0"].image
    (hx, hy), (tx, ty) = samples["s0"].fields["points"][0]
    assert ours[hy, hx, 0] > 200 and ours[hy, hx, 2] < 80
    assert ours[ty, tx, 2] > 200 and ours[ty, tx, 0] < 80
    assert ours[60, 60].sum() < image[60, 60].sum()  # outside the mask: dimmed
    assert samples["s0"].instruction_text == "a cube"


def test_participants_get_their_own_order_and_balanced_sides():
    key = {f"q{i}": {"a": "sde" if i % 3 else "ode", "b": "ode" if i % 3 else "sde"}
           for i in range(1, 12)}
    layouts = {p: participant_layout("study1", p, key, ("sde", "ode"))
               for p in ("p01", "p02", "p03")}
    for layout in layouts.values():
        assert sorted(layout["order"]) == sorted(key)
        sde_left = sum(key[q][layout["left"][q]] == "sde" for q in key)
        assert sde_left in (5, 6)  # 11 questions: SDE on the left in half of them
    assert len({tuple(v["order"]) for v in layouts.values()}) == 3
    assert participant_layout("study1", "p01", key, ("sde", "ode")) == layouts["p01"]
    assert participant_layout("study2", "p01", key, ("sde", "ode")) != layouts["p01"]


def test_tally_shows_every_method_and_refuses_two_different_answer_sets_of_one_participant(
        drag_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "drag", str(drag_data), "--out", str(out), *FAST]) == 0
    assert main(["eval", "study", str(out), "--participants", "3"]) == 0
    key = json.loads((out / "study" / "key.json").read_text())
    files = []
    for pid in ("p01", "p02"):
        answers = {}
        for qid, q in key["questions"].items():  # both always pick the SDE result
            left = key["participants"][pid]["left"][qid]
            answers[qid] = "left" if q[left] == "sde" else "right"
        path = tmp_path / f"{pid}.json"
        path.write_text(json.dumps({"study": key["study"], "participant": pid,
                                    "answers": answers}))
        files.append(str(path))
    capsys.readouterr()
    assert main(["eval", "tally", str(out), *files]) == 0
    result = json.loads((out / "study" / "tally.json").read_text())
    assert result["methods"]["sde"]["share"] == 1.0 and result["methods"]["ode"]["votes"] == 0
    assert result["methods"]["ode"]["ci95"] == [0.0, 0.0]
    assert "ODE preferred in 0.0%" in capsys.readouterr().out
    other = json.loads(Path(files[0]).read_text())
    other["answers"] = {q: "left" if a == "right" else "right"
                        for q, a in other["answers"].items()}
    changed = tmp_path / "p01-again.json"
    changed.write_text(json.dumps(other))
    assert main(["eval", "tally", str(out), files[0], str(changed)]) == 2
    assert "answered differently" in capsys.readouterr().err


def test_inpaint_prompt_help_names_the_papers_fixed_prompt(capsys):
    from sdedit_desktop.edits.kinds.inpaint import PAPER_EVAL_PROMPT as DEFAULT_INPAINT_PROMPT

    with pytest.raises(SystemExit):
        main(["eval", "inpaint", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert DEFAULT_INPAINT_PROMPT in text and "default: empty" not in text.split("--prompt")[1][:80]
    with pytest.raises(SystemExit):
        main(["inpaint", "--help"])  # the single-image command keeps its own default
    assert DEFAULT_INPAINT_PROMPT not in capsys.readouterr().out


def test_threads_are_shared_out_between_the_processes_of_one_machine():
    assert threads_per_process(16, 4) == 4 and threads_per_process(2, 2) == 1
    assert threads_per_process(2, 8) == 1 and threads_per_process(8, 1) == 8
