#!/usr/bin/env bash
# Runs one fuzz target for SECONDS (default 180) on one core, seeding its corpus
# first when empty. Usage: fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags]
set -euo pipefail
cd "$(dirname "$0")"
target=$1; secs=${2:-180}; shift; [ $# -gt 0 ] && shift
[ -d "corpus/$target" ] || ./seed.sh >/dev/null
# The BLF reader's inflater threads are detached and may still be winding down
# when libFuzzer exits: LeakSanitizer then reports their thread-locals (~170
# bytes) as a "crash" on an empty input. That is not a per-input leak.
leaks=(); [ "$target" = read_blf ] && leaks=(-detect_leaks=0)
exec env RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len=65536 -print_final_stats=1 "${leaks[@]}" "$@"
