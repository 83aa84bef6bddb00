#!/usr/bin/env python3
"""Player timing benchmark: how faithfully can-player (and python-can's player,
where it can reach the same bus) reproduce a log's gaps, idle and under load.

usage: bench/player.py [--frames N] [--gaps 2ms,0.2ms] [--load K] [--players new=PATH,old=PATH]
                       [--python PY] [--udp]

For each gap, a candump log of N frames is written; each player replays it onto
a bus while can-logger records with kernel receive timestamps (9 digits). The
error of each received gap against the log's gap is summarised (p50, p99, max
of |error| in µs) and the drift (last frame's time error). With --load K, K busy
loops run meanwhile (two cores: --load 2 competes for both). With --udp the bus
is udp_multicast inside a private network namespace (unshare --net) and
python-can's player joins the comparison (PY with python-can 4.6.1); without it,
cankit's players on the host-local virtual bus.
"""
import argparse, os, subprocess, sys, tempfile, time, statistics, signal

ap = argparse.ArgumentParser()
ap.add_argument("--frames", type=int, default=2000)
ap.add_argument("--gaps", default="2ms,0.2ms")
ap.add_argument("--load", type=int, default=0)
ap.add_argument("--players", default="")
ap.add_argument("--python", default=os.environ.get("CANKIT_PYTHON", "/tmp/cankit-venv/bin/python"))
ap.add_argument("--udp", action="store_true")
ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
a = ap.parse_args()
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rel = os.path.join(repo, "target", "release")

if a.udp and not a.inner:
    # a private network namespace with multicast on loopback only
    cmd = ["unshare", "--net", "sh", "-c",
           "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && "
           + " ".join([sys.executable] + [x if x != "--udp" else "--udp --inner" for x in sys.argv])]
    sys.exit(subprocess.call(cmd))

players = {}
for item in filter(None, a.players.split(",")):
    k, v = item.split("=", 1)
    players[k] = v
if not players:
    players["cankit"] = os.path.join(rel, "can-player")
logger = os.path.join(rel, "can-logger")

def parse_gap(t):
    return float(t[:-2]) / 1000 if t.endswith("ms") else float(t[:-2]) / 1e6 if t.endswith("us") else float(t)

def write_log(path, n, gap):
    t0 = 1_700_000_000.0
    with open(path, "w") as f:
        for i in range(n):
            t = t0 + i * gap
            f.write(f"({t:.6f}) can0 {0x100 + i % 256:03X}#{i % 256:02X}\n")

def busy():
    while True:
        pass

def stats(path, n, gap):
    ts = []
    for line in open(path):
        ts.append(float(line.split()[0][1:-1]))
    if len(ts) != n:
        return None, len(ts)
    err = [abs((b - a) - gap) * 1e6 for a, b in zip(ts, ts[1:])]
    err.sort()
    drift = abs((ts[-1] - ts[0]) - gap * (n - 1)) * 1e6
    q = lambda p: err[min(len(err) - 1, int(len(err) * p))]
    return (q(0.5), q(0.99), err[-1], drift), n

loads = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.load)]
try:
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, XDG_RUNTIME_DIR=d)
        print(f"frames {a.frames}, busy loops {a.load}, bus {'udp_multicast' if a.udp else 'virtual'}")
        print(f"{'gap':>8} {'player':>12} {'p50 µs':>9} {'p99 µs':>9} {'max µs':>9} {'drift µs':>9}")
        for g in a.gaps.split(","):
            gap = parse_gap(g)
            log = os.path.join(d, "in.log")
            write_log(log, a.frames, gap)
            runs = dict(players)
            if a.udp:
                runs["python-can"] = None
            for name, path in runs.items():
                out = os.path.join(d, f"out-{name}.log")
                bus = ["-i", "udp_multicast", "-c", "239.74.163.2"] if a.udp else ["-c", "bench"]
                rec = subprocess.Popen([logger, *bus, "-n", str(a.frames), "-d", "120s",
                                        "--format-opt", "digits=9", "--force", "-f", out], env=env)
                time.sleep(0.5)
                if path is None:
                    cmd = [a.python, "-m", "can.player", "-i", "udp_multicast", "-c", "239.74.163.2", log]
                else:
                    cmd = [path, *bus, log]
                subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
                rec.wait(timeout=130)
                s, got = stats(out, a.frames, gap)
                if s is None:
                    print(f"{g:>8} {name:>12} received {got} of {a.frames}")
                else:
                    print(f"{g:>8} {name:>12} {s[0]:9.1f} {s[1]:9.1f} {s[2]:9.1f} {s[3]:9.1f}")
finally:
    for p in loads:
        p.kill()
