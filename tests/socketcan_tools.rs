//! The six tools on the real kernel CAN stack (`-i socketcan`), end to end, with
//! can-utils (`cansend`, `candump`, `cangen`) as the independent peers: what
//! can-utils sends, can-logger records exactly; what our tools send, candump
//! sees exactly and on time; the logger rides out interfaces going down or away.
//!
//! On a host without CAN the whole binary runs once in the QEMU VM of
//! `tests/vm` (one boot; `tests/vm/harness.rs`). Each test makes its own `ck*`
//! interfaces, so they run in parallel; the timing tests take a lock so that no
//! other test competes for the (emulated) CPUs while they measure.
#![cfg(target_os = "linux")]

mod common;
#[macro_use]
#[path = "vm/harness.rs"]
mod vm;

use vm::{candump_deltas, sh, Iface, Proc, PROBE};

use std::process::{Command, Stdio};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use cankit::frame::text::{parse_frame, parse_log_line};
use cankit::{Channel, Frame};
use common::tools::{read_records, tool};

/// The tests that measure timing run alone (write lock); the others share
/// the machine (read lock). The emulated CPUs are few and slow.
static TIMING: RwLock<()> = RwLock::new(());

fn timing_lock() -> RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(|e| e.into_inner())
}

fn shared_lock() -> RwLockReadGuard<'static, ()> {
    TIMING.read().unwrap_or_else(|e| e.into_inner())
}

/// Prints how long a test took, past libtest's output capture (so that it is in
/// the VM's log, `CANKIT_VM_LOG`, whatever the verdict).
fn timing(what: &str, since: Instant) {
    note(&format!(
        "[time] {what}: {:.1} s",
        since.elapsed().as_secs_f64()
    ));
}

/// A line on stderr past libtest's capture, for measured figures.
fn note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// How long a reader may take to show it listens.
const READY: Duration = Duration::from_secs(30);

fn f(text: &str) -> Frame {
    parse_frame(text).unwrap()
}

/// `candump ARGS IFACE`, made ready with probes sent on `probe_iface`.
fn candump(args: &[&str], iface: &str, probe_iface: &str) -> Proc {
    vm::candump(args, iface, READY, || {
        sh(&format!("cansend {probe_iface} {PROBE}"));
    })
}

/// can-logger on socketcan `channels`, stdout piped (candump lines unless `-f`).
fn logger(channels: &[&str], extra: &[&str], probe_ifaces: &[&str]) -> Proc {
    let mut c = tool("can-logger");
    c.args(["-i", "socketcan"]);
    for ch in channels {
        c.args(["-c", ch]);
    }
    c.args(extra);
    Proc::start(c, "can-logger", READY, || {
        for p in probe_ifaces {
            sh(&format!("cansend {p} {PROBE}"));
        }
    })
}

/// can-logger on socketcan `channels` into a file (`-v -f FILE`); returns once
/// it has bound its sockets (it says "recording" after that).
fn file_logger(channels: &[&str], file: &std::path::Path) -> Proc {
    file_logger_with(channels, file, &[])
}

fn file_logger_with(channels: &[&str], file: &std::path::Path, extra: &[&str]) -> Proc {
    let mut c = tool("can-logger");
    c.args(["-v", "-i", "socketcan"]);
    for ch in channels {
        c.args(["-c", ch]);
    }
    c.args(extra);
    c.arg("-f").arg(file);
    let p = Proc::spawn(c, "can-logger -f");
    p.wait_stderr("recording", 1);
    p
}

/// Waits until `proc` has printed the probe again (it listens again).
fn reprobe(proc: &Proc, iface: &str) {
    proc.wait_for_probe(READY, &mut || {
        let _ = Command::new("cansend").args([iface, PROBE]).output();
    });
}

/// Runs a tool to completion, failing the test on a non-zero exit.
fn run_tool(name: &str, args: &[&str]) -> String {
    let o = tool(name)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn tool");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{name} {args:?} failed: {err}");
    err
}

const MIXED: &[&str] = &[
    "123#DEADBEEF",
    "000#",
    "7FF#0102030405060708",
    "1ABCDEF0#00FF",
    "00000001#R",
    "123#R",
    "123##1AABBCCDDEEFF0011",
    "1FFFFFFF##3000102030405060708090A0B",
    "321##0",
];

