//! The README's commands, run as written (with the built binaries in place of
//! `target/release/` and of the installed tools), so that the quickstart
//! cannot silently rot.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::bin;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The fenced code blocks of `text`, each as its lines.
fn blocks(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<String>> = None;
    for line in text.lines() {
        if line.starts_with("```") {
            match cur.take() {
                Some(b) => out.push(b),
                None => cur = Some(Vec::new()),
            }
        } else if let Some(b) = cur.as_mut() {
            b.push(line.to_string());
        }
    }
    out
}

fn bin_dir() -> String {
    bin("can-logger")
        .parent()
        .expect("binary folder")
        .display()
        .to_string()
}

#[test]
fn the_first_command_records_the_demo_frames() {
    let text = readme();
    let first = &blocks(&text)[0];
    assert_eq!(first.len(), 1, "one command: {first:?}");
    let cmd = first[0]
        .strip_prefix("cargo build --release && ")
        .expect("the first command builds, then runs");
    let cmd = cmd.replace("target/release/", &format!("{}/", bin_dir()));
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new("sh")
        .args(["-c", &cmd])
        .current_dir(dir.path())
        // a bus of its own, apart from other tests on the default channel
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("CAN_INTERFACE")
        .env_remove("CAN_CHANNEL")
        .env_remove("CAN_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log = std::fs::read_to_string(dir.path().join("demo.log")).expect("demo.log written");
    let frames: Vec<&str> = log.lines().filter_map(|l| l.split(' ').nth(2)).collect();
    // one frame every 10 ms for about 3 s, cycling through the three
    assert!(frames.len() > 100, "{} frames: {log}", frames.len());
    for f in [
        "123#DEADBEEF",
        "18FF0102##1112233445566778899AABBCC",
        "7E8#R8",
    ] {
        assert!(frames.contains(&f), "{f} missing from demo.log");
    }
}

#[test]
fn the_quickstart_sends_reach_the_logger() {
    let text = readme();
    let start = text.find("## Quickstart").expect("a Quickstart section");
    let section = &text[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let cmds: Vec<Vec<String>> = blocks(section).into_iter().collect();
    let logger = cmds
        .iter()
        .flatten()
        .find(|l| l.starts_with("can-logger "))
        .expect("a can-logger command");
    let sends: Vec<&String> = cmds
        .iter()
        .flatten()
        .filter(|l| l.starts_with("can-send "))
        .collect();
    assert_eq!(sends.len(), 2, "{sends:?}");
    let dir = tempfile::tempdir().unwrap();
    let shell = |line: &str| {
        let mut c = Command::new("sh");
        c.args(["-c", &format!("{}/{line}", bin_dir())])
            .env("XDG_RUNTIME_DIR", dir.path())
            .env_remove("CAN_INTERFACE")
            .env_remove("CAN_CHANNEL")
            .env_remove("CAN_CONFIG")
            .stdin(Stdio::null());
        c
    };
    // 1 + 20 frames: the logger stops by itself after them.
    let rec = shell(&format!("{logger} --count 21 --duration 30s"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The logger has joined channel `demo` once its socket is there.
    let chan = dir.path().join("cankit/virtual/demo");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(&chan).map_or(0, |d| d.count()) < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the logger never joined"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for s in &sends {
        let o = shell(s).output().unwrap();
        assert!(
            o.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let out = rec.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let frames: Vec<&str> = text.lines().filter_map(|l| l.split(' ').nth(2)).collect();
    assert_eq!(frames.len(), 21, "{text}");
    assert_eq!(frames[0], "123#11");
    assert_eq!(frames[3], "18FF0102##1AABBCCDDEEFF001122334455");
}
