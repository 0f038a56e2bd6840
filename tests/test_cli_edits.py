"""`sdedit drag|inpaint|diffedit|reconstruct` on the tiny model: outputs and every error path."""

import json

import numpy as np
import pytest
from PIL import Image

from sdedit_desktop.cli import main
from sdedit_desktop.edits.drag import drag_step_count


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((96, 128, 3)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    mask = np.zeros((96, 128), np.uint8)
    mask[20:70, 30:100] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray(mask[:50]).save(tmp_path / "small_mask.png")
    (tmp_path / "notimage.png").write_text("hello")
    data = (tmp_path / "in.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("dx", [3, 17, 40, 90])
def test_drag_writes_image_json_and_one_trajectory_image_per_drag_step(files, capsys, dx):
    traj = files / f"traj{dx}"
    code, _out, err = run(capsys, "drag", "--model", "tiny", "--image", str(files / "in.png"),
                         "--points", f"10,50:{10 + dx},50", "--steps", "10", "--out",
                         str(files / "out.png"), "--json", str(files / "out.json"),
                         "--save-trajectory", str(traj))
    assert code == 0, err
    expected = drag_step_count(((10 + dx) // 8 - 10 // 8), 2.0)
    names = sorted(p.name for p in traj.iterdir())
    assert names == [f"step_{i:03d}.png" for i in range(1, expected + 1)]
    record = json.loads((files / "out.json").read_text())
    assert record["request"]["points"] == [[[10, 50], [10 + dx, 50]]]
    assert record["request"]["model"]["kind"] == "tiny" and record["trajectory_len"] == expected
    out_img = Image.open(files / "out.png")
    assert out_img.size == (128, 96)
    assert json.loads(out_img.text["sdedit"])["kind"] == "drag"
    assert np.array_equal(np.asarray(Image.open(traj / names[-1])), np.asarray(out_img))


def test_reconstruct_json_has_the_errors(files, capsys):
    code, _out, err = run(capsys, "reconstruct", "--model", "tiny", "--image",
                         str(files / "in.png"), "--method", "cycle-sde", "--steps", "20",
                         "--cfg", "7.5", "--dtype", "float64", "--seed", "0", "--json",
                         str(files / "rec.json"), "--quiet")
    assert code == 0, err
    record = json.loads((files / "rec.json").read_text())  # strict JSON even with PSNR = inf
    assert record["latent_max_abs_err"] < 1e-9 and record["seconds"] > 0
    assert record["latent_rmse"] <= record["latent_max_abs_err"]
    assert record["psnr"] == "inf" or record["psnr"] > 60


@pytest.mark.parametrize("method", ["sde", "ode"])
def test_inpaint_and_diffedit_cli(files, capsys, method):
    code, _, err = run(capsys, "inpaint", "--model", "tiny", "--image", str(files / "in.png"),
                       "--mask", str(files / "mask.png"), "--steps", "5", "--method", method,
                       "--out", str(files / "inp.png"), "--quiet")
    assert code == 0, err
    code, _, err = run(capsys, "diffedit", "--model", "tiny", "--image", str(files / "in.png"),
                       "--source-prompt", "a cat", "--target-prompt", "a dog", "--steps", "5",
                       "--method", method, "--out", str(files / "de.png"), "--save-mask",
                       str(files / "de_mask.png"), "--quiet")
    assert code == 0, err
    assert Image.open(files / "de_mask.png").size == (128, 96)


@pytest.mark.parametrize("argv, message", [
    (["drag", "--image", "{d}/missing.png", "--points", "1,1:5,5"], "no such file"),
    (["drag", "--image", "{d}/notimage.png", "--points", "1,1:5,5"], "not an image file"),
    (["drag", "--image", "{d}/truncated.png", "--points", "1,1:5,5"], "damaged or truncated"),
    (["drag", "--image", "{d}", "--points", "1,1:5,5"], "is a folder"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5"], "not of the form"),
    (["drag", "--image", "{d}/in.png", "--points", "a,b:c,d"], "not of the form"),
    (["drag", "--image", "{d}/in.png", "--points", ";"], "no point pairs"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:500,5"], "outside the 128x96 image"),
    (["drag", "--image", "{d}/in.png", "--points", "4,4:4,4"], "same source and target"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5,5", "--mask", "{d}/small_mask.png"],
     "must be the same size"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5,5", "--method", "euler"],
     "invalid choice"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5,5", "--steps", "0"], "at least 1"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5,5", "--t0", "1.5"], "t0"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5,5", "--out", "{d}/no/dir/x.png"],
     "does not exist"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5,5", "--out", "{d}/x.gif"],
     "must end in .png"),
    (["inpaint", "--image", "{d}/in.png"], "--mask"),
    (["inpaint", "--image", "{d}/in.png", "--mask", "{d}/mask.png", "--order", "3"],
     "invalid choice"),
    (["diffedit", "--image", "{d}/in.png", "--target-prompt", "x", "--mask-mode", "user"],
     "needs --mask"),
    (["reconstruct", "--image", "{d}/in.png", "--method", "magic"], "invalid choice"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5,5", "--model", "{d}/nothing"],
     "No such model file or folder"),
    (["drag", "--image", "{d}/in.png", "--points", "1,1:5,5", "--lora", "{d}/none.safetensors"],
     "LoRA file not found"),
])
def test_cli_errors_are_one_clear_line_with_exit_code_2(files, capsys, argv, message):
    argv = [a.replace("{d}", str(files)) for a in argv]
    if "--model" not in argv:
        argv += ["--model", "tiny"]
    code, out, err = run(capsys, *argv, "--steps" if "--steps" not in argv else "--quiet",
                         *(["5"] if "--steps" not in argv else []))
    assert code == 2
    assert message in err, err
    assert err.startswith("sdedit: error: ") and err.count("\n") == 1
    assert "Traceback" not in err + out


def test_an_edit_without_out_writes_next_to_its_input_and_says_where(files, capsys):
    argv = ("reconstruct", "--model", "tiny", "--image", str(files / "in.png"), "--steps", "2",
            "--quiet")
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    first = files / "in.sdereconstruct.png"
    assert first.is_file() and str(first) in out
    assert Image.open(first).size == (128, 96)
    code, out, err = run(capsys, *argv)  # never over an earlier result
    assert code == 0, err
    assert (files / "in.sdereconstruct-2.png").is_file() and first.is_file()


@pytest.mark.parametrize("points", [["--points", "-5,10:20,20"], ["--points=-5,10:20,20"],
                                    ["--points", "5,10:20,-20"]])
def test_negative_points_parse_and_are_a_clear_range_error(files, capsys, points):
    code, _out, err = run(capsys, "drag", "--model", "tiny", "--image", str(files / "in.png"),
                         *points, "--quiet")
    assert code == 2
    assert "expected one argument" not in err
    assert "out of range" in err and "0,0 at the top left" in err, err
    assert err.count("\n") == 1


def test_every_edit_option_has_help_with_its_default(capsys):
    import argparse

    from sdedit_desktop.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for kind in ("drag", "inpaint", "diffedit", "reconstruct"):
        for action in sub.choices[kind]._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, (kind, action.option_strings)
            valued = action.nargs != 0  # not a flag such as --quiet
            if valued and not action.required and action.dest not in ("json_out",
                                                                      "save_trajectory",
                                                                      "save_mask", "mask"):
                assert "default" in action.help, (kind, action.option_strings, action.help)
    with pytest.raises(SystemExit):
        main(["drag", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in (("--t0", "0.6"), ("--steps", "200"), ("--prompt", "empty"),
                            ("--method", "sde"), ("--out", "next to the input")):
        after = text.split(f"{option} ", 2)[-1]
        assert f"default: {default}" in after.split(" --")[0], (option, after[:200])


def test_help_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom sdedit_desktop.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "try:\n    main(['drag', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH', 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "TORCH False" in done.stdout


def test_an_unwritable_output_folder_is_refused_before_computing(files, capsys, monkeypatch):
    import errno
    import os

    from sdedit_desktop.cli import edit_commands

    real_open = os.open

    def read_only_folder(path, flags, *args):  # as the OS answers (root included) when it is
        if flags & os.O_CREAT and os.path.dirname(os.fspath(path)) == str(files):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only_folder)
    loaded = []
    monkeypatch.setattr(edit_commands, "load_cli_model", lambda args: loaded.append(args))
    code, _out, err = run(capsys, "reconstruct", "--model", "tiny", "--image",
                          str(files / "in.png"), "--steps", "2", "--quiet")
    assert code == 2 and "cannot create a file in" in err and "Permission denied" in err, err
    assert err.count("\n") == 1
    assert loaded == []  # refused before the model loads, let alone computes
