"""Hostile and faulty input to `sdedit eval` (issue #26, the eval classes): data that must fail
one sample only, pickles that ask for huge allocations, FIFOs and devices where files belong,
run folders that point outside themselves or are malformed, and the smaller leaks (escaping,
file modes, placeholders). Each case gets one clear message or a failed record with its
reason, nothing is read or written outside the run folder, nothing hangs."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import stat
import struct
from pathlib import Path

import numpy as np
import pytest
from eval_data import drag_diffusion_sample, noise_image, sde_drag_sample
from PIL import Image

from sdedit_desktop.cli import main
from sdedit_desktop.eval.datasets import list_samples
from sdedit_desktop.eval.report.contact_sheet import write_contact_sheet
from sdedit_desktop.eval.report.run_folder import read_run
from sdedit_desktop.eval.safe_pickle import UnsafePickleError, safe_load_bytes
from sdedit_desktop.eval.samples import SampleError
from sdedit_desktop.eval.store import RunStore, write_json

FAST = ["--model", "tiny", "--steps", "2", "--dift-ensemble", "1", "--quiet"]


def _meta(folder: Path, meta: dict, seed: int = 5) -> None:
    noise_image(folder / "original_image.png", seed)
    (folder / "meta_data.pkl").write_bytes(pickle.dumps(meta))


def hostile_bench(root: Path) -> Path:
    """One good sample, one whose mask is all zeros (= no mask), one with a name far beyond a
    file system's 255 bytes, and one of each kind of bad data."""
    sde_drag_sample(root / "good", seed=0)
    _meta(root / "zeromask", {"prompt": "p", "points": [[20, 30], [30, 30]],
                              "mask": np.zeros((64, 64), np.uint8)})
    sde_drag_sample(root / ("L" * 200) / ("M" * 200), seed=1)
    _meta(root / "zerod", {"prompt": "p", "points": np.array(5), "mask": None})
    _meta(root / "strmask", {"prompt": "p", "points": [[1, 2], [3, 4]],
                             "mask": np.array([["a"] * 64] * 64)})
    _meta(root / "ragged", {"prompt": "p", "points": [[1, 2], [3, 4]], "mask": [[1, 2], [3]]})
    for name, text in (("deep", "[" * 100_000 + "]" * 100_000),
                       ("bigint", '{"prompt": "x", "source": [[' + "1" * 5001
                        + ', 2]], "target": [[1, 2]]}'),
                       ("string", json.dumps({"prompt": "x", "source": ["12"],
                                              "target": ["34"]})),
                       ("bools", json.dumps({"prompt": "x", "source": [[True, False]],
                                             "target": [[1, 2]]}))):
        sde_drag_sample(root / name, seed=2)
        (root / name / "prompt.json").write_text(text)
    return root


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    bench = hostile_bench(base / "bench")
    out = base / "run"
    assert main(["eval", "drag", str(bench), "--out", str(out), *FAST]) == 0
    return out


def test_one_bad_sample_never_ends_a_run_and_each_failure_says_why(hostile_run):
    summary = json.loads((hostile_run / "summary.json").read_text())
    reasons = {f["sample"]: f["reason"] for f in summary["failures"]}
    assert set(reasons) == {"zerod", "strmask", "ragged", "deep", "bigint", "string", "bools"}
    assert "alternate handle and target" in reasons["zerod"]
    assert "not numbers" in reasons["strmask"] and "not an array" in reasons["ragged"]
    assert "nested too deeply" in reasons["deep"] and "4300 digits" in reasons["bigint"]
    assert "'12' is not an [x, y] point" in reasons["string"]
    assert "[True, False] is not an [x, y] point" in reasons["bools"]
    ok = {r["sample"] for r in _records(hostile_run) if r["status"] == "ok"}
    long_id = next(s for s in ok if s.startswith("L"))
    assert ok == {"good", "zeromask", long_id}  # all-zero mask = no mask, as upstream
    assert len(long_id.encode()) < 200  # cut, with a hash of the whole name


def _records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (out / "samples").rglob("*.json")]


def test_sample_ids_stay_unique_and_short_for_long_names(tmp_path):
    from sdedit_desktop.eval.samples import safe_ids

    names = ["x" * 300 + "a", "x" * 300 + "b", "../../etc", "a..b", "ü" * 400]
    ids = safe_ids(names)
    assert len(set(ids)) == len(ids) and all(len(i.encode()) <= 140 for i in ids)
    assert ids[2] == "etc" and ".." not in ids[3]


