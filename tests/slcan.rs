//! The `slcan` backend against a simulated adapter on a pty pair
//! (`tests/slcan/pty.rs`), for what can-utils' `slcanpty` cannot show (it is
//! tested in the VM by `tests/slcan_vm.rs`): the open sequence and bit
//! timings, CAN FD frames both ways, device timestamps, status flags, refused
//! frames, an adapter that stops answering or is unplugged, garbage lines;
//! and every tool opening `-i slcan`.
#![cfg(target_os = "linux")]

mod common;
#[path = "slcan/pty.rs"]
mod pty;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cankit::bus::{self, Bus, BusSettings};
use cankit::frame::error_class::class;
use cankit::frame::text::{format_frame, parse_frame};
use common::tools::{read_records, tool, wait_child};
use pty::{Behaviour, Device};

const LONG: Duration = Duration::from_secs(10);

fn settings(dev: &Device, opts: &[(&str, &str)]) -> BusSettings {
    let mut s = BusSettings::new("slcan", &dev.path());
    for (k, v) in opts {
        s.options.insert(k.to_string(), v.to_string());
    }
    s
}

fn recv_n(bus: &mut Box<dyn Bus>, n: usize) -> Vec<cankit::Record> {
    let deadline = Instant::now() + LONG;
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} frames",
            got.len()
        );
        if let Some(r) = bus.recv(Some(Duration::from_millis(200))).unwrap() {
            got.push(r);
        }
    }
    got
}

/// The host's lines other than status polls.
fn commands(dev: &Device) -> Vec<String> {
    dev.lines().into_iter().filter(|l| l != "F").collect()
}

#[test]
fn open_sequence_then_classic_and_fd_frames_both_ways() {
    let dev = Device::start(Behaviour::default());
    let mut s = settings(&dev, &[("poll", "0")]);
    s.bitrate = Some(500_000);
    s.data_bitrate = Some(2_000_000);
    let mut b = bus::open(&s).unwrap();
    assert!(b.is_fd());
    assert_eq!(commands(&dev), ["C", "S6", "Y2", "O"]);

    let sent = [
        "123#DEADBEEF",
        "1ABCDEF0#",
        "123#R4",
        "00000001#R",
        "7FF##0112233445566778899AABBCC",
        &format!("18FF0102##1{}", "5A".repeat(64)),
    ];
    for t in sent {
        b.send(&parse_frame(t).unwrap()).unwrap();
    }
    let lines = dev.wait_lines("tTrRdDbB", sent.len(), LONG);
    assert_eq!(
        lines,
        [
            "t1234DEADBEEF".to_string(),
            "T1ABCDEF00".into(),
            "r1234".into(),
            "R000000010".into(),
            "d7FF9112233445566778899AABBCC".into(),
            format!("B18FF0102F{}", "5A".repeat(64)),
        ]
    );

    dev.inject(b"t7FF0\rd1239000102030405060708090A0B\r");
    dev.inject(
        format!(
            "B1ABCDEF0F{}\rR1FFFFFFF8\rT000000013010203\r",
            "EE".repeat(64)
        )
        .as_bytes(),
    );
    let got: Vec<String> = recv_n(&mut b, 5)
        .iter()
        .map(|r| format_frame(&r.frame))
        .collect();
    assert_eq!(
        got,
        [
            "7FF#".to_string(),
            "123##0000102030405060708090A0B".into(),
            format!("1ABCDEF0##1{}", "EE".repeat(64)),
            "1FFFFFFF#R8".into(),
            "00000001#010203".into(),
        ]
    );
    b.close().unwrap();
    assert_eq!(commands(&dev).last().unwrap(), "C");
}

#[test]
fn without_a_bitrate_the_adapter_keeps_its_own_and_fd_needs_fd() {
    let dev = Device::start(Behaviour::default());
    let mut b = bus::open(&settings(&dev, &[("poll", "0")])).unwrap();
    assert_eq!(commands(&dev), ["C", "O"]);
    let e = b.send(&parse_frame("123##0AA").unwrap()).unwrap_err();
    assert!(e.to_string().contains("not in CAN FD mode"), "{e}");
    let e = b
        .send(&parse_frame("20000080#0000000000000000").unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("cannot send error frames"), "{e}");
}

