#!/usr/bin/env bash
# Benchmark: can-logger on a SocketCAN interface against candump and python-can.
#
# usage: bench/socketcan-logger.sh [--frames N] [--paced M] [--gap MS] [--format EXT] [--no-build]
#
# On a host without SocketCAN the script builds the release binaries and runs
# itself in the CAN VM (tests/vm/run-in-vm.sh --hostroot, with the repository
# and python-can's venv shared), where it:
#
#  1. burst: `cangen vcan0 -g 0 -n N` as fast as the (emulated) machine can,
#     recorded at once by can-logger (into FORMAT, default blf) and by
#     `candump -d -L` (whose drop counter reports socket-queue overflows);
#     prints the rate, what each received, what each lost, and can-logger's CPU
#     time per frame;
#  2. versus python-can: M frames recorded at once by can-logger and by
#     `python -m can.logger -i socketcan -c vcan0 -f x.FORMAT`, first paced (one
#     every MS ms, both keep up), then as a burst (python-can falls behind);
#     prints what each recorded, its CPU time per frame (user+sys from
#     /proc/PID/stat, start-up excluded) and the ratio.
#
# Environment: CANKIT_PYTHON (python with python-can, default
# /tmp/cankit-venv/bin/python), CANKIT_VM_DIR (see tests/vm/README.md).
set -euo pipefail

frames=100000 paced=10000 gap=2 format=blf build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames=$2; shift 2 ;;
    --paced) paced=$2; shift 2 ;;
    --gap) gap=$2; shift 2 ;;
    --format) format=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${CANKIT_PYTHON:-/tmp/cankit-venv/bin/python}

# ---- host side: build, then run in the VM -------------------------------------------
if [ "${CANKIT_IN_VM:-}" != 1 ] && [ ! -e /proc/net/can ]; then
  if [ $build = 1 ]; then
    (cd "$REPO" && cargo build --release --bin can-logger)
  fi
  TARGET=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  shares=(--share "$REPO")
  case "$TARGET" in "$REPO"/*|"") ;; *) shares+=(--share "$TARGET") ;; esac
  venv=$(dirname "$(dirname "$PY")")
  [ -x "$PY" ] || { echo "bench: no python-can at $PY (run tests/setup.sh)" >&2; exit 1; }
  case "$venv" in /tmp/*) shares+=(--share "$venv") ;; esac
  exec "$REPO/tests/vm/run-in-vm.sh" --hostroot "${shares[@]}" --timeout 1200 \
    --env "CANKIT_PYTHON=$PY" --env "CARGO_TARGET_DIR=${TARGET:-$REPO/target}" \
    -- bash "$REPO/bench/socketcan-logger.sh" --no-build --frames "$frames" \
    --paced "$paced" --gap "$gap" --format "$format"
fi

# ---- in the VM (or on a host with SocketCAN, as root) -----------------------------------
LOGGER=${CARGO_TARGET_DIR:-$REPO/target}/release/can-logger
[ -x "$LOGGER" ] || { echo "bench: build $LOGGER first (cargo build --release)" >&2; exit 1; }
W=$(mktemp -d /tmp/bench.XXXXXX)
trap 'rm -rf "$W"; ip link del vcan0 2>/dev/null || true' EXIT
HZ=$(getconf CLK_TCK)
ip link del vcan0 2>/dev/null || true
ip link add vcan0 type vcan && ip link set vcan0 up

# Job control: background jobs of a script would otherwise ignore SIGINT, and
# python-can's logger only stops (and closes its file) on a KeyboardInterrupt.
set -m
now() { date +%s.%N; }
# user+sys CPU seconds of a process (all its threads) so far.
cpu() { awk -v hz="$HZ" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }
receivers() { grep -c ' vcan0 ' /proc/net/can/rcvlist_all || true; }
# Waits until `n` more CAN receive filters exist on vcan0 than `base` (sockets bound).
wait_bound() {
  local base=$1 n=$2 i
  for i in $(seq 1 600); do
    [ "$(receivers)" -ge $((base + n)) ] && return 0
    sleep 0.1
  done
  echo "bench: receivers never bound" >&2
  exit 1
}
backlog_drops() { # frames the kernel dropped before any socket (netdev backlog full)
  local s=0 a b rest
  while read -r a b rest; do s=$((s + 0x$b)); done </proc/net/softnet_stat
  echo $s
}
stop() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }'; }
per_frame_us() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", c * 1e6 / n; else print "n/a" }'; }
summary_field() { # frames recorded / dropped from can-logger's summary line
  sed -n "s/.* \([0-9]*\) frame(s) recorded in .*; \([0-9]*\) dropped by the kernel.*/\\$1/p" "$2" | tail -1
}

ext=$format
if ! "$LOGGER" -q -i socketcan -c vcan0 -f "$W/probe.$ext" --duration 1ms 2>"$W/probe.err"; then
  echo "bench: can-logger cannot write .$ext here ($(cat "$W/probe.err")); using .log (candump) for both"
  ext=log
fi
count_file() { # frames in a log, as python-can reads it (.log: lines)
  case "$1" in
    *.log) grep -c '^(' "$1" || true ;;
    *) "$PY" -c 'import can, sys; print(sum(1 for _ in can.LogReader(sys.argv[1])))' "$1" ;;
  esac
}
echo "== kernel $(uname -r), $(nproc) CPU(s), format .$ext, can-logger $("$LOGGER" --version | cut -d' ' -f2)"

