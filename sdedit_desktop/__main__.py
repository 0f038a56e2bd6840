import sys

from sdedit_desktop.cli import main

sys.exit(main())
