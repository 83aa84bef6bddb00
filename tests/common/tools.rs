//! Running the built tools in tests: a clean environment, unique virtual
//! channels, waiting for a tool to join a channel, reading what it recorded.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cankit::format::{open_reader, RecordReader};
use cankit::frame::text::format_frame;
use cankit::Record;

/// A channel name no other test uses.
pub fn channel(tag: &str) -> String {
    format!("t{}-{tag}", std::process::id())
}

/// A tool with the environment cleared of CAN_* and config, so the machine's
/// settings cannot leak in.
pub fn tool(name: &str) -> Command {
    let mut c = Command::new(super::bin(name));
    clean_env(&mut c);
    c
}

/// Clears CAN_* and the config from `c`'s environment (for a command that
/// runs a tool indirectly, through a shell or `unshare`).
pub fn clean_env(c: &mut Command) -> &mut Command {
    for v in [
        "CAN_INTERFACE",
        "CAN_CHANNEL",
        "CAN_BITRATE",
        "CAN_CONFIG",
        "RUST_LOG",
    ] {
        c.env_remove(v);
    }
    c.env("XDG_CONFIG_HOME", "/nonexistent-cankit-test")
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("spawn tool")
}

/// Waits until `n` handles are open on a virtual channel (the tools have started).
pub fn wait_for_peers(chan: &str, n: usize) {
    let dir = cankit::bus::sim::channel_dir(chan).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let count = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        if count >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{n} peer(s) never appeared on {chan}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_records(path: &Path) -> Vec<Record> {
    let mut r: Box<dyn RecordReader> = open_reader(path, None).unwrap();
    let mut v = Vec::new();
    while let Some(x) = r.read().unwrap() {
        v.push(x);
    }
    v
}

pub fn frames_text(recs: &[Record]) -> Vec<String> {
    recs.iter().map(|r| format_frame(&r.frame)).collect()
}

pub fn wait_child(mut c: Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("tool did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
