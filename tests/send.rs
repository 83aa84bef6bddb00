//! can-send beyond one frame: lines from stdin sent as they arrive, and the
//! cangen-like generator.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::tools::*;

#[test]
fn stdin_lines_are_sent_as_they_arrive() {
    let chan = channel("stdin-live");
    let mut logger = tool("can-logger")
        .args(["-c", &chan, "-n", "2", "-d", "20s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    let mut send = tool("can-send")
        .args(["-c", &chan, "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = send.stdin.take().unwrap();
    let mut out = BufReader::new(logger.stdout.take().unwrap());
    // The first frame must reach the logger while the pipe is still open.
    stdin.write_all(b"123#01\n").unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains(" 123#01"), "{line}");
    stdin.write_all(b"(1.0) can0 456#02\n").unwrap();
    drop(stdin);
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.contains(" 456#02"), "{line}");
    assert!(wait_child(send, Duration::from_secs(10)).success());
    assert!(wait_child(logger, Duration::from_secs(10)).success());
}

#[test]
fn the_generator_makes_frames_as_cangen_does() {
    let chan = channel("gen");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-n", "300", "-d", "20s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    let o = run(tool("can-send").args([
        "-c",
        &chan,
        "--generate",
        "-g",
        "0",
        "-I",
        "i",
        "-L",
        "2",
        "-D",
        "i",
        "-n",
        "300",
    ]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = logger.wait_with_output().unwrap();
    let frames: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(2).map(str::to_string))
        .collect();
    assert_eq!(frames.len(), 300);
    for (i, f) in frames.iter().enumerate() {
        let want = format!("{:03X}#{:02X}{:02X}", i, i & 0xFF, i >> 8);
        assert_eq!(f, &want);
    }
}

#[test]
fn the_generator_keeps_its_rate_and_refuses_impossible_frames() {
    let chan = channel("genrate");
    let t = Instant::now();
    let o = run(tool("can-send").args([
        "-c",
        &chan,
        "--generate",
        "--rate",
        "500/s",
        "-e",
        "--fd-frames",
        "--brs",
        "-n",
        "100",
    ]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let took = t.elapsed();
    // 100 frames at 500/s: the last is due at 198 ms
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(3),
        "{took:?}"
    );
    for args in [
        vec!["--generate", "-L", "9"],
        vec!["--generate", "-I", "800"],
        vec!["--generate", "--fd-frames", "-R"],
        vec!["-I", "1"],
        vec!["--generate", "123#11"],
    ] {
        let o = run(tool("can-send").args(["-c", &chan]).args(&args));
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn timed_stdin_keeps_the_log_gaps() {
    let chan = channel("timed");
    let logger = tool("can-logger")
        .args([
            "-c",
            &chan,
            "-n",
            "3",
            "-d",
            "20s",
            "--format-opt",
            "digits=9",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    let mut send = tool("can-send")
        .args(["-c", &chan, "--timed", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    send.stdin
        .take()
        .unwrap()
        .write_all(b"(10.000) can0 001#01\n(10.300) can0 002#02\n(10.400) can0 003#03\n")
        .unwrap();
    assert!(wait_child(send, Duration::from_secs(10)).success());
    let out = logger.wait_with_output().unwrap();
    let times: Vec<f64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split(')').next()?.trim_start_matches('(').parse().ok())
        .collect();
    assert_eq!(times.len(), 3);
    let (a, b) = (times[1] - times[0], times[2] - times[1]);
    assert!((a - 0.3).abs() < 0.05 && (b - 0.1).abs() < 0.05, "{a} {b}");
}
