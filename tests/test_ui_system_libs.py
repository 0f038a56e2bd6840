"""The start-up check for the system libraries Qt's X11 plugin needs (Linux)."""

from __future__ import annotations

from sdedit_desktop.ui import app, system_libs
from sdedit_desktop.ui.system_libs import XCB_LIBRARIES, uses_xcb, xcb_problem

ABSENT = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}


def _loads(soname: str) -> bool:
    return soname not in ABSENT


def test_names_each_missing_library_and_its_packages():
    message = xcb_problem("linux", {"DISPLAY": ":0"}, _loads)
    assert message is not None
    assert "libxcb-icccm.so.4" in message and "libxcb-keysyms.so.1" in message
    assert "libxcb-cursor.so.0" not in message  # present: not blamed, unlike Qt's own message
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in message
    assert "sudo dnf install xcb-util-keysyms xcb-util-wm" in message


def test_nothing_to_say_when_everything_loads_or_xcb_is_not_used():
    assert xcb_problem("linux", {}, lambda _s: True) is None
    assert xcb_problem("darwin", {}, _loads) is None
    assert xcb_problem("win32", {}, _loads) is None
    assert xcb_problem("linux", {"QT_QPA_PLATFORM": "offscreen"}, _loads) is None
    assert xcb_problem("linux", {"WAYLAND_DISPLAY": "wayland-0"}, _loads) is None


def test_which_platform_qt_picks():
    assert uses_xcb("linux", {})
    assert uses_xcb("linux", {"QT_QPA_PLATFORM": "xcb"})
    assert uses_xcb("linux", {"QT_QPA_PLATFORM": "xcb:option"})
    assert not uses_xcb("linux", {"QT_QPA_PLATFORM": "wayland;xcb"})
    assert uses_xcb("linux", {"WAYLAND_DISPLAY": "w", "QT_QPA_PLATFORM": "xcb"})


def test_every_library_has_a_debian_and_a_fedora_package():
    assert all(deb and fed for deb, fed in XCB_LIBRARIES.values())


def test_the_app_stops_with_the_message_instead_of_a_qt_abort(monkeypatch, capsys):
    monkeypatch.setattr(system_libs, "xcb_problem",
                        lambda: system_libs.missing_libraries_message(sorted(ABSENT)))
    assert app.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sdedit-desktop: Qt's X11 platform plugin needs")
    assert "libxcb-icccm4" in err
