#!/usr/bin/env bash
# Frames/s through socketcand without loss: can-bridge --serve socketcand on a
# virtual bus, `can-send --generate --rate R` feeding the bus, and two clients of
# the same server in the same run: our `can-logger -i socketcand` and python-can
# 4.6.1's `socketcand` interface. For each rate, each client's received count
# against what was sent (loss), and the highest rate each took without loss.
# Runs in a network namespace of its own (unshare -rn), loopback only.
# Usage: bench/socketcand.sh [SECONDS_PER_RATE] [RATES...]   (default 3 s; 2000 10000 30000 60000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CANKIT_BENCH_NETNS:-}" ]; then
  cargo build --release -q
  exec env CANKIT_BENCH_NETNS=1 unshare -rn "$0" "$@"
fi
ip link set lo up
secs=${1:-3}; shift || true
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(2000 10000 30000 60000 100000)
py=${CANKIT_PYTHON:-/tmp/cankit-venv/bin/python}
B=target/release
export XDG_RUNTIME_DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$XDG_RUNTIME_DIR"' EXIT
chan=bench$$
port=29536
$B/can-bridge -q --from virtual:$chan --serve socketcand:127.0.0.1:$port,queue=65536 &
sleep 0.5
printf "%8s %8s | %10s %8s | %10s %8s | load %s\n" rate sent cankit lost python-can lost "$(cut -d' ' -f1 /proc/loadavg)"
best_ours=0; best_py=0
for rate in "${rates[@]}"; do
  n=$((rate * secs))
  $B/can-logger -q -i socketcand -c 127.0.0.1:$port/can0 --duration $((secs + 4))s > "$XDG_RUNTIME_DIR/ours.log" &
  ours=$!
  "$py" - "$port" $((secs + 4)) > "$XDG_RUNTIME_DIR/py.txt" <<'PY' &
import sys, time, can
bus = can.Bus(interface="socketcand", channel="can0", host="127.0.0.1", port=int(sys.argv[1]))
end = time.monotonic() + float(sys.argv[2]); n = 0
while time.monotonic() < end:
    if bus.recv(0.2) is not None: n += 1
print(n); bus.shutdown()
PY
  pyc=$!
  sleep 1.5
  $B/can-send -q -i virtual -c $chan --generate -I i -L 8 -D i --rate "$rate" --count "$n"
  wait $ours || true; wait $pyc || true
  got_ours=$(wc -l < "$XDG_RUNTIME_DIR/ours.log"); got_py=$(cat "$XDG_RUNTIME_DIR/py.txt")
  printf "%8s %8s | %10s %8s | %10s %8s\n" "$rate" "$n" "$got_ours" $((n - got_ours)) "$got_py" $((n - got_py))
  [ "$got_ours" = "$n" ] && best_ours=$rate
  [ "$got_py" = "$n" ] && best_py=$rate
done
echo "highest rate without loss: cankit $best_ours frames/s, python-can $best_py frames/s" \
  "(ratio $(awk -v a=$best_ours -v b=$best_py 'BEGIN{ if (b>0) printf "%.1f", a/b; else print "n/a" }'))"
