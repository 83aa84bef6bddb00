//! The `socketcand` backend and `can-bridge --serve socketcand:...`, on
//! loopback inside a network namespace each test creates (as in
//! tests/interop_udp.rs): our client against our server, python-can 4.6.1's
//! own `socketcand` interface as a client of our server, and what a hostile or
//! slow peer can do to either side. The tests against linux-can's socketcand
//! daemon on `vcan0` are in tests/socketcand_vm.rs.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cankit::bus::socketcand::server::{ServeSpec, SocketcandServer};
use cankit::bus::socketcand::SocketcandBus;
use cankit::bus::{self, Bus, BusSettings};
use cankit::frame::text::parse_frame;
use cankit::Frame;

fn f(t: &str) -> Frame {
    parse_frame(t).unwrap()
}

fn frames() -> Vec<Frame> {
    [
        "123#1122334455667788",
        "000#",
        "7FF#00",
        "1ABCDEF0#DEADBEEF",
        "00000001#",
        "1FFFFFFF#0102030405060708",
        "456#A5A5A5",
    ]
    .iter()
    .map(|t| f(t))
    .collect()
}

fn server(opts: &str) -> SocketcandServer {
    SocketcandServer::start(ServeSpec::parse(&format!("socketcand:127.0.0.1:0{opts}")).unwrap())
        .unwrap()
}

fn client(server: &SocketcandServer, name: &str) -> Box<dyn Bus> {
    let s = BusSettings::new(
        "socketcand",
        &format!("127.0.0.1:{}/{name}", server.local_addr().port()),
    );
    bus::open(&s).unwrap()
}

fn recv_n(bus: &mut dyn Bus, n: usize) -> Vec<Frame> {
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while got.len() < n && Instant::now() < end {
        if let Some(r) = bus.recv(Some(Duration::from_millis(200))).unwrap() {
            got.push(r.frame);
        }
    }
    got
}

/// Waits until the server has `n` RAW clients (a frame sent earlier would not reach them).
fn wait_clients(server: &SocketcandServer, n: usize) {
    let end = Instant::now() + Duration::from_secs(5);
    while server.clients() < n && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.clients(), n);
}

#[test]
fn our_client_and_our_server_both_ways() {
    if !common::in_netns("our_client_and_our_server_both_ways") {
        return;
    }
    let mut srv = server("");
    let mut a = client(&srv, "can0");
    let mut b = client(&srv, "vcan7");
    wait_clients(&srv, 2);
    // Bus side to every client, exactly and in order.
    for fr in frames() {
        srv.send(&fr).unwrap();
    }
    assert_eq!(recv_n(&mut *a, 7), frames());
    assert_eq!(recv_n(&mut *b, 7), frames());
    // A client's frames reach the bus side and the other client, not itself.
    for fr in frames() {
        a.send(&fr).unwrap();
    }
    assert_eq!(recv_n(&mut srv, 7), frames());
    assert_eq!(recv_n(&mut *b, 7), frames());
    assert!(a.recv(Some(Duration::from_millis(300))).unwrap().is_none());
    // What the protocol cannot carry is refused, never truncated.
    assert!(a.send(&f("123##1AABB")).is_err());
    assert!(a.send(&f("123#R")).is_err());
    // An FD frame of the served bus is counted for each classic client, not sent.
    srv.send(&f(&format!("321##1{}", "11".repeat(12)))).unwrap();
    srv.send(&f("321#01")).unwrap();
    assert_eq!(recv_n(&mut *a, 1), vec![f("321#01")]);
}

