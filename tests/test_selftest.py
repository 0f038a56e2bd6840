"""`--self-test` unfrozen: the real window, engine, tiny model and one SDE-Drag, end to end."""

from __future__ import annotations

import io
import re

import pytest

from sdedit_desktop import selftest


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    # The self-test points SDEDIT_CONFIG_DIR at a fresh folder; restore it afterwards.
    monkeypatch.setenv("SDEDIT_CONFIG_DIR", str(tmp_path))
    return tmp_path


def test_self_test_passes_end_to_end(qapp, config_dir, capsys):
    out = io.StringIO()
    code = selftest.run_self_test(steps=20, max_side=256, timeout_s=120, out=out)
    text = out.getvalue()
    assert code == 0, capsys.readouterr().err + text
    # Every stage reported, in order.
    stages = ["ok  Qt offscreen platform", "ok  resources: 3 samples", "ok  all ",
              "ok  app icon renders", "ok  window open with chelsea.png (451x300)",
              "ok  tiny model loaded on cpu", "ok  SDE-Drag:", "self-test OK"]
    positions = [text.index(stage) for stage in stages]
    assert positions == sorted(positions)
    # The drag really ran: the points w/3 -> w/3 + w/6 of the 451 px wide sample land on latent
    # x 10 -> 15 at working size 256, a 5 latent px drag; Algorithm 1 picks the step count whose
    # step length is closest to 2 px (5/3 beats 5/2), so 3 drag steps of 12 reverse steps each
    # (20 steps at t0 = 0.6).
    match = re.search(r"(\d+) drag steps, (\d+) UNet calls, (\d+)% of pixels changed", text)
    assert match, text
    drag_steps, unet_calls, changed = map(int, match.groups())
    assert drag_steps == 3
    assert unet_calls >= drag_steps * 12
    assert changed >= 1


def test_self_test_names_a_missing_resource(qapp, config_dir, monkeypatch, capsys):
    import sdedit_desktop.resources as resources

    monkeypatch.setattr(resources, "sample_images", lambda: [])
    code = selftest.run_self_test(out=io.StringIO(), timeout_s=30)
    assert code == 1
    assert "self-test FAILED: no sample images in" in capsys.readouterr().err


def test_self_test_reports_a_model_that_fails_to_load(qapp, config_dir, capsys):
    code = selftest.run_self_test(device="no-such-device", out=io.StringIO(), timeout_s=60)
    err = capsys.readouterr().err
    assert code == 1
    assert "self-test FAILED: the tiny model to load" in err
    assert "no-such-device" in err


def test_check_result_rejects_an_unchanged_image():
    import numpy as np

    from sdedit_desktop.edits.kinds import DragRequest
    from sdedit_desktop.edits.requests import EditResult

    before = np.full((24, 32, 3), 100, np.uint8)
    request = DragRequest(image=before, points=(((4, 4), (8, 4)),), steps=20, max_side=256)
    entry = type("Entry", (), {})()
    entry.result = EditResult(request=request, image=before.copy(), trajectory=[before.copy()],
                              unet_calls=24)
    with pytest.raises(selftest.SelfTestFailure, match=r"0\.00% of the pixels changed"):
        selftest._check_result(entry, before, steps=20, max_side=256)
    changed = before.copy()
    changed[:12] = 0
    entry.result = EditResult(request=request, image=changed, trajectory=[changed],
                              unet_calls=24)
    assert "50% of pixels changed" in selftest._check_result(entry, before, 20, 256)
    entry.result = EditResult(request=request, image=changed[:, :30], trajectory=[changed],
                              unet_calls=24)
    with pytest.raises(selftest.SelfTestFailure, match=r"expected the input's"):
        selftest._check_result(entry, before, 20, 256)
