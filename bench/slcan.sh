#!/usr/bin/env bash
# Benchmark: frames/s through can-utils' slcanpty, cankit's slcan backend
# (can-logger, can-send) beside python-can 4.6.1's slcan interface on the same
# path (bench/slcan.py says how). Runs in the CAN VM (tests/vm/run-in-vm.sh
# --hostroot, the repository and python-can's venv shared).
#
# usage: bench/slcan.sh [--frames N] [--no-build]
# Environment: CANKIT_PYTHON (python with python-can and pyserial, default
# /tmp/cankit-venv/bin/python; tests/setup.sh installs both).
set -euo pipefail
frames=2000 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${CANKIT_PYTHON:-/tmp/cankit-venv/bin/python}
"$PY" -c 'import can, serial' || { echo "bench: python-can with pyserial needed at $PY (tests/setup.sh)" >&2; exit 1; }
[ $build = 1 ] && (cd "$REPO" && cargo build --release --bin can-logger --bin can-send)
TARGET=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
TARGET=${TARGET:-$REPO/target}
shares=(--share "$REPO")
case "$TARGET" in "$REPO"/*) ;; *) shares+=(--share "$TARGET") ;; esac
venv=$(dirname "$(dirname "$PY")")
case "$venv" in /tmp/*) shares+=(--share "$venv") ;; esac
exec "$REPO/tests/vm/run-in-vm.sh" --hostroot "${shares[@]}" --timeout 1200 -- \
  "$PY" "$REPO/bench/slcan.py" "$frames" "$TARGET/release"