#[test]
fn python_can_client_of_our_bridge() {
    if !common::in_netns("python_can_client_of_our_bridge") {
        return;
    }
    let Some(py) = common::python() else { return };
    let chan = format!("ckpy{}", std::process::id());
    let bridge = Command::new(common::bin("can-bridge"))
        .args(["--from", &format!("virtual:{chan}")])
        .args(["--serve", "socketcand:127.0.0.1:29536,name=can0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut bridge = KillOnDrop(Some(bridge));
    let bridge_pid = bridge.0.as_ref().unwrap().id();
    wait_port(29536);
    let mut virt = bus::open(&BusSettings::new("virtual", &chan)).unwrap();
    // python-can connects, then reads 7 frames and sends 3 of its own.
    let script = r#"
import can, sys
bus = can.Bus(interface="socketcand", channel="can0", host="127.0.0.1", port=29536)
print("ready", flush=True)
got = []
while len(got) < 7:
    m = bus.recv(10)
    if m is None: break
    got.append("%s %d %s" % (("%08X" if m.is_extended_id else "%03X") % m.arbitration_id, m.dlc, m.data.hex().upper()))
for g in got: print(g, flush=True)
for i, d in enumerate([b"", b"\x01", bytes(range(8))]):
    bus.send(can.Message(arbitration_id=0x100 + i, data=d, is_extended_id=False))
bus.send(can.Message(arbitration_id=0x1BCDEF01, data=b"\xAA\xBB", is_extended_id=True))
import time; time.sleep(0.5)
bus.shutdown()
"#;
    let mut child = Command::new(&py)
        .args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    out.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    // python-can's handshake is done once it printed; the server then has it in RAW mode.
    std::thread::sleep(Duration::from_millis(300));
    for fr in frames() {
        virt.send(&fr).unwrap();
    }
    let got = recv_n(&mut *virt, 4);
    let o = child.wait_with_output().unwrap();
    let mut text = String::new();
    out.read_to_string(&mut text).unwrap();
    assert!(
        o.status.success(),
        "python-can failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want: Vec<String> = frames()
        .iter()
        .map(|fr| {
            let id = if fr.id().is_extended() {
                format!("{:08X}", fr.id().raw())
            } else {
                format!("{:03X}", fr.id().raw())
            };
            let hex: String = fr.data_bytes().iter().map(|b| format!("{b:02X}")).collect();
            format!("{id} {} {hex}", fr.len())
        })
        .collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), want);
    assert_eq!(
        got,
        vec![
            f("100#"),
            f("101#01"),
            f("102#0001020304050607"),
            f("1BCDEF01#AABB")
        ]
    );
    let _ = Command::new("kill")
        .args(["-INT", &bridge_pid.to_string()])
        .status();
    let mut b = bridge.0.take().unwrap();
    let st = b.wait().unwrap();
    let mut err = String::new();
    b.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(st.success(), "can-bridge: {err}");
}

/// A child process killed when the test ends early.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_port(port: u16) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

#[test]
fn server_survives_hostile_and_slow_clients() {
    if !common::in_netns("server_survives_hostile_and_slow_clients") {
        return;
    }
    let mut srv = server(",max_clients=3,queue=64,name=can0");
    // Junk, an overlong element, a bad send: counted and skipped; the session goes on.
    let mut raw = TcpStream::connect(srv.local_addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"garbage< open can0 >").unwrap();
    raw.write_all(&[b'<'; 1]).unwrap();
    raw.write_all(&vec![b'x'; 5000]).unwrap();
    raw.write_all(b">< send 123 9 1 >< rawmode >< send 123 1 5 ><\xff\xfe>")
        .unwrap();
    assert_eq!(recv_n(&mut srv, 1), vec![f("123#05")]);
    let mut buf = [0u8; 64];
    let mut text = String::new();
    while text.len() < 12 {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0);
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(text.starts_with("< hi >< ok >"), "{text}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while srv.malformed() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(srv.malformed(), 4, "junk, overlong, bad send, non-text");
    // A client asking for a bus not served is told so.
    let mut other = TcpStream::connect(srv.local_addr()).unwrap();
    other.write_all(b"< open can1 >").unwrap();
    let mut s = String::new();
    other
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = other.read_to_string(&mut s);
    assert_eq!(s, "< hi >< error could not open bus >");
    // `raw` never reads again: sending stays fast while its queue is full.
    let mut reader = client(&srv, "can0");
    wait_clients(&srv, 2);
    let t = Instant::now();
    for i in 0..20_000u32 {
        srv.send(&Frame::data(cankit::Id::Extended(i), &[0; 8]).unwrap())
            .unwrap();
        if i % 64 == 63 {
            // Let the good client keep up (its queue is 64 frames).
            let _ = recv_n(&mut *reader, 64);
        }
    }
    assert!(t.elapsed() < Duration::from_secs(20));
    // The fourth connection beyond max_clients=3 is refused.
    let _c2 = client(&srv, "can0");
    wait_clients(&srv, 3);
    let mut extra = TcpStream::connect(srv.local_addr()).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut s = String::new();
    let _ = extra.read_to_string(&mut s);
    assert_eq!(s, "< error too many clients >");
}

/// A peer speaking the protocol badly, on a thread: what the client must survive.
fn fake_server(send: Vec<u8>) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        c.write_all(b"< hi >").unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        // open, rawmode
        for _ in 0..2 {
            let n = c.read(&mut buf).unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            c.write_all(b"< ok >").unwrap();
        }
        c.write_all(&send).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        got
    });
    (port, h)
}

