"""`sdedit eval` data sets: both DragBench layouts, the other kinds, bad data, and the
restricted unpickler against a real hostile pickle."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from eval_data import CreatesFile, drag_bench, noise_image
from PIL import Image

from sdedit_desktop.eval.datasets import DatasetError, list_samples
from sdedit_desktop.eval.safe_pickle import UnsafePickleError, safe_load, safe_load_bytes
from sdedit_desktop.eval.samples import SampleError


def test_plain_pickle_would_run_the_payload(tmp_path):
    # the payload is real: plain pickle creates the file (so the refusal below means something)
    pickle.loads(pickle.dumps(CreatesFile(tmp_path / "ran.txt")))
    assert (tmp_path / "ran.txt").exists()


def test_restricted_unpickler_refuses_the_payload_by_name_and_it_does_not_run(tmp_path):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "meta_data.pkl"
    path.write_bytes(pickle.dumps({"prompt": "x", "points": CreatesFile(target)}))
    with pytest.raises(UnsafePickleError, match=r"io\.open"):
        safe_load(path)
    assert not target.exists()


@pytest.mark.parametrize("payload", ["os.system", "subprocess.Popen", "builtins.eval"])
def test_restricted_unpickler_refuses_any_other_global(payload):
    module, name = payload.rsplit(".", 1)
    data = b"\x80\x04c" + f"{module}\n{name}\n".encode() + b"X\x04\x00\x00\x00trueq\x00\x85R."
    with pytest.raises(UnsafePickleError, match=payload.replace(".", r"\.")):
        safe_load_bytes(data)


def test_restricted_unpickler_loads_containers_and_numpy_arrays():
    meta = {"prompt": "a cat", "points": [[1, 2], [3, 4]], "mask": np.eye(5, dtype=np.uint8),
            "f": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.float64(2.5),
            "t": (1, {2, 3})}
    for protocol in (2, 4, 5):
        out = safe_load_bytes(pickle.dumps(meta, protocol=protocol))
        assert out["prompt"] == "a cat" and out["points"] == [[1, 2], [3, 4]]
        assert np.array_equal(out["mask"], meta["mask"]) and out["mask"].dtype == np.uint8
        assert np.array_equal(out["f"], meta["f"]) and out["s"] == 2.5
        assert out["t"] == (1, {2, 3})


def test_drag_bench_lists_both_layouts_and_bad_data_fails_each_with_its_reason(tmp_path):
    root = drag_bench(tmp_path / "db")
    samples = {s.id: s for s in list_samples("drag", root)}
    assert sorted(samples) == ["bad_hostile", "bad_missing", "bad_outside", "bad_unreadable",
                               "dd_cat_0", "sde_s0", "sde_s1", "sde_s2"]
    good = samples["sde_s1"].load()
    assert good.fields == {"prompt": "a cube", "points": (((16, 20), (28, 20)),)}
    assert good.image.shape == (64, 64, 3) and good.mask.max() == 255
    dd = samples["dd_cat_0"].load()
    assert dd.fields["points"] == (((20, 30), (36, 30)), ((40, 12), (44, 20)))
    assert dd.mask[10, 10] == 255 and dd.mask[0, 0] == 0
    reasons = {}
    for name in ("bad_hostile", "bad_missing", "bad_outside", "bad_unreadable"):
        with pytest.raises(SampleError) as info:
            samples[name].load()
        reasons[name] = str(info.value)
    assert "io.open" in reasons["bad_hostile"] and not (root / "pwned.txt").exists()
    assert "no such file" in reasons["bad_missing"]
    assert "outside" in reasons["bad_outside"] and "(90, 20)" in reasons["bad_outside"]
    assert "not an image" in reasons["bad_unreadable"]


def test_inpaint_pairs_images_and_masks_by_stem(tmp_path):
    for i in range(2):
        noise_image(tmp_path / "images" / f"im{i}.png", i)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    (tmp_path / "masks").mkdir()
    Image.fromarray(mask).save(tmp_path / "masks" / "im0.png")
    samples = list_samples("inpaint", tmp_path)
    assert [s.id for s in samples] == ["im0", "im1"]
    assert samples[0].load().mask.sum() == mask.sum()
    with pytest.raises(SampleError, match="no mask"):
        samples[1].load()


def test_diffedit_list_jsonl_and_csv(tmp_path):
    noise_image(tmp_path / "a.png", 0)
    lines = [json.dumps({"image": "a.png", "source_prompt": "a dog", "target_prompt": "a cat"}),
             "{broken", json.dumps({"image": "gone.png", "target_prompt": "x"})]
    (tmp_path / "samples.jsonl").write_text("\n".join(lines))
    samples = list_samples("diffedit", tmp_path)
    assert samples[0].load().fields == {"source_prompt": "a dog", "target_prompt": "a cat"}
    with pytest.raises(SampleError, match=r"samples\.jsonl:2: not valid JSON"):
        samples[1].load()
    with pytest.raises(SampleError, match=r"gone\.png: no such file"):
        samples[2].load()
    (tmp_path / "list.csv").write_text("image,source_prompt,target_prompt\na.png,dog,cat\n")
    assert list_samples("diffedit", tmp_path / "list.csv")[0].load().fields["target_prompt"] \
        == "cat"


def test_reconstruct_folder_with_captions(tmp_path):
    noise_image(tmp_path / "x.png", 0)
    (tmp_path / "x.txt").write_text("a red house\n")
    noise_image(tmp_path / "y.png", 1)
    samples = list_samples("reconstruct", tmp_path)
    assert [s.load().fields["prompt"] for s in samples] == ["a red house", ""]


def test_empty_or_missing_data_set_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        list_samples("drag", tmp_path / "nope")
    with pytest.raises(DatasetError, match="no drag samples"):
        list_samples("drag", tmp_path)


