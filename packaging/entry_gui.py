"""Frozen entry point of the GUI executable `sdedit-desktop`.

`--self-test` runs the packaging self-test (window + engine + tiny model + one SDE-Drag) before
anything else starts; every other argument goes to the normal GUI entry point."""

import sys


def _main() -> int:
    argv = sys.argv[1:]
    if "--self-test" in argv:
        from sdedit_desktop.selftest import run_self_test_cli

        return run_self_test_cli([a for a in argv if a != "--self-test"])
    from sdedit_desktop.ui.app import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(_main())
