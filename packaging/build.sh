#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle on Linux (macOS works the same way).
#
#   packaging/build.sh [DIST_DIR]          default DIST_DIR: ./dist
#
# Result: DIST_DIR/sdedit-desktop/ with the executables sdedit-desktop (GUI) and sdedit (CLI),
# plus DIST_DIR/sdedit-desktop.app on macOS.
# Environment: SDEDIT_PYTHON  the Python whose packages are bundled (default .venv/bin/python)
#              SDEDIT_BUILD_DIR  PyInstaller's work folder (default build/pyinstaller)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${SDEDIT_PYTHON:-$ROOT/.venv/bin/python}
DIST=${1:-$ROOT/dist}
WORK=${SDEDIT_BUILD_DIR:-$ROOT/build/pyinstaller}

if [[ ! -x "$PYTHON" ]]; then
    echo "build.sh: no Python at $PYTHON; create the venv (python3 -m venv .venv &&" \
         ".venv/bin/pip install torch==2.13.0 -e '.[dev]') or set SDEDIT_PYTHON" >&2
    exit 2
fi
if ! "$PYTHON" -c "import PyInstaller, sdedit_desktop" 2>/dev/null; then
    echo "build.sh: $PYTHON lacks PyInstaller or sdedit_desktop; install with" \
         "pip install -e '.[dev]'" >&2
    exit 2
fi
# Never freeze a Qt binding that corrupts reference counts (PySide6 6.12.x on Python 3.11):
# the bundle would abort mid-edit on every user's machine (sdedit_desktop/ui/qt_health.py).
if ! "$PYTHON" -c "import sys; from sdedit_desktop.ui.qt_health import binding_versions, \
qt_binding_problem as p; m = p(); print(f'build.sh: {m}' if m else f'build.sh: bundling \
{binding_versions()}', file=sys.stderr if m else sys.stdout); sys.exit(1 if m else 0)"; then
    exit 2
fi
# Say which torch goes in: a CUDA wheel makes the bundle several GB larger.
"$PYTHON" -c "import torch; print(f'build.sh: bundling torch {torch.__version__} '
              f'(CUDA {torch.version.cuda or \"none\"})')"

mkdir -p "$DIST" "$WORK"
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/sdedit_desktop.spec"
echo "build.sh: bundle in $DIST/sdedit-desktop"
