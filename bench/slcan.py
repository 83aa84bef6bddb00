"""Throughput through can-utils' slcanpty: cankit's slcan backend beside
python-can 4.6.1's slcan interface, on the same path. Runs where the kernel
has CAN, as root (bench/slcan.sh starts it in the VM).

  vcan0 <-> slcanpty <-> pty pair <-> copying thread <-> pty pair <-> reader/sender

Receive: cangen puts N frames on vcan0 at a ladder of gaps; each reader
(can-logger; a python-can loop) counts what it got. Send: N frames from
can-send (stdin) and from a python-can send loop; candump counts what arrived
on vcan0, intact and in order. Prints frames/s and losses, and the highest
rate each sustained without loss.
"""

import os
import select
import subprocess
import sys
import threading
import time
import tty

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
BIN = sys.argv[2] if len(sys.argv) > 2 else "target/release"
PY = sys.executable
GAPS_MS = ["1", "0.2", "0.1", "0"]


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def pty_pair():
    m, s = os.openpty()
    tty.setraw(s)
    return m, s, os.ttyname(s)


class Cable:
    """Two pty pairs joined by a thread: slcanpty opens one slave, the tool the other."""

    def __init__(self):
        self.ma, self.sa, self.a = pty_pair()
        self.mb, self.sb, self.b = pty_pair()
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            r, _, _ = select.select([self.ma, self.mb], [], [], 0.05)
            for fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                os.write(self.mb if fd == self.ma else self.ma, data)


PYCAN_RECV = r"""
import sys, time, can
bus = can.Bus(interface="slcan", channel=sys.argv[1], sleep_after_open=0)
print("ready", flush=True)
n = 0; last = None
while True:
    m = bus.recv(timeout=0.2)
    if m is None:
        if last is not None and time.time() - last > 2.0: break
        continue
    n += 1; last = time.time()
print(n, flush=True)
bus.shutdown()
"""

PYCAN_SEND = r"""
import sys, time, can
bus = can.Bus(interface="slcan", channel=sys.argv[1], sleep_after_open=0)
n = int(sys.argv[2])
t = time.perf_counter()
for i in range(n):
    bus.send(can.Message(arbitration_id=i & 0x7FF, is_extended_id=False,
                         data=(i * 0x0101010101010101 & (2**64 - 1)).to_bytes(8, "big")))
print(time.perf_counter() - t, flush=True)
bus.shutdown()
"""


def frames_sent():
    return [f"{i & 0x7FF:03X}#{(i * 0x0101010101010101) & (2**64 - 1):016X}" for i in range(N)]


def recv_run(reader, gap):
    if reader == "cankit":
        log = "/tmp/slcan-bench.log"
        p = subprocess.Popen([f"{BIN}/can-logger", "-i", "slcan", "-c", cable.b, "-f", log, "--force"],
                             stderr=subprocess.PIPE)
        time.sleep(1.0)
    else:
        p = subprocess.Popen([PY, "-c", PYCAN_RECV, cable.b], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()
        time.sleep(0.3)
    t = time.perf_counter()
    sh(f"cangen vcan0 -g {gap} -n {N} -I i -L 8 -D i")
    took = time.perf_counter() - t
    if reader == "cankit":
        time.sleep(2.0)
        p.send_signal(2)
        err = p.communicate(timeout=20)[1].decode()
        got = sum(1 for _ in open(log))
        if err.strip():
            print("    can-logger said:", err.strip().splitlines()[-1])
    else:
        got = int(p.stdout.readline() or 0)
        p.wait(timeout=20)
    return N / took, got


def send_run(sender):
    # into a file: a pipe nobody reads fills at 64 KiB and stalls candump
    out = open("/tmp/slcan-bench-candump.log", "w")
    dump = subprocess.Popen(["candump", "-L", "vcan0"], stdout=out)
    time.sleep(0.5)
    want = frames_sent()
    t = time.perf_counter()
    if sender == "cankit":
        subprocess.run([f"{BIN}/can-send", "-i", "slcan", "-c", cable.b, "-"],
                       input="\n".join(want) + "\n", text=True, check=True)
        took = time.perf_counter() - t
    else:
        out = subprocess.run([PY, "-c", PYCAN_SEND, cable.b, str(N)], capture_output=True, text=True,
                             check=True)
        took = float(out.stdout.strip())
    time.sleep(1.5)
    dump.send_signal(2)  # SIGINT: candump flushes what it printed
    dump.wait(timeout=10)
    out.close()
    lines = open("/tmp/slcan-bench-candump.log").read().splitlines()
    got = [l.split()[-1] for l in lines]
    intact = sum(1 for a, b in zip(got, want) if a == b)
    return N / took, len(got), intact


sh("ip link add vcan0 type vcan 2>/dev/null || true; ip link set vcan0 mtu 16; ip link set vcan0 up")
cable = Cable()
slcanpty = subprocess.Popen(["slcanpty", cable.a, "vcan0"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)
time.sleep(0.3)

print(f"slcan through slcanpty, {N} frames per run (8-byte classic frames)")
print("receive (cangen -> slcanpty -> reader):")
best = {}
for reader in ["cankit", "python-can"]:
    for gap in GAPS_MS:
        rate, got = recv_run(reader, gap)
        ok = got == N
        print(f"  {reader:10} gap {gap:>4} ms: offered {rate:8.0f} frames/s, received {got}/{N}"
              + ("" if ok else f"  LOST {N - got}"))
        if ok:
            best[reader] = max(best.get(reader, 0), rate)
print("send (sender -> slcanpty -> candump):")
send_best = {}
for sender in ["cankit", "python-can"]:
    rate, got, intact = send_run(sender)
    ok = got == N and intact == N
    print(f"  {sender:10}: {rate:8.0f} frames/s, candump saw {got}/{N}, {intact} intact and in order"
          + ("" if ok else "  LOST/DAMAGED"))
    if ok:
        send_best[sender] = rate
for what, d in [("receive", best), ("send", send_best)]:
    a, b = d.get("cankit"), d.get("python-can")
    txt = f"{what}: highest rate without loss: cankit {a or 0:.0f}/s, python-can {b or 0:.0f}/s"
    if a and b:
        txt += f" (ratio {a / b:.2f})"
    print(txt)
slcanpty.kill()
cable.stop = True
