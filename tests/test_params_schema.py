"""One parameter schema (request dataclasses), one registry of edit kinds, and the validation
every entry point shares: the panels, the CLI and run_edit refuse the same requests with the
same clear message; NaN/inf, out-of-range values and unbounded work never run."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from dataclasses import fields as dataclass_fields

import numpy as np
import pytest
import torch
from PIL import Image
from ui_helpers import Refused, next_request

from sdedit_desktop.cli import main
from sdedit_desktop.cli.edit_commands import register
from sdedit_desktop.edits import EditError, run_edit
from sdedit_desktop.edits.drag_steps import MAX_DRAG_STEPS
from sdedit_desktop.edits.kinds import (
    DiffEditRequest,
    DragRequest,
    InpaintRequest,
    ReconstructRequest,
    all_kinds,
    request_types,
)
from sdedit_desktop.edits.requests import EditResult
from sdedit_desktop.edits.run import check_finite
from sdedit_desktop.edits.schema import schema
from sdedit_desktop.ui.model.edit_params import EditParams, legacy_panel_json
from sdedit_desktop.ui.panels import PanelStack
from sdedit_desktop.ui.params import panel_specs

IMG = np.full((64, 96, 3), 120, np.uint8)
MASK = np.zeros((64, 96), np.uint8)
MASK[10:40, 10:40] = 255
NAN, INF = float("nan"), float("inf")


# -- layering ----------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["sdedit_desktop.edits.requests",
                                    "sdedit_desktop.edits.kinds",
                                    "sdedit_desktop.edits.presets",
                                    "sdedit_desktop.ui.model.edit_params",
                                    "sdedit_desktop.ui.model.editor",
                                    "sdedit_desktop.ui.panels",
                                    "sdedit_desktop.ui.main_window",
                                    "sdedit_desktop.ui.app"])
def test_requests_registry_and_panels_import_without_torch(module):
    code = f"import sys; import {module}; assert 'torch' not in sys.modules, 'torch loaded'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"QT_QPA_PLATFORM": "offscreen", **_env()})
    assert done.returncode == 0, done.stderr[-2000:]


def _env() -> dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}


def test_models_lora_does_not_import_edits():
    for path in ("sdedit_desktop/models/lora.py", "sdedit_desktop/models/lora_provider.py"):
        with open(path, encoding="utf-8") as file:
            source = file.read()
        assert "sdedit_desktop.edits" not in source, path


# -- validation: one message for everyone ------------------------------------------------------

def _drag(**kw) -> DragRequest:
    kw.setdefault("points", (((10, 10), (40, 20)),))
    return DragRequest(image=IMG, **kw)


BAD = [
    (_drag(target_scale=NAN), "target_scale must be a finite number"),
    (_drag(cfg_max=INF), "cfg_max must be a finite number"),
    (_drag(lora_scale_min=-INF), "lora_scale_min must be a finite number"),
    (_drag(t0=NAN), "t0 must be a finite number"),
    (_drag(t0=0.0), "t0 must be greater than 0"),
    (_drag(steps=0), "steps must be at least 1"),
    (_drag(steps=5000), "steps must be at most 1000"),
    (_drag(half_size=0), "half_size must be at least 1"),
    (_drag(step_size=1e-9), "step_size must be at least 0.5"),
    (_drag(seed=-1), "seed must be at least 0"),
    (_drag(seed=2**64 + 1), "seed must be at most 4294967295"),
    (_drag(method="euler"), "unknown method 'euler'"),
    (_drag(max_side=16), "max_side must be at least 64"),
    (InpaintRequest(image=IMG, mask=MASK, guidance=NAN), "guidance must be a finite number"),
    (InpaintRequest(image=IMG, mask=MASK, order=3), "unknown order 3"),
    (DiffEditRequest(image=IMG, target_prompt="x", mask_samples=100000),
     "mask_samples must be at most 100"),
    (DiffEditRequest(image=IMG, target_prompt="x", encode_ratio=INF),
     "encode_ratio must be a finite number"),
    (DiffEditRequest(image=IMG, target_prompt=" "), "needs a target prompt"),
    (ReconstructRequest(image=IMG, guidance=NAN), "guidance must be a finite number"),
    (ReconstructRequest(image=IMG, t0=0.001, steps=10), "gives no sampling step"),
]


@pytest.mark.parametrize("request_, message", BAD)
def test_run_edit_refuses_bad_parameters_before_touching_the_model(request_, message):
    with pytest.raises(EditError, match=message):
        request_.validate()
    # No model is needed to refuse it: validation comes first.
    with pytest.raises(EditError, match=message):
        run_edit(object(), request_)  # type: ignore[arg-type]


def test_drag_work_is_bounded_by_the_drag_step_count():
    # 1000 px on a 1024-wide image at max_side None: 125 latent px; a step of 0.5 would need 250
    # drag steps (allowed), the same drag on a 4096-px image 1000 (refused).
    big = np.zeros((64, 4096, 3), np.uint8)
    request = DragRequest(image=big, points=(((0, 0), (4095, 0)),), step_size=0.5,
                          max_side=None)
    assert request.drag_step_count() > MAX_DRAG_STEPS
    with pytest.raises(EditError, match=f"at most {MAX_DRAG_STEPS} are allowed"):
        request.validate()
    assert request.with_changes(step_size=8.0).drag_step_count() <= MAX_DRAG_STEPS
    request.with_changes(step_size=8.0).validate()


def test_mixed_point_pairs_are_refused_by_the_panel_as_by_the_edit(qtbot):
    stack = PanelStack()
    qtbot.addWidget(stack)
    stack.select("drag")
    mixed = [((10, 10), (30, 12)), ((50, 40), (50, 40))]
    with pytest.raises(Refused, match="Point pair 2 has the same source and target"):
        next_request(stack.params, stack.current_kind(), IMG, None, mixed)
    request = DragRequest(image=IMG, points=tuple(mixed))
    with pytest.raises(EditError, match="point pair 2 has the same source and target"):
        request.validate()


def test_panel_refuses_what_validate_refuses(qtbot):
    params = EditParams()
    stack = PanelStack(params)
    qtbot.addWidget(stack)
    stack.select("drag")
    # A point outside a smaller image than the points were placed on.
    with pytest.raises(Refused, match="lies outside the 96x64 image"):
        next_request(params, stack.current_kind(), IMG, None, [((10, 10), (200, 10))])


# -- results must be finite -------------------------------------------------------------------

def test_a_nan_result_is_an_error_not_a_success(make_tiny_model, monkeypatch):
    model = make_tiny_model(0)

    def nan_noise(latent, *args, **kwargs):
        return torch.full_like(latent, math.nan)

    monkeypatch.setattr(model, "predict_noise", nan_noise)
    with pytest.raises(EditError, match="non-finite"):
        run_edit(model, ReconstructRequest(image=IMG, steps=3, max_side=None))


def test_nan_metrics_are_errors_but_an_exact_psnr_is_fine():
    result = EditResult(request=ReconstructRequest(image=IMG), image=IMG,
                        metrics={"psnr": INF, "latent_rmse": 0.0})
    check_finite(result)
    result.metrics["latent_rmse"] = NAN
    with pytest.raises(EditError, match="non-finite latent_rmse"):
        check_finite(result)


# -- the schema drives the panels and the CLI --------------------------------------------------

def test_panel_widget_ranges_are_the_schema_ranges(qtbot):
    stack = PanelStack()
    qtbot.addWidget(stack)
    for kind, cls, specs in ((k.name, k.request_type, panel_specs(k.request_type))
                             for k in all_kinds()):
        declared = {e.name: e for e in schema(cls) if e.info.panel}
        assert {s.name for s in specs} == set(declared)
        for spec in specs:
            info = declared[spec.name].info
            widget = stack.panels[kind].widgets[spec.name]
            if spec.kind in ("int", "float"):
                assert widget.maximum() == info.hi, (kind, spec.name)
                low = info.lo + (10 ** -info.decimals if info.lo_open else 0)
                assert widget.minimum() == pytest.approx(low), (kind, spec.name)
    assert stack.seed.maximum() == 2**32 - 1


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    register(sub)
    return dict(sub.choices)


def test_every_cli_edit_option_has_help_with_its_default():
    parsers = _subparsers()
    assert set(parsers) == set(request_types())
    for kind, parser in parsers.items():
        cls = request_types()[kind]
        for action in parser._actions:
            if not action.option_strings or action.option_strings[0] == "-h":
                continue
            assert action.help, (kind, action.option_strings)
            if action.dest in {e.name for e in schema(cls)}:
                assert "default" in action.help, (kind, action.option_strings)
        # Defaults are the request's own.
        args = parser.parse_args(["--image", "x.png", *(["--points", "1,1:2,2"]
                                                         if kind == "drag" else []),
                                  *(["--mask", "m.png"] if kind == "inpaint" else []),
                                  *(["--target-prompt", "t"] if kind == "diffedit" else [])])
        for entry in schema(cls):
            if entry.info.cli and entry.name not in ("method", "mask_mode", "target_prompt"):
                assert getattr(args, entry.name) == entry.default, (kind, entry.name)


@pytest.fixture()
def image_file(tmp_path):
    Image.fromarray(IMG).save(tmp_path / "in.png")
    return tmp_path / "in.png"


@pytest.mark.parametrize("argv, message", [
    (["drag", "--points", "1,1:40,20", "--target-scale", "nan"], "target_scale must be a finite"),
    (["drag", "--points", "1,1:40,20", "--cfg-max", "inf"], "cfg_max must be a finite"),
    (["drag", "--points", "1,1:40,20", "--lora-scale-min=-inf"], "lora_scale_min"),
    (["drag", "--points", "1,1:90,60", "--step-size", "1e-9"], "step_size must be at least"),
    (["drag", "--points", "1,1:40,20", "--seed", str(2**64 + 1)], "seed must be at most"),
    (["drag", "--points", "1,1:40,20;5,5:5,5"], "point pair 2 has the same source"),
    (["inpaint", "--mask", "{mask}", "--guidance", "nan"], "guidance must be a finite"),
    (["reconstruct", "--cfg", "inf"], "guidance must be a finite"),
    (["diffedit", "--target-prompt", "a dog", "--mask-samples", "100000"],
     "mask_samples must be at most 100"),
])
def test_cli_refuses_bad_numbers_in_one_line(image_file, capsys, argv, message):
    mask = image_file.parent / "mask.png"
    Image.fromarray(MASK).save(mask)
    argv = [a.replace("{mask}", str(mask)) for a in argv]
    code = main([*argv, "--image", str(image_file), "--model", "tiny"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- EditParams: the panels' state as request params -------------------------------------------

def test_edit_params_hold_checked_request_params():
    params = EditParams()
    seen: list[str] = []
    params.changed.connect(seen.append)
    params.set("drag", "t0", 0.5)
    assert params.value("drag", "t0") == 0.5 and seen == ["drag"]
    params.set("drag", "seed", 9)  # shared by every kind
    assert all(params.value(kind, "seed") == 9 for kind in params.kinds())
    for bad in ({"t0": NAN}, {"t0": "high"}, {"steps": 0}, {"bogus": 1}):
        with pytest.raises(ValueError):
            params.replace("drag", bad)
    assert params.value("drag", "t0") == 0.5  # nothing changed
    request = params.build_request("drag", IMG, None, [((1, 2), (30, 4))], max_side=None)
    assert isinstance(request, DragRequest) and request.t0 == 0.5 and request.seed == 9
    assert request.points == (((1, 2), (30, 4)),) and request.max_side is None
    request.validate()
    copy = EditParams()
    assert copy.from_json(params.to_json()) == []
    assert copy.to_json() == params.to_json()


def test_old_project_panel_values_are_migrated_and_bad_ones_ignored():
    old_ui = {"panels": {"drag": {"method": "ode", "t0": 0.45, "steps": "many", "lora": "auto",
                                  "gone_field": 3},
                         "inpaint": {"guidance": float("nan"), "negative_prompt": "blur"},
                         "sketch": {"x": 1}, "reconstruct": "not a dict"},
              "seed": 77, "max_side": 0, "method": "drag"}
    params = EditParams()
    problems = params.from_json(legacy_panel_json(old_ui))
    drag = params.get("drag")
    assert drag["method"] == "ode" and drag["t0"] == 0.45 and drag["lora"] == "auto"
    assert drag["steps"] == 200  # unreadable: the default stays
    assert params.value("inpaint", "negative_prompt") == "blur"
    assert params.value("inpaint", "guidance") == 7.5
    assert all(params.value(k, "seed") == 77 and params.value(k, "max_side") is None
               for k in params.kinds())
    assert len(problems) == 4  # steps, gone_field, guidance, sketch


def test_registry_covers_every_request_type():
    kinds = {entry.name: entry for entry in all_kinds()}
    assert set(kinds) == set(request_types())
    for kind, entry in kinds.items():
        assert entry.request_type is request_types()[kind]
        request = entry.request_type(image=IMG, **({"target_prompt": "x"}
                                                  if kind == "diffedit" else {}))
        assert entry.plan(request), kind


def test_projects_keep_every_result_field_but_the_transient_ones():
    from sdedit_desktop.edits.requests import RESULT_TRANSIENT_FIELDS
    from sdedit_desktop.project import schema as project_schema
    from sdedit_desktop.project.model import results_equal

    names = {f.name for f in dataclass_fields(EditResult)} - {"request"}
    assert names - set(RESULT_TRANSIENT_FIELDS) == (project_schema._RESULT_KEYS
                                                    | project_schema._RESULT_OPTIONAL_KEYS)
    a = EditResult(request=ReconstructRequest(image=IMG), image=IMG, metrics={"psnr": NAN},
                   unet_batch_sizes={2: 5})
    b = EditResult(request=ReconstructRequest(image=IMG), image=IMG.copy(),
                   metrics={"psnr": NAN})
    assert results_equal(a, b)  # NaN == NaN; batch sizes are not kept
    b.lora_id = "x"
    assert not results_equal(a, b)