# ---- 1. burst -----------------------------------------------------------------------------
base=$(receivers)
"$LOGGER" -v -i socketcan -c vcan0 -f "$W/ours.$ext" 2>"$W/ours.err" &
ours=$!
candump -d -L vcan0 >"$W/candump.log" &
cd_pid=$!
wait_bound "$base" 2
sleep 0.5
c0=$(cpu $ours); cd0=$(cpu $cd_pid); b0=$(backlog_drops)
t0=$(now)
cangen vcan0 -g 0 -p 10 -I 123 -L 8 -D i -n "$frames"
t1=$(now)
sleep 1 # let the receivers drain their queues
c1=$(cpu $ours); cd1=$(cpu $cd_pid); b1=$(backlog_drops)
stop $ours; stop $cd_pid
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
rate=$(awk -v n="$frames" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
o_n=$(summary_field 1 "$W/ours.err"); o_d=$(summary_field 2 "$W/ours.err")
[ "$ext" = log ] && o_file=$(count_file "$W/ours.$ext") || o_file=$o_n
cd_n=$(grep -c '^(' "$W/candump.log" || true)
cd_d=$(sed -n 's/.*total drops \([0-9]*\)).*/\1/p' "$W/candump.log" | tail -1)
o_cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')
cd_cpu=$(awk -v a="$cd0" -v b="$cd1" 'BEGIN { print b - a }')
echo
echo "== burst: cangen sent $frames frames in $secs s = $rate frames/s (kernel backlog drops: $((b1 - b0)))"
printf '%-22s %10s %10s %14s\n' receiver received dropped "CPU µs/frame"
printf '%-22s %10s %10s %14s\n' "can-logger (.$ext)" "$o_file" "${o_d:-?}" "$(per_frame_us "$o_cpu" "$o_file")"
printf '%-22s %10s %10s %14s\n' "candump -L" "$cd_n" "${cd_d:-0}" "$(per_frame_us "$cd_cpu" "$cd_n")"
grep -v ': info: ' "$W/ours.err" || true
if [ "${o_d:-1}" = 0 ] && [ "$o_file" = "$frames" ]; then
  verdict="can-logger kept up with $rate frames/s (as fast as cangen sends here) with zero drops"
else
  verdict="can-logger lost ${o_d:-?} frames at $rate frames/s"
fi
if [ "${cd_d:-0}" = 0 ] && [ "${o_d:-1}" != 0 ]; then
  verdict="$verdict; FAIL: candump lost none"
fi
echo "$verdict"
summary=("burst: $verdict")

# ---- 2. against python-can, on one stream: paced, then a burst ------------------------------
# Paced, both keep up and the CPU per frame includes waking up for each frame;
# in a burst, python-can falls behind and drops, and the CPU per frame is the
# bare cost of handling one (CPU time over the frames each one recorded).
versus() { # label, cangen gap (ms), frames, id
  local label=$1 g=$2 n=$3 id=$4
  base=$(receivers)
  "$LOGGER" -v -i socketcan -c vcan0 -f "$W/ours2.$ext" 2>"$W/ours2.err" &
  ours=$!
  "$PY" -m can.logger -i socketcan -c vcan0 -f "$W/python.$ext" >"$W/python.out" 2>&1 &
  py=$!
  wait_bound "$base" 2
  sleep 1
  c0=$(cpu $ours); p0=$(cpu $py)
  t0=$(now)
  cangen vcan0 -g "$g" -p 10 -I "$id" -L 8 -D i -n "$n"
  t1=$(now)
  # Until python-can has taken what its socket queue still holds.
  sleep 3
  c1=$(cpu $ours); p1=$(cpu $py)
  stop $ours; stop $py
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  o_n=$(summary_field 1 "$W/ours2.err"); o_d=$(summary_field 2 "$W/ours2.err")
  p_n=$(count_file "$W/python.$ext")
  o_cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')
  p_cpu=$(awk -v a="$p0" -v b="$p1" 'BEGIN { print b - a }')
  o_pf=$(per_frame_us "$o_cpu" "$o_n"); p_pf=$(per_frame_us "$p_cpu" "$p_n")
  echo
  echo "== $label: cangen sent $n frames in $secs s = $rate frames/s; both record .$ext"
  printf '%-22s %10s %10s %12s %14s\n' receiver received lost "CPU s" "CPU µs/frame"
  printf '%-22s %10s %10s %12s %14s\n' "can-logger" "$o_n" "$((n - o_n))" "$o_cpu" "$o_pf"
  printf '%-22s %10s %10s %12s %14s\n' "python-can logger" "$p_n" "$((n - p_n))" "$p_cpu" "$p_pf"
  r=$(ratio "$p_pf" "$o_pf")
  echo "python-can / can-logger CPU per frame: ${r}x"
  summary+=("$label: ${r}x less CPU per frame than python-can ($o_pf vs $p_pf µs), lost $((n - o_n)) vs $((n - p_n))")
  rm -f "$W/ours2.$ext" "$W/python.$ext"
}
versus "paced (one frame every $gap ms)" "$gap" "$paced" 456
versus "burst" 0 "$paced" 789

echo
echo "== summary (target: at least 20x less CPU per frame than python-can; no drop where candump has none)"
printf '%s\n' "${summary[@]}"
