#!/usr/bin/env bash
# A cargo target runner that runs every test binary inside the CAN VM: cargo
# builds on the host and calls
#     cargo-vm-runner.sh /path/to/target/debug/deps/NAME-HASH [libtest args...]
# which boots the VM once for that binary, with the repository (and the target
# directory, if elsewhere) shared at the same path and the cargo/rust
# environment forwarded. Output and exit code come back, so cargo's summary is
# right.
#
#   CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER=$PWD/tests/vm/cargo-vm-runner.sh cargo test
#
# Not needed for tests written with tests/vm/harness.rs (they boot the VM
# themselves); useful to run *any* test binary, or all of them, against the
# kernel CAN stack. Doctests do not go through runners and stay on the host.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
exe=$(realpath "$1")
shift
args=(--share "$REPO" --cwd "$PWD" --timeout "${CANKIT_VM_TIMEOUT:-600}")
case "$exe" in
  "$REPO"/*) ;;
  *) args+=(--share "$(dirname "$(dirname "$(dirname "$exe")")")") ;; # the target dir
esac
# (read NUL-separated: names like CARGO_BIN_EXE_can-logger are no shell variables)
while IFS= read -r -d '' kv; do
  case "$kv" in
    CANKIT_IN_VM=*) ;;
    CARGO*=* | RUST*=* | CANKIT_*=* | CI=*) args+=(--env "$kv") ;;
  esac
done < <(env -0)
exec "$HERE/run-in-vm.sh" "${args[@]}" -- "$exe" "$@"
