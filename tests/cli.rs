//! End-to-end tests of the six binaries on the `virtual` bus: what one tool sends,
//! another records, byte for byte and on time; and how every tool meets bad input.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::tools::*;

const FRAMES: &[&str] = &[
    "123#DEADBEEF",
    "1F334455#1122",
    "123#R4",
    "7FF#",
    "000#0102030405060708",
    "123#1122334455667788_E",
    "18FF0102##1AABBCCDDEEFF001122334455",
    "00000001##3",
    "20000080#0000000000000000",
];

#[test]
fn can_send_reaches_can_logger_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec.log");
    let chan = channel("send");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-n", &FRAMES.len().to_string(), "-f"])
        .arg(&out)
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    let o = run(tool("can-send").args(["-c", &chan]).args(FRAMES));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(wait_child(logger, Duration::from_secs(20)).success());
    let recs = read_records(&out);
    assert_eq!(frames_text(&recs), FRAMES);
    assert!(recs.iter().all(|r| r.channel.to_string() == chan));
}

#[test]
fn can_send_reads_stdin_and_cycles_periodically() {
    let chan = channel("stdin");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-n", "7"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    let mut send = tool("can-send")
        .args(["-c", &chan, "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    send.stdin
        .take()
        .unwrap()
        .write_all(b"123#01\n\n# comment\n(1700000000.000001) can0 456#02 R\n")
        .unwrap();
    assert!(wait_child(send, Duration::from_secs(10)).success());
    let start = Instant::now();
    let o = run(tool("can-send").args([
        "-c", &chan, "--period", "20ms", "--count", "5", "100#AA", "200#BB",
    ]));
    let took = start.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        took >= Duration::from_millis(80),
        "5 frames 20 ms apart took {took:?}"
    );
    let out = logger.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let frames: Vec<&str> = text.lines().map(|l| l.split(' ').nth(2).unwrap()).collect();
    assert_eq!(
        frames,
        ["123#01", "456#02", "100#AA", "200#BB", "100#AA", "200#BB", "100#AA"]
    );
}

#[test]
fn can_bridge_forwards_between_virtual_channels_both_ways_without_echo() {
    let (a, b) = (channel("bra"), channel("brb"));
    let bridge = tool("can-bridge")
        .args([
            "--from",
            &format!("virtual:{a}"),
            "--to",
            &format!("virtual:{b}"),
            "--both-ways",
        ])
        .spawn()
        .unwrap();
    wait_for_peers(&a, 1);
    wait_for_peers(&b, 1);
    // a -> b
    let on_b = tool("can-logger")
        .args(["-c", &b, "--duration", "3s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let on_a = tool("can-logger")
        .args(["-c", &a, "--duration", "3s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&a, 2);
    wait_for_peers(&b, 2);
    assert!(run(tool("can-send").args(["-c", &a, "111#01", "222#02"]))
        .status
        .success());
    assert!(run(tool("can-send").args(["-c", &b, "333#03"]))
        .status
        .success());
    let lines = |c: Child| -> Vec<String> {
        let o = c.wait_with_output().unwrap();
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split(' ').nth(2).unwrap().to_string())
            .collect()
    };
    // b hears what was sent on a (through the bridge) and what was sent on b itself;
    // a hears 111/222 from its sender and 333 through the bridge; nothing twice.
    let mut got_b = lines(on_b);
    let mut got_a = lines(on_a);
    got_a.sort();
    got_b.sort();
    assert_eq!(got_b, ["111#01", "222#02", "333#03"]);
    assert_eq!(got_a, ["111#01", "222#02", "333#03"]);
    let mut bridge = bridge;
    unsafe { libc::kill(bridge.id() as i32, libc::SIGINT) };
    let status = bridge.wait().unwrap();
    assert!(status.success(), "bridge exit {status:?}");
}

#[test]
fn logger_refuses_to_clobber_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.log");
    std::fs::write(&out, "(1.000000) can0 123#11\n").unwrap();
    let o = run(tool("can-logger").args(["-n", "1", "-f"]).arg(&out));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.starts_with("can-logger: error: ") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "(1.000000) can0 123#11\n"
    );

    let chan = channel("append");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-n", "1", "-a", "-f"])
        .arg(&out)
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    assert!(run(tool("can-send").args(["-c", &chan, "456#22"]))
        .status
        .success());
    assert!(wait_child(logger, Duration::from_secs(10)).success());
    assert_eq!(frames_text(&read_records(&out)), ["123#11", "456#22"]);
}

#[test]
fn sigint_finishes_the_file_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sig.jsonl");
    let chan = channel("sig");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-f"])
        .arg(&out)
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    assert!(
        run(tool("can-send").args(["-c", &chan, "123#01", "124#02"]))
            .status
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(logger.id() as i32, libc::SIGINT) };
    assert!(wait_child(logger, Duration::from_secs(10)).success());
    assert_eq!(frames_text(&read_records(&out)), ["123#01", "124#02"]);
}

#[test]
fn a_closed_pipe_ends_the_logger_quietly() {
    let chan = channel("pipe");
    let mut logger = tool("can-logger")
        .args(["-c", &chan])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    assert!(run(tool("can-send").args(["-c", &chan, "123#01"]))
        .status
        .success());
    let mut first = String::new();
    BufReader::new(logger.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("123#01"));
    // stdout is now closed; the next frames hit a broken pipe
    let o =
        run(tool("can-send").args(["-c", &chan, "--period", "10ms", "--count", "20", "123#02"]));
    assert!(o.status.success());
    let status = wait_child_ref(&mut logger, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut logger.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "stderr: {err}");
}

fn wait_child_ref(c: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_input_gives_one_line_and_the_right_exit_code() {
    let cases: Vec<(Vec<&str>, &str, i32, &str)> = vec![
        (vec!["12#11"], "can-send", 2, "identifier '12'"),
        (
            vec!["123#112233445566778899"],
            "can-send",
            2,
            "at most 8 bytes",
        ),
        (
            vec!["--filter", "123:zz", "123#11"],
            "can-send",
            2,
            "bad filter",
        ),
        (
            vec!["/nonexistent/x.log"],
            "can-player",
            4,
            "/nonexistent/x.log",
        ),
        (vec!["x.unknown"], "can-player", 2, "cannot tell the format"),
        (
            vec!["/nonexistent/a.log", "b.jsonl"],
            "can-convert",
            4,
            "/nonexistent/a.log",
        ),
        (
            vec!["--to", "virtual:x", "--from", "bogus:"],
            "can-bridge",
            2,
            "bogus",
        ),
        (vec!["--profile", "car"], "can-logger", 3, "--profile car"),
    ];
    for (args, name, code, needle) in cases {
        let o = run(tool(name).args(&args));
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(o.status.code(), Some(code), "{name} {args:?}: {err}");
        assert!(
            err.starts_with(&format!("{name}: error: ")),
            "{name} {args:?}: {err}"
        );
        assert!(err.contains(needle), "{name} {args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{name} {args:?}: {err}");
    }
}

#[test]
fn convert_skips_a_bad_frame_naming_its_line_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.log");
    std::fs::write(
        &input,
        "(1.000000) can0 123#11\n(2.000000) can0 124#22\n(3.000000) can0 125#2\n(4.000000) can0 126#44\n",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let o = run(tool("can-convert").arg("-v").arg(&input).arg(&out));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("bad.log: line 3: ") && err.contains("; skipped"),
        "{err}"
    );
    assert!(err.contains("bad.log: 1 line(s) skipped"), "{err}");
    assert!(
        err.contains("3 frame(s) read, 3 written, 1 line(s) skipped"),
        "{err}"
    );
    assert_eq!(
        frames_text(&read_records(&out)),
        ["123#11", "124#22", "126#44"]
    );
    // a file of nothing but bad lines is an error naming the file and the first
    std::fs::write(&input, "(3.000000) can0 125#2\nnonsense\n").unwrap();
    let o = run(tool("can-convert").arg("--force").arg(&input).arg(&out));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.log: line 1: ") && err.contains("(no frame read; 2 line(s) skipped)"),
        "{err}"
    );
}

