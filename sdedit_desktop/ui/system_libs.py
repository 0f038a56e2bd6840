"""Before Qt starts on Linux/X11: are the system libraries its xcb platform plugin needs there?

Without them Qt aborts with "Could not load the Qt platform plugin 'xcb'" and names the wrong
library (libxcb-cursor0 even when that one is installed). This check names every missing one and
the packages that bring them, for Debian/Ubuntu and Fedora.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# soname -> (Debian/Ubuntu package, Fedora package): what Qt 6's xcb plugin and QtGui load.
XCB_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(platform: str = sys.platform, env: Mapping[str, str] = os.environ) -> bool:
    """Will Qt pick its X11 (xcb) plugin? Only on Linux, unless another platform is asked for
    or a Wayland session is there (Qt 6 prefers Wayland then)."""
    if not platform.startswith("linux"):
        return False
    wanted = env.get("QT_QPA_PLATFORM", "")
    if wanted:
        return wanted.split(";")[0].split(":")[0] == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def missing_xcb_libraries(loads: Callable[[str], bool] = _loads) -> list[str]:
    return [soname for soname in XCB_LIBRARIES if not loads(soname)]


def missing_libraries_message(missing: list[str]) -> str:
    debian = sorted({XCB_LIBRARIES[s][0] for s in missing})
    fedora = sorted({XCB_LIBRARIES[s][1] for s in missing})
    return (f"Qt's X11 platform plugin needs system libraries that are missing: "
            f"{', '.join(missing)}.\nInstall them, then start sdedit-desktop again:\n"
            f"  Debian/Ubuntu: sudo apt install {' '.join(debian)}\n"
            f"  Fedora:        sudo dnf install {' '.join(fedora)}")


def xcb_problem(platform: str = sys.platform, env: Mapping[str, str] = os.environ,
                loads: Callable[[str], bool] = _loads) -> str | None:
    """A message naming the missing libraries and packages, or None when Qt can start."""
    if not uses_xcb(platform, env):
        return None
    missing = missing_xcb_libraries(loads)
    return missing_libraries_message(missing) if missing else None
