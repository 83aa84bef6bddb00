//! can-viewer in a real terminal (tmux): it draws one row per id with the count,
//! period and latest data of live traffic, and quits on 'q'.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::tools::*;

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(args).output().expect("run tmux")
}

#[test]
fn the_full_screen_viewer_shows_live_rows_and_quits_on_q() {
    if !common::have("tmux") {
        common::missing("tmux (tests/setup.sh installs it)");
        return;
    }
    let chan = channel("tui");
    let session = format!("cankit-{}", std::process::id());
    let cmd = format!(
        "env -u CAN_INTERFACE -u CAN_CHANNEL -u CAN_CONFIG {} -c {chan}",
        common::bin("can-viewer").display()
    );
    let o = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "15",
        &cmd,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_for_peers(&chan, 1);
    let sent = tool("can-send")
        .args(["-c", &chan, "--period", "10ms", "--count", "30"])
        .args([
            "123#0102",
            "7E8#AABBCC",
            "18FF0102##1112233445566778899AABBCC",
        ])
        .status()
        .unwrap();
    assert!(sent.success());
    // The screen is redrawn every 100 ms; wait for the last frame to show.
    let deadline = Instant::now() + Duration::from_secs(10);
    let screen = loop {
        let s = String::from_utf8(tmux(&["capture-pane", "-p", "-t", &session]).stdout).unwrap();
        if s.contains("30 frames") || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = tmux(&["send-keys", "-t", &session, "q"]);
    assert!(screen.contains("30 frames, 3 ids"), "{screen}");
    let row = |id: &str| -> Vec<String> {
        screen
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{screen}"))
            .trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let r = row("7E8");
    assert_eq!(r[..3], [chan.as_str(), "7E8", "10"], "{screen}");
    let period: f64 = r[3].parse().unwrap();
    assert!(
        (20.0..60.0).contains(&period),
        "period {period} ms (sent every 30 ms)"
    );
    assert_eq!(r[4..], ["3", "AA", "BB", "CC"]);
    assert!(row("18FF0102").ends_with(&["BB".to_string(), "CC".to_string()]));
    // 'q' ends the viewer and with it the tmux session.
    let deadline = Instant::now() + Duration::from_secs(5);
    while tmux(&["has-session", "-t", &session]).status.success() {
        assert!(Instant::now() < deadline, "the viewer did not quit on 'q'");
        std::thread::sleep(Duration::from_millis(50));
    }
}
