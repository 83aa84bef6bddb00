#!/usr/bin/env bash
# Benchmark: frames/s through cannelloni (UDP) without loss, ours against the
# reference cannelloni 2.1.2 on the same path, in the CAN VM.
#
# usage: bench/cannelloni.sh [--frames N] [--rates "R1 R2 ..."] [--no-build]
#
# On a host without SocketCAN the script builds the release binaries and the
# reference (tests/peers/cannelloni.sh) and runs itself in the CAN VM
# (tests/vm/run-in-vm.sh --hostroot), where it sends N 8-byte frames (default
# 5000) at each rate R (frames/s, default 1000 2000 5000 10000 20000 50000) and
# counts what arrives, on three paths over loopback UDP:
#
#   ref -> ref   cangen vcan1 -> cannelloni B1 -> UDP -> cannelloni A -> vcan0 -> candump
#   ref -> ours  cangen vcan2 -> cannelloni B2 -> UDP -> can-logger -i cannelloni
#   ours -> ref  can-send --generate -i cannelloni -> UDP -> cannelloni A -> vcan0 -> candump
#
# Every cannelloni runs with -t 1000 (1 ms buffer timeout). It prints, per path
# and rate, frames received and the rate achieved (received / time from the
# first send to the last frame's receive timestamp), then the highest rate each
# path sustained without loss. python-can 4.6.1 has no cannelloni interface; the
# can-cannelloni 0.1.0 plugin is a TCP client for classic CAN only, so it has no
# place on this UDP path (tests/cannelloni.rs tests it against our TCP server).
#
# Environment: CANKIT_VM_DIR (see tests/vm/README.md), CANKIT_PEERS_DIR
# (where tests/peers/cannelloni.sh builds, default /tmp/cankit-peers).
set -euo pipefail

frames=5000 rates="1000 2000 5000 10000 20000 50000" build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
REPO=$(cd "$(dirname "$0")/.." && pwd)

# ---- host side: build, then run in the VM -------------------------------------------
if [ "${CANKIT_IN_VM:-}" != 1 ] && [ ! -e /proc/net/can ]; then
  if [ $build = 1 ]; then
    (cd "$REPO" && cargo build --release --bin can-logger --bin can-send)
  fi
  CNL=$("$REPO/tests/peers/cannelloni.sh")
  TARGET=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  shares=(--share "$REPO" --share "$(dirname "$(dirname "$(dirname "$CNL")")")")
  case "$TARGET" in "$REPO"/*|"") ;; *) shares+=(--share "$TARGET") ;; esac
  exec "$REPO/tests/vm/run-in-vm.sh" --hostroot "${shares[@]}" --timeout 900 \
    --env "CANNELLONI=$CNL" --env "CARGO_TARGET_DIR=${TARGET:-$REPO/target}" \
    -- bash "$REPO/bench/cannelloni.sh" --no-build --frames "$frames" --rates "$rates"
fi

# ---- in the VM (or on a host with SocketCAN, as root) -----------------------------------
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release
CNL=${CANNELLONI:?set CANNELLONI to the reference binary}
for b in "$BIN/can-logger" "$BIN/can-send" "$CNL"; do
  [ -x "$b" ] || { echo "bench: $b missing" >&2; exit 1; }
done
ip link set lo up
for i in vcan0 vcan1 vcan2; do ip link add $i type vcan 2>/dev/null || true; ip link set $i up; done
W=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
now() { date +%s.%N; }
"$CNL" -I vcan0 -l 20000 -R 127.0.0.1 -r 20001 -t 1000 >"$W/a.log" 2>&1 & pids+=($!)
"$CNL" -I vcan1 -l 20001 -R 127.0.0.1 -r 20000 -t 1000 >"$W/b1.log" 2>&1 & pids+=($!)
"$CNL" -I vcan2 -l 20004 -R 127.0.0.1 -r 20002 -t 1000 >"$W/b2.log" 2>&1 & pids+=($!)
sleep 1

# Waits until FILE has N lines or stops growing for 2 s, stops the receiver
# PID (SIGINT: it flushes), then prints the count and the rate (count / (last
# receive time - START); both candump -L and can-logger print candump log lines).
finish() { # start-time file receiver-pid
  local t0=$1 file=$2 pid=$3 last=-1 same=0 c t1
  while :; do
    c=$(wc -l < "$file")
    [ "$c" -ge "$frames" ] && break
    if [ "$c" = "$last" ]; then same=$((same + 1)); [ $same -ge 20 ] && break
    else same=0; last=$c; fi
    sleep 0.1
  done
  kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  c=$(grep -c '^(' "$file" || true)
  t1=$(tail -n 1 "$file" | sed -n 's/^(\([0-9.]*\)).*/\1/p')
  echo "$c $(awk -v c="$c" -v a="$t0" -v b="${t1:-0}" 'BEGIN { d = b - a; printf "%.0f", (d > 0 ? c / d : 0) }')"
}
gap_ms() { awk -v r="$1" 'BEGIN { printf "%.4f", 1000 / r }'; }

trial() { # path rate -> "received rate"
  local path=$1 r=$2 t0 pid f=$W/out.txt
  : > "$f"
  case "$path" in
    "ref -> ref")
      candump -L vcan0 > "$f" & pid=$!; sleep 0.3
      t0=$(now); cangen vcan1 -g "$(gap_ms "$r")" -p 10 -n "$frames" -I i -L 8 -D i ;;
    "ref -> ours")
      "$BIN/can-logger" -q -i cannelloni -c 127.0.0.1:20004 --bus-opt local=127.0.0.1:20002 > "$f" 2>"$W/l.err" & pid=$!; sleep 0.5
      t0=$(now); cangen vcan2 -g "$(gap_ms "$r")" -p 10 -n "$frames" -I i -L 8 -D i ;;
    "ours -> ref")
      candump -L vcan0 > "$f" & pid=$!; sleep 0.3
      t0=$(now); "$BIN/can-send" -q -i cannelloni -c 127.0.0.1:20000 --bus-opt local=127.0.0.1:20003 \
        --generate -I i -L 8 -D i --rate "$r" -n "$frames" ;;
  esac
  finish "$t0" "$f" "$pid"
}

paths=("ref -> ref" "ref -> ours" "ours -> ref")
declare -A best
echo
echo "cannelloni over loopback UDP: $frames frames of 8 bytes per trial (CAN VM, $(nproc) vCPU, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-12s %10s %10s %12s\n' path "asked/s" received "got/s"
for r in $rates; do
  for p in "${paths[@]}"; do
    res=$(trial "$p" "$r"); c=${res% *}; got=${res#* }
    printf '%-12s %10s %10s %12s\n' "$p" "$r" "$c" "$got"
    [ "$c" -ge "$frames" ] && [ "${got:-0}" -gt "${best[$p]:-0}" ] && best[$p]=$got
  done
done
echo
echo "highest rate without loss (frames/s):"
base=${best["ref -> ref"]:-0}
for p in "${paths[@]}"; do
  printf '  %-12s %10s  %s\n' "$p" "${best[$p]:-none}" \
    "$(awk -v a="${best[$p]:-0}" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx ref -> ref", a / b }')"
done
echo "python-can: no figure. python-can 4.6.1 has no cannelloni interface, and the can-cannelloni 0.1.0 plugin is a TCP client for classic CAN only (this path is UDP)."
