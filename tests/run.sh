#!/usr/bin/env bash
# The whole test suite, as the README and .ci/run run it: installs the test
# prerequisites (tests/setup.sh), then runs every unit, integration, interop
# (python-can, can-utils) and VM (SocketCAN) test.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/setup.sh
export CANKIT_PYTHON=${CANKIT_PYTHON:-${CANKIT_VENV:-/tmp/cankit-venv}/bin/python}
cargo test --all-features "$@"