#[test]
fn convert_log_to_jsonl_and_back_is_lossless() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.log");
    let mut text = String::new();
    for (i, f) in FRAMES.iter().enumerate() {
        text.push_str(&format!(
            "(1700000000.{:06}) can{} {f} {}\n",
            i * 7,
            i % 2,
            if i % 3 == 0 { "T" } else { "R" }
        ));
    }
    std::fs::write(&input, &text).unwrap();
    let json = dir.path().join("mid.jsonl");
    let back = dir.path().join("back.log");
    assert!(run(tool("can-convert").arg(&input).arg(&json))
        .status
        .success());
    assert!(run(tool("can-convert").arg(&json).arg(&back))
        .status
        .success());
    assert_eq!(std::fs::read_to_string(&back).unwrap(), text);
    // the output is never clobbered without --force
    let o = run(tool("can-convert").arg(&input).arg(&json));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        run(tool("can-convert").arg("--force").arg(&input).arg(&json))
            .status
            .success()
    );
    // filters and the time window
    let part = dir.path().join("part.log");
    let o = run(tool("can-convert")
        .args(["--filter", "123:7FF", "--start", "0.000010", "--end", "1"])
        .arg(&input)
        .arg(&part));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // error frames are not id-filtered (select them with #ERRMASK)
    assert_eq!(
        frames_text(&read_records(&part)),
        [
            "123#R4",
            "123#1122334455667788_E",
            "20000080#0000000000000000"
        ]
    );
}

