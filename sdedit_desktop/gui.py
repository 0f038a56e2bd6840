"""`sdedit-desktop`, the GUI executable's entry point (pip gui-script and frozen app alike).

`--self-test` and its options go to `sdedit_desktop.selftest` before any window starts (it
drives the real window itself); everything else to the editor, `sdedit_desktop.ui.app.main`.
Dispatching here keeps the UI package free of the self-test, which sits above it."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in argv:
        from sdedit_desktop.selftest import run_self_test_cli

        return run_self_test_cli([a for a in argv if a != "--self-test"])
    from sdedit_desktop.ui.app import main as editor_main

    return editor_main(argv)


if __name__ == "__main__":
    sys.exit(main())
