"""Frozen entry point of the command-line executable `sdedit` (same code as the `sdedit`
console script)."""

import sys

from sdedit_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
