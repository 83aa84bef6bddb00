#!/usr/bin/env bash
# Prepares everything the CAN test VM needs; idempotent, safe to re-run.
#
# The host kernel of the build machines has no SocketCAN, so tests that need the
# kernel CAN stack boot a small QEMU VM (see run-in-vm.sh). This script:
#
#   * installs with apt what the host side needs: can-utils (the peers the tests
#     talk to), iproute2, kmod (modinfo), cpio, xz-utils;
#   * provides qemu-system-x86_64: the one on PATH if any, otherwise Debian's
#     package *unpacked* under the cache dir (its shared libraries are installed
#     with apt). Installing the package itself is avoided on purpose: on machines
#     that carry a newer qemu-utils from backports, apt would remove it;
#   * fetches Debian's generic kernel package and unpacks only the kernel image and
#     the modules the VM loads. The package is never installed: the host's own
#     kernel is untouched;
#   * unpacks Debian's dynamically linked busybox as the VM's init toolbox.
#
# Everything downloaded goes under $CANKIT_VM_DIR (default /tmp/cankit-vm):
#   kernel/vmlinux, kernel/KVER, kernel/lib/modules/$KVER/...   the guest kernel
#   busybox/bin/busybox                                        the guest toolbox
#   qemu/usr/bin/qemu-system-x86_64 (+ firmware)              when not on PATH
#   debs/                                                      the downloaded .debs
#
# Must run as root (apt). Prints what it does and how long it took.
set -euo pipefail

DIR=${CANKIT_VM_DIR:-/tmp/cankit-vm}
KDIR=$DIR/kernel
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS
mkdir -p "$DIR/debs"
# One setup at a time per cache (parallel test runs share it).
exec 9>"$DIR/.setup.lock"
flock 9

note() { echo "vm-setup: $*" >&2; }

updated=0
apt_update() { [ $updated = 1 ] || { apt-get update -qq; updated=1; }; }
apt_install() {
  apt_update
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
# Downloads a package's .deb into debs/ (once) and prints its path.
fetch_deb() {
  local pkg=$1 deb
  deb=$(ls "$DIR/debs/${pkg}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    apt-cache show "$pkg" >/dev/null 2>&1 || apt_update
    # Stale package lists name versions the mirror no longer has: refresh, retry.
    (cd "$DIR/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null 2>&1) ||
      { apt_update && (cd "$DIR/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null); }
    deb=$(ls "$DIR/debs/${pkg}"_*.deb | head -1)
  fi
  echo "$deb"
}

# ---- host tools --------------------------------------------------------------
need=()
command -v candump >/dev/null || need+=(can-utils)
command -v ip >/dev/null || need+=(iproute2)
command -v modinfo >/dev/null || need+=(kmod)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v dash >/dev/null || need+=(dash)
if [ ${#need[@]} -gt 0 ]; then
  note "apt install ${need[*]}"
  apt_install "${need[@]}"
fi

# ---- qemu ----------------------------------------------------------------------
if ! command -v qemu-system-x86_64 >/dev/null && [ ! -e "$DIR/qemu/ready" ]; then
  note "unpacking qemu-system-x86 under $DIR/qemu (libraries via apt)"
  apt_update
  # Its library dependencies (everything but the qemu/firmware packages we unpack).
  libs=$(apt-cache depends qemu-system-x86 | awk '$1 == "Depends:" {print $2}' |
    grep -v -E '^(<|qemu-|seabios|ipxe-qemu)' | sort -u)
  # shellcheck disable=SC2086
  apt_install $libs
  rm -rf "$DIR/qemu.tmp"
  for p in qemu-system-x86 qemu-system-common qemu-system-data seabios; do
    dpkg -x "$(fetch_deb $p)" "$DIR/qemu.tmp"
  done
  touch "$DIR/qemu.tmp/ready"
  rm -rf "$DIR/qemu" && mv "$DIR/qemu.tmp" "$DIR/qemu"
fi

# ---- guest busybox ---------------------------------------------------------------
# The dynamic `busybox` package, not busybox-static: the static build prefers its
# own applets (its `sh` would run busybox `ip`, which cannot create vxcan pairs or
# namespaces, instead of iproute2's).
if [ ! -x "$DIR/busybox/bin/busybox" ]; then
  note "unpacking busybox"
  rm -rf "$DIR/busybox"
  dpkg -x "$(fetch_deb busybox)" "$DIR/busybox"
fi

# ---- guest kernel ------------------------------------------------------------------
if [ -s "$KDIR/vmlinux" ] && [ -s "$KDIR/KVER" ]; then
  note "ready: kernel $(cat "$KDIR/KVER") in $KDIR ($((SECONDS - start)) s)"
  exit 0
fi
# The generic flavour: the -cloud- kernels are built without CAN.
KPKG=${CANKIT_VM_KPKG:-}
if [ -z "$KPKG" ]; then
  apt_update # fresh lists: the kernel ABI version moves with security updates
  KPKG=$(apt-cache depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
fi
[ -n "$KPKG" ] || { note "cannot resolve the linux-image-amd64 package"; exit 1; }
note "fetching $KPKG (not installed, only unpacked)"
DEB=$(fetch_deb "$KPKG")
rm -rf "$KDIR.tmp" && mkdir -p "$KDIR.tmp"
# Only the image and the module subtrees the VM loads (CAN, vcan/vxcan, 9p + virtio).
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$KDIR.tmp" --wildcards \
  './boot/vmlinuz-*' './boot/config-*' \
  './lib/modules/*/kernel/net/can/*' \
  './lib/modules/*/kernel/drivers/net/can/vcan.ko*' \
  './lib/modules/*/kernel/drivers/net/can/vxcan.ko*' \
  './lib/modules/*/kernel/drivers/net/can/dev/*' \
  './lib/modules/*/kernel/drivers/net/veth.ko*' \
  './lib/modules/*/kernel/drivers/virtio/*' \
  './lib/modules/*/kernel/net/9p/*' \
  './lib/modules/*/kernel/fs/9p/*' \
  './lib/modules/*/kernel/fs/netfs/*' \
  './lib/modules/*/kernel/fs/fscache/*'
KVER=$(basename "$(ls -d "$KDIR.tmp"/lib/modules/*)")
mv "$KDIR.tmp/boot/vmlinuz-$KVER" "$KDIR.tmp/vmlinuz"
mv "$KDIR.tmp/boot/config-$KVER" "$KDIR.tmp/config"
rmdir "$KDIR.tmp/boot"
echo "$KVER" >"$KDIR.tmp/KVER"
# The uncompressed ELF inside the bzImage: QEMU boots it directly (PVH), which
# skips the XZ decompression that costs ~2.5 s under TCG. (xz stops reading at
# the end of the stream, so tail may die of SIGPIPE: expected.)
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$KDIR.tmp/vmlinuz" | head -1 | cut -d: -f1)
[ -n "$off" ] || { note "no XZ payload in $KDIR.tmp/vmlinuz"; exit 1; }
{ tail -c +$((off + 1)) "$KDIR.tmp/vmlinuz" || true; } | xz -dc --single-stream >"$KDIR.tmp/vmlinux"
rm -rf "$KDIR" && mv "$KDIR.tmp" "$KDIR"
note "ready: kernel $KVER in $KDIR ($((SECONDS - start)) s)"
