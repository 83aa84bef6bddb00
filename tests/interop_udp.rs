//! `udp_multicast` interoperability with python-can 4.6.1, through the library
//! API: python-can sends and we receive, we send and python-can receives, and our
//! msgpack encoder matches python-can's packing byte for byte.
//!
//! Every test that touches the network re-executes itself (this test binary,
//! `--exact <test>`) inside a fresh network namespace (`unshare --net`, with
//! `--map-root-user` when not root), marked by an environment variable; inside,
//! it brings up `lo` with multicast and the 224.0.0.0/4 route and runs the body.
//! Nothing is ever sent outside that namespace; the IPv4 group is 239.74.163.2.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cankit::bus::udp::{wire, UdpMulticastBus, DEFAULT_GROUP_V4};
use cankit::bus::{self, Bus, BusSettings};
use cankit::{Channel, Direction, FdFlags, Frame, Id, Timestamp};
use serde_json::{json, Value};

/// The frames exchanged in both directions.
fn frames() -> Vec<Frame> {
    let fd = |brs, esi| FdFlags { brs, esi };
    let seq = |n: usize| (0..n).map(|i| (i * 7 + 1) as u8).collect::<Vec<u8>>();
    vec![
        Frame::data(Id::Standard(0x123), &[0x11, 0x22, 0x33]).unwrap(),
        Frame::data(Id::Standard(0x000), &[]).unwrap(),
        Frame::data(Id::Standard(0x7FF), &seq(8)).unwrap(),
        Frame::data(Id::Extended(0x1ABC_DEF0), &seq(8)).unwrap(),
        Frame::data(Id::Extended(0x0000_0001), &[0xFF, 0x00]).unwrap(),
        Frame::fd(Id::Standard(0x456), &seq(64), fd(true, false)).unwrap(),
        Frame::fd(Id::Extended(0x1FFF_FFFF), &seq(12), fd(true, false)).unwrap(),
        Frame::fd(Id::Standard(0x080), &seq(20), fd(false, true)).unwrap(),
        Frame::fd(Id::Standard(0x081), &[], fd(true, true)).unwrap(),
        Frame::fd(Id::Extended(0x0CF0_0400), &seq(48), fd(true, false)).unwrap(),
        Frame::remote(Id::Standard(0x321), 4).unwrap(),
        Frame::remote(Id::Extended(0x12345), 8).unwrap(),
        Frame::remote(Id::Standard(0x001), 0).unwrap(),
        Frame::error(0x0000_0004, &[0, 4, 0, 0, 0, 0, 0, 0]).unwrap(),
    ]
}

/// A frame as python-can's Message fields (python's `dlc` is a byte count).
fn fields(f: &Frame) -> Value {
    let dlc = if f.is_remote() {
        f.requested_len()
    } else {
        f.len()
    };
    let data: String = f.data_bytes().iter().map(|b| format!("{b:02x}")).collect();
    json!({
        "id": f.id().raw(), "ext": f.id().is_extended(), "rtr": f.is_remote(),
        "err": f.is_error(), "dlc": dlc, "data": data, "fd": f.is_fd(),
        "brs": f.brs(), "esi": f.esi(),
    })
}

const PY_MESSAGE: &str = r#"
import json, sys, can
def message(f, ts=0.0):
    return can.Message(timestamp=ts, arbitration_id=f["id"], is_extended_id=f["ext"],
        is_remote_frame=f["rtr"], is_error_frame=f["err"], dlc=f["dlc"],
        data=bytes.fromhex(f["data"]), is_fd=f["fd"], bitrate_switch=f["brs"],
        error_state_indicator=f["esi"], check=True)
def fields(m):
    return dict(id=m.arbitration_id, ext=m.is_extended_id, rtr=m.is_remote_frame,
        err=m.is_error_frame, dlc=m.dlc, data=bytes(m.data).hex(), fd=m.is_fd,
        brs=m.bitrate_switch, esi=m.error_state_indicator)
"#;

