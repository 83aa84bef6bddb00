//! The `cannelloni` backend against the real cannelloni 2.1.2 (built from
//! `tests/fixtures/peers/` by `tests/peers/cannelloni.sh`) in the kernel VM, on
//! `vcan0`, with can-utils on the other side: exact frames both ways, classic
//! and FD, UDP and TCP. And ours against ours in a network namespace on the
//! host (loopback only), with what a hostile peer may send: the CVE-2026-37539
//! shape, datagrams from strangers, sequence gaps, a malformed TCP stream.
//!
//! Each host test that touches the network re-executes itself inside a fresh
//! network namespace (`unshare --net`, as `tests/interop_udp.rs` does).
#![cfg(target_os = "linux")]

mod common;
#[allow(unused_macros)]
#[path = "vm/harness.rs"]
mod vm;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use cankit::bus::cannelloni::{wire, CannelloniBus};
use cankit::bus::{Bus, BusSettings};
use cankit::frame::text::{parse_frame, parse_log_line};
use cankit::{FdFlags, Frame, Id};

fn frames() -> Vec<Frame> {
    let fd = |brs, esi| FdFlags { brs, esi };
    let seq = |n: usize| (0..n).map(|i| (i * 7 + 1) as u8).collect::<Vec<u8>>();
    vec![
        Frame::data(Id::Standard(0x123), &[0xDE, 0xAD, 0xBE, 0xEF]).unwrap(),
        Frame::data(Id::Standard(0x000), &[]).unwrap(),
        Frame::data(Id::Extended(0x1ABC_DEF0), &seq(8)).unwrap(),
        Frame::remote(Id::Standard(0x321), 4).unwrap(),
        Frame::remote(Id::Extended(0x12345), 0).unwrap(),
        Frame::fd(Id::Standard(0x456), &seq(64), fd(true, false)).unwrap(),
        Frame::fd(Id::Extended(0x1FFF_FFFF), &seq(12), fd(false, true)).unwrap(),
        Frame::fd(Id::Standard(0x081), &[], fd(true, true)).unwrap(),
        Frame::error(0x0000_0004, &[0, 4, 0, 0, 0, 0, 0, 0]).unwrap(),
    ]
}

fn settings(channel: &str, opts: &[(&str, &str)]) -> BusSettings {
    let mut s = BusSettings::new("cannelloni", channel);
    for (k, v) in opts {
        s.options.insert(k.to_string(), v.to_string());
    }
    s
}

fn open(channel: &str, opts: &[(&str, &str)]) -> CannelloniBus {
    CannelloniBus::open(&settings(channel, opts)).expect("open cannelloni")
}

fn recv_n(bus: &mut dyn Bus, n: usize) -> Vec<Frame> {
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while got.len() < n && Instant::now() < until {
        if let Some(r) = bus.recv(Some(Duration::from_millis(100))).unwrap() {
            got.push(r.frame);
        }
    }
    got
}

fn udp_pair(a_opts: &[(&str, &str)]) -> (CannelloniBus, CannelloniBus) {
    let mut opts = vec![("local", "127.0.0.1:20000")];
    opts.extend_from_slice(a_opts);
    let a = open("127.0.0.1:20001", &opts);
    let b = open("127.0.0.1:20000", &[("local", "127.0.0.1:20001")]);
    (a, b)
}

#[test]
fn ours_to_ours_over_udp_both_ways_batched() {
    if !common::in_netns("ours_to_ours_over_udp_both_ways_batched") {
        return;
    }
    for opts in [vec![], vec![("batch_us", "20000"), ("max_datagram", "100")]] {
        let (mut a, mut b) = udp_pair(&opts);
        for f in frames() {
            a.send(&f).unwrap();
        }
        assert_eq!(recv_n(&mut b, frames().len()), frames(), "{opts:?}");
        for f in frames() {
            b.send(&f).unwrap();
        }
        assert_eq!(recv_n(&mut a, frames().len()), frames(), "{opts:?}");
        a.close().unwrap();
        b.close().unwrap();
        assert_eq!(b.take_dropped(), 0);
    }
}