#[test]
fn client_survives_a_bad_server_and_reports_it_gone() {
    if !common::in_netns("client_survives_a_bad_server_and_reports_it_gone") {
        return;
    }
    let mut bad = b"junk< frame 123 1.000000 11 >< frame 12345 1.0 11 >< frame 800 1.0 ><".to_vec();
    bad.extend(std::iter::repeat_n(b'x', 600));
    bad.extend_from_slice(
        b"> < fdframe 321 01 2.000000 00112233445566778899AABB >< error unknown command >\
          < frame 1ABCDEF0 3.5 0102 >",
    );
    let (port, h) = fake_server(bad);
    let s = BusSettings::new("socketcand", &format!("127.0.0.1:{port}/can0"));
    let mut c = SocketcandBus::open(&s).unwrap();
    let mut got = Vec::new();
    let err = loop {
        match c.recv(Some(Duration::from_secs(5))) {
            Ok(Some(r)) => got.push((r.frame, r.timestamp)),
            Ok(None) => panic!("the server's close was not noticed"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        got,
        vec![
            (f("123#11"), cankit::Timestamp::from_parts(1, 0)),
            (
                f("1ABCDEF0#0102"),
                cankit::Timestamp::from_parts(3, 500_000_000)
            )
        ]
    );
    assert_eq!(
        c.malformed(),
        4,
        "junk, 5-digit id, 11-bit id too big, overlong"
    );
    assert_eq!(c.take_dropped(), 1, "the fdframe without fdframe=on");
    assert!(err.to_string().contains("closed the connection"), "{err}");
    assert_eq!(c.outage(&err), Some(cankit::bus::Outage::Gone));
    let sent = h.join().unwrap();
    assert_eq!(sent, b"< open can0 >< rawmode >");
}

/// Inputs for the line decoders at their limits (the `decode_socketcand` fuzz
/// target's kind): each gives a value or an error, never a panic, and nothing
/// out of range gets through.
#[test]
fn decoder_regressions() {
    use cankit::bus::socketcand::wire::{self, ClientCmd, Piece, ServerMsg, Splitter};
    let cases: &[&[u8]] = &[
        b"frame 123 999999999999999999.999999999 11",
        b"frame 123 1.0000000001 11",
        b"frame 123 .5 11",
        b"frame 123 5. 11",
        b"frame FFFFFFFF 1.0",
        b"frame 1FFFFFFF 1.0 0 0",
        b"fdframe 123 FF 1.0 001122",
        b"fdframe 123 100 1.0",
        b"error FFFFFFFF 1.0 00 00 00 00 00 00 00 00 00",
        b"error 1.0 1.0",
        b"add 999999999999999999 999999999999999999 123 0",
        b"add 0 0 1FFFFFFF 8 1 2 3 4 5 6 7 8",
        b"sendfd 123 13 0 0 0 0 0 0 0 0 0 0 0 0 0",
        b"send 123 1 100",
        b"open 12345678901234567",
        b"\xff",
    ];
    for c in cases {
        let _ = wire::parse_server(c);
        let _ = wire::parse_client(c);
    }
    assert!(wire::parse_server(b"frame 123 999999999999999999.999999999 11").is_err());
    assert!(wire::parse_server(b"frame FFFFFFFF 1.0").is_err());
    assert!(wire::parse_server(b"fdframe 123 100 1.0").is_err());
    assert!(wire::parse_server(b"error FFFFFFFF 1.0 00 00 00 00 00 00 00 00 00").is_err());
    assert!(wire::parse_client(b"sendfd 123 13 0 0 0 0 0 0 0 0 0 0 0 0 0").is_err());
    assert!(wire::parse_client(b"send 123 1 100").is_err());
    assert!(wire::parse_client(b"open 12345678901234567").is_err());
    assert!(matches!(
        wire::parse_client(b"add 999999999999999999 999999999999999999 123 0"),
        Ok(ClientCmd::Add { .. })
    ));
    assert!(matches!(
        wire::parse_server(b"error 1FFFFFFF 1.0"),
        Ok(ServerMsg::Frame(..))
    ));
    // Found by the fuzz target: an error frame with data written by a server
    // comes back as its class alone (RAW mode's `< error CLASS TIME >`).
    let e = wire::parse_server(b"error 003 5.00001 11 22 33").unwrap();
    let ServerMsg::Frame(ef, ts) = e else {
        panic!("{e:?}")
    };
    assert_eq!(ef.data_bytes(), [0x11, 0x22, 0x33]);
    let mut out = Vec::new();
    assert!(wire::write_frame(&mut out, &ef, ts, false));
    assert_eq!(out, b"< error 003 5.000010 >");
    // A megabyte without '>' keeps at most one element's worth.
    let mut s = Splitter::default();
    let mut bad = 0;
    let big = vec![b'a'; 1 << 20];
    s.feed(b"<", &mut |_| {});
    for chunk in big.chunks(4096) {
        s.feed(chunk, &mut |p| {
            if matches!(p, Piece::Malformed(_)) {
                bad += 1
            }
        });
    }
    assert_eq!(bad, 1);
    let mut ok = Vec::new();
    s.feed(b">< ok >", &mut |p| {
        if let Piece::Element(e) = p {
            ok.push(e.to_vec())
        }
    });
    assert_eq!(ok, vec![b"ok".to_vec()]);
}
