//! can-viewer in a real terminal (tmux): live rows with count, period and
//! data; scrolling to the last of 60 ids; a DBC-decoded signal value; a
//! 64-byte CAN FD payload shown whole; the terminal put back after SIGTERM.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::tools::*;

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(args).output().expect("run tmux")
}

/// A tmux session running `cmd` in a `w`x`h` terminal, killed when dropped.
struct Session(String);

impl Session {
    fn start(tag: &str, w: u16, h: u16, cmd: &str) -> Option<Session> {
        if !common::have("tmux") {
            common::missing("tmux (tests/setup.sh installs it)");
            return None;
        }
        let name = format!("cankit-{}-{tag}", std::process::id());
        let cmd = format!(
            "env -u CAN_INTERFACE -u CAN_CHANNEL -u CAN_CONFIG -u NO_COLOR XDG_CONFIG_HOME=/nonexistent {cmd}"
        );
        let o = tmux(&[
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
            &cmd,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Some(Session(name))
    }

    fn screen(&self) -> String {
        String::from_utf8(tmux(&["capture-pane", "-p", "-t", &self.0]).stdout).unwrap()
    }

    /// The screen once `pred` holds of it (or the last one after 10 s).
    fn wait_for(&self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.screen();
            if pred(&s) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let _ = tmux(&["send-keys", "-t", &self.0, k]);
            // One key per redraw, as a person types.
            std::thread::sleep(Duration::from_millis(120));
        }
    }

    fn display(&self, format: &str) -> String {
        let o = tmux(&["display-message", "-p", "-t", &self.0, format]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn alive(&self) -> bool {
        tmux(&["has-session", "-t", &self.0]).status.success()
    }

    /// Waits for the session to end (its command quit).
    fn ended(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.alive() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.0]);
    }
}

fn viewer() -> String {
    common::bin("can-viewer").display().to_string()
}

fn write_log(dir: &Path, name: &str, frames: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = String::new();
    for (i, f) in frames.iter().enumerate() {
        text.push_str(&format!("({:.6}) can0 {f}\n", 1.0 + i as f64 * 0.001));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_full_screen_viewer_shows_live_rows_and_quits_on_q() {
    let chan = channel("tui");
    let Some(s) = Session::start("live", 100, 15, &format!("{} -c {chan}", viewer())) else {
        return;
    };
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
    // The screen is redrawn 20 times a second; wait for the last frame.
    let screen = s.wait_for(|s| s.contains("30 frames"));
    assert!(screen.contains("30 frames, 3 ids"), "{screen}");
    let line = |id: &str| -> usize {
        screen
            .lines()
            .position(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{screen}"))
    };
    let lines: Vec<&str> = screen.lines().collect();
    let r: Vec<&str> = lines[line("7E8")].split_whitespace().collect();
    assert_eq!(r[..3], [chan.as_str(), "7E8", "10"], "{screen}");
    let period: f64 = r[3].parse().unwrap();
    assert!(
        (20.0..60.0).contains(&period),
        "period {period} ms (sent every 30 ms)"
    );
    // jitter, seconds since the last, the length, the bytes, their ASCII
    assert_eq!(r[6..], ["3", "AA", "BB", "CC", "..."], "{screen}");
    // The FD frame: its byte count and marks, the 12 bytes under it.
    let fd = line("18FF0102");
    assert!(lines[fd].contains(" 12 FB"), "{screen}");
    assert!(
        lines[fd + 1].contains("00  11 22 33 44 55 66 77 88 99 AA BB CC"),
        "{screen}"
    );
    s.keys(&["q"]);
    assert!(s.ended(), "the viewer did not quit on 'q'");
}

#[test]
fn scrolling_reaches_the_last_of_60_ids() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<String> = (0..60)
        .map(|i| format!("{:03X}#{i:02X}", 0x100 + i))
        .collect();
    let log = write_log(dir.path(), "ids.log", &frames);
    let cmd = format!("{} --fast --file {}", viewer(), log.display());
    let Some(s) = Session::start("scroll", 80, 24, &cmd) else {
        return;
    };
    let has = |screen: &str, id: &str| {
        screen
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(id))
    };
    let first = s.wait_for(|t| t.contains("60 frames, 60 ids"));
    assert!(first.contains("60 frames, 60 ids"), "{first}");
    assert!(has(&first, "100") && !has(&first, "13B"), "{first}");
    s.keys(&["End"]);
    let end = s.wait_for(|t| has(t, "13B"));
    assert!(has(&end, "13B") && !has(&end, "100"), "{end}");
    // Page by page back up, then the mouse wheel is not needed: Home.
    s.keys(&["PPage", "PPage", "PPage"]);
    let top = s.wait_for(|t| has(t, "100"));
    assert!(has(&top, "100"), "{top}");
    s.keys(&["Down", "Down", "Down"]);
    s.keys(&["q"]);
    assert!(s.ended());
}

#[test]
fn a_dbc_decoded_signal_value_appears_under_its_message() {
    // cantools encodes the values; the viewer must show them decoded.
    let Some(py) = common::python() else { return };
    let dbc =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dbc/cantools/motohawk.dbc");
    let o = Command::new(&py)
        .args([
            "-c",
            "import sys, cantools\n\
             db = cantools.database.load_file(sys.argv[1])\n\
             m = db.get_message_by_name('ExampleMessage')\n\
             print(m.encode({'Temperature': 261.37, 'AverageRadius': 2.7, 'Enable': 'Enabled'}).hex().upper())",
        ])
        .arg(&dbc)
        .output()
        .unwrap();
    if !o.status.success() {
        common::missing(&format!(
            "cantools in {} (tests/setup.sh installs it): {}",
            py.display(),
            String::from_utf8_lossy(&o.stderr)
        ));
        return;
    }
    let data = String::from_utf8(o.stdout).unwrap().trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(
        dir.path(),
        "motohawk.log",
        &[format!("1F0#{data}"), "123#00".into()],
    );
    let cmd = format!(
        "{} --fast --file {} --dbc {}",
        viewer(),
        log.display(),
        dbc.display()
    );
    let Some(s) = Session::start("dbc", 100, 24, &cmd) else {
        return;
    };
    let screen = s.wait_for(|t| t.contains("ExampleMessage"));
    assert!(screen.contains("ExampleMessage"), "{screen}");
    assert!(!screen.contains("261.37"), "signals show once asked for");
    // Rows by id: 123 first, the message second.
    s.keys(&["Down", "Enter"]);
    let screen = s.wait_for(|t| t.contains("261.37 degK"));
    for want in [
        "Temperature",
        "261.37 degK",
        "AverageRadius",
        "2.7 m",
        "Enabled (1)",
    ] {
        assert!(screen.contains(want), "{want}:\n{screen}");
    }
    // The filter finds the message by a signal's name.
    s.keys(&["/", "a", "v", "e", "r", "a", "g", "e", "Enter"]);
    let screen = s.wait_for(|t| t.contains("1 of 2"));
    assert!(screen.contains("filter /average/ 1 of 2"), "{screen}");
    s.keys(&["q"]);
    assert!(s.ended());
}

#[test]
fn a_64_byte_fd_payload_is_shown_whole() {
    let chan = channel("fd64");
    let Some(s) = Session::start("fd64", 80, 24, &format!("{} -c {chan}", viewer())) else {
        return;
    };
    wait_for_peers(&chan, 1);
    let data: String = (0..64u8)
        .map(|b| format!("{:02X}", b.wrapping_mul(3)))
        .collect();
    let sent = tool("can-send")
        .args(["-c", &chan, &format!("1ABCDEF0##3{data}")])
        .status()
        .unwrap();
    assert!(sent.success());
    let screen = s.wait_for(|t| t.contains("1ABCDEF0"));
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("1ABCDEF0"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(
        lines[at].contains(" 64 FBE"),
        "bytes, FD, BRS, ESI:\n{screen}"
    );
    // Every byte, 16 to a line under the row at 80 columns.
    let mut shown = Vec::new();
    for l in &lines[at + 1..at + 5] {
        let mut words = l.split_whitespace();
        let offset = words.next().unwrap();
        assert_eq!(
            usize::from_str_radix(offset, 16).unwrap(),
            shown.len(),
            "{screen}"
        );
        shown.extend(words.take(16).map(|w| u8::from_str_radix(w, 16).unwrap()));
    }
    let want: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(3)).collect();
    assert_eq!(shown, want, "{screen}");
    s.keys(&["q"]);
    assert!(s.ended());
}

#[test]
fn the_terminal_is_restored_after_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after, pid) = (
        dir.path().join("before"),
        dir.path().join("after"),
        dir.path().join("pid"),
    );
    let chan = channel("term");
    // The viewer in the foreground of a shell that records the terminal's
    // settings before and after it, then stays so the screen can be read.
    let cmd = format!(
        "bash -c 'stty -g > {b}; (echo $BASHPID > {p}; exec {v} -c {chan}); \
         stty -g > {a}; echo VIEWER-ENDED $?; sleep 30'",
        b = before.display(),
        a = after.display(),
        p = pid.display(),
        v = viewer()
    );
    let Some(s) = Session::start("term", 80, 24, &cmd) else {
        return;
    };
    wait_for_peers(&chan, 1);
    let screen = s.wait_for(|t| t.contains("frames/s"));
    assert!(screen.contains("frames/s"), "{screen}");
    assert_eq!(
        s.display("#{alternate_on}"),
        "1",
        "full screen while running"
    );
    assert_eq!(s.display("#{mouse_any_flag}"), "1", "the wheel is taken");
    let pid = std::fs::read_to_string(&pid).unwrap().trim().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let screen = s.wait_for(|t| t.contains("VIEWER-ENDED"));
    assert!(screen.contains("VIEWER-ENDED 0"), "{screen}");
    assert_eq!(
        std::fs::read_to_string(&before).unwrap(),
        std::fs::read_to_string(&after).unwrap(),
        "stty settings (raw mode undone)"
    );
    assert_eq!(s.display("#{alternate_on}"), "0", "back on the main screen");
    assert_eq!(s.display("#{mouse_any_flag}"), "0", "mouse given back");
    assert_eq!(s.display("#{cursor_flag}"), "1", "cursor shown");
}