#[test]
fn ours_to_ours_over_tcp_both_ways() {
    if !common::in_netns("ours_to_ours_over_tcp_both_ways") {
        return;
    }
    let mut server = open(
        "127.0.0.1:1",
        &[("transport", "tcp"), ("listen", "127.0.0.1:20002")],
    );
    let mut client = open("127.0.0.1:20002", &[("transport", "tcp")]);
    for f in frames() {
        client.send(&f).unwrap();
    }
    assert_eq!(recv_n(&mut server, frames().len()), frames());
    for f in frames() {
        server.send(&f).unwrap();
    }
    assert_eq!(recv_n(&mut client, frames().len()), frames());
    client.close().unwrap();
}

/// Sends raw datagrams from `from` to a bus on 127.0.0.1:20000 that allows it.
fn raw_peer() -> (CannelloniBus, UdpSocket) {
    let bus = open("127.0.0.1:20001", &[("local", "127.0.0.1:20000")]);
    let s = UdpSocket::bind("127.0.0.1:20001").unwrap();
    s.connect("127.0.0.1:20000").unwrap();
    (bus, s)
}

fn datagram(seq: u8, frames: &[Frame]) -> Vec<u8> {
    let mut d = wire::header(seq, frames.len() as u16).to_vec();
    for f in frames {
        wire::encode_frame(f, &mut d).unwrap();
    }
    d
}

#[test]
fn hostile_datagrams_are_counted_and_dropped() {
    if !common::in_netns("hostile_datagrams_are_counted_and_dropped") {
        return;
    }
    let (mut bus, peer) = raw_peer();
    let good = Frame::data(Id::Standard(0x10), &[1, 2]).unwrap();
    // The CVE's shape: an FD length of 127, the bytes present (past 64).
    let mut cve = wire::header(0, 1).to_vec();
    cve.extend([0, 0, 1, 0x23, 0xFF, 0x01]);
    cve.extend([0x41; 127]);
    // A length field past the datagram's end.
    let mut past_end = wire::header(1, 1).to_vec();
    past_end.extend([0, 0, 1, 0x23, 0x88, 0x01, 0xAA]);
    // A good frame, then a classic length of 9: the first is delivered.
    let mut half = datagram(2, &[good]);
    half[4] = 2;
    half.extend([0, 0, 0, 0x11, 9]);
    half.extend([0; 9]);
    for d in [&cve, &past_end, &half, &vec![3, 0, 0, 0, 0], &vec![2]] {
        peer.send(d).unwrap();
    }
    // From a stranger: not delivered.
    let stranger = UdpSocket::bind("127.0.0.1:20005").unwrap();
    stranger
        .send_to(&datagram(3, &[good]), "127.0.0.1:20000")
        .unwrap();
    // Sequence 3 then 7: three datagrams lost.
    peer.send(&datagram(3, &[good])).unwrap();
    peer.send(&datagram(7, &[good])).unwrap();
    assert_eq!(recv_n(&mut bus, 3), vec![good; 3]);
    assert!(bus
        .recv(Some(Duration::from_millis(200)))
        .unwrap()
        .is_none());
    assert_eq!(bus.malformed(), 5);
    assert_eq!(bus.rejected(), 1);
    assert_eq!(bus.take_dropped(), 3);
}

