#!/usr/bin/env bash
# Two can-convert binaries on the same inputs: every input converted to every
# format by both, the outputs compared byte for byte, and (with --instructions)
# the instructions each conversion took, counted by valgrind so that the load
# of a shared machine does not blur them. See bench/README.md.
#
# usage: bench/same-output.sh [--instructions] OLD NEW INPUT...
set -euo pipefail

count=0
if [ "${1:-}" = "--instructions" ]; then count=1; shift; fi
if [ $# -lt 3 ]; then sed -n '2,7p' "$0"; exit 2; fi
old=$1 new=$2; shift 2
if [ $count = 1 ] && ! command -v valgrind >/dev/null; then
  echo "same-output.sh: --instructions needs valgrind (apt-get install valgrind)" >&2; exit 2
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/old" "$work/new"

# instructions of one run (valgrind's total, every thread)
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
    awk '/Collected/ {print $4}'
}

# TRC names its own file in a header line: drop that line before comparing
strip() { case "$1" in *.trc) grep -av '^;   [^ ]*\.trc' "$1" || true ;; *) cat "$1" ;; esac; }

differ=0 n=0
[ $count = 1 ] && printf '%-28s %14s %14s %8s\n' conversion old new change
for in in "$@"; do
  stem=$(basename "$in" | tr . _)
  for ext in blf asc log trc csv jsonl db; do
    out=$stem.$ext; n=$((n + 1))
    for side in old new; do
      bin=${!side}
      set +e
      "$bin" --no-progress -q "$in" "$work/$side/$out" >/dev/null 2>"$work/$side/$out.err"
      echo $? >"$work/$side/$out.rc"
      set -e
    done
    same=1
    cmp -s "$work/old/$out.rc" "$work/new/$out.rc" || same=0
    cmp -s "$work/old/$out.err" "$work/new/$out.err" || same=0
    if [ -e "$work/old/$out" ] || [ -e "$work/new/$out" ]; then
      cmp -s <(strip "$work/old/$out") <(strip "$work/new/$out") || same=0
    fi
    if [ $same = 0 ]; then echo "DIFFERENT: $in -> .$ext"; differ=$((differ + 1)); fi
    if [ $count = 1 ]; then
      a=$(rm -f "$work/x.$ext"; instructions "$old" --no-progress -q "$in" "$work/x.$ext")
      b=$(rm -f "$work/x.$ext"; instructions "$new" --no-progress -q "$in" "$work/x.$ext")
      printf '%-28s %14d %14d %+7.2f%%\n' "$(basename "$in") -> $ext" "$a" "$b" \
        "$(echo "($b - $a) * 100 / $a" | bc -l)"
    fi
  done
done
echo "$n conversions, $differ with different output, exit code or messages"
[ $differ = 0 ]