#[test]
fn viewer_summarises_a_log_and_a_live_bus() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("v.log");
    std::fs::write(
        &log,
        "(1.000000) can0 123#01\n(1.010000) can0 123#02\n(1.020000) can0 123#03\n(1.500000) can0 456#AABB\n",
    )
    .unwrap();
    let o = run(tool("can-viewer").arg("--file").arg(&log));
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let row = text.lines().find(|l| l.contains(" 123 ")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    // channel, id, count, period and jitter (ms), length, FD marks, data
    assert_eq!(cols, ["can0", "123", "3", "10.0", "0.0", "1", "-", "03"]);
    assert!(text.contains("4 frame(s), 2 id(s)"));

    // With a DBC: the message's name and its signals under the row.
    let dbc = dir.path().join("v.dbc");
    std::fs::write(
        &dbc,
        "VERSION \"\"\n\nBO_ 1110 Gear: 2 ECU\n SG_ Pos : 0|8@1+ (1,0) [0|3] \"\" ECU\n SG_ Temp : 8|8@1- (0.5,-10) [-50|50] \"degC\" ECU\n\nVAL_ 1110 Pos 0 \"Park\" 170 \"Drive\" ;\n",
    )
    .unwrap();
    let o = run(tool("can-viewer")
        .arg("--file")
        .arg(&log)
        .arg("--dbc")
        .arg(&dbc));
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.lines().any(|l| l.contains(" 456 Gear ")), "{text}");
    assert!(
        text.contains("    Pos = Drive (170)\n    Temp = -44.5 degC\n"),
        "{text}"
    );
    // A DBC it cannot read: one line naming the file and the line.
    std::fs::write(
        &dbc,
        "VERSION \"\"\n\nBO_ 1110 Gear: 2 ECU\n SG_ Pos : nonsense\n",
    )
    .unwrap();
    let o = run(tool("can-viewer")
        .arg("--file")
        .arg(&log)
        .arg("--dbc")
        .arg(&dbc));
    assert!(!o.status.success());
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.starts_with("can-viewer: error: ") && err.contains("v.dbc") && err.contains('4'),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let chan = channel("view");
    let viewer = tool("can-viewer")
        .args(["-c", &chan, "-n", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    assert!(
        run(tool("can-send").args(["-c", &chan, "7E8#0102", "7E8#0304", "7DF#05"]))
            .status
            .success()
    );
    let o = viewer.wait_with_output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("3 frame(s), 2 id(s)"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("7E8") && l.contains("03 04")),
        "{text}"
    );
}

#[test]
fn config_profiles_and_environment_pick_the_bus() {
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("cfg");
    let cfg: PathBuf = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!("[default]\ninterface = \"virtual\"\nchannel = \"nowhere\"\n\n[bench]\nchannel = \"{chan}\"\n"),
    )
    .unwrap();
    let logger = tool("can-logger")
        .args(["--config"])
        .arg(&cfg)
        .args(["--profile", "bench", "-n", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    // python-can's variables reach the same bus
    let o = run(tool("can-send")
        .env("CAN_INTERFACE", "virtual")
        .env("CAN_CHANNEL", &chan)
        .arg("321#01"));
    assert!(o.status.success());
    let o = run(tool("can-send")
        .env(
            "CAN_CONFIG",
            format!("{{\"interface\": \"virtual\", \"channel\": \"{chan}\"}}"),
        )
        .arg("321#02"));
    assert!(o.status.success());
    let out = logger.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("321#0").count(), 2, "{text}");
}