fn all_fields() -> String {
    Value::Array(frames().iter().map(fields).collect()).to_string()
}

/// python-can sends every frame of [`frames`] on the IPv4 group.
fn python_sends_all_frames(py: &std::path::Path) {
    let script = format!(
        "{PY_MESSAGE}\nbus = can.Bus(interface='udp_multicast', channel=sys.argv[2])\n\
         for f in json.loads(sys.argv[1]):\n    bus.send(message(f))\nbus.shutdown()\n"
    );
    let out = Command::new(py)
        .args(["-c", &script, &all_fields(), DEFAULT_GROUP_V4])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python-can sender failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn open(group: &str) -> Box<dyn Bus> {
    bus::open(&BusSettings::new("udp_multicast", group)).expect("open udp_multicast")
}

#[test]
fn python_can_sends_and_we_receive_identical_frames() {
    if !common::in_netns("python_can_sends_and_we_receive_identical_frames") {
        return;
    }
    let Some(py) = common::python() else { return };
    let mut ours = open(DEFAULT_GROUP_V4);
    let before = Timestamp::now();
    python_sends_all_frames(&py);
    for want in frames() {
        let r = ours
            .recv(Some(Duration::from_secs(5)))
            .unwrap()
            .unwrap_or_else(|| panic!("{want} from python-can never arrived"));
        assert_eq!(fields(&r.frame), fields(&want));
        assert_eq!(r.frame, want);
        assert_eq!(r.direction, Direction::Rx);
        assert_eq!(r.channel, Channel::name(DEFAULT_GROUP_V4));
        // python-can sent timestamp 0.0: ours must be the receive time.
        assert!(r.timestamp >= before && r.timestamp <= Timestamp::now());
    }
    assert!(ours
        .recv(Some(Duration::from_millis(200)))
        .unwrap()
        .is_none());
}

#[test]
fn we_send_and_python_can_receives_identical_frames() {
    if !common::in_netns("we_send_and_python_can_receives_identical_frames") {
        return;
    }
    let Some(py) = common::python() else { return };
    let want = frames();
    let script = format!(
        "{PY_MESSAGE}\nimport time\nbus = can.Bus(interface='udp_multicast', channel=sys.argv[1])\n\
         print('ready', flush=True)\n\
         for _ in range(int(sys.argv[2])):\n    m = bus.recv(timeout=10)\n    \
         if m is None:\n        print('timeout', flush=True)\n        break\n    \
         d = fields(m)\n    d['rx'] = m.is_rx\n    d['age'] = time.time() - m.timestamp\n    \
         print(json.dumps(d), flush=True)\nbus.shutdown()\n"
    );
    let mut child = Command::new(&py)
        .args(["-c", &script, DEFAULT_GROUP_V4, &want.len().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let mut ours = open(DEFAULT_GROUP_V4);
    for f in &want {
        ours.send(f).unwrap();
    }
    for f in &want {
        let line = lines.next().expect("python-can output").unwrap();
        let mut got: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("python-can did not receive {f}: {line}"));
        let obj = got.as_object_mut().unwrap();
        assert_eq!(obj.remove("rx"), Some(json!(true)));
        let age = obj.remove("age").unwrap().as_f64().unwrap();
        assert!(
            (0.0..10.0).contains(&age),
            "python-can receive time off by {age}"
        );
        assert_eq!(got, fields(f), "python-can received something else for {f}");
    }
    assert!(child.wait().unwrap().success());
    // Our own frames never come back to us.
    assert!(ours
        .recv(Some(Duration::from_millis(200)))
        .unwrap()
        .is_none());
}

#[test]
fn our_encoder_matches_python_can_pack_message_byte_for_byte() {
    let Some(py) = common::python() else { return };
    let stamps = [0.0, 1_700_000_000.5, 1_732_491_234.123_456, 12.25];
    let cases: Vec<(Frame, f64)> = frames()
        .into_iter()
        .enumerate()
        .map(|(i, f)| (f, stamps[i % stamps.len()]))
        .collect();
    let arg = Value::Array(
        cases
            .iter()
            .map(|(f, ts)| {
                let mut v = fields(f);
                v["ts"] = json!(ts);
                v
            })
            .collect(),
    )
    .to_string();
    let script = format!(
        "{PY_MESSAGE}\nimport msgpack\nfrom can.interfaces.udp_multicast.utils import pack_message\n\
         for f in json.loads(sys.argv[1]):\n    m = message(f, f['ts'])\n    \
         d = dict(timestamp=m.timestamp, arbitration_id=m.arbitration_id, \
         is_extended_id=m.is_extended_id, is_remote_frame=m.is_remote_frame, \
         is_error_frame=m.is_error_frame, channel=m.channel, dlc=m.dlc, data=m.data, \
         is_fd=m.is_fd, bitrate_switch=m.bitrate_switch, error_state_indicator=m.error_state_indicator)\n    \
         a = pack_message(m)\n    assert a == msgpack.packb(d, use_bin_type=True)\n    print(a.hex())\n"
    );
    let out = Command::new(&py)
        .args(["-c", &script, &arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), cases.len());
    for ((f, ts), line) in cases.iter().zip(lines) {
        let mut buf = [0u8; wire::MAX_ENCODED];
        let n = wire::encode(f, *ts, &mut buf).unwrap();
        let ours: String = buf[..n].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(ours, line, "encoding of {f} at {ts}");
        // And python-can's bytes decode to the same frame.
        let theirs: Vec<u8> = (0..line.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(wire::decode(&theirs).unwrap(), *f);
    }
}

#[test]
fn own_frames_are_not_echoed_but_other_handles_hear_them() {
    if !common::in_netns("own_frames_are_not_echoed_but_other_handles_hear_them") {
        return;
    }
    let mut a = open(DEFAULT_GROUP_V4);
    let mut a2 = a.try_clone().unwrap();
    let mut b = open(DEFAULT_GROUP_V4);
    let n = 2000u32;
    for i in 0..n {
        let f = Frame::data(Id::Extended(i), &i.to_le_bytes()).unwrap();
        if i % 2 == 0 {
            a.send(&f).unwrap();
        } else {
            a2.send(&f).unwrap();
        }
    }
    for i in 0..n {
        let r = b
            .recv(Some(Duration::from_secs(2)))
            .unwrap()
            .expect("frame");
        assert_eq!(r.frame.id().raw(), i);
    }
    assert!(a.recv(Some(Duration::from_millis(200))).unwrap().is_none());
    assert!(a2.recv(Some(Duration::from_millis(50))).unwrap().is_none());
    // b's frames reach a (once, on the shared socket) and not b.
    let f = Frame::data(Id::Standard(0x42), &[1]).unwrap();
    b.send(&f).unwrap();
    assert_eq!(
        a.recv(Some(Duration::from_secs(1))).unwrap().unwrap().frame,
        f
    );
    assert!(a2.recv(Some(Duration::from_millis(50))).unwrap().is_none());
    assert!(b.recv(Some(Duration::from_millis(100))).unwrap().is_none());
    // A frame identical to one of ours but sent by someone else is delivered.
    let c = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let mut buf = [0u8; wire::MAX_ENCODED];
    let len = wire::encode(&f, 5.0, &mut buf).unwrap();
    c.send_to(&buf[..len], (DEFAULT_GROUP_V4, 43113)).unwrap();
    assert_eq!(
        a.recv(Some(Duration::from_secs(1))).unwrap().unwrap().frame,
        f
    );
    assert_eq!(
        b.recv(Some(Duration::from_secs(1))).unwrap().unwrap().frame,
        f
    );
}

#[test]
fn malformed_datagrams_are_skipped_and_counted() {
    if !common::in_netns("malformed_datagrams_are_skipped_and_counted") {
        return;
    }
    let mut ours =
        UdpMulticastBus::open(&BusSettings::new("udp_multicast", DEFAULT_GROUP_V4)).unwrap();
    let c = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let good = Frame::data(Id::Standard(0x10), &[1, 2]).unwrap();
    let mut buf = [0u8; wire::MAX_ENCODED];
    let len = wire::encode(&good, 1.0, &mut buf).unwrap();
    let junk: [&[u8]; 5] = [b"", b"hello", &buf[..len - 1], &[0x81], &[0xC4, 0xFF]];
    for j in junk {
        c.send_to(j, (DEFAULT_GROUP_V4, 43113)).unwrap();
    }
    c.send_to(&[0u8; 5000], (DEFAULT_GROUP_V4, 43113)).unwrap();
    c.send_to(&buf[..len], (DEFAULT_GROUP_V4, 43113)).unwrap();
    let r = ours.recv(Some(Duration::from_secs(2))).unwrap().unwrap();
    assert_eq!(r.frame, good);
    // Five bad payloads and one datagram longer than python-can's 4096 bytes.
    assert_eq!(ours.malformed(), 6);
}

/// Linux does not loop IPv6 multicast on `lo`, so this test cables a veth pair
/// whose both ends stay inside the namespace (a private loop: nothing leaves).
fn ipv6_inside() {
    std::fs::write("/proc/sys/net/ipv6/conf/default/accept_dad", "0").expect("disable DAD");
    common::ip(&[
        "link", "add", "cankit0", "type", "veth", "peer", "name", "cankit1",
    ]);
    common::ip(&["link", "set", "cankit0", "up"]);
    common::ip(&["link", "set", "cankit1", "up"]);
    common::ip(&[
        "-6", "route", "add", "ff00::/8", "dev", "cankit0", "table", "local",
    ]);
}

#[test]
fn default_ipv6_group_works_with_python_can_and_port_option() {
    if !common::in_netns("default_ipv6_group_works_with_python_can_and_port_option") {
        return;
    }
    ipv6_inside();
    let Some(py) = common::python() else { return };
    // python-can on its defaults (IPv6 group, port 43113) to us on ours.
    let mut ours = open("");
    assert_eq!(ours.channel(), cankit::bus::udp::DEFAULT_GROUP_V6);
    let script = "import can\nbus = can.Bus(interface='udp_multicast')\n\
                  bus.send(can.Message(arbitration_id=0x1234567, is_fd=True, bitrate_switch=True, data=bytes(range(24))))\n\
                  bus.shutdown()\n";
    let out = Command::new(&py).args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "python-can sender failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = ours
        .recv(Some(Duration::from_secs(5)))
        .unwrap()
        .expect("frame from python-can");
    let data: Vec<u8> = (0..24).collect();
    let flags = FdFlags {
        brs: true,
        esi: false,
    };
    assert_eq!(
        r.frame,
        Frame::fd(Id::Extended(0x1234567), &data, flags).unwrap()
    );
    // Two of our buses on another port.
    let mut s = BusSettings::new("udp_multicast", "");
    s.options.insert("port".into(), "43999".into());
    let mut a = bus::open(&s).unwrap();
    let mut b = bus::open(&s).unwrap();
    assert_eq!(a.channel(), cankit::bus::udp::DEFAULT_GROUP_V6);
    let f = Frame::fd(Id::Standard(0x77), &[3; 32], FdFlags::default()).unwrap();
    a.send(&f).unwrap();
    let t = Instant::now();
    let r = b
        .recv(Some(Duration::from_secs(2)))
        .unwrap()
        .expect("frame");
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(r.frame, f);
    assert!(a.recv(Some(Duration::from_millis(100))).unwrap().is_none());
}

#[test]
fn a_burst_is_received_in_order_and_losses_are_reported() {
    if !common::in_netns("a_burst_is_received_in_order_and_losses_are_reported") {
        return;
    }
    const N: u32 = 50_000;
    let mut rx = open(DEFAULT_GROUP_V4);
    let mut tx = open(DEFAULT_GROUP_V4);
    let start = Instant::now();
    let sender = std::thread::spawn(move || {
        for i in 0..N {
            tx.send(&Frame::data(Id::Extended(i), &i.to_le_bytes()).unwrap())
                .unwrap();
        }
        tx
    });
    // A reader that starts late: the kernel queue overflows.
    std::thread::sleep(Duration::from_millis(300));
    let mut received = 0u64;
    let mut last: Option<u32> = None;
    let mut drain = |rx: &mut Box<dyn Bus>, until_marker: bool| loop {
        let Some(r) = rx.recv(Some(Duration::from_millis(500))).unwrap() else {
            assert!(!until_marker, "the marker frame never arrived");
            return;
        };
        let id = r.frame.id().raw();
        if id == MARKER {
            return;
        }
        assert!(last.is_none_or(|l| id > l), "{id} after {last:?}");
        assert_eq!(r.frame.data_bytes(), &id.to_le_bytes());
        last = Some(id);
        received += 1;
    };
    drain(&mut rx, false);
    let mut tx = sender.join().unwrap();
    // The kernel reports its drop count with the next datagram it delivers, so
    // one more frame after the burst carries the count of everything lost.
    const MARKER: u32 = 0x1FFF_FFFF;
    tx.send(&Frame::data(Id::Extended(MARKER), &[]).unwrap())
        .unwrap();
    drain(&mut rx, true);
    let dropped = rx.take_dropped();
    eprintln!(
        "udp burst: {received} of {N} received, {dropped} reported dropped, {:?}",
        start.elapsed()
    );
    assert_eq!(received + dropped, N as u64);
}

use common::tools::tool;

#[test]
fn python_can_sends_and_can_logger_records_identical_frames() {
    if !common::in_netns("python_can_sends_and_can_logger_records_identical_frames") {
        return;
    }
    let Some(py) = common::python() else { return };
    let want = frames();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("from-python.jsonl");
    let mut logger = tool("can-logger")
        .args(["-v", "-i", "udp_multicast", "-c", DEFAULT_GROUP_V4, "-n"])
        .arg(want.len().to_string())
        .arg("-f")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // "recording ..." is printed once the group is joined.
    let mut err = BufReader::new(logger.stderr.take().unwrap()).lines();
    let first = err.next().unwrap().unwrap();
    assert!(first.contains("recording"), "{first}");
    python_sends_all_frames(&py);
    assert!(logger.wait().unwrap().success());
    let mut reader = cankit::format::open_reader(&out, None).unwrap();
    for f in &want {
        let r = reader
            .read()
            .unwrap()
            .expect("a frame missing from the log");
        assert_eq!(r.frame, *f);
        assert_eq!(r.channel, Channel::name(DEFAULT_GROUP_V4));
    }
    assert!(reader.read().unwrap().is_none());
}

#[test]
fn can_send_sends_and_python_can_receives_identical_frames() {
    if !common::in_netns("can_send_sends_and_python_can_receives_identical_frames") {
        return;
    }
    let Some(py) = common::python() else { return };
    let want = frames();
    let script = format!(
        "{PY_MESSAGE}\nbus = can.Bus(interface='udp_multicast', channel=sys.argv[1])\n\
         print('ready', flush=True)\n\
         for _ in range(int(sys.argv[2])):\n    m = bus.recv(timeout=10)\n    \
         print(json.dumps(fields(m) if m else None), flush=True)\nbus.shutdown()\n"
    );
    let mut child = Command::new(&py)
        .args(["-c", &script, DEFAULT_GROUP_V4, &want.len().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let texts: Vec<String> = want.iter().map(|f| f.to_string()).collect();
    let o = tool("can-send")
        .args(["-i", "udp_multicast", "-c", DEFAULT_GROUP_V4])
        .args(&texts)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in &want {
        let line = lines.next().expect("python-can output").unwrap();
        let got: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(got, fields(f), "python-can received something else for {f}");
    }
    assert!(child.wait().unwrap().success());
}
