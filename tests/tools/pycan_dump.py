#!/usr/bin/env python3
"""Print what python-can reads from CAN logs, one canonical JSON object a line.

This is cankit's interop oracle: the integration tests run it (through
tests/common/mod.rs, python_can_reads) and compare its output with what our
readers give, and tests/fixtures/expected/ holds its output for every fixture.

    pycan_dump.py [--rel] [--tdigits N] [--count] LOG [LOG ...]

python-can picks the reader from the file name (.asc .blf .csv .db .log .trc,
.mf4 with asammdf installed,
optionally .gz). Each message becomes one line with these keys in this order:

    t     timestamp with N decimals (default 6), as python-can gives it: ASC
          relative to the trigger block, the other formats absolute (epoch);
          --rel subtracts the first message's time of each file
    id    arbitration id (int)         ext, rtr, err  extended / remote / error
    fd, brs, esi                       CAN FD flags
    dlc   Message.dlc (bytes for FD, the raw DLC for classic frames)
    data  the data bytes in lower-case hex
    ch    Message.channel (int, string or null)
    rx    Message.is_rx

for example

    {"t": 2.501000, "id": 200, "ext": false, "rtr": false, "err": false, "fd": false, "brs": false, "esi": false, "dlc": 8, "data": "0908070605040302", "ch": 1, "rx": false}

With --count it prints only "N LOG" for each file. Run it with TZ=UTC: python-can
reads ASC dates in local time. Tested with python-can 4.6.1.
"""

import argparse
import json
import sys

import can

# key -> how to get it from a can.Message; "t" is formatted apart
FIELDS = (
    ("id", lambda m: m.arbitration_id),
    ("ext", lambda m: m.is_extended_id),
    ("rtr", lambda m: m.is_remote_frame),
    ("err", lambda m: m.is_error_frame),
    ("fd", lambda m: m.is_fd),
    ("brs", lambda m: m.bitrate_switch),
    ("esi", lambda m: m.error_state_indicator),
    ("dlc", lambda m: m.dlc),
    ("data", lambda m: bytes(m.data).hex() if m.data else ""),
    ("ch", lambda m: m.channel),
    ("rx", lambda m: m.is_rx),
)


def line(msg, t, decimals):
    """One message as a JSON object with a fixed key order and `t` fixed-point."""
    parts = ['"t": %.*f' % (decimals, t)]
    for key, get in FIELDS:
        parts.append("%s: %s" % (json.dumps(key), json.dumps(get(msg))))
    return "{" + ", ".join(parts) + "}"


def dump(path, rel, decimals, count_only, out):
    n = 0
    origin = None
    with can.LogReader(path) as reader:
        for msg in reader:
            n += 1
            if count_only:
                continue
            if origin is None:
                origin = msg.timestamp if rel else 0.0
            out.write(line(msg, msg.timestamp - origin, decimals))
            out.write("\n")
    if count_only:
        out.write("%d %s\n" % (n, path))


def main(argv):
    ap = argparse.ArgumentParser(
        description="Print what python-can reads from CAN logs as JSON lines."
    )
    ap.add_argument("logs", nargs="+", metavar="LOG")
    ap.add_argument("--rel", action="store_true",
                    help="times relative to each file's first message")
    ap.add_argument("--tdigits", type=int, default=6, metavar="N",
                    help="decimals of the timestamp (default 6)")
    ap.add_argument("--count", action="store_true",
                    help="print only 'N LOG' for each file")
    args = ap.parse_args(argv)
    for path in args.logs:
        dump(path, args.rel, args.tdigits, args.count, sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(1)
