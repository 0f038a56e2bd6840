"""What a download shows and keeps on a slow link: progress for every second of transfer, the
rate of the bytes that cross the network (never the kept ones), the time left, the hub client's
messages as notes, a stop that acts at the next chunk and keeps every byte that arrived, and
the check of kept bytes with progress. Against the local hub server throttled to 200 kB/s;
every bound is in bytes, none in seconds."""

from __future__ import annotations

import io
import itertools
import logging
import random
import sys
import threading

import pytest
from engine_helpers import FakeClock
from hub_helpers import (
    TEXT_ENCODER,
    UNET,
    bytes_reported_per_file,
    cdn_gets,
    partial_file,
    range_start,
    snapshot_files,
)
from hub_server import HubRepo

from sdedit_desktop.cli import main
from sdedit_desktop.models.hub import (
    DownloadCancelled,
    DownloadProgress,
    download_model,
    repo_folder,
)
from sdedit_desktop.models.hub_progress import (
    ProgressReporter,
    describe_progress,
    hub_log_notes,
    throttled,
)

SLOW = "tests/slow-sd"
RATE = 200_000  # bytes per second of the throttled link
READ = 64 * 1024  # the most one read of the client returns


def _weights(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


# A diffusers repo with small random weights: only the transfer matters here.
SLOW_FILES = {
    "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
    "unet/config.json": b'{"of": "unet"}',
    "vae/config.json": b'{"of": "vae"}',
    "text_encoder/config.json": b'{"of": "text encoder"}',
    UNET: _weights(900_000, 1),
    "vae/diffusion_pytorch_model.safetensors": _weights(50_000, 2),
    TEXT_ENCODER: _weights(50_000, 3),
}


@pytest.fixture
def slow_hub(hub_server):
    hub_server.add_repo(HubRepo(SLOW, dict(SLOW_FILES)))
    hub_server.faults.rate = RATE
    return hub_server


def _unet_bytes(seen: list[DownloadProgress]) -> int:
    return bytes_reported_per_file(seen).get(UNET, 0)


# -- the numbers ---------------------------------------------------------------------------------


def test_the_rate_counts_received_bytes_only_and_gives_the_time_left():
    clock, seen = FakeClock(), []
    reporter = ProgressReporter(seen.append, None, what="x", clock=clock)
    reporter.planned(total_bytes=10_000, files_total=2, needed_bytes=6_000)
    reporter.start_file("a")
    clock.now += 1.0
    reporter.arrived(500)
    reporter.finish_file(500)
    reporter.start_file("b")
    reporter.kept(3_500)  # bytes of an earlier run: done, not transfer
    for _ in range(2):
        clock.now += 1.0
        reporter.arrived(500)
    last = seen[-1]
    assert last.done_bytes == 5_000 and last.file == "b" and last.file_number == 2
    # 1,000 bytes in the two seconds since the first chunk: 500 B/s, 4,500 bytes to go.
    assert last.rate == pytest.approx(500.0) and last.eta_s == pytest.approx(9.0)
    reporter.dropped(1_000)  # a server that ignored Range sends them again: more to go
    assert seen[-1].done_bytes == 4_000 and seen[-1].eta_s == pytest.approx(11.0)


def test_no_rate_before_a_second_of_transfer_and_file_numbers_stay_in_range():
    clock, seen = FakeClock(), []
    reporter = ProgressReporter(seen.append, None, what="x", clock=clock)
    reporter.planned(total_bytes=300, files_total=2, needed_bytes=300)
    for name in ("a", "b"):
        reporter.start_file(name)
        clock.now += 0.2
        reporter.arrived(150)
        reporter.finish_file(150)
    reporter.finish()
    assert all(p.rate is None and p.eta_s is None for p in seen)
    assert [p.file_number for p in seen if p.file] == [1, 1, 1, 2, 2, 2]
    assert seen[-1].finished and seen[-1].files_done == 2 and seen[-1].file_number == 0
    assert "3/2" not in " ".join(describe_progress(p) for p in seen)


def test_throttled_passes_every_file_start_and_end_and_the_finish():
    clock, shown, every = FakeClock(), [], []
    display = throttled(shown.append, 1.0, clock)

    def both(p: DownloadProgress) -> None:
        every.append(p)
        display(p)

    reporter = ProgressReporter(both, None, what="x", clock=clock)
    reporter.planned(total_bytes=2_000, files_total=2, needed_bytes=2_000)
    for name in ("a", "b"):
        reporter.start_file(name)
        for _ in range(10):
            clock.now += 0.05
            reporter.arrived(100)
        reporter.finish_file(1_000)
    reporter.finish()
    assert len(shown) < len(every) / 3
    ends = [(p.file, p.done_bytes, p.files_done) for p in shown]
    assert ("a", 1_000, 1) in ends and ("b", 1_000, 1) in ends and ("b", 2_000, 2) in ends
    assert shown[-1].finished
    assert bytes_reported_per_file(shown) == {"a": 1_000, "b": 1_000}


def test_the_line_fits_its_width_and_keeps_the_time_left():
    p = DownloadProgress(UNET, 1_234_000_000, 4_270_000_000, 2, 12, file_number=3,
                         rate=205_000.0, eta_s=4 * 3600 + 9 * 60)
    line = describe_progress(p)
    assert line == (f"{UNET} (3/12) · 1.2 GB of 4.3 GB · 205.0 KB/s · 4 h 09 min left")
    short = describe_progress(p, width=70)
    assert len(short) == 70 and short.endswith("205.0 KB/s · 4 h 09 min left")
    assert short.startswith("unet/") and "…" in short
    checking = describe_progress(DownloadProgress(UNET, 0, 10, 0, 12, 3, 50, 200))
    assert checking.endswith("checking the 200 B kept from before: 25%")


def test_hub_client_warnings_from_the_download_become_notes_not_printed_lines():
    library = logging.getLogger("huggingface_hub")
    printed: list[str] = []

    class Printer(logging.Handler):  # stands for the library's own stderr handler
        def emit(self, record: logging.LogRecord) -> None:
            printed.append(record.getMessage())

    printer = Printer()
    library.addHandler(printer)
    seen: list[DownloadProgress] = []
    try:
        reporter = ProgressReporter(seen.append, None, what="x")
        with hub_log_notes(reporter):
            logging.getLogger("huggingface_hub.file_download").warning("Trying to resume…")
            other = threading.Thread(target=lambda: library.warning("another thread"))
            other.start()
            other.join()
            reporter.tick()
        library.warning("after the download")
    finally:
        library.removeHandler(printer)
    assert [p.note for p in seen if p.note] == ["Trying to resume…"]
    assert printed == ["another thread", "after the download"]


# -- against the throttled hub ----------------------------------------------------------------
@pytest.mark.slow
def test_a_slow_link_reports_every_second_of_transfer_with_rate_and_time_left(slow_hub):
    seen: list[DownloadProgress] = []
    snapshot = download_model(SLOW, progress=seen.append)
    assert snapshot_files(snapshot.path) == SLOW_FILES
    transferred = slow_hub.bytes_served()
    assert transferred == sum(len(b) for b in SLOW_FILES.values())
    # A report for every read (the old 10 MiB steps took 50 s here): never a second of this
    # link's bytes between two, so at least one report per second of transfer.
    steps = [b.done_bytes - a.done_bytes for a, b in itertools.pairwise(seen)]
    assert max(steps) <= READ < RATE and len(seen) >= transferred / RATE
    measured = [p for p in seen if p.rate is not None]
    assert measured and all(p.rate <= 2 * RATE and p.eta_s is not None for p in measured)
    numbers = [p.file_number for p in seen if p.file]
    assert numbers == sorted(numbers) and numbers[-1] == len(SLOW_FILES)
    assert seen[-1].finished and seen[-1].done_bytes == seen[-1].total_bytes == transferred


@pytest.mark.slow
def test_stop_keeps_every_byte_that_arrived_then_resume_checks_them_and_counts_no_rate(
        slow_hub, monkeypatch):
    from sdedit_desktop.models import hub_transfer

    seen: list[DownloadProgress] = []
    stop_at = 600_000
    with pytest.raises(DownloadCancelled):
        download_model(SLOW, progress=seen.append, cancel=lambda: _unet_bytes(seen) >= stop_at)
    kept = partial_file(slow_hub, UNET, SLOW).stat().st_size
    # Every byte reported is on disk, and the stop came at the chunk that crossed the mark.
    assert kept == _unet_bytes(seen) and stop_at <= kept < stop_at + READ
    assert SLOW_FILES[UNET].startswith(partial_file(slow_hub, UNET, SLOW).read_bytes())

    # The text encoder (before the unet) is fetched again: the kept bytes then come in the
    # middle of a measured transfer, where counting them would show.
    link = repo_folder(SLOW) / "snapshots" / slow_hub.repos[SLOW].commit / TEXT_ENCODER
    link.resolve().unlink()
    link.unlink()
    monkeypatch.setattr(hub_transfer, "HASH_BLOCK", 64 * 1024)
    slow_hub.log.clear()
    seen = []
    snapshot = download_model(SLOW, progress=seen.append)
    assert (snapshot.path / UNET).read_bytes() == SLOW_FILES[UNET]
    assert [range_start(r) for r in cdn_gets(slow_hub, UNET)] == [kept]
    assert [r.range for r in cdn_gets(slow_hub, TEXT_ENCODER)] == [None]
    # The kept bytes were hashed, with progress, before the rest was asked for.
    checks = [p for p in seen if p.check_total]
    assert {p.check_total for p in checks} == {kept} and checks[-1].check_done == kept
    assert [p.check_done for p in checks] == sorted(p.check_done for p in checks)
    assert len(checks) >= kept // (64 * 1024)
    first_new = next(i for i, p in enumerate(seen) if p.file == UNET and not p.check_total
                     and p.done_bytes > seen[i - 1].done_bytes and seen[i - 1].file == UNET
                     and not seen[i - 1].check_total)
    assert seen.index(checks[-1]) < first_new
    # The 600 kB kept count as done, never as transfer: no report shows much more than the
    # link's rate (counted, they would make the first measured second at least 800 kB/s).
    rates = [p.rate for p in seen if p.rate is not None]
    assert rates and max(rates) <= 2 * RATE
    assert bytes_reported_per_file(seen)[UNET] == len(SLOW_FILES[UNET])


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.slow
def test_the_terminal_line_shows_file_rate_and_time_left_and_notes_on_their_own_line(
        slow_hub, monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("COLUMNS", "80")
    slow_hub.faults.cut_after[UNET] = [300_000]
    assert main(["models", "download", SLOW]) == 0
    assert "downloaded tests/slow-sd at revision" in capsys.readouterr().out
    drawn = terminal.getvalue()
    lines = [part for chunk in drawn.split("\n") for part in chunk.split("\r") if part.strip()]
    notes = [line for line in lines if line.startswith("note:")]
    progress = [line for line in lines if not line.startswith("note:")]
    # The dropped connection is a note of its own, between progress lines, never inside one.
    assert len(notes) == 1 and "Connection lost" in notes[0] and "resuming at 300,000" in notes[0]
    assert "\rnote: Connection lost" in drawn
    assert all(len(line.rstrip()) <= 79 for line in progress)
    assert len(progress) >= slow_hub.bytes_served() / RATE
    assert any(" left" in line and "KB/s" in line and "(5/7)" in line for line in progress)
    assert not any(f"({n}/7)" in drawn for n in range(8, 15))
    assert drawn.endswith("\n")


def test_ctrl_c_keeps_the_bytes_says_so_and_the_next_run_resumes(hub_server, monkeypatch,
                                                                 capsys):
    from sdedit_desktop.cli import download_display

    hub_server.add_repo(HubRepo(SLOW, dict(SLOW_FILES)))
    seen: list[DownloadProgress] = []
    show = download_display.DownloadDisplay.__call__

    def interrupted(self, p: DownloadProgress) -> None:
        seen.append(p)
        if _unet_bytes(seen) >= 200_000:
            raise KeyboardInterrupt
        show(self, p)

    monkeypatch.setattr(download_display.DownloadDisplay, "__call__", interrupted)
    assert main(["models", "download", SLOW]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    kept = partial_file(hub_server, UNET, SLOW).stat().st_size
    assert kept == _unet_bytes(seen) >= 200_000
    assert err[-1].startswith("sdedit: download stopped; ") and "kept in the cache" in err[-1]
    monkeypatch.setattr(download_display.DownloadDisplay, "__call__", show)
    hub_server.log.clear()
    assert main(["models", "download", SLOW]) == 0
    assert [range_start(r) for r in cdn_gets(hub_server, UNET)] == [kept]


@pytest.mark.slow
def test_the_setup_dialog_shows_rate_and_time_left_and_its_stop_keeps_what_arrived(
        slow_hub, qtbot):
    from PySide6.QtCore import Qt

    from sdedit_desktop.ui.model_setup import ModelSetupDialog
    from sdedit_desktop.ui.settings import AppSettings

    dialog = ModelSetupDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.hub_id.setText(SLOW)
    texts: list[str] = []
    label = dialog.download_label
    clipped: list[str] = []  # texts the label had less room for than their lines need

    def shown(_p) -> None:
        texts.append(label.text())
        if label.height() < label.heightForWidth(label.width()):
            clipped.append(label.text())

    dialog.show()
    dialog.bridge.progress.connect(shown)
    qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
    partial = partial_file(slow_hub, UNET, SLOW)

    def past(n: int) -> None:
        assert partial.is_file() and partial.stat().st_size >= n

    qtbot.waitUntil(lambda: past(300_000), timeout=60_000)
    at_stop = partial.stat().st_size
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)

    def stopped() -> None:
        assert "stopped" in dialog.download_label.text(), dialog.download_label.text()

    qtbot.waitUntil(stopped, timeout=60_000)
    kept = partial.stat().st_size
    # The stop acts within a second of this link (in bytes), and keeps them.
    assert at_stop <= kept <= at_stop + RATE
    assert "kept in the cache" in dialog.download_label.text()
    assert any(f"{UNET} (5/7)\n" in t and "KB/s" in t and " left" in t for t in texts)
    assert clipped == []


def test_without_a_terminal_the_download_logs_notes_and_a_line_every_half_minute():
    from sdedit_desktop.cli.download_display import DownloadDisplay

    clock, terminal, log = FakeClock(), io.StringIO(), io.StringIO()
    display = DownloadDisplay(terminal=terminal, log=log, clock=clock)
    for second in range(65):
        clock.now += 1.0
        note = "Connection lost (ReadTimeout) while downloading x" if second == 40 else ""
        display(DownloadProgress(UNET, second * 1000, 100_000, 0, 3, 1, note=note))
    display(DownloadProgress("", 100_000, 100_000, 3, 3))
    display.close()
    lines = log.getvalue().splitlines()
    assert terminal.getvalue() == ""  # nothing drawn in place where nothing is redrawn
    assert lines[1] == "note: Connection lost (ReadTimeout) while downloading x"
    assert [line.split(" · ")[1] for line in lines if not line.startswith("note:")] \
        == ["29.0 KB of 100.0 KB", "59.0 KB of 100.0 KB"]
