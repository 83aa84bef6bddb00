#!/usr/bin/env bash
# Builds the reference cannelloni (tests/fixtures/peers/cannelloni-a7776f8.tar.gz,
# mguentner/cannelloni 2.1.2) once into ${CANKIT_PEERS_DIR:-/tmp/cankit-peers}
# and prints the path of the binary. Needs cmake and g++ (tests/setup.sh).
# Idempotent: a second run only prints the path.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tarball=$here/fixtures/peers/cannelloni-a7776f8.tar.gz
dir=${CANKIT_PEERS_DIR:-/tmp/cankit-peers}/cannelloni-a7776f8
bin=$dir/cannelloni/build/cannelloni
if [ ! -x "$bin" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  tar xzf "$tarball" -C "$dir"
  (cd "$dir/cannelloni" && cmake -B build -DSCTP_SUPPORT=OFF . >"$dir/build.log" 2>&1 &&
    make -C build -j2 >>"$dir/build.log" 2>&1) || { cat "$dir/build.log" >&2; exit 1; }
fi
echo "$bin"
