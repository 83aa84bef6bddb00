#!/usr/bin/env bash
# Builds the seed corpora in fuzz/corpus/<target>/ from the shared fixtures
# (never committed: they are generated at run time) plus a few tiny synthetic
# datagrams for the bus decoders. Usage: fuzz/seed.sh [FIXTURES_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fix=${1:-${CANKIT_FIXTURES:-/work/shared/fixtures}}
corpus=$here/corpus
[ -d "$fix" ] || { echo "no fixtures at $fix" >&2; exit 1; }

# copy each fixture of the given extensions (max 256 KiB: libFuzzer prefers
# small inputs) into corpus/<target>, named by content hash
seed() {
    local target=$1; shift
    mkdir -p "$corpus/$target"
    for ext in "$@"; do
        find "$fix" -type f -name "*.$ext" -size -256k -not -path '*/expected/*' -print0 |
            while IFS= read -r -d '' f; do
                cp "$f" "$corpus/$target/$(sha1sum "$f" | cut -c1-16)"
            done
    done
    echo "$target: $(ls "$corpus/$target" | wc -l) seeds"
}
seed read_blf blf
seed read_asc asc
seed read_candump log
seed read_csv csv
seed read_trc trc
seed read_jsonl jsonl
seed read_sqlite db
seed parse_dbc dbc
# MF4: no fixture yet; small files written by the repository's can-convert
# (stored, deflate, and one left unfinalized) from a candump fixture, when it is built
mkdir -p "$corpus/read_mf4"
conv=""
for c in "$here/../target/release/can-convert" "$here/../target/debug/can-convert"; do
    [ -x "$c" ] && { conv=$c; break; }
done
src=$(find "$fix" -type f -name '*.log' -size -8k -not -path '*/expected/*' | sort | head -1)
if [ -n "$conv" ] && [ -n "$src" ]; then
    for level in 0 1; do
        "$conv" --force --no-progress --format-opt compression=$level "$src" "$corpus/read_mf4/seed-$level.mf4" >/dev/null 2>&1 || true
    done
    if [ -s "$corpus/read_mf4/seed-0.mf4" ]; then
        # the same file as a killed logger leaves it: unfinalized, counts and DT length unwritten
        python3 - "$corpus/read_mf4/seed-0.mf4" "$corpus/read_mf4/seed-unfinalized.mf4" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[0:8] = b"UnFinMF "
b[60] = 0x5
for i in range(64, len(b) - 104, 8):
    if b[i:i + 4] == b"##CG":
        b[i + 80:i + 88] = bytes(8)
    if b[i:i + 4] == b"##DT":
        b[i + 8:i + 16] = (24).to_bytes(8, "little")
open(sys.argv[2], "wb").write(b)
PY
    fi
    echo "read_mf4: $(ls "$corpus/read_mf4" | wc -l) seeds"
else
    echo "read_mf4: no seeds (build can-convert first, or no small .log fixture)" >&2
fi
# jsonl has no fixture of its own: the expected outputs are JSON lines too
mkdir -p "$corpus/read_jsonl"
find "$fix/expected" -type f -name '*.jsonl' -size -16k | sed -n 1,40p | while read -r f; do
    cp "$f" "$corpus/read_jsonl/$(sha1sum "$f" | cut -c1-16)"
done
printf '{"timestamp":1700000000.123456789,"channel":"can0","id":291,"extended":false,"remote":false,"error":false,"fd":true,"brs":true,"esi":false,"dlc":9,"data":"00112233445566778899aabb","direction":"tx"}\n' \
    >"$corpus/read_jsonl/synthetic-fd"

python3 - "$corpus" <<'PY'
import os, struct, sys
corpus = sys.argv[1]

