#!/usr/bin/env bash
# The whole test suite, as the README and .ci/run run it: installs the test
# prerequisites (tests/setup.sh), then runs every unit, integration, interop
# (python-can, can-utils) and VM (SocketCAN) test. Arguments go to cargo test;
# the exit code is cargo's.
#
# A test whose prerequisite is missing passes with a "SKIPPED" message that
# libtest hides, so common::missing() also appends a line to $CANKIT_SKIP_LOG,
# and the skipped tests are listed after cargo's own summary. (Under CI=true a
# missing prerequisite fails the test instead.) The log lives in the cargo
# target directory, which the SocketCAN VM shares, so skips in the VM count too.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/setup.sh
export CANKIT_PYTHON=${CANKIT_PYTHON:-${CANKIT_VENV:-/tmp/cankit-venv}/bin/python}

target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
skips=$(mktemp "$(cd "$target" && pwd)/cankit-skips.XXXXXX")
trap 'rm -f "$skips"' EXIT
export CANKIT_SKIP_LOG=$skips

status=0
cargo test --all-features "$@" || status=$?

if [ -s "$skips" ]; then
  # one line per test: "<test binary> <test name><TAB><what is missing>"
  echo "tests/run.sh: $(cut -f1 "$skips" | sort -u | wc -l) test(s) skipped (missing prerequisites):"
  sort -u "$skips" | sed 's/\t/: /; s/^/  /'
fi
exit "$status"
