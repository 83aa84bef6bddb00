#!/usr/bin/env bash
# MF4 benchmark: cankit's can-convert against python-can's logconvert (which
# writes and reads MF4 through asammdf), on the same files in the same run.
# See bench/README.md.
#
# usage: bench/mf4.sh [-n FRAMES] [-r ROUNDS] [--only-cankit]
set -euo pipefail

frames=1000000
rounds=3
only_cankit=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) frames=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    --only-cankit) only_cankit=1; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "mf4.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
tools=${CANKIT_TOOLS:-$repo/../shared/tools}
target=${CARGO_TARGET_DIR:-$repo/target}
corpus_dir=${CANKIT_BENCH_DIR:-$target/bench-corpus}
out=$corpus_dir/out-mf4
mkdir -p "$corpus_dir" "$out"

die() { echo "mf4.sh: $*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  echo "mf4.sh: installing GNU time (for peak RSS)" >&2
  apt-get install -y -qq time >/dev/null || die "GNU time missing: apt-get install time"
fi
py=${CANKIT_PYTHON:-/tmp/cankit-venv/bin/python}
if ! "$py" -c 'import can, asammdf; assert can.__version__ == "4.6.1"' 2>/dev/null; then
  CANKIT_VENV=$(dirname "$(dirname "$py")") "$repo/tests/setup.sh"
fi
"$py" -c 'import can, asammdf' || die "no python-can with asammdf at $py"

echo "== building the release can-convert" >&2
(cd "$repo" && cargo build --release --quiet --bin can-convert)
conv=$target/release/can-convert

# --- corpus (cached, shared with convert.sh) ---------------------------------
base=$corpus_dir/corpus-$frames-s1
if [ ! -s "$base.blf" ]; then
  [ -f "$tools/gen-corpus.py" ] || die "gen-corpus.py not found in $tools (set CANKIT_TOOLS)"
  echo "== generating a $frames-frame corpus with python-can (cached in $corpus_dir)" >&2
  tmp=$corpus_dir/tmp-$$
  TZ=UTC "$py" "$tools/gen-corpus.py" -n "$frames" --seed 1 "$tmp.blf" "$tmp.asc" "$tmp.log"
  for e in blf asc log; do mv "$tmp.$e" "$base.$e"; done
fi

# --- measuring ---------------------------------------------------------------
load() { cut -d' ' -f1 /proc/loadavg; }

# run_once CMD...: sets wall (s), cpu (s), rss (KiB), ld (load)
run_once() {
  local tfile=$out/time.txt start end
  rm -f "$out"/run.*
  ld=$(load)
  start=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$tfile" "$@" >"$out/stdout.txt" 2>"$out/stderr.txt" ||
    { cat "$out/stderr.txt" >&2; die "failed: $*"; }
  end=$(date +%s%N)
  if [ -n "$expect" ] && ! grep -q -- "$expect" "$out/stdout.txt" "$out/stderr.txt"; then
    cat "$out/stdout.txt" "$out/stderr.txt" >&2
    die "expected '$expect' from: $*"
  fi
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  read -r u s rss <"$tfile"
  cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
}

# measure N CMD...: best of N runs by wall time (peak RSS: the largest seen)
measure() {
  local n=$1; shift
  local bw="" bc="" br=0 bl=""
  for _ in $(seq "$n"); do
    run_once "$@"
    if [ -z "$bw" ] || awk -v a="$wall" -v b="$bw" 'BEGIN { exit !(a < b) }'; then
      bw=$wall; bc=$cpu; bl=$ld
    fi
    [ "$rss" -gt "$br" ] && br=$rss
  done
  wall=$bw; cpu=$bc; rss=$br; ld=$bl
}

declare -A rate
human() { awk -v f="$1" 'BEGIN { if (f == 0) print "-"; else if (f >= 1e6) printf "%.2f M", f / 1e6; else printf "%.0f k", f / 1e3 }'; }
row() { # TASK TOOL FRAMES
  local fps
  fps=$(awk -v n="$3" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
  rate["$1/$2"]=$fps
  printf '%-18s %-11s %12s %8s %8s %10s %6s\n' "$1" "$2" "$(human "$fps")" "$wall" "$cpu" \
    "$(awk -v k="$rss" 'BEGIN { printf "%.1f MiB", k / 1024 }')" "$ld"
}
ratio() { # TASK A B
  local a=${rate["$1/$2"]:-} b=${rate["$1/$3"]:-}
  [ -n "$a" ] && [ -n "$b" ] || return 0
  printf '%-18s %s/%s = %.1fx\n' "$1" "$2" "$3" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')"
}

n=$frames
expect=""
cankit() { # ARGS...: can-convert, which must count every frame (-v)
  expect="$n frame(s) read, $n written"
  measure "$rounds" "$conv" --force --no-progress -v "$@"
}
python() { expect=""; measure 1 "$py" -m can.logconvert "$@"; }
pyread() { # FILE: python-can reads and counts every frame
  expect="^$n\$"
  measure 1 "$py" -c 'import sys, can
print(sum(1 for _ in can.LogReader(sys.argv[1])))' "$1"
}

echo
echo "cankit $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?') vs python-can $("$py" -c 'import can; print(can.__version__)') with asammdf $("$py" -c 'import asammdf; print(asammdf.__version__)')"
echo "$(nproc) CPUs, $(uname -m); corpus: $n frames ($base.blf); cankit best of $rounds runs, python-can 1 run"
echo "python-can's files are written once and read by both: the reading rows read the same file"
echo
printf '%-18s %-11s %12s %8s %8s %10s %6s\n' task tool frames/s "wall s" "cpu s" "peak RSS" load

pymf4=$corpus_dir/corpus-$frames-s1.python-can.mf4
if [ $only_cankit = 0 ]; then
  python "$base.blf" "$out/run.mf4"; row "BLF->MF4" python-can "$n"
  mv "$out/run.mf4" "$pymf4"
fi
cankit "$base.blf" "$out/run.mf4"; row "BLF->MF4" cankit "$n"
cankit --format-opt compression=1 "$base.blf" "$out/run.mf4"; row "BLF->MF4 deflate" cankit "$n"
ours=$out/ours.mf4
"$conv" --force --no-progress "$base.blf" "$ours"

if [ -s "$pymf4" ]; then
  src=$pymf4
  [ $only_cankit = 1 ] || { python "$src" "$out/run.blf"; row "MF4->BLF" python-can "$n"; }
  cankit "$src" "$out/run.blf"; row "MF4->BLF" cankit "$n"
  [ $only_cankit = 1 ] || { pyread "$src"; row "read MF4" python-can "$n"; }
  expect="$n frame(s) read, $n written"
  measure "$rounds" sh -c 'exec "$0" "$@" >/dev/null' "$conv" --no-progress -v --output-format jsonl "$src" -
  row "read MF4" cankit "$n"
fi
cankit "$ours" "$out/run.blf"; row "ours MF4->BLF" cankit "$n"
[ $only_cankit = 1 ] || { pyread "$ours"; row "read ours MF4" python-can "$n"; }

echo
for t in "BLF->MF4" "MF4->BLF" "read MF4"; do
  ratio "$t" cankit python-can
done
rm -f "$out"/run.* "$ours" "$out/time.txt" "$out/stdout.txt" "$out/stderr.txt"
echo
echo "target: cankit >= 10x python-can writing (BLF->MF4) and reading (MF4->BLF, read MF4) MF4"
