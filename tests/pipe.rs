//! The library's pipe through the real binaries: `--filter`, `--count` and
//! `--duration` honoured by every tool that takes them, and the obviously
//! wrong refused with one clear line.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::tools::*;

/// A logger on `chan` printing candump lines, stopped by `-n n` or 20 s.
fn logger(chan: &str, extra: &[&str]) -> Child {
    let c = tool("can-logger")
        .args(["-c", chan, "-d", "20s"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(chan.split(',').next().unwrap(), 1);
    c
}

/// The frames a logger printed, after stopping it with SIGINT.
fn stop_and_read(c: Child) -> Vec<String> {
    // SAFETY: the child is ours and still running or already exited.
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    frames_of(&String::from_utf8(o.stdout).unwrap())
}

fn ok(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    err
}

/// A candump log holding `text`, in a folder of its own (kept with it).
fn log_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("in.log");
    std::fs::write(&log, text).unwrap();
    (dir, log)
}

/// The frames of candump log lines, in order.
fn frames_of(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split(' ').nth(2).map(str::to_string))
        .collect()
}

/// Asserts the tool exited with `code` saying `needle`; its stderr.
fn fails(o: &std::process::Output, code: i32, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "{err}");
    err
}

#[test]
fn can_send_honours_filter_count_and_duration() {
    let chan = channel("sendf");
    let rec = logger(&chan, &[]);
    // --filter: only 0x123 goes out, once each
    ok(&run(tool("can-send").args([
        "-c", &chan, "--filter", "123:7FF", "100#01", "123#02", "200#03",
    ])));
    // --count with a period, filtered: 3 frames of 0x123
    ok(&run(tool("can-send").args([
        "-c", &chan, "--filter", "123:7FF", "--period", "5ms", "--count", "3", "100#01", "123#04",
    ])));
    // --count without a period cycles too: 3 frames of a list of 2
    ok(&run(
        tool("can-send").args(["-c", &chan, "-n", "3", "001#01", "002#02"])
    ));
    // --duration: about 300 ms / 100 ms = 3 frames
    let t = Instant::now();
    ok(&run(tool("can-send").args([
        "-c",
        &chan,
        "--period",
        "100ms",
        "--duration",
        "300ms",
        "7FF#05",
    ])));
    assert!(t.elapsed() < Duration::from_secs(3));
    let got = stop_and_read(rec);
    assert_eq!(
        got,
        [
            "123#02", "123#04", "123#04", "123#04", "001#01", "002#02", "001#01", "7FF#05",
            "7FF#05", "7FF#05"
        ]
    );
}

#[test]
fn can_player_honours_filter() {
    let (_dir, log) = log_file(
        "(1.000) can0 100#01\n(1.001) can0 123#02\n(1.002) can0 200#03\n(1.003) can0 123#04\n",
    );
    let chan = channel("playf");
    let rec = logger(&chan, &[]);
    ok(&run(tool("can-player")
        .args(["-c", &chan, "--filter", "123:7FF"])
        .arg(&log)));
    ok(&run(tool("can-player")
        .args(["-c", &chan, "--filter", "123~7FF", "-n", "1"])
        .arg(&log)));
    assert_eq!(stop_and_read(rec), ["123#02", "123#04", "100#01"]);
}

