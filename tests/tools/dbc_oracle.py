#!/usr/bin/env python3
"""cantools' decoding of random frames, for tests/dbc.rs.

For each DBC file given: load it with cantools (the text read as cankit reads
it: UTF-8, else cp1252), and for every message cantools can encode, encode
--frames sets of seeded random raw signal values (multiplexers picking one
of their branches), then decode the frame with decode_choices=True. Prints
one JSON object per line:

  {"file": F, "refused": "cantools' error"}                  a DBC cantools refuses
  {"file": F, "message": M, "skipped": "why"}                a message not compared
  {"file": F, "message": M, "id": N, "extended": B, "data": "hex",
   "signals": {"S": number or "label"}}                      one frame
"""
import argparse
import json
import math
import random
import struct
import sys

import cantools


def read_text(path):
    raw = open(path, "rb").read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def raw_value(sig, rnd):
    if sig.is_float:
        while True:
            if sig.length == 32:
                v = struct.unpack("<f", rnd.getrandbits(32).to_bytes(4, "little"))[0]
            else:
                v = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(v):
                return v
    if sig.is_signed:
        return rnd.randint(-(1 << (sig.length - 1)), (1 << (sig.length - 1)) - 1)
    return rnd.randint(0, (1 << sig.length) - 1)


def pick(msg, tree, rnd, values, fixed):
    for node in tree:
        if isinstance(node, str):
            values[node] = raw_value(msg.get_signal_by_name(node), rnd)
        else:
            for mux, branches in node.items():
                v = rnd.choice(sorted(branches))
                fixed[mux] = v
                pick(msg, branches[v], rnd, values, fixed)


FD_LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]


def jsonable(v):
    if isinstance(v, (int, float)):
        return v
    return str(v.name) if hasattr(v, "name") else str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--seed", default="cankit")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    out = sys.stdout
    for f in a.files:
        text = read_text(f)
        try:
            db = cantools.database.load_string(text, database_format="dbc")
        except Exception as e:  # cantools refuses the file; compare what it
            # reads without its checks (overlaps, lengths), if it can.
            try:
                db = cantools.database.load_string(text, database_format="dbc", strict=False)
                lenient = True
            except Exception:
                lenient = False
            out.write(json.dumps({"file": f, "refused": str(e), "lenient": lenient}) + "\n")
            if not lenient:
                continue
        keys = {}
        for m in db.messages:
            k = (m.frame_id, m.is_extended_frame)
            keys[k] = keys.get(k, 0) + 1
        for msg in db.messages:
            def skip(why):
                out.write(json.dumps({"file": f, "message": msg.name, "skipped": why}) + "\n")
            if keys[(msg.frame_id, msg.is_extended_frame)] > 1:
                skip("another message of the file has the same id")
                continue
            if msg.length > 64:
                skip("longer than 64 bytes")
                continue
            rnd = random.Random(f"{a.seed}:{f}:{msg.name}")
            for _ in range(a.frames):
                values, fixed = {}, {}
                pick(msg, msg.signal_tree, rnd, values, fixed)
                values.update(fixed)
                try:
                    data = msg.encode(values, scaling=False, padding=False, strict=False)
                    decoded = msg.decode(data, decode_choices=True)
                except Exception as e:
                    skip(f"cantools cannot encode/decode it: {e}")
                    break
                size = next(n for n in FD_LENGTHS if n >= len(data))
                data = bytes(data) + bytes(size - len(data))
                out.write(json.dumps({
                    "file": f, "message": msg.name, "id": msg.frame_id,
                    "extended": msg.is_extended_frame, "data": data.hex(),
                    "signals": {k: jsonable(v) for k, v in decoded.items()},
                }) + "\n")


if __name__ == "__main__":
    main()
