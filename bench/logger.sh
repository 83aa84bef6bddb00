#!/usr/bin/env bash
# Benchmark: can-logger against python-can's logger on udp_multicast, on one
# stream, inside a private network namespace (loopback multicast only, group
# 239.74.163.2), and the highest rate `can-send --generate` sustains.
#
# usage: bench/logger.sh [--rates 5000,20000,50000] [--secs S] [--flood N]
#                        [--format EXT] [--no-build]
#
#  1. For each rate, `can-send --generate --rate R` sends R*S frames while
#     can-logger (writing FORMAT, default blf) and `python -m can.logger`
#     record at once; prints what each recorded, its CPU per frame (schedstat
#     of all its threads, start-up excluded) and the ratio (target: 10x).
#  2. A flood: N frames (default 5000) sent as fast as can-send can; what each
#     logger lost.
#  3. Generator rate: `can-send --generate -g 0` for 2 s on udp_multicast and
#     on the virtual bus (with a can-logger receiving on each).
#
# Environment: CANKIT_PYTHON (python with python-can, default
# /tmp/cankit-venv/bin/python).
set -euo pipefail

rates=5000,20000,50000 secs=4 flood=5000 format=blf build=1
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --rates) rates=$2; shift 2 ;;
    --secs) secs=$2; shift 2 ;;
    --flood) flood=$2; shift 2 ;;
    --format) format=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${CANKIT_PYTHON:-/tmp/cankit-venv/bin/python}
[ -x "$PY" ] || { echo "bench: no python-can at $PY (run tests/setup.sh)" >&2; exit 1; }

if [ "${CANKIT_IN_NS:-}" != 1 ]; then
  if [ $build = 1 ]; then
    (cd "$REPO" && cargo build --release --bin can-logger --bin can-send)
  fi
  ns=(unshare --net)
  [ "$(id -u)" = 0 ] || ns+=(--map-root-user)
  exec env CANKIT_IN_NS=1 "${ns[@]}" bash "$0" "${args[@]}"
fi

# ---- inside the namespace ----------------------------------------------------------------
ip link set lo up
ip link set lo multicast on
ip route add 224.0.0.0/4 dev lo
TARGET=${CARGO_TARGET_DIR:-$REPO/target}/release
LOGGER=$TARGET/can-logger SEND=$TARGET/can-send
W=$(mktemp -d /tmp/bench-logger.XXXXXX)
export XDG_RUNTIME_DIR=$W
trap 'rm -rf "$W"' EXIT
BUS=(-i udp_multicast -c 239.74.163.2)
set -m # background jobs get SIGINT (python-can only finishes its file on KeyboardInterrupt)

# CPU seconds of every live thread of a process (schedstat: ns precision).
cpu() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.6f", s / 1e9 }'; }
now() { date +%s.%N; }
stop() { kill -INT "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
count_file() {
  case "$1" in
    *.log) grep -c '^(' "$1" || true ;;
    *) "$PY" -c 'import can, sys; print(sum(1 for _ in can.LogReader(sys.argv[1])))' "$1" ;;
  esac
}
per_frame() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", c * 1e6 / n; else print "n/a" }'; }
echo "== $(nproc) CPU(s), load $(cut -d' ' -f1-3 /proc/loadavg), python-can $("$PY" -c 'import can; print(can.__version__)'), format .$format"

summary=()
# One stream recorded by both loggers: label, frames, can-send options...
both() {
  local label=$1 n=$2; shift 2
  "$LOGGER" "${BUS[@]}" -f "$W/ours.$format" --force 2>"$W/ours.err" &
  local ours=$!
  "$PY" -m can.logger "${BUS[@]}" -f "$W/python.$format" >"$W/python.out" 2>&1 &
  local py=$!
  # Until both joined the group (python-can's import is slow on a loaded machine).
  local i
  for i in $(seq 1 300); do
    [ "$(awk '$1 == "02A34AEF" || $1 == "EFA34A02" { print $2 }' /proc/net/igmp | head -1)" -ge 2 ] 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  local c0 p0 c1 p1 t0 t1
  c0=$(cpu $ours); p0=$(cpu $py); t0=$(now)
  "$SEND" "${BUS[@]}" --generate -I i -L 8 -D i --count "$n" "$@"
  t1=$(now)
  # Until python-can has taken what its socket still holds (its CPU time
  # stops growing), at most 30 s.
  local prev=-1 i
  p1=$(cpu $py)
  for i in $(seq 1 60); do
    sleep 0.5
    prev=$p1; p1=$(cpu $py)
    awk -v a="$prev" -v b="$p1" 'BEGIN { exit !(b - a < 0.002) }' && break
  done
  c1=$(cpu $ours)
  stop $ours; stop $py
  local o_n p_n o_c p_c o_pf p_pf sent_rate r
  o_n=$(count_file "$W/ours.$format"); p_n=$(count_file "$W/python.$format")
  o_c=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')
  p_c=$(awk -v a="$p0" -v b="$p1" 'BEGIN { print b - a }')
  o_pf=$(per_frame "$o_c" "$o_n"); p_pf=$(per_frame "$p_c" "$p_n")
  sent_rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  r=$(awk -v a="$p_pf" -v b="$o_pf" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }')
  echo
  echo "== $label: $n frames sent at $sent_rate frames/s"
  printf '%-20s %10s %8s %10s %14s\n' receiver recorded lost "CPU s" "CPU µs/frame"
  printf '%-20s %10s %8s %10s %14s\n' can-logger "$o_n" $((n - o_n)) "$o_c" "$o_pf"
  printf '%-20s %10s %8s %10s %14s\n' "python-can logger" "$p_n" $((n - p_n)) "$p_c" "$p_pf"
  echo "python-can / can-logger CPU per frame: ${r}x"
  grep -v ': info: ' "$W/ours.err" | grep -v 'recorded in' || true
  summary+=("$label ($sent_rate frames/s sent): ${r}x less CPU per frame ($o_pf vs $p_pf µs); lost $((n - o_n)) vs $((n - p_n))")
  rm -f "$W/ours.$format" "$W/python.$format"
}

IFS=, read -ra rs <<<"$rates"
for r in "${rs[@]}"; do
  both "paced $r/s" $((r * secs)) --rate "$r"
done
both "flood of $flood" "$flood" -g 0

# ---- generator rate ------------------------------------------------------------------------
gen_rate() { # label, bus args...
  local label=$1; shift
  "$LOGGER" "$@" -f "$W/gen.log" --force 2>/dev/null &
  local rx=$!
  sleep 0.5
  local out
  out=$("$SEND" "$@" --generate -g 0 -I i -L 8 -D i --duration 2s -v 2>&1 | grep -o '([0-9]* frames/s)' || true)
  stop $rx
  local got
  got=$(grep -c '^(' "$W/gen.log" || true)
  echo "$label: can-send --generate -g 0 sustained ${out:-?}, a can-logger recorded $got"
  summary+=("generator on $label: ${out:-?}, recorded $got")
}
echo
echo "== generator rate (can-send --generate -g 0 for 2 s, a can-logger receiving)"
gen_rate udp_multicast "${BUS[@]}"
gen_rate virtual -i virtual -c bench

echo
echo "== summary (target: at least 10x less CPU per frame than python-can at every rate)"
printf '%s\n' "${summary[@]}"
