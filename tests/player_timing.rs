//! can-player's timing, in a test binary of its own so that no other test
//! competes for the CPU while it measures: every frame must reach the bus within
//! 5 ms of its due time.

mod common;

use std::path::Path;
use std::time::Duration;

use common::tools::*;

/// Writes a candump log with uneven gaps and returns its frames' offsets in µs.
fn timing_log(path: &Path) -> Vec<i64> {
    let gaps_ms = [0, 10, 3, 25, 1, 40, 7, 15, 2, 30, 5, 12, 60, 4, 9, 20];
    let mut t = 1_700_000_000_000_000i64;
    let mut offsets = Vec::new();
    let mut text = String::new();
    for (i, g) in gaps_ms.iter().enumerate() {
        t += g * 1000;
        offsets.push(t - 1_700_000_000_000_000);
        text.push_str(&format!(
            "({}.{:06}) can0 {:03X}#{:02X}\n",
            t / 1_000_000,
            t % 1_000_000,
            0x100 + i,
            i
        ));
    }
    std::fs::write(path, text).unwrap();
    offsets
}

#[test]
fn can_player_keeps_the_log_timing_within_5ms() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("in.log");
    let offsets = timing_log(&log);
    let rec = dir.path().join("out.log");
    let chan = channel("play");
    let logger = tool("can-logger")
        .args([
            "-c",
            &chan,
            "-n",
            &offsets.len().to_string(),
            "--format-opt",
            "digits=9",
            "-f",
        ])
        .arg(&rec)
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    let o = run(tool("can-player").args(["-c", &chan]).arg(&log));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(wait_child(logger, Duration::from_secs(20)).success());
    let got = read_records(&rec);
    assert_eq!(got.len(), offsets.len());
    let t0 = got[0].timestamp.as_nanos();
    let mut worst = 0i64;
    for (i, (r, want_us)) in got.iter().zip(&offsets).enumerate() {
        assert_eq!(r.frame.id().raw(), 0x100 + i as u32, "order");
        let err_us = ((r.timestamp.as_nanos() - t0) / 1000 - want_us).abs();
        worst = worst.max(err_us);
        assert!(err_us <= 5000, "frame {i} off by {err_us} µs");
    }
    eprintln!("can-player: worst timing error {worst} µs");
}
