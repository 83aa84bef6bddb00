#!/usr/bin/env bash
# Benchmark: frames/s through cannelloni (UDP) without loss, ours against the
# reference cannelloni 2.1.2 on the same path, in the CAN VM.
#
# usage: bench/cannelloni.sh [--frames N] [--no-build]
#
# On a host without SocketCAN the script builds the release binaries and the
# reference (tests/peers/cannelloni.sh) and runs itself in the CAN VM
# (tests/vm/run-in-vm.sh --hostroot), where it sends N 8-byte frames as fast as
# each sender can and counts what arrives, on three paths over loopback UDP:
#
#   ref -> ref   cangen vcan1 -> cannelloni B -> UDP -> cannelloni A -> vcan0 -> candump
#   ref -> ours  cangen vcan1 -> cannelloni B -> UDP -> can-logger -i cannelloni
#   ours -> ref  can-send --generate -i cannelloni -> UDP -> cannelloni A -> vcan0 -> candump
#
# Both cannelloni run with -t 1000 (1 ms buffer timeout). For each path it
# prints frames received, lost, the rate (received / time from the first send
# to the last frame received) and the ratio to ref -> ref. python-can has no
# cannelloni interface (neither in 4.6.1 nor as a plugin installed here), so
# there is no python-can column.
#
# Environment: CANKIT_VM_DIR (see tests/vm/README.md), CANKIT_PEERS_DIR
# (where tests/peers/cannelloni.sh builds, default /tmp/cankit-peers).
set -euo pipefail

frames=20000 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
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
    -- bash "$REPO/bench/cannelloni.sh" --no-build --frames "$frames"
fi

# ---- in the VM (or on a host with SocketCAN, as root) -----------------------------------
BIN=${CARGO_TARGET_DIR:-$REPO/target}/release
CNL=${CANNELLONI:?set CANNELLONI to the reference binary}
for b in "$BIN/can-logger" "$BIN/can-send" "$CNL"; do
  [ -x "$b" ] || { echo "bench: $b missing" >&2; exit 1; }
done
ip link set lo up
for i in vcan0 vcan1; do ip link add $i type vcan 2>/dev/null || true; ip link set $i up; done
W=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
now() { date +%s.%N; }
# Counts lines of FILE until N or until it stops growing for 3 s; prints "count end-time".
count_until() {
  local file=$1 n=$2 last=-1 same=0 c end
  end=$(now)
  while :; do
    c=$(wc -l < "$file")
    [ "$c" -ge "$n" ] && { end=$(now); break; }
    if [ "$c" = "$last" ]; then same=$((same + 1)); [ $same -ge 30 ] && break
    else same=0; last=$c; end=$(now); fi
    sleep 0.1
  done
  echo "$c $end"
}
declare -A got rate
run_path() { # name start-time file
  local name=$1 t0=$2 file=$3 c t1
  read -r c t1 < <(count_until "$file" "$frames")
  got[$name]=$c
  rate[$name]=$(awk -v c="$c" -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; printf "%.0f", (d > 0 ? c / d : 0) }')
}
stop() { for p in "$@"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }

# ref -> ref
"$CNL" -I vcan0 -l 20000 -R 127.0.0.1 -r 20001 -t 1000 >"$W/a.log" 2>&1 & A=$!; pids+=($A)
"$CNL" -I vcan1 -l 20001 -R 127.0.0.1 -r 20000 -t 1000 >"$W/b.log" 2>&1 & B=$!; pids+=($B)
candump -L vcan0 >"$W/rr.txt" & D=$!; pids+=($D)
sleep 1
t0=$(now); cangen vcan1 -g 0 -p 10 -n "$frames" -I i -L 8 -D i
run_path "ref -> ref" "$t0" "$W/rr.txt"
stop $D $A

# ref -> ours (cannelloni B still sends to 127.0.0.1:20000)
"$BIN/can-logger" -q -i cannelloni -c 127.0.0.1:20001 --bus-opt local=127.0.0.1:20000 >"$W/ro.txt" 2>"$W/ro.err" & L=$!; pids+=($L)
sleep 1
t0=$(now); cangen vcan1 -g 0 -p 10 -n "$frames" -I i -L 8 -D i
run_path "ref -> ours" "$t0" "$W/ro.txt"
stop $L $B

# ours -> ref
"$CNL" -I vcan0 -l 20000 -R 127.0.0.1 -r 20001 -t 1000 >"$W/a2.log" 2>&1 & A=$!; pids+=($A)
candump -L vcan0 >"$W/or.txt" & D=$!; pids+=($D)
sleep 1
t0=$(now); "$BIN/can-send" -q -i cannelloni -c 127.0.0.1:20000 --bus-opt local=127.0.0.1:20001 \
  --generate -I i -L 8 -D i -g 0 -n "$frames"
run_path "ours -> ref" "$t0" "$W/or.txt"
stop $D $A

echo
echo "cannelloni over loopback UDP, $frames frames of 8 bytes sent as fast as each sender can (CAN VM, $(nproc) vCPU, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-12s %10s %8s %12s %10s\n' path received lost frames/s "vs ref->ref"
base=${rate["ref -> ref"]}
for p in "ref -> ref" "ref -> ours" "ours -> ref"; do
  printf '%-12s %10s %8s %12s %10s\n' "$p" "${got[$p]}" "$((frames - ${got[$p]}))" "${rate[$p]}" \
    "$(awk -v a="${rate[$p]}" -v b="$base" 'BEGIN { printf (b > 0 ? "%.2fx" : "-"), a / b }')"
done
echo "python-can: no cannelloni interface (python-can 4.6.1 has none; no plugin installed), so no python-can figure"
