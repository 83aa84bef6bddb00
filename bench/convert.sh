#!/usr/bin/env bash
# Conversion benchmark: cankit's can-convert against python-can's logconvert and
# can-utils' log2asc, on the same files in the same run. See bench/README.md.
#
# usage: bench/convert.sh [-n FRAMES] [-r ROUNDS] [--big FACTOR | --no-big] [--only-cankit]
set -euo pipefail

frames=1000000
rounds=3
big=10
only_cankit=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) frames=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    --big) big=$2; shift 2 ;;
    --no-big) big=0; shift ;;
    --only-cankit) only_cankit=1; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "convert.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
tools=${CANKIT_TOOLS:-$repo/../shared/tools}
target=${CARGO_TARGET_DIR:-$repo/target}
corpus_dir=${CANKIT_BENCH_DIR:-$target/bench-corpus}
out=$corpus_dir/out
mkdir -p "$corpus_dir" "$out"

die() { echo "convert.sh: $*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  echo "convert.sh: installing GNU time (for peak RSS)" >&2
  apt-get install -y -qq time >/dev/null || die "GNU time missing: apt-get install time"
fi
have_log2asc=1
command -v log2asc >/dev/null || { have_log2asc=0; echo "convert.sh: log2asc missing (apt-get install can-utils): its column is left out" >&2; }

py=${CANKIT_PYTHON:-/tmp/cankit-venv/bin/python}
if ! "$py" -c 'import can; assert can.__version__ == "4.6.1"' 2>/dev/null; then
  if [ -x "$tools/setup-python-can.sh" ]; then
    py=$("$tools/setup-python-can.sh" "$(dirname "$(dirname "$py")")" | tail -1)
  else
    CANKIT_VENV=$(dirname "$(dirname "$py")") "$repo/tests/setup.sh"
  fi
fi
"$py" -c 'import can' || die "no python-can at $py"

echo "== building release binaries" >&2
(cd "$repo" && cargo build --release --quiet --bin can-convert --example blf_bench)
conv=$target/release/can-convert
reader=$target/release/examples/blf_bench

# --- corpus (cached) ---------------------------------------------------------
base=$corpus_dir/corpus-$frames-s1
if [ ! -s "$base.blf" ] || [ ! -s "$base.asc" ] || [ ! -s "$base.log" ]; then
  [ -f "$tools/gen-corpus.py" ] || die "gen-corpus.py not found in $tools (set CANKIT_TOOLS)"
  echo "== generating a $frames-frame corpus with python-can (cached in $corpus_dir)" >&2
  tmp=$corpus_dir/tmp-$$
  TZ=UTC "$py" "$tools/gen-corpus.py" -n "$frames" --seed 1 "$tmp.blf" "$tmp.asc" "$tmp.log"
  for e in blf asc log; do mv "$tmp.$e" "$base.$e"; done
fi

# --- measuring ---------------------------------------------------------------
load() { cut -d' ' -f1 /proc/loadavg; }

# run LABEL CMD...: runs CMD once, sets wall (s), cpu (s), rss (KiB), ld (load)
run_once() {
  local tfile=$out/time.txt start end
  # every tool writes a new file (replacing a big one costs the kernel time)
  rm -f "$out"/[apl].* "$out"/big.*
  ld=$(load)
  start=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$tfile" "$@" >"$out/stdout.txt" 2>"$out/stderr.txt" ||
    { cat "$out/stderr.txt" >&2; die "failed: $*"; }
  end=$(date +%s%N)
  # the tool must have seen every frame
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
  printf '%-16s %-11s %12s %8s %8s %12s %10s %6s\n' "$1" "$2" \
    "$(human "$fps")" "$wall" "$cpu" \
    "$(human "$(awk -v n="$3" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print 0 }')")" \
    "$(awk -v k="$rss" 'BEGIN { printf "%.1f MiB", k / 1024 }')" "$ld"
}
ratio() { # TASK A B
  local a=${rate["$1/$2"]:-} b=${rate["$1/$3"]:-}
  [ -n "$a" ] && [ -n "$b" ] || return 0
  printf '%-16s %s/%s = %.1fx\n' "$1" "$2" "$3" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')"
}

header() {
  printf '%-16s %-11s %12s %8s %8s %12s %10s %6s\n' task tool frames/s "wall s" "cpu s" "frames/cpu-s" "peak RSS" load
}

# each sets `expect`, the count line its tool prints when it saw every frame
expect=""
cankit() { # ARGS...: can-convert, counting frames with -v
  local n=$1; shift
  expect="$n frame(s) read, $n written"
  measure "$rounds" "$conv" --force --no-progress -v "$@"
}
readall() { # N FILE: the reading example, which prints its count
  expect="$1 frames"
  measure "$2" "$reader" "$3" 1
}
python() { expect=""; measure 1 "$py" -m can.logconvert "$@"; }
pyread() {
  expect="^$n\$"
  measure 1 "$py" -c 'import sys, can
print(sum(1 for _ in can.LogReader(sys.argv[1])))' "$1"
}

n=$frames
echo
echo "cankit $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?') vs python-can $("$py" -c 'import can; print(can.__version__)')$([ $have_log2asc = 1 ] && echo ' vs can-utils log2asc')"
echo "$(nproc) CPUs, $(uname -m); corpus: $n frames ($base.{blf,asc,log}); cankit best of $rounds runs, python-can 1 run"
echo "frames/s from wall time; cpu = user+sys of all threads (the BLF reader and writer use workers); frames/cpu-s = frames per CPU second, which"
echo "depends less on other processes (cpu under 0.01 s shows as -); load = 1-min load average at the start"
echo
header
"$conv" --version >/dev/null

cankit "$n" "$base.blf" "$out/a.asc"; row "BLF->ASC" cankit "$n"
[ $only_cankit = 1 ] || { python "$base.blf" "$out/p.asc"; row "BLF->ASC" python-can "$n"; }

cankit "$n" "$base.log" "$out/a.asc"; row ".log->ASC" cankit "$n"
if [ $have_log2asc = 1 ]; then
  expect=""
  measure "$rounds" log2asc -I "$base.log" -O "$out/l.asc" can0 can1; row ".log->ASC" log2asc "$n"
fi
[ $only_cankit = 1 ] || { python "$base.log" "$out/p.asc"; row ".log->ASC" python-can "$n"; }

cankit "$n" "$base.blf" "$out/a.log"; row "BLF->.log" cankit "$n"
[ $only_cankit = 1 ] || { python "$base.blf" "$out/p.log"; row "BLF->.log" python-can "$n"; }

cankit "$n" "$base.asc" "$out/a.blf"; row "ASC->BLF" cankit "$n"
[ $only_cankit = 1 ] || { python "$base.asc" "$out/p.blf"; row "ASC->BLF" python-can "$n"; }

readall "$n" "$rounds" "$base.blf"; row "read BLF" cankit "$n"
expect="$n frame(s) read, $n written"
measure "$rounds" sh -c 'exec "$0" "$@" >/dev/null' "$conv" --no-progress -v --output-format jsonl "$base.blf" -
row "BLF->jsonl" cankit "$n"
[ $only_cankit = 1 ] || { pyread "$base.blf"; row "read BLF" python-can "$n"; }
readall "$n" "$rounds" "$base.asc"; row "read ASC" cankit "$n"
readall "$n" "$rounds" "$base.log"; row "read .log" cankit "$n"

echo
for t in "BLF->ASC" ".log->ASC" "BLF->.log" "ASC->BLF" "read BLF"; do
  ratio "$t" cankit python-can
done
ratio ".log->ASC" cankit log2asc

# --- constant memory ---------------------------------------------------------
if [ "$big" -gt 1 ]; then
  bign=$((n * big))
  bigbase=$corpus_dir/big-$bign
  if [ ! -s "$bigbase.log" ]; then
    echo "== building a $bign-frame .log (the corpus $big times over)" >&2
    for _ in $(seq "$big"); do cat "$base.log"; done >"$bigbase.log.tmp"
    mv "$bigbase.log.tmp" "$bigbase.log"
  fi
  echo
  echo "constant memory: the same conversions on $bign frames (the .log corpus $big times over, then converted by cankit)"
  echo
  header
  rm -f "$bigbase.blf" "$bigbase.asc"
  rounds=1 cankit "$bign" "$bigbase.log" "$bigbase.blf"; row ".log->BLF" cankit "$bign"
  rounds=1 cankit "$bign" "$bigbase.blf" "$bigbase.asc"; row "BLF->ASC" cankit "$bign"
  rounds=1 cankit "$bign" "$bigbase.log" "$out/big.asc"; row ".log->ASC" cankit "$bign"
  rounds=1 cankit "$bign" "$bigbase.blf" "$out/big.log"; row "BLF->.log" cankit "$bign"
  rounds=1 cankit "$bign" "$bigbase.asc" "$out/big.blf"; row "ASC->BLF" cankit "$bign"
  readall "$bign" 1 "$bigbase.blf"; row "read BLF" cankit "$bign"
  rm -f "$out/big.asc" "$out/big.log" "$out/big.blf" "$bigbase.asc" "$bigbase.blf"
fi
rm -f "$out"/a.* "$out"/p.* "$out"/l.* "$out/time.txt" "$out/stdout.txt" "$out/stderr.txt"

echo
echo "targets: BLF->ASC >= 25x python-can (~5 M frames/s); .log->ASC >= 3x log2asc; read BLF >= 10 M frames/s; peak RSS < 64 MiB at any size"
