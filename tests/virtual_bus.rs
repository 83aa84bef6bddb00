//! The `virtual` bus between separate processes: this test binary re-executes
//! itself as the peer process (selected by an environment variable), as two
//! shells running can-send and can-logger would.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cankit::bus::{self, sim, Bus, BusSettings};
use cankit::{FdFlags, Frame, Id};

const ROLE: &str = "CANKIT_TEST_VIRTUAL_ROLE";
const CHANNEL: &str = "CANKIT_TEST_VIRTUAL_CHANNEL";
const BURST: u32 = 100_000;

fn burst_frame(i: u32) -> Frame {
    if i % 3 == 0 {
        let mut data = [0u8; 16];
        data[..4].copy_from_slice(&i.to_le_bytes());
        Frame::fd(
            Id::Extended(i),
            &data,
            FdFlags {
                brs: true,
                esi: false,
            },
        )
        .unwrap()
    } else {
        Frame::data(Id::Standard((i % 0x800) as u16), &i.to_le_bytes()).unwrap()
    }
}

/// Runs the peer role if this process was started as one; returns false otherwise.
fn peer_role() -> bool {
    let (Ok(role), Ok(channel)) = (std::env::var(ROLE), std::env::var(CHANNEL)) else {
        return false;
    };
    let mut bus = bus::open(&BusSettings::new("virtual", &channel)).expect("peer open");
    match role.as_str() {
        "burst" => {
            for i in 0..BURST {
                bus.send(&burst_frame(i)).expect("peer send");
            }
        }
        "hang" => {
            println!("ready");
            std::thread::sleep(Duration::from_secs(60));
        }
        other => panic!("unknown role {other}"),
    }
    true
}

fn spawn_peer(test: &str, role: &str, channel: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(CHANNEL, channel)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn peer process")
}

#[test]
fn burst_from_another_process_arrives_complete_and_in_order() {
    if peer_role() {
        return;
    }
    let channel = format!("xproc-{}", std::process::id());
    let mut rx = bus::open(&BusSettings::new("virtual", &channel)).unwrap();
    let mut child = spawn_peer(
        "burst_from_another_process_arrives_complete_and_in_order",
        "burst",
        &channel,
    );
    let start = Instant::now();
    for i in 0..BURST {
        let r = rx
            .recv(Some(Duration::from_secs(10)))
            .unwrap()
            .unwrap_or_else(|| panic!("frame {i} never arrived"));
        assert_eq!(r.frame, burst_frame(i), "frame {i}");
        assert_eq!(r.channel.to_string(), channel);
    }
    let took = start.elapsed();
    assert!(child.wait().unwrap().success(), "peer failed");
    assert!(rx.recv(Some(Duration::from_millis(100))).unwrap().is_none());
    assert_eq!(rx.take_dropped(), 0);
    eprintln!(
        "{BURST} frames across processes in {took:?} ({:.0} frames/s)",
        BURST as f64 / took.as_secs_f64()
    );
}

#[test]
fn a_killed_peer_leaves_a_socket_file_that_the_next_send_removes() {
    if peer_role() {
        return;
    }
    let channel = format!("killed-{}", std::process::id());
    let mut me = bus::open(&BusSettings::new("virtual", &channel)).unwrap();
    let mut child = spawn_peer(
        "a_killed_peer_leaves_a_socket_file_that_the_next_send_removes",
        "hang",
        &channel,
    );
    // Wait for the peer's "ready" line, then kill it hard (no destructor runs).
    let mut out = child.stdout.take().unwrap();
    let mut line = [0u8; 64];
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("ready") {
        let n = std::io::Read::read(&mut out, &mut line).unwrap();
        assert!(n > 0, "peer exited early");
        seen.extend_from_slice(&line[..n]);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let dir = sim::channel_dir(&channel).unwrap();
    let socks = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".sock"))
            .count()
    };
    assert_eq!(socks(), 2, "the killed peer's socket file should remain");
    me.send(&Frame::data(Id::Standard(1), &[1]).unwrap())
        .unwrap();
    assert_eq!(socks(), 1, "the dead peer's socket file was not removed");
    drop(me);
    assert!(
        !dir.exists(),
        "the last bus out removes the channel directory"
    );
}
