#!/usr/bin/env python3
"""can-viewer against python-can's `python -m can.viewer` and `cantools monitor`
on the same udp_multicast stream: CPU share of one core and frames lost, at
several rates, 100 ids, every viewer full-screen in a tmux terminal.

    bench/viewer.py                       # 5k, 20k, 50k frames/s, 10 s each
    bench/viewer.py --rates 5000 --seconds 5 --only cankit

It runs itself inside a new user and network namespace (`unshare -rn`):
loopback with multicast on, group 239.74.163.2, nothing leaves the namespace.
For each rate and viewer: start the viewer in a 200x140 tmux terminal (its own
tmux server), wait until it draws, send `rate x seconds` frames with
`can-send --period` cycling through 100 classic frames (ids 0x100..0x163, 8
bytes), read the viewer's CPU time (user + system, all threads, from
/proc/PID/stat) over the sending, wait a second, then read what it counted
from its screen: can-viewer's "N frames" header, can.viewer's per-id Count
column summed, cantools monitor's "Received: N". Lost = sent - counted;
us/frame = CPU time over the frames it counted (a viewer that is saturated
shows less CPU than it wants and loses frames, so compare this column too).

Each viewer gets the same DBC (`--dbc` for can-viewer, the database argument
of cantools monitor): 100 messages of four 16-bit signals, so both look
every frame's message up; can.viewer does not decode.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUP = "239.74.163.2"
IDS = [0x100 + i for i in range(100)]


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def enter_namespace(argv):
    if os.environ.get("CANKIT_BENCH_NS") == "1":
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "link", "set", "lo", "multicast", "on")
        sh("ip", "route", "add", "224.0.0.0/4", "dev", "lo")
        return
    if not shutil.which("unshare") or not shutil.which("tmux"):
        sys.exit("bench/viewer.py needs unshare (util-linux) and tmux")
    sh("cargo", "build", "--release", "--bin", "can-viewer", "--bin", "can-send", cwd=ROOT)
    env = dict(os.environ, CANKIT_BENCH_NS="1")
    os.execvpe("unshare", ["unshare", "-rn", sys.executable, os.path.abspath(__file__), *argv], env)


def write_dbc(path):
    lines = ['VERSION ""', "", "NS_ :", "", "BS_:", "", "BU_: ECU", ""]
    for i, mid in enumerate(IDS):
        lines.append(f"BO_ {mid} Msg{i:03d}: 8 ECU")
        for s in range(4):
            lines.append(f' SG_ Sig{i:03d}_{s} : {s * 16}|16@1+ (0.1,0) [0|6553.5] "u" Vector__XXX')
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (3rd field of the file): utime and stime are the 14th and 15th
    return int(fields[11]) + int(fields[12])


class Tmux:
    def __init__(self, tag):
        self.sock = f"cankit-bench-{os.getpid()}-{tag}"
        self.name = tag

    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True)

    def start(self, cmd, pidfile):
        wrapped = f"sh -c 'echo $$ > {pidfile}; exec {cmd} 2>/dev/null'"
        r = self.run("new-session", "-d", "-s", self.name, "-x", "200", "-y", "140", wrapped)
        if r.returncode != 0:
            sys.exit(r.stderr)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", self.name).stdout

    def stop(self):
        self.run("kill-server")


def counted(tool, screen):
    if tool == "cankit":
        m = re.search(r"(\d+) frames, (\d+) ids", screen)
        return int(m.group(1)) if m else None
    if tool == "cantools":
        m = re.search(r"Received: (\d+)", screen)
        return int(m.group(1)) if m else None
    # can.viewer: a row per id, "Count Time dt ID DLC Data"
    total, rows = 0, 0
    for line in screen.splitlines():
        w = line.split()
        if len(w) >= 5 and w[0].isdigit() and re.fullmatch(r"0x[0-9A-Fa-f]+", w[3]):
            total += int(w[0])
            rows += 1
    return total if rows else None


def ready(tool, screen):
    return {"cankit": "frames/s", "cantools": "Received:", "python-can": "Count"}[tool] in screen


def command(tool, py, dbc):
    viewer = os.path.join(ROOT, "target/release/can-viewer")
    if tool == "cankit":
        return f"env -u NO_COLOR {viewer} -i udp_multicast -c {GROUP} --no-config --dbc {dbc}"
    if tool == "python-can":
        return f"{py} -m can.viewer -i udp_multicast -c {GROUP}"
    return f"{py} -m cantools monitor -i udp_multicast -c {GROUP} {dbc}"


def one(tool, rate, seconds, py, dbc, work):
    pidfile = os.path.join(work, f"{tool}.pid")
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    t = Tmux(f"{tool}-{rate}")
    t.start(command(tool, py, dbc), pidfile)
    deadline = time.time() + 30
    while time.time() < deadline and not ready(tool, t.screen()):
        time.sleep(0.2)
    if not ready(tool, t.screen()):
        t.stop()
        return None
    time.sleep(1.0)
    pid = int(open(pidfile).read())
    count = int(rate * seconds)
    frames = []
    for i, mid in enumerate(IDS):
        frames.append(f"{mid:03X}#" + "".join(f"{(i * 7 + b * 13) & 0xFF:02X}" for b in range(8)))
    sender = [
        os.path.join(ROOT, "target/release/can-send"),
        "-i", "udp_multicast", "-c", GROUP, "--no-config",
        "--period", f"{round(1e6 / rate)}us", "--count", str(count), *frames,
    ]
    c0, w0 = cpu_ticks(pid), time.time()
    sh(*sender)
    c1, w1 = cpu_ticks(pid), time.time()
    time.sleep(1.5)
    got = counted(tool, t.screen())
    t.stop()
    hz = os.sysconf("SC_CLK_TCK")
    cpu = (c1 - c0) / hz / (w1 - w0) * 100
    return {"cpu": cpu, "cpu_s": (c1 - c0) / hz, "sent": count, "got": got, "achieved": count / (w1 - w0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="5000,20000,50000")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--only", choices=["cankit", "python-can", "cantools"], action="append")
    args = ap.parse_args()
    enter_namespace(sys.argv[1:])
    py = os.environ.get("CANKIT_PYTHON", "/tmp/cankit-venv/bin/python")
    tools = args.only or ["cankit", "python-can", "cantools"]
    work = tempfile.mkdtemp(prefix="cankit-bench-viewer-")
    dbc = os.path.join(work, "bench.dbc")
    write_dbc(dbc)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'rate/s':>8} {'viewer':<11} {'sent/s':>8} {'CPU %':>7} {'counted':>9} {'lost %':>7} {'us/frame':>9}")
    results = {}
    for rate in [int(r) for r in args.rates.split(",")]:
        for tool in tools:
            r = one(tool, rate, args.seconds, py, dbc, work)
            if r is None:
                print(f"{rate:>8} {tool:<11} did not start (is it installed in {py}?)")
                continue
            results[(rate, tool)] = r
            got = r["got"]
            lost = "?" if got is None else f"{max(0, r['sent'] - got) / r['sent'] * 100:.1f}"
            per = "?" if not got else f"{r['cpu_s'] / got * 1e6:.1f}"
            print(
                f"{rate:>8} {tool:<11} {r['achieved']:>8.0f} {r['cpu']:>7.1f} "
                f"{got if got is not None else '?':>9} {lost:>7} {per:>9}",
                flush=True,
            )
        ours = results.get((rate, "cankit"))
        for other in ("python-can", "cantools"):
            theirs = results.get((rate, other))
            if ours and theirs and ours["cpu"] > 0:
                line = f"{'':>8} {other} / cankit: CPU {theirs['cpu'] / ours['cpu']:.1f}x"
                if ours["got"] and theirs["got"]:
                    a = theirs["cpu_s"] / theirs["got"]
                    b = ours["cpu_s"] / ours["got"]
                    line += f", CPU per frame shown {a / b:.1f}x"
                print(line)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