#[test]
fn custom_bit_timing_listen_only_and_bad_rates() {
    let dev = Device::start(Behaviour::default());
    let s = settings(
        &dev,
        &[("poll", "0"), ("btr", "031c"), ("listen_only", "true")],
    );
    drop(bus::open(&s).unwrap());
    assert_eq!(&commands(&dev)[..3], ["C", "s031C", "L"]);

    let dev = Device::start(Behaviour::default());
    let mut s = settings(&dev, &[("poll", "0")]);
    s.bitrate = Some(40_000); // no S command: computed for the 8 MHz SJA1000
    drop(bus::open(&s).unwrap());
    assert_eq!(&commands(&dev)[..3], ["C", "s1805", "O"]);

    for (rate, data, want) in [
        (Some(33_333), None, "btr=XXYY"),
        (None, Some(3_000_000), "data bitrate 3000000"),
    ] {
        let mut s = settings(&dev, &[]);
        s.bitrate = rate;
        s.data_bitrate = data;
        let e = bus::open(&s).err().expect("refused");
        assert!(e.to_string().contains(want), "{e}");
    }
    let e = bus::open(&settings(&dev, &[("btr", "12")])).err().unwrap();
    assert!(e.to_string().contains("4 hex digits"), "{e}");
}

#[test]
fn device_timestamps_follow_the_adapter_across_its_minute() {
    let dev = Device::start(Behaviour::default());
    let mut b = bus::open(&settings(&dev, &[("poll", "0"), ("timestamps", "device")])).unwrap();
    assert_eq!(commands(&dev), ["C", "Z1", "O"]);
    // 59.940 s, then 0.020 s after the wrap: 80 ms later; then one without a stamp
    dev.inject(b"t1001AAEA24\r");
    std::thread::sleep(Duration::from_millis(50));
    dev.inject(b"t1001BB0014\r");
    let r = recv_n(&mut b, 2);
    assert_eq!(
        r[1].timestamp.as_nanos() - r[0].timestamp.as_nanos(),
        80_000_000
    );
    assert_eq!(format_frame(&r[1].frame), "100#BB");

    // host time by default, the stamps parsed and ignored
    let dev = Device::start(Behaviour::default());
    let mut b = bus::open(&settings(&dev, &[("poll", "0")])).unwrap();
    dev.inject(b"t1001AAEA24\rt1001BB0014\r");
    let r = recv_n(&mut b, 2);
    let gap = r[1].timestamp.as_nanos() - r[0].timestamp.as_nanos();
    assert!((0..50_000_000).contains(&gap), "{gap}");

    let dev = Device::start(Behaviour {
        refuse_commands: vec!["Z1".into()],
        ..Behaviour::default()
    });
    let e = bus::open(&settings(&dev, &[("poll", "0"), ("timestamps", "device")]))
        .err()
        .unwrap();
    assert!(e.to_string().contains("offers none"), "{e}");
}

#[test]
fn status_flags_are_reported_as_error_frames() {
    let dev = Device::start(Behaviour {
        flags: vec![0x00, 0xA0, 0x00],
        ..Behaviour::default()
    });
    let mut b = bus::open(&settings(&dev, &[("poll", "0.1")])).unwrap();
    let r = recv_n(&mut b, 1);
    let f = r[0].frame;
    assert!(f.is_error());
    assert_eq!(f.id().raw(), class::CRTL | class::PROT | class::BUSERROR);
    assert_eq!(f.data_bytes()[1], 0x30, "RX and TX error passive");
    assert!(dev.lines().iter().filter(|l| *l == "F").count() >= 2);
}

#[test]
fn lawicel_acks_keep_the_window_moving() {
    let dev = Device::start(Behaviour {
        lawicel_acks: true,
        ..Behaviour::default()
    });
    let mut b = bus::open(&settings(&dev, &[("poll", "0"), ("timeout", "1")])).unwrap();
    for i in 0..50u32 {
        let id = if i % 2 == 0 { "123" } else { "00000123" };
        b.send(&parse_frame(&format!("{id}#{i:02X}")).unwrap())
            .unwrap();
    }
    b.close().unwrap();
    assert_eq!(dev.wait_lines("tT", 50, LONG).len(), 50);
}

