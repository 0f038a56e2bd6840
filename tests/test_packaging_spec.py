"""The PyInstaller spec, entry scripts, icon conversion and build script, without a build.

The spec is executed with recording stand-ins for PyInstaller's build classes (the real build
takes minutes; packaging/smoke.sh does it and runs the frozen self-test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "sdedit_desktop.spec"


class _Target:
    """Records what the spec passed; stands in for EXE, PYZ, COLLECT, BUNDLE."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _Analysis(_Target):
    def __init__(self, scripts, **kwargs):
        super().__init__(scripts, **kwargs)
        self.pure = [("sdedit_desktop", "x.py", "PYMODULE")]
        self.scripts = [("pyi_rth_pyside6", "rth.py", "PYSOURCE"),
                        ("entry_gui", scripts[0], "PYSOURCE")]
        self.binaries = [(name, "/src/" + name, "BINARY") for name in (
            "torch/lib/libtorch_cpu.so", "torch/lib/libtorchbind_test.so", "torch/test/test_api",
            "torch/bin/protoc", "torch/bin/torch_shm_manager", "libcudart.so",
            "PySide6/Qt/plugins/platforms/libqoffscreen.so")]
        self.datas = [(dest, src, "DATA") for src, dest in kwargs["datas"]] + [
            ("PySide6/Qt/translations/qtbase_de.qm", "/src/x", "DATA"),
            ("PySide6/Qt/translations/qtwebengine_de.qm", "/src/x", "DATA")]


@pytest.fixture(scope="module")
def spec(tmp_path_factory, qapp):  # qapp: the spec renders the icon with Qt
    import PyInstaller.utils.hooks as hooks

    requested: list[str] = []

    def collect_submodules(package, *args, **kwargs):
        requested.append(package)
        return [package]

    saved_path, saved_collect = list(sys.path), hooks.collect_submodules
    hooks.collect_submodules = collect_submodules
    namespace = {"SPECPATH": str(PACKAGING), "workpath": str(tmp_path_factory.mktemp("work")),
                 "Analysis": _Analysis, "PYZ": _Target, "EXE": _Target, "COLLECT": _Target,
                 "BUNDLE": _Target, "__name__": "__main__"}
    try:
        exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    finally:
        hooks.collect_submodules = saved_collect
        sys.path[:] = saved_path
    namespace["requested_submodules"] = requested
    return namespace


def test_spec_bundles_resources_and_model_configs(spec):
    datas = spec["gui"].kwargs["datas"]
    by_dest = {dest: Path(src) for src, dest in datas}
    assert by_dest["resources"] == ROOT / "resources"
    assert by_dest["models"] == ROOT / "models"
    assert (by_dest["resources"] / "samples" / "chelsea.png").is_file()
    assert (by_dest["resources"] / "icons" / "app.svg").is_file()
    assert (by_dest["models"] / "sd15" / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz").is_file()
    # Metadata read at run time by version checks.
    metadata = {Path(src).name.split("-")[0].lower() for src, _ in datas if "info" in src}
    assert {"torch", "diffusers", "transformers", "accelerate", "peft", "safetensors"} <= metadata


def test_spec_names_the_lazily_imported_modules(spec):
    assert {"sdedit_desktop", "diffusers.models", "diffusers.loaders",
            "transformers.models.clip"} <= set(spec["requested_submodules"])
    assert "sdedit_desktop" in spec["gui"].kwargs["hiddenimports"]


def test_spec_excludes_unused_packages_but_keeps_clip(spec):
    excludes = set(spec["gui"].kwargs["excludes"])
    assert {"tkinter", "pytest", "transformers.models.bert", "PySide6.QtQml"} <= excludes
    assert not {"transformers.models.clip", "transformers.models.auto", "matplotlib"} & excludes


def test_spec_trims_test_binaries_and_foreign_cuda(spec):
    binaries = {dest for dest, _, _ in spec["gui"].binaries}
    assert binaries == {"torch/lib/libtorch_cpu.so", "torch/bin/torch_shm_manager",
                        "PySide6/Qt/plugins/platforms/libqoffscreen.so"}
    datas = {dest for dest, _, _ in spec["gui"].datas}
    assert "PySide6/Qt/translations/qtbase_de.qm" in datas
    assert "PySide6/Qt/translations/qtwebengine_de.qm" not in datas


def test_spec_builds_a_windowed_gui_and_a_console_cli_sharing_one_folder(spec):
    gui, cli, coll = spec["gui_exe"], spec["cli_exe"], spec["coll"]
    assert gui.kwargs["name"] == "sdedit-desktop" and gui.kwargs["console"] is False
    assert cli.kwargs["name"] == "sdedit" and cli.kwargs["console"] is True
    assert gui.args[0] is cli.args[0]  # one PYZ
    assert coll.args[:2] == (gui, cli) and coll.kwargs["name"] == "sdedit-desktop"
    assert str(PACKAGING / "rthook_stdio.py") in spec["gui"].kwargs["runtime_hooks"]
    # The CLI runs the GUI's run-time hooks, then its own script.
    assert [name for name, _, _ in cli.args[1]] == ["pyi_rth_pyside6", "entry_cli"]
    assert Path(cli.args[1][-1][1]) == PACKAGING / "entry_cli.py"


def test_spec_converts_the_svg_icon_per_platform(spec):
    from PIL import Image

    icons = spec["icons"]
    with Image.open(icons[".ico"]) as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(icons[".icns"]) as icns:
        assert icns.size == (1024, 1024)
    with Image.open(icons[".png"]) as png:
        assert png.size == (256, 256)
        rgba = png.convert("RGBA")
        assert rgba.getpixel((0, 0))[3] == 0  # transparent rounded corner
        assert rgba.getpixel((128, 128))[3] == 255  # drawn body
    assert spec["gui_exe"].kwargs["icon"] in (str(icons[".ico"]), str(icons[".icns"]))


def _python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_gui_entry_dispatches_self_test_and_normal_start():
    from sdedit_desktop import __version__

    help_text = _python(str(PACKAGING / "entry_gui.py"), "--self-test", "--help")
    assert help_text.returncode == 0
    assert "sdedit-desktop --self-test" in help_text.stdout and "--max-side" in help_text.stdout
    version = _python(str(PACKAGING / "entry_gui.py"), "--version")
    assert version.stdout.strip() == f"sdedit-desktop {__version__}"
    cli = _python(str(PACKAGING / "entry_cli.py"), "--version")
    assert __version__ in cli.stdout


def test_build_script_explains_a_missing_python(tmp_path):
    result = subprocess.run(["bash", str(PACKAGING / "build.sh"), str(tmp_path / "dist")],
                            env={"PATH": "/usr/bin:/bin", "SDEDIT_PYTHON": "/nonexistent/python"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "no Python at /nonexistent/python" in result.stderr
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize("script", ["build.sh", "smoke.sh"])
def test_shell_scripts_parse(script):
    result = subprocess.run(["bash", "-n", str(PACKAGING / script)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