@pytest.mark.parametrize("payload", [
    pytest.param(lambda: _reduce(bytearray, (10 ** 12,)), id="bytearray(10**12)"),
    pytest.param(lambda: _reduce(np.ndarray, ((10 ** 7, 10 ** 6),)), id="ndarray((1e7, 1e6))"),
    pytest.param(lambda: b"\x80\x05\x8e" + struct.pack("<Q", 2 ** 62) + b"abc.", id="BINBYTES8"),
    pytest.param(lambda: b"\x80\x05\x96" + struct.pack("<Q", 2 ** 62) + b"abc.", id="BYTEARRAY8"),
    pytest.param(lambda: pickle.dumps(np.array([1, 2], dtype=object), protocol=2).replace(
        b"K\x02\x85", b"J\x80\x96\x98\x00J\x40\x42\x0f\x00\x86"), id="object array state"),
])
def test_restricted_unpickler_bounds_every_allocation_by_the_files_size(payload):
    with pytest.raises((UnsafePickleError, pickle.UnpicklingError)) as info:
        safe_load_bytes(payload())
    assert not isinstance(info.value, MemoryError)
    assert "refused" in str(info.value) or "hostile" in str(info.value)


def _reduce(func, args) -> bytes:
    class Call:
        def __reduce__(self):
            return (func, args)

    return pickle.dumps(Call(), protocol=2)


def test_restricted_unpickler_still_loads_real_arrays_of_every_protocol():
    meta = {"mask": np.ones((512, 512), np.uint8), "obj": np.array([1, "a"], dtype=object),
            "points": [[1, 2], [3, 4]], "f": np.asfortranarray(np.ones((3, 4)))}
    for protocol in range(6):
        out = safe_load_bytes(pickle.dumps(meta, protocol=protocol))
        assert np.array_equal(out["mask"], meta["mask"]) and list(out["obj"]) == [1, "a"]