#[test]
fn a_malformed_tcp_stream_closes_only_that_connection() {
    if !common::in_netns("a_malformed_tcp_stream_closes_only_that_connection") {
        return;
    }
    let mut server = open(
        "127.0.0.1:1",
        &[("transport", "tcp"), ("listen", "127.0.0.1:20003")],
    );
    let hello = |s: &mut TcpStream| {
        s.write_all(wire::HANDSHAKE).unwrap();
        let mut h = [0u8; 12];
        s.read_exact(&mut h).unwrap();
        assert_eq!(&h, wire::HANDSHAKE);
    };
    let mut bad = TcpStream::connect("127.0.0.1:20003").unwrap();
    hello(&mut bad);
    // A second client while one is connected is refused.
    let mut second = TcpStream::connect("127.0.0.1:20003").unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(matches!(second.read(&mut b), Ok(0) | Err(_)));
    // A frame split over two writes, then the CVE's shape.
    let f = Frame::fd(Id::Standard(0x55), &[9; 24], FdFlags::default()).unwrap();
    let mut enc = Vec::new();
    wire::encode_frame(&f, &mut enc).unwrap();
    bad.write_all(&enc[..7]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    bad.write_all(&enc[7..]).unwrap();
    bad.write_all(&[0, 0, 0, 1, 0xFF, 0]).unwrap();
    bad.write_all(&[0x41; 127]).unwrap();
    assert_eq!(recv_n(&mut server, 1), vec![f]);
    assert!(server
        .recv(Some(Duration::from_millis(300)))
        .unwrap()
        .is_none());
    assert_eq!(server.malformed(), 1);
    let mut rest = Vec::new();
    bad.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = bad.read_to_end(&mut rest);
    // The next client is served.
    let mut good = TcpStream::connect("127.0.0.1:20003").unwrap();
    hello(&mut good);
    good.write_all(&enc).unwrap();
    assert_eq!(recv_n(&mut server, 1), vec![f]);
    // A client that never says hello does not hang us.
    let silent = TcpListener::bind("127.0.0.1:20004").unwrap();
    let t = std::thread::spawn(move || silent.accept().map(|(s, _)| s));
    let started = Instant::now();
    let err = CannelloniBus::open(&settings("127.0.0.1:20004", &[("transport", "tcp")]))
        .err()
        .expect("a peer without handshake is refused");
    assert!(err.to_string().contains("handshake"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(8));
    drop(t);
}

#[test]
fn bad_settings_are_refused() {
    for (ch, opts) in [
        ("nohost", vec![]),
        ("127.0.0.1:20000", vec![("transport", "sctp")]),
        ("127.0.0.1:20000", vec![("listen", "127.0.0.1:1")]),
        ("127.0.0.1:20000", vec![("max_datagram", "20")]),
        ("127.0.0.1:20000", vec![("max_datagram", "70000")]),
        ("127.0.0.1:20000", vec![("allow", "10.0.0.300")]),
        (
            "127.0.0.1:20000",
            vec![("transport", "tcp"), ("local", "127.0.0.1:1")],
        ),
        ("127.0.0.1:20000", vec![("bogus", "1")]),
    ] {
        let s = settings(ch, &opts);
        assert!(cankit::bus::open(&s).is_err(), "{ch} {opts:?} accepted");
    }
}

/// The reference cannelloni, built once; None (after `common::missing`) without cmake/g++.
fn reference() -> Option<String> {
    let script = vm::repo().join("tests/peers/cannelloni.sh");
    let o = Command::new(&script).output().expect("run cannelloni.sh");
    if !o.status.success() {
        common::missing(&format!(
            "the reference cannelloni (tests/peers/cannelloni.sh: {})",
            String::from_utf8_lossy(&o.stderr)
        ));
        return None;
    }
    Some(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

const SENT: &[&str] = &[
    "123#DEADBEEF",
    "000#",
    "7FF#0102030405060708",
    "1ABCDEF0#00FF",
    "00000001#R",
    "123#R",
    "456##1112233445566778899AABBCC",
    "1FFFFFFF##3000102030405060708090A0B",
    "321##0",
];

fn expect(frames: &[&str]) -> Vec<Frame> {
    frames.iter().map(|t| parse_frame(t).unwrap()).collect()
}

/// Frames of the candump log lines between `BEGIN name` and `END name`.
fn section(out: &str, name: &str) -> Vec<Frame> {
    let begin = format!("BEGIN {name}");
    let end = format!("END {name}");
    out.lines()
        .skip_while(|l| l.trim() != begin)
        .skip(1)
        .take_while(|l| l.trim() != end)
        .filter_map(|l| parse_log_line(l).ok().map(|p| p.frame))
        .collect()
}

/// One VM run: cannelloni on vcan0 against can-logger and can-send, UDP and
/// TCP (cannelloni as server and as client), both directions.
#[test]
fn the_reference_cannelloni_on_vcan0_both_ways() {
    let Some(cnl) = reference() else { return };
    let logger = common::bin("can-logger");
    let send = common::bin("can-send");
    let (logger, send) = (logger.display(), send.display());
    let n = SENT.len();
    let cansends: String = SENT
        .iter()
        .map(|f| format!("cansend vcan0 '{f}'\n"))
        .collect();
    let ours: String = SENT.iter().map(|f| format!("'{f}' ")).collect::<String>();
    let script = format!(
        r#"set -e
ip link set lo up
ip link add vcan0 type vcan && ip link set vcan0 up
LG="{logger}"
wait_line() {{ i=0; until grep -q "$2" "$1" 2>/dev/null; do i=$((i+1)); [ $i -lt 300 ] || {{ echo "timeout waiting for $2 in $1"; cat "$1"; exit 1; }}; sleep 0.1; done; }}

# UDP: cannelloni on 20000 sends to us on 20001 (1 ms buffer timeout)
{cnl} -I vcan0 -R 127.0.0.1 -r 20001 -l 20000 -t 1000 > /tmp/c1.log 2>&1 &
C1=$!
$LG -v -i cannelloni -c 127.0.0.1:20000 --bus-opt local=127.0.0.1:20001 -n {n} > /tmp/l1.txt 2>/tmp/l1.err &
L1=$!
wait_line /tmp/l1.err recording
sleep 1
{cansends}
wait $L1
echo "BEGIN udp-in"; cat /tmp/l1.txt; echo "END udp-in"
candump -L -n {n} vcan0 > /tmp/d1.txt &
D1=$!
sleep 0.5
{send} -i cannelloni -c 127.0.0.1:20000 --bus-opt local=127.0.0.1:20001 {ours}
wait $D1
echo "BEGIN udp-out"; cat /tmp/d1.txt; echo "END udp-out"
kill $C1

# TCP, cannelloni the server: our logger, then our sender, connect to it
{cnl} -C s -I vcan0 -l 20010 > /tmp/c2.log 2>&1 &
C2=$!
sleep 1
$LG -v -i cannelloni -c 127.0.0.1:20010 --bus-opt transport=tcp -n {n} > /tmp/l2.txt 2>/tmp/l2.err &
L2=$!
wait_line /tmp/l2.err recording
sleep 1
{cansends}
wait $L2
echo "BEGIN tcp-in"; cat /tmp/l2.txt; echo "END tcp-in"
kill $C2; wait $C2 || true
{cnl} -C s -I vcan0 -l 20011 > /tmp/c3.log 2>&1 &
C3=$!
sleep 1
candump -L -n {n} vcan0 > /tmp/d2.txt &
D2=$!
sleep 0.5
{send} -i cannelloni -c 127.0.0.1:20011 --bus-opt transport=tcp {ours}
wait $D2
echo "BEGIN tcp-out"; cat /tmp/d2.txt; echo "END tcp-out"
kill $C3

# TCP, we are the server: cannelloni connects to our logger
$LG -v -i cannelloni -c 127.0.0.1:0 --bus-opt transport=tcp --bus-opt listen=127.0.0.1:20012 -n {n} > /tmp/l3.txt 2>/tmp/l3.err &
L3=$!
{cnl} -C c -I vcan0 -R 127.0.0.1 -r 20012 > /tmp/c4.log 2>&1 &
C4=$!
wait_line /tmp/l3.err "connected"
sleep 0.5
{cansends}
wait $L3
echo "BEGIN tcp-server-in"; cat /tmp/l3.txt; echo "END tcp-server-in"
kill $C4
echo ALL-DONE
"#
    );
    let out = match vm::run(&["sh", "-c", &script], &["--add", &cnl, "--timeout", "240"]) {
        Ok(o) => o,
        Err(e) => {
            common::missing(&format!("the CAN VM (tests/vm/run-in-vm.sh): {e}"));
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.code() == Some(125) {
        common::missing(&format!("the CAN VM did not boot:\n{text}"));
        return;
    }
    assert!(
        out.status.success() && text.contains("ALL-DONE"),
        "the VM scenario failed:\n{text}"
    );
    let want = expect(SENT);
    for name in ["udp-in", "udp-out", "tcp-in", "tcp-out", "tcp-server-in"] {
        assert_eq!(section(&text, name), want, "{name}:\n{text}");
    }
}

/// The listening address is the one asked for: 127.0.0.1 unless told.
#[test]
fn udp_binds_loopback_by_default() {
    if !common::in_netns("udp_binds_loopback_by_default") {
        return;
    }
    let bus = open("127.0.0.1:20001", &[]);
    assert_eq!(
        bus.local_addr(),
        Some("127.0.0.1:20000".parse::<SocketAddr>().unwrap())
    );
}

const PY_PLUGIN: &str = r#"
import sys, time, can
bus = can.Bus(interface="cannelloni", channel="127.0.0.1:20020")
want = int(sys.argv[1])
got = []
deadline = time.time() + 20
while len(got) < want and time.time() < deadline:
    m = bus.recv(0.5)
    if m is not None:
        got.append(m)
for m in got:
    print("RX", m.arbitration_id, int(m.is_extended_id), int(m.is_remote_frame), int(m.is_fd),
          int(m.bitrate_switch), int(m.error_state_indicator), m.dlc, bytes(m.data).hex(), flush=True)
for m in got:
    bus.send(m)
time.sleep(1)
bus.shutdown()
"#;

/// python-can's `can-cannelloni` plugin (a TCP client) against our TCP server:
/// what we send it receives exactly, and what it sends back we receive.
#[test]
fn python_can_cannelloni_plugin_against_our_server() {
    if !common::in_netns("python_can_cannelloni_plugin_against_our_server") {
        return;
    }
    let Some(py) = common::python() else {
        common::missing("python-can (tests/setup.sh)");
        return;
    };
    let has_plugin = Command::new(&py)
        .args(["-c", "import can_cannelloni"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_plugin {
        common::missing("python-can's can-cannelloni plugin (tests/setup.sh installs it)");
        return;
    }
    let mut server = open(
        "127.0.0.1:1",
        &[("transport", "tcp"), ("listen", "127.0.0.1:20020")],
    );
    // can-cannelloni 0.1.0 is classic CAN only (it neither sends FD nor skips
    // the FD flags byte) and reads a remote frame's length as data bytes, so a
    // remote frame requesting N > 0 bytes puts it out of step: classic data
    // frames and remote frames of DLC 0 are what it can carry.
    let sent: Vec<Frame> = frames()
        .into_iter()
        .filter(|f| !(f.is_fd() || f.is_error() || (f.is_remote() && f.dlc() > 0)))
        .chain([
            Frame::data(Id::Extended(0x18DA_F110), &[1, 2, 3]).unwrap(),
            Frame::remote(Id::Standard(0x7FF), 0).unwrap(),
            Frame::data(Id::Standard(0x7FF), &[0xFF; 8]).unwrap(),
        ])
        .collect();
    assert_eq!(sent.len(), 7);
    let child = Command::new(&py)
        .args(["-c", PY_PLUGIN, &sent.len().to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    // Wait for the plugin's connection, then send.
    let until = Instant::now() + Duration::from_secs(20);
    while !server.connected() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server.connected(), "the plugin did not connect");
    for f in &sent {
        server.send(f).unwrap();
    }
    let back = recv_n(&mut server, sent.len());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let rx: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("RX "))
        .map(String::from)
        .collect();
    let want: Vec<String> = sent
        .iter()
        .map(|f| {
            let dlc = if f.is_remote() {
                f.requested_len()
            } else {
                f.len()
            };
            format!(
                "RX {} {} {} {} {} {} {} {}",
                f.id().raw(),
                f.id().is_extended() as u8,
                f.is_remote() as u8,
                f.is_fd() as u8,
                f.brs() as u8,
                f.esi() as u8,
                dlc,
                f.data_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        })
        .collect();
    assert_eq!(rx, want, "what the plugin received:\n{text}");
    assert_eq!(back, sent, "what the plugin sent back");
}