def mp(v):
    """A minimal msgpack encoder for the python-can message map."""
    if v is None: return b"\xc0"
    if v is True: return b"\xc3"
    if v is False: return b"\xc2"
    if isinstance(v, float): return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, int):
        if v < 0x80: return bytes([v])
        if v <= 0xFF: return b"\xcc" + bytes([v])
        if v <= 0xFFFF: return b"\xcd" + struct.pack(">H", v)
        return b"\xce" + struct.pack(">I", v)
    if isinstance(v, bytes): return b"\xc4" + bytes([len(v)]) + v
    if isinstance(v, str):
        b = v.encode(); return bytes([0xA0 | len(b)]) + b
    if isinstance(v, dict):
        out = bytes([0x80 | len(v)])
        for k, x in v.items(): out += mp(k) + mp(x)
        return out
    raise TypeError(v)

def msg(id, ext, data, rtr=False, err=False, fd=False, brs=False, esi=False, dlc=None):
    return mp({"timestamp": 1700000000.5, "arbitration_id": id, "is_extended_id": ext,
               "is_remote_frame": rtr, "is_error_frame": err, "channel": None,
               "dlc": len(data) if dlc is None else dlc, "data": data, "is_fd": fd,
               "bitrate_switch": brs, "error_state_indicator": esi})

udp = os.path.join(corpus, "decode_udp"); os.makedirs(udp, exist_ok=True)
for i, d in enumerate([
    msg(0x123, False, b"\x11\x22\x33"),
    msg(0x1ABCDEF0, True, bytes(range(8))),
    msg(0x7FF, False, b"", rtr=True, dlc=4),
    msg(0x20000004, True, bytes(8), err=True),
    msg(0x18DAF110, True, bytes(range(64)), fd=True, brs=True),
    msg(0x10, False, bytes(12), fd=True, esi=True),
]):
    open(os.path.join(udp, f"synthetic-{i}"), "wb").write(d)

def sim(kind, flags, id, dlc, data, lost=0):
    return bytes([0xC7, 1, kind, flags]) + struct.pack("<I", id) + bytes([dlc, len(data)]) \
        + struct.pack("<I", lost) + b"\0\0" + data

s = os.path.join(corpus, "decode_sim"); os.makedirs(s, exist_ok=True)
for i, d in enumerate([
    sim(0, 0, 0x123, 3, b"\x01\x02\x03"),
    sim(0, 1, 0x1ABCDEF0, 8, bytes(range(8)), lost=7),
    sim(1, 0, 0x7FF, 4, b""),
    sim(2, 1, 0x20000004, 8, bytes(8)),
    sim(0, 0x02 | 0x04, 0x55, 13, bytes(range(32))),
    sim(0, 0, 0x100, 12, bytes(8)),
]):
    open(os.path.join(s, f"synthetic-{i}"), "wb").write(d)
# cannelloni datagrams (version 2, DATA, seq, count; id, len|0x80 FD + flags, data)
def cnl(id, data, fd=None, rtr_len=None):
    if rtr_len is not None:
        return struct.pack(">IB", id | 0x40000000, rtr_len)
    if fd is not None:
        return struct.pack(">IBB", id, 0x80 | len(data), fd) + data
    return struct.pack(">IB", id, len(data)) + data

c = os.path.join(corpus, "decode_cannelloni"); os.makedirs(c, exist_ok=True)
for i, fr in enumerate([
    [cnl(0x123, b"\x11\x22\x33")],
    [cnl(0x80000000 | 0x1ABCDEF0, bytes(range(8))), cnl(0x7FF, b"", rtr_len=4)],
    [cnl(0x20000004, bytes(8)), cnl(0x456, bytes(range(64)), fd=0x05)],
    [cnl(0x10, bytes(12), fd=0x06), cnl(0x11, b"", fd=0x04), cnl(0x12, b"\x01")],
    [cnl(0x123, bytes(127), fd=0x04)],  # CVE-2026-37539's shape
]):
    open(os.path.join(c, f"synthetic-{i}"), "wb").write(struct.pack(">BBBH", 2, 0, i, len(fr)) + b"".join(fr))