@pytest.mark.timeout(60)
def test_fifos_and_devices_where_data_files_belong_fail_the_sample_without_blocking(tmp_path):
    noise_image(tmp_path / "rec" / "a.png", 0)
    os.mkfifo(tmp_path / "rec" / "a.txt")  # a caption nobody writes
    with pytest.raises(SampleError, match="named pipe"):
        list_samples("reconstruct", tmp_path / "rec")[0].load()
    rows = [{"image": "/proc/self/mem"}, {"image": "/dev/zero"}]
    (tmp_path / "list.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    reasons = []
    for sample in list_samples("reconstruct", tmp_path / "list.jsonl"):
        with pytest.raises(SampleError) as info:
            sample.load()
        reasons.append(str(info.value))
    assert "cannot read" in reasons[0] and "device" in reasons[1]


def test_deep_huge_and_oversized_list_rows_fail_only_their_sample(tmp_path):
    noise_image(tmp_path / "a.png", 0)
    good = json.dumps({"image": "a.png", "source_prompt": "a", "target_prompt": "b"})
    (tmp_path / "samples.jsonl").write_text("\n".join(
        [good, "[" * 100_000 + "]" * 100_000, '{"id": ' + "9" * 5001 + "}", good]))
    samples = list_samples("diffedit", tmp_path)
    assert samples[0].load().fields["target_prompt"] == "b"
    for sample, why in ((samples[1], "nested too deeply"), (samples[2], "4300 digits")):
        with pytest.raises(SampleError, match=why):
            sample.load()
    assert samples[3].load().fields["target_prompt"] == "b"
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("image,source_prompt,target_prompt\n"
                        f"a.png,a,{'x' * 200_000}\na.png,a,b\n")
    rows = list_samples("diffedit", csv_file)
    assert len(rows[0].load().fields["target_prompt"]) == 200_000  # beyond csv's 131,072
    assert rows[1].load().fields["target_prompt"] == "b"


def test_record_paths_outside_the_run_are_never_read_or_copied(hostile_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(hostile_run, out)
    record_path = out / "samples" / "good" / "sde.json"
    record = json.loads(record_path.read_text())
    record.update(image="/etc/passwd", input="../../../../etc/hostname")
    record_path.write_text(json.dumps(record))
    assert main(["eval", "study", str(out), "--participants", "2"]) == 0
    assert main(["eval", "report", str(out)]) == 0
    secret = Path("/etc/passwd").read_bytes()
    assert all(p.read_bytes() != secret for p in (out / "study" / "images").iterdir())
    assert "/etc/passwd" not in (out / "index.html").read_text()
    # a planted link to a file outside, or a FIFO, where an image belongs: refused by name
    image = out / "samples" / "good" / "ode.png"
    image.unlink()
    image.symlink_to("/etc/passwd")
    capsys.readouterr()
    assert main(["eval", "study", str(out)]) == 2
    err = capsys.readouterr().err
    assert "outside the run folder" in err and err.count("\n") == 1
    image.unlink()
    os.mkfifo(image)  # not a result: that task is a failed row, never opened
    assert main(["eval", "study", str(out)]) == 0
    key = json.loads((out / "study" / "key.json").read_text())
    assert "good" not in {q["sample"] for q in key["questions"].values()}
    image.unlink()
    shutil.copy(out / "samples" / "good" / "sde.png", image)
    (out / "samples" / "good" / "input.png").unlink()
    os.mkfifo(out / "samples" / "good" / "input.png")
    capsys.readouterr()
    assert main(["eval", "study", str(out)]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize("edit, message", [
    (lambda run: run.update(tasks=5), "'tasks' must be a list"),
    (lambda run: run["tasks"][0].update(sample="../../etc"), "not a plain file name"),
    (lambda run: run["tasks"][0].update(task="/etc/passwd"), "not a plain file name"),
    (lambda run: run.update(kind="rm -rf"), "'kind' must be one of"),
    (lambda run: run["tasks"][0].update(setting=[1]), "malformed setting"),
])
def test_malformed_run_json_is_a_clear_message(hostile_run, tmp_path, capsys, edit, message):
    out = tmp_path / "run"
    shutil.copytree(hostile_run, out)
    run = json.loads((out / "run.json").read_text())
    edit(run)
    (out / "run.json").write_text(json.dumps(run))
    for command in ("report", "study"):
        assert main(["eval", command, str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_malformed_records_are_failed_rows_and_resume_reruns_them(hostile_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(hostile_run, out)
    samples = out / "samples"
    (samples / "good" / "sde.json").write_text("[1, 2, 3]")  # valid JSON, not a record
    broken = json.loads((samples / "good" / "ode.json").read_text())
    broken["metrics"] = {"dift_distance": "far"}
    (samples / "good" / "ode.json").write_text(json.dumps(broken))
    nested = samples / "zeromask" / "sde.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    missing = json.loads((samples / "zeromask" / "ode.json").read_text())
    del missing["status"]
    (samples / "zeromask" / "ode.json").write_text(json.dumps(missing))
    assert main(["eval", "report", str(out)]) == 0
    rows = {(r["sample"], r["task"]): r for r in _summary_failures(out)}
    assert "unreadable record" in rows[("good", "sde")]["reason"]
    assert "metrics that are not numbers" in rows[("good", "ode")]["reason"]
    assert "unreadable record" in rows[("zeromask", "sde")]["reason"]
    assert "no status" in rows[("zeromask", "ode")]["reason"]
    bench = Path(json.loads((out / "run.json").read_text())["dataset"])
    assert main(["eval", "drag", str(bench), "--out", str(out), *FAST]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["this_run"]["ran"] == 4 and summary["ok"] == 6  # the four redone


def _summary_failures(out: Path) -> list[dict]:
    return json.loads((out / "summary.json").read_text())["failures"]


def test_a_run_folder_that_cannot_be_written_is_a_clean_message(hostile_run, tmp_path, capsys,
                                                                monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(hostile_run, out)
    bench = json.loads((out / "run.json").read_text())["dataset"]
    import errno

    import sdedit_desktop.eval.runner as runner

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "write_json", full)
    assert main(["eval", "drag", bench, "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    if os.geteuid() != 0:  # root writes into read-only folders
        monkeypatch.undo()
        out.chmod(0o555)
        try:
            assert main(["eval", "drag", bench, "--out", str(out), *FAST]) == 2
            assert "cannot write into the folder" in capsys.readouterr().err
        finally:
            out.chmod(0o755)


@pytest.mark.timeout(60)
def test_tally_refuses_fifos_devices_and_malformed_answers_and_keys(hostile_run, tmp_path,
                                                                    capsys):
    out = tmp_path / "run"
    shutil.copytree(hostile_run, out)
    assert main(["eval", "study", str(out), "--participants", "2"]) == 0
    fifo = tmp_path / "answers.fifo"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for path, message in ((fifo, "named pipe"), (Path("/dev/zero"), "device"),
                          (deep, "nested too deeply"), (tmp_path / "none.json", "no such file")):
        capsys.readouterr()
        assert main(["eval", "tally", str(out), str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    key = json.loads((out / "study" / "key.json").read_text())
    key["questions"] = [1]
    (out / "study" / "key.json").write_text(json.dumps(key))
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"study": key["study"], "participant": "p01", "answers": {}}))
    assert main(["eval", "tally", str(out), str(answers)]) == 2
    assert "not a key written by" in capsys.readouterr().err


def test_contact_sheet_thumbnails_are_capped_for_extreme_aspect_ratios(tmp_path):
    store = RunStore(tmp_path)
    write_json(store.config_path, {"kind": "drag", "dataset": "x", "methods": ["sde"],
                                   "samples": ["wide", "tall"],
                                   "tasks": [{"sample": s, "task": "sde", "method": "sde",
                                              "setting": {}} for s in ("wide", "tall")]})
    for name, size in (("wide", (65536, 1)), ("tall", (1, 65536))):
        store.sample_dir(name).mkdir(parents=True)
        Image.new("RGB", size, (255, 0, 0)).save(store.input_path(name))
    run = read_run(store)
    rows = [{**t, "status": "missing"} for t in run.tasks]
    write_contact_sheet(store, run, rows, tmp_path / "sheet.png")
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.width <= 2 * 2 * 128 and sheet.height <= 14 + 2 * (128 + 14)


def test_results_md_escapes_names_and_reasons_and_outputs_follow_the_umask(tmp_path):
    image = tmp_path / "d" / "a.png"
    noise_image(image, 0)
    evil = "<img src=x onerror=alert(1)>|[link](http://evil)"
    (tmp_path / "d" / "samples.jsonl").write_text(json.dumps(
        {"image": f"{evil}.png", "target_prompt": "b"}))
    old = os.umask(0o027)
    try:
        assert main(["eval", "diffedit", str(tmp_path / "d"), "--out", str(tmp_path / "o"),
                     *FAST[:4], "--quiet", "--method", "sde"]) == 0
    finally:
        os.umask(old)
    text = (tmp_path / "o" / "results.md").read_text()
    assert "<img" not in text and "&lt;img" in text
    assert re.search(r"(?<!\\)\]\(http", text) is None  # no link can open
    failure = next(line for line in text.splitlines() if "no such file" in line)
    assert "\\|" in failure and "\\[link\\]" in failure
    for name in ("results.md", "run.json", "summary.json", "index.html", "results.csv"):
        assert stat.S_IMODE((tmp_path / "o" / name).stat().st_mode) == 0o640, name


def test_a_question_with_placeholders_or_script_pastes_nothing(hostile_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(hostile_run, out)
    for method in ("sde", "ode"):
        record = out / "samples" / "good" / f"{method}.json"
        data = json.loads(record.read_text())
        data["instruction"] = "</script><script>alert(1)</script> __QUESTION__"
        record.write_text(json.dumps(data))
    assert main(["eval", "study", str(out), "--participants", "1",
                 "--question", "Which? __DATA__ <b>"]) == 0
    page = (out / "study" / "p" / "p01.html").read_text()
    assert "<h2>Which? __DATA__ &lt;b&gt;</h2>" in page
    assert page.count("const DATA = {") == 1 and "<script>alert" not in page
    assert "\\u003c/script\\u003e" in page


def test_study_refuses_bad_participant_ids(hostile_run, capsys):
    for spec in ("../x", "0", "a,a", "x" * 100):
        assert main(["eval", "study", str(hostile_run), "--participants", spec]) == 2
        assert "--participants" in capsys.readouterr().err


def test_drag_diffusion_sample_with_an_all_zero_mask_runs_without_a_mask(tmp_path):
    drag_diffusion_sample(tmp_path / "s", seed=0)
    meta = pickle.loads((tmp_path / "s" / "meta_data.pkl").read_bytes())
    meta["mask"] = np.zeros_like(meta["mask"])
    (tmp_path / "s" / "meta_data.pkl").write_bytes(pickle.dumps(meta))
    inputs = list_samples("drag", tmp_path)[0].load()
    assert inputs.mask is None
