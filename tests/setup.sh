#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine (Debian, as root or with
# sudo). Idempotent: a second run only checks.
#   - can-utils (asc2log/log2asc peers; cansend/candump/cangen inside the VM)
#   - util-linux + iproute2 (network namespaces for the UDP tests), tmux (viewer)
#   - tshark (with editcap and text2pcap: the pcapng tests)
#   - a Python venv with python-can 4.6.1, asammdf 8.8 (python-can's MF4
#     reader and writer), msgpack and cantools at
#     ${CANKIT_VENV:-/tmp/cankit-venv}
#   - the QEMU VM for the SocketCAN tests (tests/vm/setup.sh, when present)
#   - cmake + g++, and the reference cannelloni built from
#     tests/fixtures/peers/ into ${CANKIT_PEERS_DIR:-/tmp/cankit-peers}
#     (tests/peers/cannelloni.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

need=()
command -v asc2log >/dev/null || need+=(can-utils)
command -v unshare >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
command -v tmux >/dev/null || need+=(tmux)
# tshark, editcap, text2pcap: the pcapng tests (tests/pcapng.rs)
command -v tshark >/dev/null && command -v text2pcap >/dev/null || need+=(tshark)
# cmake, g++: the reference cannelloni (tests/peers/cannelloni.sh)
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark's package asks whether non-root users may capture: no
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

venv=${CANKIT_VENV:-/tmp/cankit-venv}
if ! "$venv/bin/python" -c 'import can, msgpack, cantools, asammdf; assert can.__version__ == "4.6.1"; assert asammdf.__version__.startswith("8.8."); assert cantools.__version__.startswith("45.")' 2>/dev/null; then
  echo "setup: creating $venv with python-can 4.6.1 and asammdf 8.8" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check python-can==4.6.1 'asammdf>=8.8,<8.9' msgpack 'cantools>=45,<46'
fi
# pyserial: python-can's slcan interface (bench/slcan.sh runs it beside ours)
if ! "$venv/bin/python" -c 'import serial' 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check pyserial
fi

# the reference cannelloni, built once (tests/cannelloni.rs)
"$here/peers/cannelloni.sh" >/dev/null

# python-can's cannelloni plugin (a TCP client), for tests/cannelloni.rs
"$venv/bin/python" -c 'import can_cannelloni' 2>/dev/null ||
  "$venv/bin/pip" install -q --disable-pip-version-check can-cannelloni==0.1.0

# linux-can's socketcand daemon, built once from tests/fixtures/peers into
# ${CANKIT_PEERS_DIR:-/tmp/cankit-peers}/socketcand (tests/socketcand_vm.rs runs it in the VM)
peers=${CANKIT_PEERS_DIR:-/tmp/cankit-peers}
if [ ! -x "$peers/socketcand/build/src/socketcand" ]; then
  if ! command -v meson >/dev/null || ! command -v ninja >/dev/null || ! command -v cc >/dev/null; then
    echo "setup: installing meson ninja-build gcc (to build socketcand)" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends meson ninja-build gcc libc6-dev >/dev/null
  fi
  echo "setup: building socketcand in $peers/socketcand" >&2
  rm -rf "$peers/socketcand" && mkdir -p "$peers"
  tar -xzf "$here/fixtures/peers/socketcand-6dd5d33.tar.gz" -C "$peers"
  (cd "$peers/socketcand" && meson setup build >/dev/null && ninja -C build >/dev/null)
fi

if [ -x "$here/vm/setup.sh" ]; then
  "$here/vm/setup.sh"
fi
echo "setup: ready (python: $venv/bin/python)" >&2