#[test]
fn a_refused_frame_fails_can_send_naming_it() {
    let dev = Device::start(Behaviour {
        refuse: vec!["t666".into()],
        ..Behaviour::default()
    });
    let out = tool("can-send")
        .args([
            "-i",
            "slcan",
            "-c",
            &dev.path(),
            "123#11",
            "666#22",
            "124#33",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("can-send: error:") && err.contains("refused to send 666#22"),
        "{err}"
    );
}

#[test]
fn an_adapter_that_never_answers_fails_the_open() {
    let dev = Device::start(Behaviour {
        mute_after: Some(0),
        ..Behaviour::default()
    });
    let t = Instant::now();
    let e = bus::open(&settings(&dev, &[("timeout", "0.5")]))
        .err()
        .unwrap();
    assert!(e.to_string().contains("did not answer 'C'"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn an_adapter_that_stops_answering_ends_logger_and_sender_with_an_error() {
    // answers C and O, then nothing: the logger's status polls go unanswered
    let dev = Device::start(Behaviour {
        mute_after: Some(2),
        ..Behaviour::default()
    });
    let t = Instant::now();
    let out = tool("can-logger")
        .args(["-i", "slcan", "-c", &dev.path(), "--bus-opt", "timeout=0.5"])
        .args(["--bus-opt", "poll=0.2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("can-logger: error:") && err.contains("stopped answering"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());

    // a sender: the window fills and nothing comes back
    let dev = Device::start(Behaviour {
        mute_after: Some(2),
        ..Behaviour::default()
    });
    let out = tool("can-send")
        .args(["-i", "slcan", "-c", &dev.path(), "--bus-opt", "timeout=0.5"])
        .args(["--period", "1ms", "--count", "100", "123#11"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("stopped answering"), "{err}");
}

#[test]
fn an_unplugged_adapter_ends_the_logger_with_an_error() {
    let dev = Device::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("u.log");
    let child = tool("can-logger")
        .args(["-i", "slcan", "-c", &dev.path(), "-f"])
        .arg(&log)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    dev.wait_open(LONG);
    dev.inject(b"t1231AA\r");
    std::thread::sleep(Duration::from_millis(300));
    drop(dev);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("unplugged"), "{err}");
    // what came before is in the file, finished properly
    let recs = read_records(&log);
    assert_eq!(common::tools::frames_text(&recs), ["123#AA"]);
}

#[test]
fn garbage_is_counted_and_dropped_with_warnings_and_frames_go_on() {
    let dev = Device::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("g.log");
    let child = tool("can-logger")
        .args(["-i", "slcan", "-c", &dev.path(), "-n", "3", "-f"])
        .arg(&log)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    dev.wait_open(LONG);
    // the \a in the junk must not be taken for the answer to O
    std::thread::sleep(Duration::from_millis(500));
    let mut junk = b"t1231AA\rhello\rt12\rt8000\r".to_vec();
    junk.extend(std::iter::repeat_n(b'7', 5000));
    junk.extend_from_slice(b"\r\x00\x01\xff\rT1FFFFFFF0\rnoise\x07t4561BB\r");
    dev.inject(&junk);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // each bad line warned about, numbered
    for n in 1..=6 {
        assert!(err.contains(&format!("malformed line #{n} ")), "{err}");
    }
    let recs = read_records(&log);
    assert_eq!(
        common::tools::frames_text(&recs),
        ["123#AA", "1FFFFFFF#", "456#BB"]
    );
}

#[test]
fn garbage_warnings_name_the_line() {
    let dev = Device::start(Behaviour::default());
    let mut s = settings(&dev, &[("poll", "0")]);
    s.bitrate = None;
    let mut child = tool("can-logger")
        .args(["-i", "slcan", "-c", &dev.path(), "-n", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    dev.wait_open(LONG);
    dev.inject(b"hello\rt1231AA\r");
    let status = wait_child_keep(&mut child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(status.success(), "{err}");
    assert!(
        err.contains("skipping malformed line #1 ('hello'): not a frame or an answer"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("123#AA"));
}

fn wait_child_keep(c: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + LONG;
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "tool did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_tool_opens_slcan() {
    // can-player: a log onto the adapter, exactly
    let dev = Device::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("in.log");
    std::fs::write(
        &log,
        "(1.000000) can0 123#11\n(1.001000) can0 18FF0102#2233\n(1.002000) can0 7E8#R\n",
    )
    .unwrap();
    let out = tool("can-player")
        .args(["-i", "slcan", "-c", &dev.path()])
        .arg(&log)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dev.wait_lines("tTrR", 3, LONG),
        ["t123111", "T18FF010222233", "r7E80"]
    );

    // can-bridge: virtual -> slcan
    let dev = Device::start(Behaviour::default());
    let chan = common::tools::channel("slcan-bridge");
    let bridge = tool("can-bridge")
        .args(["--from", &format!("virtual:{chan}")])
        .args(["--to", &format!("slcan:{}", dev.path()), "-n", "2"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    dev.wait_open(LONG);
    common::tools::wait_for_peers(&chan, 1);
    let out = tool("can-send")
        .args(["-i", "virtual", "-c", &chan, "321#01", "322#02"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(wait_child(bridge, LONG).success());
    assert_eq!(dev.wait_lines("t", 2, LONG), ["t321101", "t322102"]);

    // can-viewer, plain: a row for the id the adapter sent
    let dev = Device::start(Behaviour::default());
    let mut viewer = tool("can-viewer")
        .args(["-i", "slcan", "-c", &dev.path(), "--plain", "-n", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    dev.wait_open(LONG);
    dev.inject(b"t5551AB\rt5551AC\r");
    let status = wait_child_keep(&mut viewer);
    let out = viewer.wait_with_output().unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("555"));

    // a bad option is refused by name, the bus never opened
    let out = Command::new(common::bin("can-logger"))
        .args(["-i", "slcan", "-c", "/nonexistent/tty", "--no-config"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot open the serial port"), "{err}");
}
