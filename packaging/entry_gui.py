"""Frozen entry point of the GUI executable `sdedit-desktop`: the same `sdedit_desktop.gui.main`
as the `sdedit-desktop` gui-script of a pip install (it dispatches `--self-test` to
`sdedit_desktop.selftest` before any window starts)."""

import sys

from sdedit_desktop.gui import main

if __name__ == "__main__":
    sys.exit(main())
