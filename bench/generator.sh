#!/usr/bin/env bash
# Benchmark: the highest rate `can-send --generate -g 0` sustains on vcan,
# beside can-utils' `cangen -g 0` on the same interface in the same run.
#
# usage: bench/generator.sh [--frames N] [--no-build]
#
# On a host without SocketCAN it builds can-send and runs itself in the CAN VM
# (tests/vm/run-in-vm.sh --hostroot, QEMU software emulation: absolute rates
# are low, compare the two). Each generator sends N frames (default 100000) of
# 8 bytes with increasing ids and data, three times, alternating; the best of
# each is printed with the ratio. The virtual and udp_multicast rates are in
# bench/logger.sh.
set -euo pipefail
frames=100000 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ "${CANKIT_IN_VM:-}" != 1 ] && [ ! -e /proc/net/can ]; then
  [ $build = 1 ] && (cd "$REPO" && cargo build --release --bin can-send)
  TARGET=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  shares=(--share "$REPO")
  case "$TARGET" in "$REPO"/*|"") ;; *) shares+=(--share "$TARGET") ;; esac
  exec "$REPO/tests/vm/run-in-vm.sh" --hostroot "${shares[@]}" --timeout 900 \
    --env "CARGO_TARGET_DIR=${TARGET:-$REPO/target}" \
    -- bash "$REPO/bench/generator.sh" --no-build --frames "$frames"
fi
SEND=${CARGO_TARGET_DIR:-$REPO/target}/release/can-send
ip link del vcan0 2>/dev/null || true
ip link add vcan0 type vcan && ip link set vcan0 up
trap 'ip link del vcan0 2>/dev/null || true' EXIT
rate() { # command...: frames/s over the wall time of the command
  local t0 t1
  t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
  awk -v n="$frames" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }'
}
best_c=0 best_s=0
for i in 1 2 3; do
  c=$(rate cangen vcan0 -g 0 -I i -L 8 -D i -n "$frames")
  s=$(rate "$SEND" -i socketcan -c vcan0 --generate -g 0 -I i -L 8 -D i --count "$frames")
  echo "run $i: cangen $c frames/s, can-send --generate $s frames/s"
  [ "$c" -gt "$best_c" ] && best_c=$c
  [ "$s" -gt "$best_s" ] && best_s=$s
done
echo "== best of 3 on vcan ($(nproc) CPU(s), kernel $(uname -r)): cangen $best_c frames/s, can-send --generate $best_s frames/s, ratio $(awk -v a="$best_s" -v b="$best_c" 'BEGIN { printf "%.2f", a / b }')"
