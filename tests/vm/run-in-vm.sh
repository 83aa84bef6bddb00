#!/usr/bin/env bash
# Runs one command inside a throw-away QEMU VM whose kernel has SocketCAN, and
# returns its exit code. The command's stdout and stderr both come back on our
# stdout.
#
# usage: run-in-vm.sh [options] [--] CMD [ARGS...]
#
#   --share DIR   9p-share host DIR read-write at the same path in the guest
#                 (repeatable). The repository is usually shared this way.
#   --add PATH    copy host file or directory PATH into the guest at the same
#                 path; for an ELF executable also the libraries it links
#                 (repeatable). CMD itself is added automatically when it is a
#                 host executable outside the shares.
#   --libs PATH   copy only the shared libraries ELF file PATH links (for an
#                 executable that lives on a share, e.g. target/debug/...).
#   --hostroot    mount host / read-only (9p) and run CMD chrooted in it: every
#                 host tool is available, at ~1.5 s extra boot cost. /tmp, /run
#                 and /dev/shm are fresh tmpfs there.
#   --cwd DIR     working directory of CMD (default: the first share, else /)
#   --env K=V     environment variable for CMD (repeatable)
#   --timeout S   limit for the whole run (default 600); exit code 124 when hit
#   --smp N       vCPUs (default 2)    --mem MB   guest RAM (default 1024)
#   --accel A     tcg | kvm | auto (default: kvm when /dev/kvm is usable and is
#                 not the nested PVM backend, which cannot boot a stock kernel)
#   --verbose     kernel messages and host-side timings on stderr
#
# In the guest: root, PATH has dash (/bin/sh), busybox applets, iproute2 `ip`
# and can-utils (candump, cansend, cangen, cangw, canplayer, ...); the modules
# can, can-raw, can-bcm, can-gw, can-isotp, can-j1939, vcan, vxcan and veth are
# loaded; no CAN interface exists yet (create them: `ip link add vcan0 type vcan`);
# CANKIT_IN_VM=1 is set.
#
# Exit code: CMD's own; 124 on timeout; 125 when the VM ended without one
# (kernel panic, failed module load, failed mount).
#
# Environment: CANKIT_VM_DIR (cache, default /tmp/cankit-vm; setup.sh runs
# when something is missing), CANKIT_VM_KEEP=1 keeps the run directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${CANKIT_VM_DIR:-/tmp/cankit-vm}
export CANKIT_VM_DIR=$DIR

adds=() libs=() shares=() envs=() hostroot=0 cwd="" accel=auto smp=2 mem=1024 tmo=600 verbose=0
while [ $# -gt 0 ]; do
  case "$1" in
    --add) adds+=("$2"); shift 2 ;;
    --libs) libs+=("$2"); shift 2 ;;
    --share) shares+=("$(realpath "$2")"); shift 2 ;;
    --hostroot) hostroot=1; shift ;;
    --cwd) cwd=$2; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --timeout) tmo=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --verbose) verbose=1; shift ;;
    --) shift; break ;;
    -*) echo "run-in-vm: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: run-in-vm.sh [options] [--] CMD [ARGS...]" >&2; exit 2; }

