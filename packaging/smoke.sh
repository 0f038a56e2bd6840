#!/usr/bin/env bash
# Smoke test of the frozen app: build the bundle, then run it the way a user's clean machine
# would (empty environment, fresh home, no source tree or venv in reach) and check that it works.
#
#   packaging/smoke.sh                      build into build/smoke, test, print the bundle size
#
# Environment: SDEDIT_PYTHON, SDEDIT_BUILD_VENV, SDEDIT_LOCK  as for build.sh (the build
#                                installs packaging/requirements.lock with --require-hashes)
#              SDEDIT_SMOKE_DIR  build + scratch folder (default build/smoke)
#              SDEDIT_SMOKE_NOBUILD=1  test an existing bundle in SDEDIT_SMOKE_DIR/dist
# Exits non-zero on the first failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMOKE=${SDEDIT_SMOKE_DIR:-$ROOT/build/smoke}
DIST=$SMOKE/dist
BUNDLE=$DIST/sdedit-desktop
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/sdedit-smoke.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "smoke.sh: FAILED: $*" >&2; exit 1; }

if [[ "${SDEDIT_SMOKE_NOBUILD:-0}" != 1 ]]; then
    step "build ($(date -u +%H:%M:%S) UTC)"
    start=$SECONDS
    SDEDIT_BUILD_DIR=$SMOKE/work "$ROOT/packaging/build.sh" "$DIST"
    echo "build took $((SECONDS - start)) s"
fi
[[ -x "$BUNDLE/sdedit-desktop" ]] || fail "no GUI executable at $BUNDLE/sdedit-desktop"
[[ -x "$BUNDLE/sdedit" ]] || fail "no CLI executable at $BUNDLE/sdedit"

# A clean machine: nothing from this shell's environment, a new home (so settings, caches and
# logs start empty), the network libraries told to stay offline, and a working directory away
# from the source tree so nothing can be picked up from it.
HOME_DIR=$SCRATCH/home
mkdir -p "$HOME_DIR"
clean() {
    (cd "$SCRATCH" && env -i HOME="$HOME_DIR" PATH=/usr/bin:/bin LANG=C.UTF-8 \
        QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 "$@")
}

step "GUI self-test (window + engine + tiny model + SDE-Drag)"
clean "$BUNDLE/sdedit-desktop" --self-test | tee "$SCRATCH/selftest.txt"
grep -q "^self-test OK (frozen)" "$SCRATCH/selftest.txt" || fail "no 'self-test OK (frozen)' line"
grep -q "keeps reference counts intact" "$SCRATCH/selftest.txt" \
    || fail "the frozen Qt binding was not checked for the reference-count defect"

step "normal start: the editor opens with the tiny model and keeps running"
# No self-test shortcut: settings, model loading and the event loop as a user starts them.
# Still running after 20 s (timeout's exit code 124) is the pass; any earlier exit is a crash.
set +e
clean timeout 20 "$BUNDLE/sdedit-desktop" --model tiny --device cpu
code=$?
set -e
[[ $code == 124 ]] || fail "sdedit-desktop exited with code $code within 20 s of starting"
echo "ok  still running after 20 s"

step "windowed start: stdout and stderr closed, output must go to the log file"
clean "$BUNDLE/sdedit-desktop" --self-test --steps 10 >&- 2>&- \
    || fail "the self-test failed with closed stdout/stderr (see the log under $HOME_DIR)"
LOG=$(find "$HOME_DIR" -name sdedit-desktop.log | head -n 1)
[[ -n "$LOG" ]] || fail "the runtime hook wrote no sdedit-desktop.log under the home folder"
grep -q "^self-test OK (frozen)" "$LOG" || fail "$LOG lacks the self-test's output"
echo "ok  output went to ${LOG#"$HOME_DIR"/}"

step "CLI: sdedit reconstruct with the tiny model"
cp "$ROOT/resources/samples/coffee.png" "$SCRATCH/in.png"
clean "$BUNDLE/sdedit" --version
clean "$BUNDLE/sdedit" reconstruct --image in.png --model tiny --device cpu --steps 20 \
    --max-side 128 --out out.png --json out.json --quiet
[[ -s "$SCRATCH/out.png" ]] || fail "sdedit reconstruct wrote no image"
grep -q '"psnr"' "$SCRATCH/out.json" || fail "sdedit reconstruct's JSON has no PSNR"
echo "ok  out.png $(stat -c %s "$SCRATCH/out.png") bytes, PSNR in out.json"

step "CLI: the same tiny weights from a diffusers folder"
# Written by the build venv's Python (save_pretrained), loaded by the frozen app: exercises the
# from_pretrained paths of diffusers and transformers inside the bundle. (A single-file
# checkpoint must have SD 1.5's shapes, and a random one of those is 4 GB: not checked here.)
PYTHON=${SDEDIT_BUILD_VENV:-$ROOT/build/venv}/bin/python
"$PYTHON" - "$SCRATCH" <<'PY'
import sys
from pathlib import Path

from sdedit_desktop.models.tiny import save_tiny_model

save_tiny_model(Path(sys.argv[1]) / "tiny-folder")
PY
psnr() { grep -o '"psnr": *[-0-9.e]*' "$1" | head -n 1; }
for source in tiny-folder; do
    clean "$BUNDLE/sdedit" reconstruct --image in.png --model "$source" --device cpu \
        --steps 20 --max-side 128 --out "out-$source.png" --json "out-$source.json" --quiet
    [[ "$(psnr "$SCRATCH/out-$source.json")" == "$(psnr "$SCRATCH/out.json")" ]] \
        || fail "$source gave $(psnr "$SCRATCH/out-$source.json"), the in-memory tiny" \
                "model $(psnr "$SCRATCH/out.json")"
    echo "ok  $source: same $(psnr "$SCRATCH/out.json") as the in-memory tiny model"
done

step "CLI: per-image LoRA training (peft) with the tiny model"
clean "$BUNDLE/sdedit" lora train --model tiny --device cpu --image in.png --prompt "a cup" \
    --steps 3 --max-side 128 --cache-dir lora-cache | tee "$SCRATCH/lora.txt"
find "$SCRATCH/lora-cache" -name '*.safetensors' | grep -q . || fail "no LoRA file was written"
echo "ok  LoRA trained and cached"

step "CLI: sdedit theory (matplotlib plot)"
clean "$BUNDLE/sdedit" theory --steps 50 --samples 2000 --out theory >/dev/null
find "$SCRATCH/theory" -name '*.png' | grep -q . || fail "sdedit theory wrote no plot"
echo "ok  $(find "$SCRATCH/theory" -type f | wc -l) files in theory/"

step "bundle size"
du -sh "$BUNDLE"
echo "bundle bytes: $(du -sb "$BUNDLE" | cut -f1) ($(find "$BUNDLE" -type f | wc -l) files)"
echo "largest parts:"
# sed reads to the end: `head` would close the pipe early and, under pipefail, sort's SIGPIPE
# would fail the script after every check had passed.
du -sh "$BUNDLE"/_internal/* 2>/dev/null | sort -rh | sed -n '1,8p'
echo
echo "smoke.sh: PASSED"