#[test]
fn can_player_maps_logged_channels_to_buses() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("two.log");
    std::fs::write(
        &log,
        "(1.000000) can0 100#01\n(1.001000) can1 200#02\n(1.002000) can0 101#03\n(1.003000) can2 300#04\n",
    )
    .unwrap();
    let (a, b) = (channel("mapa"), channel("mapb"));
    let on_a = stdout_logger(&a, 2);
    let on_b = stdout_logger(&b, 1);
    wait_for_peers(&a, 1);
    wait_for_peers(&b, 1);
    let o = run(tool("can-player")
        .args(["--map", &format!("{a}=can0"), "--map", &format!("{b}=can1")])
        .arg(&log));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // can2 is not mapped: its frame is not played
    assert_eq!(printed_frames(on_a), ["100#01", "101#03"]);
    assert_eq!(printed_frames(on_b), ["200#02"]);
}

/// A logger printing candump lines for up to `n` frames of `chan` (at most 15 s,
/// so that a frame that never comes fails the test instead of hanging it).
fn stdout_logger(chan: &str, n: u32) -> Child {
    tool("can-logger")
        .args(["-c", chan, "-n", &n.to_string(), "-d", "15s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Frames (as can-utils text) a stdout logger printed.
fn printed_frames(c: Child) -> Vec<String> {
    String::from_utf8(c.wait_with_output().unwrap().stdout)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(2).unwrap().to_string())
        .collect()
}

#[test]
fn can_player_maps_numbered_and_named_channels() {
    // A JSON Lines log keeps both kinds of channel: numbers (as BLF/ASC/TRC give
    // them) and interface names, and records without a channel.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mixed.jsonl");
    let rec = |t: &str, ch: &str, id: u32, data: &str| {
        format!("{{\"timestamp\":{t},\"channel\":{ch},\"id\":{id},\"data\":\"{data}\"}}\n")
    };
    let text = [
        rec("1.000", "3", 0x300, "03"),        // number 3: not mapped
        rec("1.001", "null", 0x400, "04"),     // no channel: not mapped
        rec("1.002", "1", 0x100, "01"),        // number 1 -> a
        rec("1.003", "\"can0\"", 0x200, "02"), // name can0 -> b
        rec("1.004", "\"can1\"", 0x500, "05"), // name can1: not mapped
        rec("1.005", "2", 0x201, "12"),        // number 2 -> b
        rec("1.006", "\"1\"", 0x110, "11"),    // an interface named "1" -> a, as FROM is written
        rec("1.007", "1", 0x101, "03"),        // number 1 -> a
    ]
    .concat();
    std::fs::write(&log, text).unwrap();
    let (a, b) = (channel("mapnum-a"), channel("mapnum-b"));
    let on_a = stdout_logger(&a, 3);
    let on_b = stdout_logger(&b, 2);
    wait_for_peers(&a, 1);
    wait_for_peers(&b, 1);
    let o = run(tool("can-player")
        .args(["--map", &format!("{a}=1"), "--map", &format!("{b}=can0")])
        .args(["--map", &format!("{b}=2")])
        .arg(&log));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(printed_frames(on_a), ["100#01", "110#11", "101#03"]);
    assert_eq!(printed_frames(on_b), ["200#02", "201#12"]);
}

#[test]
fn can_player_stops_after_its_duration_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("slow.log");
    std::fs::write(
        &log,
        "(1.000000) can0 100#01\n(1.050000) can0 101#02\n(1.100000) can0 102#03\n(9.000000) can0 103#04\n",
    )
    .unwrap();
    let chan = channel("playlimits");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-d", "20s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    // --duration ends the replay on time, not when the frame due at 8 s is sent.
    let t0 = Instant::now();
    let o = run(tool("can-player").args(["-c", &chan, "-d", "1s"]).arg(&log));
    let took = t0.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "can-player -d 1s took {took:?}"
    );
    // --count counts frames sent, over all passes of --loop.
    let o = run(tool("can-player")
        .args(["-c", &chan, "--ignore-timestamps", "--loop", "3", "-n", "5"])
        .arg(&log));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // the logger stops on SIGINT and prints what it got
    unsafe { libc::kill(logger.id() as i32, libc::SIGINT) };
    assert_eq!(
        printed_frames(logger),
        ["100#01", "101#02", "102#03", "100#01", "101#02", "102#03", "103#04", "100#01"]
    );
}