vm_test! {
    fn cansend_frames_reach_can_logger_exactly() {
        let _s = shared_lock();
        let started = Instant::now();
        let _i = Iface::vcan("cklg0", true);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rec.jsonl");
        let to_stdout = logger(&["cklg0"], &[], &["cklg0"]);
        let to_file = file_logger(&["cklg0"], &file);
        let mut all: Vec<String> = MIXED.iter().map(|s| s.to_string()).collect();
        all.push(format!("456##1{}", "5A".repeat(64)));
        for t in &all {
            sh(&format!("cansend cklg0 '{t}'"));
        }
        let got = to_stdout.frames(all.len(), Duration::from_secs(10));
        let want: Vec<(String, Frame)> = all.iter().map(|t| ("cklg0".to_string(), f(t))).collect();
        assert_eq!(got, want);
        let (st, took, err) = to_file.interrupt();
        assert!(st.success(), "{err}");
        assert!(took < Duration::from_secs(2), "Ctrl-C took {took:?}");
        let recs: Vec<_> = read_records(&file)
            .into_iter()
            .filter(|r| r.frame != f(PROBE))
            .collect();
        assert_eq!(
            recs.iter().map(|r| r.frame).collect::<Vec<_>>(),
            want.iter().map(|w| w.1).collect::<Vec<_>>(),
            "recorded in the file"
        );
        assert!(recs.iter().all(|r| r.channel == Channel::name("cklg0")));
        assert!(recs.iter().all(|r| r.direction == cankit::Direction::Tx), "cansend runs on this host");
        assert!(err.contains("0 dropped by the kernel; 0 gap(s)"), "summary: {err}");
        let (st, _, err) = to_stdout.interrupt();
        assert!(st.success(), "{err}");
        timing("cansend -> can-logger", started);
    }

    fn can_send_frames_reach_candump_exactly() {
        let _s = shared_lock();
        let started = Instant::now();
        let _i = Iface::vcan("ckcs0", true);
        let dump = candump(&["-L"], "ckcs0", "ckcs0");
        let mut args = vec!["-i", "socketcan", "-c", "ckcs0"];
        args.extend_from_slice(MIXED);
        run_tool("can-send", &args);
        let got = dump.frames(MIXED.len(), Duration::from_secs(10));
        let want: Vec<(String, Frame)> = MIXED.iter().map(|t| ("ckcs0".to_string(), f(t))).collect();
        assert_eq!(got, want);
        // An FD frame on a classic interface is refused with a message naming it.
        let _c = Iface::vcan("ckcs1", false);
        let o = tool("can-send")
            .args(["-i", "socketcan", "-c", "ckcs1", "123##1AA"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("ckcs1") && err.contains("FD"), "{err}");
        assert!(dump.lines(1, Duration::from_millis(300)).is_empty());
        timing("can-send -> candump", started);
    }

    fn can_player_replays_in_order_and_on_time() {
        let _t = timing_lock();
        let started = Instant::now();
        let _i = Iface::vcan("ckpl0", true);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("in.log");
        // Uneven gaps from 1 to 60 ms, classic and FD frames, 29-bit ids.
        let gaps_ms = [0, 10, 3, 25, 1, 40, 7, 15, 2, 30, 5, 12, 60, 4, 9, 20, 8, 1, 33, 6];
        let mut t = 1_700_000_000_000_000i64;
        let mut text = String::new();
        let mut want = Vec::new();
        let mut offsets = Vec::new();
        for (i, g) in gaps_ms.iter().enumerate() {
            t += g * 1000;
            let frame = match i % 3 {
                0 => format!("{:03X}#{:02X}", 0x100 + i, i),
                1 => format!("{:08X}#{:02X}11", 0x1000_0000 + i, i),
                _ => format!("{:03X}##1{:02X}22334455667788", 0x100 + i, i),
            };
            text.push_str(&format!("({}.{:06}) can0 {frame}\n", t / 1_000_000, t % 1_000_000));
            want.push(("ckpl0".to_string(), f(&frame)));
            offsets.push(t - 1_700_000_000_000_000);
        }
        std::fs::write(&log, text).unwrap();
        let dump = candump(&["-L"], "ckpl0", "ckpl0");
        // A first run brings the binary into the page cache and the emulator's
        // translation cache: under TCG a cold first send can take tens of ms,
        // which says nothing about the player's scheduling.
        let warm = dir.path().join("warm.log");
        std::fs::write(&warm, "(1.000000) can0 7FE#\n(1.001000) can0 7FE#\n").unwrap();
        run_tool("can-player", &["-i", "socketcan", "-c", "ckpl0", warm.to_str().unwrap()]);
        // Every frame must be in order, and on the log's schedule: candump's
        // kernel receive times minus the log's offsets, against their median
        // (the run's common start), within 5 ms. The first frame is held to
        // 15 ms: it is the first pass through every code path of a fresh
        // process, which under the emulator (TCG) costs milliseconds (5-7 ms
        // in a debug build; canplayer shows about 1.5 ms of it), nothing a
        // real machine sees. The emulated machine is shared with other
        // builds, so one stall of the whole VM may spoil a run: up to three
        // runs, one must be on time.
        let mut attempts = Vec::new();
        let on_time = |i: usize, e: i64| e <= if i == 0 { 15_000 } else { 5_000 };
        for _ in 0..3 {
            run_tool("can-player", &["-i", "socketcan", "-c", "ckpl0", log.to_str().unwrap()]);
            let lines = dump.lines(want.len(), Duration::from_secs(10));
            let parsed: Vec<_> = lines.iter().map(|l| parse_log_line(l).unwrap()).collect();
            let got: Vec<(String, Frame)> = parsed
                .iter()
                .map(|p| (p.interface.to_string(), p.frame))
                .collect();
            assert_eq!(got, want, "every frame, in order");
            let t0 = parsed[0].timestamp.as_nanos();
            let shifts: Vec<i64> = parsed
                .iter()
                .zip(&offsets)
                .map(|(p, want_us)| (p.timestamp.as_nanos() - t0) / 1000 - want_us)
                .collect();
            let mut sorted = shifts.clone();
            sorted.sort_unstable();
            let median = sorted[sorted.len() / 2];
            let errors: Vec<i64> = shifts.iter().map(|s| s - median).collect();
            note(&format!(
                "can-player on socketcan: timing errors (µs) against the common start {errors:?}"
            ));
            let ok = errors.iter().enumerate().all(|(i, e)| on_time(i, e.abs()));
            attempts.push(errors);
            if ok {
                break;
            }
        }
        let last = attempts.last().unwrap();
        for (i, e) in last.iter().enumerate() {
            assert!(
                on_time(i, e.abs()),
                "frame {i} off by {e} µs in every run: {attempts:?}"
            );
        }
        timing("can-player -> candump", started);
    }

    fn can_bridge_forwards_and_both_ways_has_no_echo() {
        let _s = shared_lock();
        let started = Instant::now();
        let _a = Iface::vcan("ckbr0", true);
        let _b = Iface::vcan("ckbr1", true);
        // One way: what arrives on ckbr0 goes to ckbr1, nothing comes back.
        let mut c = tool("can-bridge");
        c.args(["--from", "socketcan:ckbr0", "--to", "socketcan:ckbr1"]);
        let mut bridge = Proc::spawn(c, "can-bridge");
        let on_b = candump(&["-L"], "ckbr1", "ckbr0"); // probes cross the bridge
        let on_a = candump(&["-L"], "ckbr0", "ckbr0");
        for t in ["100#01", "12345678##1AABB", "200#R"] {
            sh(&format!("cansend ckbr0 '{t}'"));
        }
        sh("cansend ckbr1 300#03");
        let want = vec![
            ("ckbr1".to_string(), f("100#01")),
            ("ckbr1".to_string(), f("12345678##1AABB")),
            ("ckbr1".to_string(), f("200#R")),
            ("ckbr1".to_string(), f("300#03")),
        ];
        assert_eq!(on_b.frames(4, Duration::from_secs(10)), want);
        let a: Vec<Frame> = on_a.frames(3, Duration::from_secs(5)).into_iter().map(|x| x.1).collect();
        assert_eq!(a, vec![f("100#01"), f("12345678##1AABB"), f("200#R")]);
        assert!(on_a.lines(1, Duration::from_millis(500)).is_empty(), "one-way bridge sent back");
        bridge.signal(libc::SIGINT);
        assert!(bridge.wait_exit(Duration::from_secs(5)).success());
        drop(bridge);

        // Both ways: each side's frames reach the other exactly once, no echo.
        let mut c = tool("can-bridge");
        c.args(["--from", "socketcan:ckbr0", "--to", "socketcan:ckbr1", "--both-ways"]);
        let both = Proc::spawn(c, "can-bridge --both-ways");
        reprobe(&on_b, "ckbr0");
        reprobe(&on_a, "ckbr1");
        // Drain late probes on both sides.
        while !on_a.lines(1, Duration::from_millis(300)).is_empty() {}
        while !on_b.lines(1, Duration::from_millis(300)).is_empty() {}
        sh("cansend ckbr0 111#0A; cansend ckbr1 222#0B");
        let seen_a: Vec<Frame> = on_a.frames(2, Duration::from_secs(5)).into_iter().map(|x| x.1).collect();
        let seen_b: Vec<Frame> = on_b.frames(2, Duration::from_secs(5)).into_iter().map(|x| x.1).collect();
        assert_eq!(seen_a, vec![f("111#0A"), f("222#0B")]);
        assert_eq!(seen_b, vec![f("111#0A"), f("222#0B")]);
        assert!(on_a.lines(1, Duration::from_millis(500)).is_empty(), "echo on ckbr0");
        assert!(on_b.lines(1, Duration::from_millis(200)).is_empty(), "echo on ckbr1");
        both.signal(libc::SIGINT);
        let (st, _) = both.wait(Duration::from_secs(5));
        assert!(st.success());
        timing("can-bridge", started);
    }

    fn logger_filter_keeps_other_frames_out() {
        let _s = shared_lock();
        let started = Instant::now();
        let _i = Iface::vcan("ckfl0", false);
        // The probe id passes too, so that we can tell when the logger listens.
        let log = logger(&["ckfl0"], &["-v", "--filter", "123:7FF,7FE:7FF"], &["ckfl0"]);
        // 3000 non-matching frames in a burst: had they reached the logger's
        // socket, some would show (or overflow its queue).
        sh("cangen ckfl0 -g 0 -I 124 -L 8 -n 1500");
        sh("cangen ckfl0 -g 0 -e -I 123 -L 8 -n 1500");
        sh("cansend ckfl0 00000123#01; cansend ckfl0 123#02; cansend ckfl0 7FF#03; cansend ckfl0 123#04");
        let got = log.frames(2, Duration::from_secs(10));
        assert_eq!(got, vec![("ckfl0".into(), f("123#02")), ("ckfl0".into(), f("123#04"))]);
        assert!(log.lines(1, Duration::from_millis(500)).is_empty());
        let (st, took, err) = log.interrupt();
        assert!(st.success(), "{err}");
        assert!(took < Duration::from_secs(2), "Ctrl-C took {took:?}");
        assert!(err.contains("0 dropped by the kernel"), "{err}");
        timing("logger --filter", started);
    }

    fn logger_survives_the_interface_going_down_and_away() {
        let _s = shared_lock();
        let started = Instant::now();
        let i = Iface::vcan("ckdn0", false);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rec.log");
        let log = logger(&["ckdn0"], &["-v"], &["ckdn0"]);
        let to_file = file_logger(&["ckdn0"], &file);
        sh("cansend ckdn0 100#01");
        // Down for about a second, then up again: same socket.
        sh("ip link set ckdn0 down");
        std::thread::sleep(Duration::from_millis(1000));
        sh("ip link set ckdn0 up");
        reprobe(&log, "ckdn0");
        sh("cansend ckdn0 100#02");
        // Deleted, then created again: the logger opens it anew.
        drop(i);
        std::thread::sleep(Duration::from_millis(1500));
        let _i = Iface::vcan("ckdn0", false);
        reprobe(&log, "ckdn0");
        to_file.wait_stderr("is back", 2);
        sh("cansend ckdn0 100#03; cansend ckdn0 100#04");
        let got: Vec<Frame> = log.frames(4, Duration::from_secs(10)).into_iter().map(|x| x.1).collect();
        assert_eq!(got, vec![f("100#01"), f("100#02"), f("100#03"), f("100#04")]);
        let (st, took, err) = log.interrupt();
        assert!(st.success(), "{err}");
        assert!(took < Duration::from_secs(2), "Ctrl-C took {took:?}");
        eprintln!("can-logger stderr:\n{err}");
        assert!(err.contains("'ckdn0' went down at "), "{err}");
        assert!(err.contains("'ckdn0' was deleted"), "{err}");
        assert!(err.contains("2 gap(s)"), "{err}");
        // The first gap: from the down to the up, about a second.
        let gap_line = err
            .lines()
            .find(|l| l.contains("is back: no frames could be received from"))
            .unwrap_or_else(|| panic!("no gap report in {err}"));
        let secs: f64 = gap_line
            .rsplit('(')
            .next()
            .and_then(|s| s.strip_suffix(" s)"))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no duration in {gap_line}"));
        assert!((0.8..5.0).contains(&secs), "gap of {secs} s: {gap_line}");
        assert!(gap_line.contains(" UTC to ") && gap_line.ends_with(" s)"), "{gap_line}");
        let (st, _, err) = to_file.interrupt();
        assert!(st.success(), "{err}");
        let recs: Vec<Frame> = read_records(&file)
            .into_iter()
            .map(|r| r.frame)
            .filter(|fr| *fr != f(PROBE))
            .collect();
        assert_eq!(recs, vec![f("100#01"), f("100#02"), f("100#03"), f("100#04")]);
        timing("logger outage", started);
    }

    fn logger_reports_what_the_kernel_dropped() {
        let _s = shared_lock();
        let started = Instant::now();
        let _i = Iface::vcan("ckdr0", false);
        let dir = tempfile::tempdir().unwrap();
        // A stopped logger reads nothing while 3000 frames arrive.
        let stopped_while = |log: &Proc, frames: &str| {
            log.signal(libc::SIGSTOP);
            sh(&format!("cangen ckdr0 -g 0 -p 10 -I 7 -L 8 -n {frames}"));
            log.signal(libc::SIGCONT);
        };
        let summary_of = |err: &str| -> (String, usize) {
            let summary = err
                .lines()
                .find(|l| l.contains(" frame(s) recorded in "))
                .unwrap_or_else(|| panic!("no summary in {err}"))
                .to_string();
            let dropped: usize = summary
                .split("; ")
                .find_map(|p| p.strip_suffix(" dropped by the kernel"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no drop count in {summary}"));
            (summary, dropped)
        };

        // The default 8 MiB receive buffer holds them all.
        let file = dir.path().join("big.log");
        let log = file_logger_with(&["ckdr0"], &file, &[]);
        stopped_while(&log, "3000");
        let (st, _, err) = log.interrupt();
        assert!(st.success(), "{st:?} {err}");
        let (summary, dropped) = summary_of(&err);
        assert_eq!((read_records(&file).len(), dropped), (3000, 0), "{summary}");

        // The system's default buffer (rcvbuf=0) holds a few hundred: the rest
        // is counted, although no frame arrives after the drops to carry the
        // kernel's counter (the logger reads it when the bus goes quiet).
        let file = dir.path().join("small.log");
        let log = file_logger_with(&["ckdr0"], &file, &["--bus-opt", "rcvbuf=0"]);
        stopped_while(&log, "3000");
        log.wait_stderr("the kernel dropped", 1);
        let (st, _, err) = log.interrupt();
        assert!(st.success(), "{err}");
        let recorded = read_records(&file).len();
        let (summary, dropped) = summary_of(&err);
        eprintln!("recorded {recorded}, dropped {dropped}: {summary}");
        assert!(dropped > 0, "{err}");
        assert_eq!(recorded + dropped, 3000, "{err}");
        assert!(summary.contains(&format!("{recorded} frame(s) recorded")), "{summary}");
        assert!(summary.contains(": warning: "), "a loss is a warning: {summary}");
        timing("logger drops", started);
    }

    fn multi_channel_logging_into_one_blf() {
        let _s = shared_lock();
        let started = Instant::now();
        let _a = Iface::vcan("ckmc0", true);
        let _b = Iface::vcan("ckmc1", false);
        let dir = tempfile::tempdir().unwrap();
        // Watch a stdout logger for readiness; the file loggers have bound their
        // sockets once they say so.
        let watch = logger(&["ckmc0", "ckmc1"], &[], &["ckmc0", "ckmc1"]);
        let mut recs = Vec::new();
        for ext in ["blf", "trc"] {
            let path = dir.path().join(format!("two.{ext}"));
            // The BLF writer is another branch's work; until it is merged this
            // is a loud skip (a failure under CI).
            if ext == "blf" {
                if let Err(e) = cankit::format::create_writer(&path, None, &Default::default()) {
                    common::missing(&format!("a BLF writer for the multi-channel test: {e}"));
                    continue;
                }
                std::fs::remove_file(&path).unwrap();
            }
            recs.push((file_logger(&["ckmc0", "ckmc1"], &path), path));
        }
        let sends = [("ckmc0", "111#01"), ("ckmc1", "222#02"), ("ckmc0", "333##1AABB"), ("ckmc1", "1ABCDEF0#R")];
        for (i, t) in sends {
            sh(&format!("cansend {i} '{t}'"));
        }
        let seen = watch.frames(4, Duration::from_secs(10));
        assert_eq!(seen, sends.iter().map(|(i, t)| (i.to_string(), f(t))).collect::<Vec<_>>());
        for (rec, path) in recs {
            let (st, _, err) = rec.interrupt();
            assert!(st.success(), "{err}");
            let got: Vec<(Channel, Frame)> = read_records(&path)
                .into_iter()
                .filter(|r| r.frame != f(PROBE))
                .map(|r| (r.channel, r.frame))
                .collect();
            assert_eq!(
                got,
                vec![
                    (Channel::Number(1), f("111#01")),
                    (Channel::Number(2), f("222#02")),
                    (Channel::Number(1), f("333##1AABB")),
                    (Channel::Number(2), f("1ABCDEF0#R")),
                ],
                "{}: {}\n{err}",
                path.display(),
                if path.extension().is_some_and(|e| e == "trc") {
                    std::fs::read_to_string(&path).unwrap_or_default()
                } else {
                    String::new()
                }
            );
        }
        // `-c any`: every interface, each record naming its own.
        let any = logger(&["any"], &[], &["ckmc1"]);
        sh("cansend ckmc0 444#04; cansend ckmc1 555#05");
        let mut mine = Vec::new();
        let end = Instant::now() + Duration::from_secs(10);
        while mine.len() < 2 && Instant::now() < end {
            // Other tests' interfaces carry traffic too: keep ours.
            mine.extend(any.frames(1, Duration::from_secs(1)).into_iter().filter(|(i, _)| i.starts_with("ckmc")));
        }
        assert_eq!(mine, vec![("ckmc0".to_string(), f("444#04")), ("ckmc1".to_string(), f("555#05"))]);
        let (st, _, err) = watch.interrupt();
        assert!(st.success(), "{err}");
        drop(any);
        timing("multi-channel BLF", started);
    }

    fn can_send_period_uses_the_kernel_timer() {
        let _t = timing_lock();
        let started = Instant::now();
        let _i = Iface::vcan("ckbc0", true);
        let dump = candump(&["-t", "d"], "ckbc0", "ckbc0");
        // Late probes of the readiness loop must not count as frames.
        while !dump.lines(1, Duration::from_millis(300)).is_empty() {}
        let t = Instant::now();
        let err = run_tool(
            "can-send",
            &["-v", "-i", "socketcan", "-c", "ckbc0", "--period", "10ms", "--count", "20", "100#01", "200#02"],
        );
        let took = t.elapsed();
        assert!(err.contains("the kernel sends 2 frame(s) every 10ms"), "not by BCM: {err}");
        let lines = dump.lines(20, Duration::from_secs(10));
        let frames: Vec<String> = lines
            .iter()
            .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
            .collect();
        assert_eq!(frames.len(), 20, "{lines:?}");
        assert!(frames.iter().step_by(2).all(|x| x == "100") && frames.iter().skip(1).step_by(2).all(|x| x == "200"), "{lines:?}");
        assert!(dump.lines(1, Duration::from_millis(300)).is_empty(), "more than --count frames");
        // 20 frames: the first at once, then 19 periods; can-send exits when
        // the kernel reports the last one sent.
        assert!(took >= Duration::from_millis(185), "took {took:?}");
        let d = candump_deltas(&lines);
        let mut periods = d[1..].to_vec();
        periods.sort_by(f64::total_cmp);
        let median = periods[periods.len() / 2];
        note(&format!(
            "can-send --period 10ms via BCM: median {median:.6} s, periods {periods:?}"
        ));
        // The kernel timer re-arms from when it fired: under a loaded emulator
        // single periods stretch, but the median stays and none is short.
        assert!((median - 0.010).abs() <= 0.002, "median period {median} in {d:?}");
        assert!(periods[0] > 0.006, "a short period in {d:?}");

        // --duration without --count: the frames due before it ends, 10 here.
        run_tool("can-send", &["-i", "socketcan", "-c", "ckbc0", "--period", "20ms", "--duration", "200ms", "300#03"]);
        let lines = dump.lines(11, Duration::from_millis(800));
        assert_eq!(lines.len(), 10, "{lines:?}");
        // A mixed classic/FD list cannot be one BCM task: the user-space loop sends it.
        let err = run_tool("can-send", &["-v", "-i", "socketcan", "-c", "ckbc0", "--period", "20ms", "--count", "3", "400#04", "500##1AA"]);
        assert!(!err.contains("the kernel sends"), "{err}");
        let frames: Vec<String> = dump
            .lines(3, Duration::from_secs(3))
            .iter()
            .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
            .collect();
        assert_eq!(frames, ["400", "500", "400"]);
        assert!(dump.lines(1, Duration::from_millis(300)).is_empty());
        timing("can-send BCM", started);
    }

    fn can_send_counts_failed_sends_and_goes_on() {
        // Alone: interfaces go down and away while it runs.
        let _s = timing_lock();
        let started = Instant::now();
        let _i = Iface::vcan("ckcs0", false);
        let dump = candump(&[], "ckcs0", "ckcs0");
        // 600 frames 5 ms apart (3 s); the interface is down for about a second.
        let child = tool("can-send")
            .args(["-i", "socketcan", "-c", "ckcs0", "--generate", "-g", "5", "-I", "123"])
            .args(["-L", "1", "--count", "600"])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn can-send");
        // Once it sends (the emulated machine starts a process slowly).
        assert_eq!(dump.lines(1, READY).len(), 1);
        drop(dump);
        sh("ip link set ckcs0 down");
        std::thread::sleep(Duration::from_millis(1000));
        sh("ip link set ckcs0 up");
        let o = child.wait_with_output().expect("can-send");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        eprintln!("can-send stderr:\n{err}");
        assert_eq!(o.status.code(), Some(1), "{err}");
        let line = err
            .lines()
            .find(|l| l.contains("frame(s) could not be sent on socketcan 'ckcs0'"))
            .unwrap_or_else(|| panic!("no count in {err}"));
        let n: u64 = line
            .split_whitespace()
            .find_map(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no number in {line}"));
        // Most of a second's frames (200) failed, the others went out.
        assert!((50..550).contains(&n), "{n} failed: {line}");
        assert!(err.contains("going on"), "{err}");
        timing("can-send failed sends", started);
    }

    fn bridge_survives_the_sending_side_going_down_and_away() {
        // Alone: interfaces go down and away while it runs.
        let _s = timing_lock();
        let started = Instant::now();
        let _from = Iface::vcan("ckbf0", false);
        let to = Iface::vcan("ckbt0", false);
        let log = logger(&["ckbt0"], &[], &["ckbt0"]);
        let mut c = tool("can-bridge");
        c.args(["-v", "--from", "socketcan:ckbf0", "--to", "socketcan:ckbt0"]);
        let bridge = Proc::spawn(c, "can-bridge");
        bridge.wait_stderr("bridging", 1);
        std::thread::sleep(Duration::from_millis(300));
        sh("cansend ckbf0 100#01");
        let got = log.frames(1, Duration::from_secs(10));
        assert_eq!(got[0].1, f("100#01"));
        // Down: the frame cannot go out and is counted.
        sh("ip link set ckbt0 down");
        sh("cansend ckbf0 100#02");
        bridge.wait_stderr("is unavailable", 1);
        sh("ip link set ckbt0 up");
        reprobe(&log, "ckbt0");
        sh("cansend ckbf0 100#03");
        bridge.wait_stderr("is back", 1);
        // Deleted: counted, and opened again once it exists.
        drop(to);
        sh("cansend ckbf0 100#04");
        bridge.wait_stderr("is unavailable", 2);
        let _to = Iface::vcan("ckbt0", false);
        reprobe(&log, "ckbt0");
        sh("cansend ckbf0 100#05");
        bridge.wait_stderr("is back", 2);
        let got: Vec<Frame> = log.frames(2, Duration::from_secs(10)).into_iter().map(|x| x.1).collect();
        assert_eq!(got, vec![f("100#03"), f("100#05")]);
        let (st, took, err) = bridge.interrupt();
        eprintln!("can-bridge stderr:\n{err}");
        assert!(st.success(), "{err}");
        assert!(took < Duration::from_secs(2), "Ctrl-C took {took:?}");
        assert!(err.contains("2 frame(s) could not be sent while a bus was unavailable"), "{err}");
        timing("bridge outage", started);
    }
}