#[test]
fn can_logger_and_viewer_honour_filter_count_and_duration() {
    let chan = channel("logf");
    // candump's habit: filters after the channel
    let rec = logger(&format!("{chan},123:7FF"), &["-n", "2"]);
    let viewer = tool("can-viewer")
        .args(["--plain", "-c", &chan, "--filter", "200:7FF", "-n", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 2);
    ok(&run(tool("can-send").args([
        "-c", &chan, "100#01", "123#02", "200#03", "123#04", "123#05",
    ])));
    let o = rec.wait_with_output().unwrap();
    ok(&o);
    let got: Vec<String> = frames_of(&String::from_utf8(o.stdout).unwrap());
    assert_eq!(got, ["123#02", "123#04"]);
    let o = viewer.wait_with_output().unwrap();
    ok(&o);
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(table.contains("200"), "{table}");
    assert!(!table.contains("123"), "{table}");
    // --duration ends a quiet viewer on time
    let t = Instant::now();
    ok(&run(
        tool("can-viewer").args(["--plain", "-c", &chan, "-d", "300ms"])
    ));
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn can_bridge_honours_filter_and_count_and_refuses_the_same_bus() {
    let (a, b) = (channel("bra"), channel("brb"));
    let rec = logger(&b, &[]);
    let bridge = tool("can-bridge")
        .args([
            "--from",
            &format!("virtual:{a}"),
            "--to",
            &format!("virtual:{b}"),
        ])
        .args(["--filter", "123:7FF", "-n", "2", "-d", "20s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&a, 1);
    ok(&run(tool("can-send").args([
        "-c", &a, "100#01", "123#02", "200#03", "123#04", "123#05",
    ])));
    let o = bridge.wait_with_output().unwrap();
    ok(&o);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(stop_and_read(rec), ["123#02", "123#04"]);

    // --duration ends a quiet bridge on time
    let t = Instant::now();
    ok(&run(tool("can-bridge").args([
        "--from",
        &format!("virtual:{a}"),
        "--to",
        &format!("virtual:{b}"),
        "-d",
        "300ms",
    ])));
    assert!(t.elapsed() < Duration::from_secs(3));

    let x = format!("virtual:{a}");
    let o = run(tool("can-bridge").args(["--from", &x, "--to", &x]));
    fails(&o, 2, "the same bus");
}

#[test]
fn can_convert_refuses_an_empty_window_and_warns_about_one_past_the_end() {
    let (dir, log) = log_file("(1.0) can0 100#01\n(2.0) can0 101#02\n");
    let out = dir.path().join("out.log");
    let o = run(tool("can-convert")
        .args(["--start", "5", "--end", "2"])
        .arg(&log)
        .arg(&out));
    fails(&o, 2, "--start must be before --end");
    assert!(!out.exists(), "nothing written for a refused window");

    let o = run(tool("can-convert")
        .args(["--start", "60"])
        .arg(&log)
        .arg(&out));
    let err = ok(&o);
    assert!(
        err.contains("no record was inside the time window"),
        "{err}"
    );
}

#[test]
fn unknown_format_options_are_refused_naming_the_known_ones() {
    let (dir, log) = log_file("(1.0) can0 100#01\n");
    let o = run(tool("can-convert")
        .args(["--format-opt", "compresion=9"])
        .arg(&log)
        .arg(dir.path().join("out.blf")));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("takes no option 'compresion'"), "{err}");
    assert!(err.contains("compression"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn candump_filters_after_the_channel_must_parse() {
    let o = run(tool("can-logger").args(["-c", "x,zz", "-d", "10ms"]));
    fails(&o, 2, "--filter");
}

#[test]
fn a_map_naming_a_channel_the_log_lacks_is_warned_about() {
    let (_dir, log) = log_file("(1.0) can0 100#01\n");
    let chan = channel("mapw");
    let o = run(tool("can-player")
        .args([
            "--map",
            &format!("{chan}=can0"),
            "--map",
            &format!("{chan}=can7"),
        ])
        .arg(&log));
    let err = ok(&o);
    assert!(err.contains("no frame of channel 'can7'"), "{err}");
    assert!(!err.contains("'can0'"), "{err}");
}

#[test]
fn error_class_filters_leave_data_frames_alone() {
    // `#MASK` selects error classes only, as candump's `#` does; data frames
    // still go through the id filters (none here).
    let (dir, log) = log_file("(1.0) can0 100#01\n(1.1) can0 20000040#0000000000000000\n(1.2) can0 20000004#0000000000000000\n");
    let out = dir.path().join("out.log");
    ok(&run(tool("can-convert")
        .args(["--filter", "#40"])
        .arg(&log)
        .arg(&out)));
    let frames: Vec<String> = frames_of(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(frames, ["100#01", "20000040#0000000000000000"]);
}

#[test]
fn two_periodic_senders_on_one_virtual_channel_do_not_disturb_each_other() {
    let chan = channel("twosend");
    let rec = logger(&chan, &[]);
    let a = tool("can-send")
        .args(["-c", &chan, "--period", "10ms", "--count", "150", "100#01"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = tool("can-send")
        .args(["-c", &chan, "--period", "10ms", "--count", "150", "200#02"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for s in [a, b] {
        let o = s.wait_with_output().unwrap();
        let err = ok(&o);
        // Today's failure: each waited a second on the other's full queue.
        assert!(!err.contains("has not read"), "{err}");
    }
    // SAFETY: the child is ours.
    unsafe { libc::kill(rec.id() as i32, libc::SIGINT) };
    let o = rec.wait_with_output().unwrap();
    ok(&o);
    let text = String::from_utf8(o.stdout).unwrap();
    for id in ["100#01", "200#02"] {
        let times: Vec<f64> = text
            .lines()
            .filter(|l| l.contains(id))
            .filter_map(|l| l.split(')').next()?.trim_start_matches('(').parse().ok())
            .collect();
        assert_eq!(times.len(), 150, "{id}: {text}");
        let worst = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        assert!(worst < 0.5, "{id}: a {worst} s gap");
    }
}

#[test]
fn python_can_spellings_are_accepted() {
    // --filter with a space-separated list, --file_name
    let chan = channel("pyspell");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.log");
    let rec = tool("can-logger")
        .args(["-c", &chan, "--filter", "100:7FF", "200:7FF", "-n", "2"])
        .arg("--file_name")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    ok(&run(
        tool("can-send").args(["-c", &chan, "100#01", "300#03", "200#02"])
    ));
    ok(&rec.wait_with_output().unwrap());
    let frames: Vec<String> = frames_of(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(frames, ["100#01", "200#02"]);
    // the player's -g in seconds
    let t = Instant::now();
    ok(&run(tool("can-player")
        .args(["-c", &chan, "-g", "0.1"])
        .arg(&out)));
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(95), "{took:?}");
}

#[test]
fn can_bridge_rewrites_ids_filters_per_direction_and_limits_the_rate() {
    let (a, b) = (channel("bmapa"), channel("bmapb"));
    let rec_b = logger(&b, &[]);
    let rec_a = logger(&a, &[]);
    let bridge = tool("can-bridge")
        .args([
            "--from",
            &format!("virtual:{a}"),
            "--to",
            &format!("virtual:{b}"),
        ])
        .args([
            "--both-ways",
            "--map-id",
            "100:700=300",
            "--filter-to",
            "100:700",
        ])
        .args(["--map-id-back", "555=666", "--filter-from", "555:7FF"])
        .args(["--stats", "1h", "-d", "20s", "-n", "3"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // each channel: its logger and the bridge's end
    wait_for_peers(&a, 2);
    wait_for_peers(&b, 2);
    ok(&run(
        tool("can-send").args(["-c", &a, "1AB#01", "200#02", "100#03"])
    ));
    ok(&run(tool("can-send").args(["-c", &b, "555#04", "556#05"])));
    let o = bridge.wait_with_output().unwrap();
    let err = ok(&o);
    assert!(err.contains("in all:"), "{err}");
    assert!(err.contains("2 forwarded, 1 filtered"), "{err}");
    std::thread::sleep(Duration::from_millis(200));
    // each logger sees what was sent on its bus, and what the bridge brought
    // (in an order that depends on which process ran first)
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(stop_and_read(rec_b)),
        ["300#03", "3AB#01", "555#04", "556#05"]
    );
    assert_eq!(
        sorted(stop_and_read(rec_a)),
        ["100#03", "1AB#01", "200#02", "666#04"]
    );

    // a rate limit drops what is over it, and says so
    let (c, d) = (channel("brlc"), channel("brld"));
    let rec_d = logger(&d, &[]);
    let bridge = tool("can-bridge")
        .args([
            "--from",
            &format!("virtual:{c}"),
            "--to",
            &format!("virtual:{d}"),
        ])
        .args(["--rate-limit", "10/s", "-d", "2s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&c, 1);
    ok(&run(tool("can-send").args(["-c", &c, "-n", "50", "123#01"])));
    let err = ok(&bridge.wait_with_output().unwrap());
    let got = stop_and_read(rec_d);
    // a burst of 50: the bucket holds one frame (a tenth of a second at 10/s)
    assert!(!got.is_empty() && got.len() < 5, "{} passed", got.len());
    assert!(err.contains("the rate limit dropped"), "{err}");
}

#[test]
fn can_player_interactive_sends_a_frame_per_enter() {
    use std::io::Write;
    let (_dir, log) = log_file("(1.0) can0 100#01\n(100.0) can0 101#02\n(200.0) can0 102#03\n");
    let chan = channel("interactive");
    let rec = logger(&chan, &[]);
    let mut player = tool("can-player")
        .args(["-c", &chan, "--interactive"])
        .arg(&log)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut keys = player.stdin.take().unwrap();
    // two Enters, then q: two frames go out at once, whatever the log's gaps
    keys.write_all(b"\n\nq\n").unwrap();
    drop(keys);
    let t = Instant::now();
    let o = player.wait_with_output().unwrap();
    let err = ok(&o);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(err.contains("next 100#01"), "{err}");
    assert_eq!(stop_and_read(rec), ["100#01", "101#02"]);
}

#[test]
fn can_logger_l_names_the_file_as_candump_does() {
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("dashl");
    let o = tool("can-logger")
        .args(["-c", &chan, "-l", "-d", "200ms"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok(&o);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let n = &names[0];
    // candump-2026-12-04_150000.log
    assert!(
        n.starts_with("candump-")
            && n.ends_with(".log")
            && n.len() == "candump-2026-12-04_150000.log".len(),
        "{n}"
    );
}