sl = os.path.join(corpus, "decode_slcan"); os.makedirs(sl, exist_ok=True)
for i, d in enumerate([
    b"t1232DEAD\rT1ABCDEF08001122334455667\r\r\x07",
    b"r1234\rR1FFFFFFF8EA5F\rF20\rV1013\rz\rZ\r",
    b"d1239" + b"AB" * 12 + b"\rB18FF0102F" + b"CD" * 64 + b"0001\r",
    b"t12\rhello\x07" + b"7" * 300 + b"\r\n",
]):
    open(os.path.join(sl, f"synthetic-{i}"), "wb").write(d)
# pcapng and classic pcap of SocketCAN frames (no fixture holds one)
def can(word, data, fd_flags=0, pad=16):
    p = struct.pack(">IBBBB", word, len(data), fd_flags, 0, 0) + data
    return p + bytes(max(0, pad - len(p)))

def block(e, btype, body):
    body += bytes(-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)

def opt(e, code, value):
    return struct.pack(e + "HH", code, len(value)) + value + bytes(-len(value) % 4)

packets = [can(0x123, b"\x11\x22\x33"), can(0x80000000 | 0x1ABCDEF0, bytes(range(8))),
           can(0x40000000 | 0x7FF, b"", pad=16), can(0x20000004, bytes(8)),
           can(0x321, bytes(range(64)), 0x05, pad=72), can(0x10, bytes(12), 0x06, pad=0)]
p = os.path.join(corpus, "read_pcapng"); os.makedirs(p, exist_ok=True)
for name, e in [("le", "<"), ("be", ">")]:
    out = block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + opt(e, 4, b"seed") + opt(e, 0, b""))
    out += block(e, 1, struct.pack(e + "HHI", 227, 0, 72) + opt(e, 2, b"can0") + opt(e, 9, b"\x09") + opt(e, 0, b""))
    out += block(e, 1, struct.pack(e + "HHI", 1, 0, 0))
    for i, pk in enumerate(packets):
        ts = 1700000000_000000000 + i
        out += block(e, 6, struct.pack(e + "IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(pk), len(pk)) + pk
                     + bytes(-len(pk) % 4) + opt(e, 2, struct.pack(e + "I", 1 + i % 2)) + opt(e, 0, b""))
    out += block(e, 3, struct.pack(e + "I", len(packets[0])) + packets[0])
    out += block(e, 5, bytes(12))
    open(os.path.join(p, f"synthetic-{name}.pcapng"), "wb").write(out)
    pcap = struct.pack(e + "IHHiIII", 0xA1B23C4D if e == ">" else 0xA1B2C3D4, 2, 4, 0, 0, 72, 227)
    for i, pk in enumerate(packets):
        pcap += struct.pack(e + "IIII", 1700000000, i, len(pk), len(pk)) + pk
    open(os.path.join(p, f"synthetic-{name}.pcap"), "wb").write(pcap)
sc = os.path.join(corpus, "decode_socketcand"); os.makedirs(sc, exist_ok=True)
for i, d in enumerate([
    b"\x07< hi >< ok >< frame 123 23.424242 1A220344 >",
    b"\x10< frame 1ABCDEF0 1700000000.000001 11 22 33  >< error 004 5.000000 >",
    b"\x00< error could not open bus >< fdframe 03B 01 1.5 00112233445566778899AABB >",
    b"\x03< open can0 >< rawmode >< send 1AAAAAAA 2 1 f1 >< echo >",
    b"\x20< add 0 20000 123 4 42 42 42 42 >< update 123 3 11 22 33 >< delete 123 >",
    b"\x05junk< a <b>" + b"x" * 600 + b"> < sendfd 123 12 1 2 3 4 5 6 7 8 9 a b c >",
]):
    open(os.path.join(sc, f"synthetic-{i}"), "wb").write(d)
print("decode_udp: 6 seeds\ndecode_sim: 6 seeds\ndecode_cannelloni: 5 seeds\ndecode_slcan: 4 seeds\nread_pcapng: 4 seeds\ndecode_socketcand: 6 seeds")
PY