t0=$EPOCHREALTIME
say() { [ $verbose = 0 ] || awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$*" 'BEGIN { printf "run-in-vm [%5.2fs] %s\n", b - a, m }' >&2; }

# ---- prerequisites -------------------------------------------------------------
KDIR=$DIR/kernel
if [ ! -s "$KDIR/vmlinux" ] || [ ! -x "$DIR/busybox/bin/busybox" ] ||
  { ! command -v qemu-system-x86_64 >/dev/null && [ ! -e "$DIR/qemu/ready" ]; } ||
  ! command -v candump >/dev/null; then
  "$HERE/setup.sh" >&2
fi
KVER=$(cat "$KDIR/KVER")
MODDIR=$KDIR/lib/modules/$KVER
QEMU=(qemu-system-x86_64)
if ! command -v qemu-system-x86_64 >/dev/null; then
  Q=$DIR/qemu
  QEMU=("$Q/usr/bin/qemu-system-x86_64" -L "$Q/usr/share/qemu" -L "$Q/usr/share/seabios")
  export QEMU_MODULE_DIR=$Q/usr/lib/x86_64-linux-gnu/qemu # the TCG accelerator is a module
fi

RUN=$(mktemp -d "$DIR/run.XXXXXX")
cleanup() { if [ -n "${CANKIT_VM_KEEP:-}" ]; then echo "run-in-vm: kept $RUN" >&2; else rm -rf "$RUN"; fi; }
trap cleanup EXIT
ROOT=$RUN/root
mkdir -p "$ROOT"/{bin,etc,proc,sys,dev,tmp,run,host,lib/modules}

# ---- guest files -------------------------------------------------------------------
is_elf() { [ "$(head -c4 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }
put() { # host file -> same path in the guest (symlinks resolved)
  [ -e "$ROOT$1" ] && return 0
  mkdir -p "$ROOT$(dirname "$1")"
  cp -L --preserve=mode "$1" "$ROOT$1"
}
put_libs() { # the shared libraries an ELF file links, and the loader
  is_elf "$1" || return 0
  local lib
  for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ )]*' || true); do put "$lib"; done
}
add() {
  local p
  p=$(command -v "$1" 2>/dev/null || true)
  [ -n "$p" ] && [ -e "$p" ] || p=$1
  [ -e "$p" ] || { echo "run-in-vm: --add $1: no such file" >&2; exit 2; }
  p=$(realpath -s "$p")
  if [ -d "$p" ]; then
    local f
    while IFS= read -r f; do add "$f"; done < <(find "$p" -type f)
    return 0
  fi
  put "$p"
  put_libs "$p"
}
on_share() { local s; for s in "${shares[@]}"; do case "$1" in "$s"/*) return 0 ;; esac; done; return 1; }

BB=$DIR/busybox/bin/busybox
cp "$BB" "$ROOT/bin/busybox"
put_libs "$BB"
if [ $hostroot = 0 ]; then
  # dash is /bin/sh so that scripts see the tools on PATH, not busybox applets;
  # iproute2's ip because busybox ip cannot create vxcan pairs or namespaces.
  for t in dash ip candump cansend cangen cangw canplayer canbusload cansniffer slcanpty \
    isotpsend isotprecv isotpdump; do
    command -v "$t" >/dev/null && add "$(command -v "$t")"
  done
  ln -s /usr/bin/dash "$ROOT/bin/sh"
  # CMD itself, when it is a host executable the guest would not otherwise see.
  cmd0=$(command -v "$1" 2>/dev/null || true)
  if [ -n "$cmd0" ] && [ -f "$cmd0" ]; then
    cmd0=$(realpath -s "$cmd0")
    if on_share "$cmd0"; then put_libs "$cmd0"; else add "$cmd0"; fi
  fi
fi
for a in "${adds[@]}"; do add "$a"; done
for l in "${libs[@]}"; do put_libs "$(realpath "$l")"; done

# ---- kernel modules, dependencies first ------------------------------------------------
wanted=(can can-raw can-bcm can-gw can-isotp can-j1939 can-dev vcan vxcan veth)
if [ ${#shares[@]} -gt 0 ] || [ $hostroot = 1 ]; then wanted+=(virtio_pci 9pnet_virtio 9p); fi
declare -A loaded=()
order=()
need_module() {
  local m=${1//_/-} f d
  [ -z "${loaded[$m]:-}" ] || return 0
  loaded[$m]=1
  f=$(find "$MODDIR" \( -name "$m.ko*" -o -name "${m//-/_}.ko*" \) | head -1)
  [ -n "$f" ] || { echo "run-in-vm: module $1 is not in $MODDIR" >&2; exit 1; }
  for d in $(modinfo -F depends "$f" | tr ',' ' '); do need_module "$d"; done
  cp "$f" "$ROOT/lib/modules/"
  order+=("$(basename "$f")")
}
for m in "${wanted[@]}"; do need_module "$m"; done
printf '%s\n' "${order[@]}" >"$ROOT/etc/modules"

# ---- the command --------------------------------------------------------------------------
[ -n "$cwd" ] || { [ ${#shares[@]} -gt 0 ] && cwd=${shares[0]}; } || cwd=/
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
  echo "cd $(quote "$cwd") || exit 125"
  # env(1) rather than export: names like CARGO_BIN_EXE_can-logger are not
  # valid shell variable names but must reach the command.
  printf 'exec env CANKIT_IN_VM=1'
  for e in "${envs[@]}"; do printf ' %s' "$(quote "$e")"; done
  for a in "$@"; do printf ' %s' "$(quote "$a")"; done
  echo
} >"$ROOT/cmd"

virtfs=()
: >"$ROOT/etc/shares"
i=0
for s in "${shares[@]}"; do
  virtfs+=(-virtfs "local,path=$s,mount_tag=share$i,security_model=none,multidevs=remap")
  echo "share$i $s" >>"$ROOT/etc/shares"
  i=$((i + 1))
done
if [ $hostroot = 1 ]; then
  virtfs+=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
fi
echo $hostroot >"$ROOT/etc/hostroot"

# The guest's init: mounts, modules, shares, then the command; its exit code goes
# out on the second serial port and the VM powers off.
cat >"$ROOT/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
done_with() { echo 0 >/proc/sys/kernel/printk; echo "$1" >/dev/ttyS1; sync; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /var && ln -s /run /var/run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
stty -onlcr </dev/console 2>/dev/null
while read -r m; do
  insmod "/lib/modules/$m" || { echo "vm: insmod $m failed" >&2; done_with 125; }
done </etc/modules
ip link set lo up
R=
if [ "$(cat /etc/hostroot)" = 1 ]; then
  R=/host
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /host || done_with 125
  for d in proc sys dev; do mount --rbind /$d /host/$d; done
  for d in tmp run dev/shm; do [ -d /host/$d ] && mount -t tmpfs tmpfs /host/$d; done
fi
while read -r tag dir; do
  mkdir -p "$R$dir" 2>/dev/null
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none "$tag" "$R$dir" || done_with 125
done </etc/shares
if [ -n "$R" ]; then
  cp /cmd /host/tmp/.vm-cmd
  chroot /host /bin/sh /tmp/.vm-cmd </dev/null
else
  /bin/sh /cmd </dev/null
fi
done_with $?
EOF
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet) >"$RUN/initrd"
say "initramfs ready ($(du -h "$RUN/initrd" | cut -f1))"

# ---- boot ------------------------------------------------------------------------------------
if [ "$accel" = auto ]; then
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then accel=kvm; else accel=tcg; fi
fi
case "$accel" in
  kvm) acc=(-accel kvm -cpu host) ;;
  tcg) acc=(-accel tcg,thread=multi -cpu max) ;;
  *) echo "run-in-vm: --accel must be tcg, kvm or auto" >&2; exit 2 ;;
esac
append="console=ttyS0 panic=-1 oops=panic rdinit=/init mitigations=off tsc=reliable no_timer_check"
append+=" i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
[ $verbose = 1 ] || append+=" quiet loglevel=1"
say "booting $KVER ($accel, $smp vCPU, $mem MB)"
set +e
# The kernel is the uncompressed vmlinux: QEMU boots it through PVH, skipping the
# bzImage decompression (half the boot time under TCG).
timeout -k 5 "$tmo" "${QEMU[@]}" "${acc[@]}" -M pc -smp "$smp" -m "$mem" \
  -nodefaults -no-user-config -display none -no-reboot \
  -chardev stdio,id=con,signal=on -serial chardev:con -serial "file:$RUN/rc" \
  "${virtfs[@]}" -kernel "$KDIR/vmlinux" -initrd "$RUN/initrd" -append "$append" </dev/null
qrc=$?
set -e
say "qemu exited ($qrc)"
if [ $qrc = 124 ] || [ $qrc = 137 ]; then echo "run-in-vm: timed out after ${tmo}s" >&2; exit 124; fi
rc=$(tr -dc '0-9' <"$RUN/rc" 2>/dev/null || true)
[ -n "$rc" ] || { echo "run-in-vm: the VM ended without an exit code (qemu: $qrc)" >&2; exit 125; }
exit "$rc"
