#!/usr/bin/env bash
# DBC decoding benchmark: `can-convert --dbc --decode` against cantools 45
# (a python loop of db.decode_message over the same frames), same input, same
# run. Prints frames/s of each and the ratio. See bench/README.md.
#
# usage: bench/decode.sh [-n FRAMES] [-p PY_FRAMES] [-r ROUNDS] [--dbc FILE]
#   FRAMES frames (default 2,000,000) of the DBC's messages with random data,
#   written as a candump log; cantools decodes the first PY_FRAMES of them
#   (default 200,000: at its speed more only takes longer).
set -euo pipefail

frames=2000000
py_frames=200000
rounds=3
repo=$(cd "$(dirname "$0")/.." && pwd)
dbc=$repo/tests/fixtures/dbc/opendbc/toyota_prius_2010_pt.dbc
while [ $# -gt 0 ]; do
  case "$1" in
    -n) frames=$2; shift 2 ;;
    -p) py_frames=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    --dbc) dbc=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "decode.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-$repo/target}
dir=${CANKIT_BENCH_DIR:-$target/bench-corpus}/decode
mkdir -p "$dir"
die() { echo "decode.sh: $*" >&2; exit 1; }

py=${CANKIT_PYTHON:-/tmp/cankit-venv/bin/python}
"$py" -c 'import cantools; assert cantools.__version__.startswith("45.")' 2>/dev/null \
  || CANKIT_VENV=$(dirname "$(dirname "$py")") "$repo/tests/setup.sh"
"$py" -c 'import cantools' || die "no cantools at $py (tests/setup.sh)"

echo "== building can-convert (release)" >&2
(cd "$repo" && cargo build --release --quiet --bin can-convert)
conv=$target/release/can-convert

# --- input: random payloads for the DBC's messages, round robin (cached) ------
log=$dir/$(basename "$dbc" .dbc)-$frames.log
if [ ! -s "$log" ]; then
  echo "== writing $frames frames for $(basename "$dbc") to $log" >&2
  "$py" - "$dbc" "$frames" "$log" <<'PY'
import random, sys, cantools
db = cantools.database.load_file(sys.argv[1])
msgs = [m for m in db.messages if not m.is_multiplexed()]
rnd = random.Random(1)
with open(sys.argv[3], "w") as f:
    for i in range(int(sys.argv[2])):
        m = msgs[i % len(msgs)]
        data = rnd.randbytes(m.length).hex().upper()
        fid = f"{m.frame_id:08X}" if m.is_extended_frame else f"{m.frame_id:03X}"
        f.write(f"({1700000000 + i / 1000:.6f}) can0 {fid}#{data}\n")
PY
fi

# --- cankit ------------------------------------------------------------------
best() { sort -g | head -1; }
run_conv() {  # format -> best seconds over the rounds
  local t
  for _ in $(seq "$rounds"); do
    t0=$(date +%s.%N)
    "$conv" -q --force --dbc "$dbc" --decode "$log" "$dir/out.$1" $2
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | best
}
jsonl_s=$(run_conv jsonl "")
csv_s=$(run_conv csv "")
wide_s=$(run_conv csv "--format-opt layout=wide")
decoded=$(wc -l < "$dir/out.jsonl")
[ "$decoded" -eq "$frames" ] || die "can-convert decoded $decoded of $frames frames"

# --- cantools ----------------------------------------------------------------
cantools_fps=$("$py" - "$dbc" "$log" "$py_frames" "$rounds" <<'PY'
import sys, time, cantools
db = cantools.database.load_file(sys.argv[1])
frames = []
with open(sys.argv[2]) as f:
    for line in f:
        if len(frames) >= int(sys.argv[3]):
            break
        fid, data = line.split()[2].split("#")
        frames.append((int(fid, 16), bytes.fromhex(data)))
best = None
for _ in range(int(sys.argv[4])):
    t = time.perf_counter()
    for fid, data in frames:
        db.decode_message(fid, data, decode_choices=True)
    t = time.perf_counter() - t
    best = t if best is None or t < best else best
print(len(frames) / best)
PY
)

fps() { echo "$frames / $1" | bc -l; }
printf '\nDBC %s, %d frames (cantools: the first %d), best of %d\n' "$(basename "$dbc")" "$frames" "$py_frames" "$rounds"
printf '%-44s %14s %10s\n' "tool" "frames/s" "x cantools"
for row in "can-convert --decode -> JSON Lines:$(fps "$jsonl_s")" \
           "can-convert --decode -> CSV long:$(fps "$csv_s")" \
           "can-convert --decode -> CSV wide:$(fps "$wide_s")"; do
  printf '%-44s %14.0f %10.1f\n' "${row%%:*}" "${row##*:}" "$(echo "${row##*:} / $cantools_fps" | bc -l)"
done
printf '%-44s %14.0f %10.1f\n' "cantools 45 decode_message loop (no output)" "$cantools_fps" 1
