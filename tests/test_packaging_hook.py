"""The windowed-build runtime hook: missing stdout/stderr go to a log file, never crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOOK = ROOT / "packaging" / "rthook_stdio.py"
# What a windowed app's libraries do: print, write to stderr, warn, log.
PROGRAM = f"""
import runpy, sys, warnings, logging
runpy.run_path({str(HOOK)!r})
print("printed to stdout")
sys.stderr.write("written to stderr\\n")
warnings.warn("a library warning")
logging.getLogger("lib").error("a logged error")
sys.exit(7)
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="closes fds before exec")


def _run(tmp_path: Path, close_streams: bool, state_home: Path | None = None):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home"),
           "XDG_STATE_HOME": str(state_home or tmp_path / "state"),
           "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)

    def close() -> None:  # in the child, before exec: Python then starts with stdout=None
        os.close(1)
        os.close(2)

    return subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=not
                          close_streams, text=True, timeout=60,
                          preexec_fn=close if close_streams else None)


def _logs(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.rglob("sdedit-desktop.log*"))


def test_missing_streams_go_to_the_user_log_file(tmp_path):
    result = _run(tmp_path, close_streams=True)
    assert result.returncode == 7  # the program ran to its end instead of crashing
    logs = _logs(tmp_path)
    assert [p.name for p in logs] == ["sdedit-desktop.log"]
    assert logs[0].parent == tmp_path / "state" / "sdedit-desktop" / "log"
    text = logs[0].read_text()
    for line in ("printed to stdout", "written to stderr", "a library warning",
                 "a logged error"):
        assert line in text


def test_a_second_run_keeps_the_previous_log(tmp_path):
    _run(tmp_path, close_streams=True)
    log = _logs(tmp_path)[0]
    log.write_text("first run\n")
    _run(tmp_path, close_streams=True)
    assert (log.parent / "sdedit-desktop.log.1").read_text() == "first run\n"
    assert "printed to stdout" in log.read_text()


def test_existing_streams_are_left_alone(tmp_path):
    result = _run(tmp_path, close_streams=False)
    assert result.returncode == 7
    assert "printed to stdout" in result.stdout
    assert "written to stderr" in result.stderr
    assert _logs(tmp_path) == []


def test_unwritable_log_folder_falls_back_to_the_null_device(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder would go")
    result = _run(tmp_path, close_streams=True, state_home=blocker)
    assert result.returncode == 7
    assert _logs(tmp_path) == []


def test_a_link_or_fifo_planted_at_the_log_is_never_written_through(tmp_path):
    log_dir = tmp_path / "state" / "sdedit-desktop" / "log"
    log_dir.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (log_dir / "sdedit-desktop.log").symlink_to(victim)
    assert _run(tmp_path, close_streams=True).returncode == 7
    assert victim.read_text() == "precious"
    log = log_dir / "sdedit-desktop.log"
    assert log.is_file() and not log.is_symlink() and "printed to stdout" in log.read_text()
    log.unlink()
    os.mkfifo(log)  # would block the start if opened for writing
    assert _run(tmp_path, close_streams=True).returncode == 7
    assert "printed to stdout" in log.read_text()
