//! The `slcan` backend against the real thing: can-utils' `slcanpty` acting
//! as an slcan adapter on a pseudo-terminal, backed by a vcan interface in the
//! kernel VM of `tests/vm`. Frames `cansend`/`cangen` put on the interface
//! reach our can-logger through it exactly as `candump` sees them, and what our
//! can-send sends through it `candump` sees exactly (ids, data, order, count).
//!
//! `slcanpty` opens a pty path, and so does our tool: two raw pty pairs joined
//! by a copying thread (`tests/slcan/pty.rs`) stand in for the cable.
#![cfg(target_os = "linux")]

mod common;
#[path = "slcan/pty.rs"]
mod pty;
#[macro_use]
#[path = "vm/harness.rs"]
mod vm;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cankit::frame::text::{format_frame, parse_frame};
use common::tools::tool;
use vm::{candump, sh, Iface, Proc, PROBE};

const READY: Duration = Duration::from_secs(30);

#[link(name = "m")]
extern "C" {
    fn cbrt(x: f64) -> f64;
}

/// `slcanpty PTY IFACE`: it ends when its stdin becomes readable, so its
/// stdin is a pipe held open until it is dropped.
struct SlcanPty(Child);

impl SlcanPty {
    fn start(path: &str, iface: &str) -> SlcanPty {
        // The VM gets the libraries this test binary links; the tools also
        // need libm, which a call into it makes this binary link too.
        // SAFETY: cbrt is a pure function of libm.
        assert_eq!(unsafe { cbrt(std::hint::black_box(8.0)) }, 2.0);
        SlcanPty(
            Command::new("slcanpty")
                .args([path, iface])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("slcanpty (can-utils) in the VM"),
        )
    }
}

impl Drop for SlcanPty {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

vm_test! {
    fn cansend_and_cangen_frames_reach_can_logger_through_slcanpty() {
        let _i = Iface::vcan("cksl0", false);
        let cable = pty::Bridge::new();
        let _dev = SlcanPty::start(&cable.a.path(), "cksl0");
        let mut cmd = tool("can-logger");
        cmd.args(["-i", "slcan", "-c", &cable.b.path(), "-b", "500000"]);
        let logger = Proc::start(cmd, "can-logger -i slcan", READY, || {
            sh(&format!("cansend cksl0 {PROBE}"));
        });
        let dump = candump(&["-L"], "cksl0", READY, || {
            sh(&format!("cansend cksl0 {PROBE}"));
        });
        let mixed = ["123#DEADBEEF", "1ABCDEF0#", "7FF#R", "00000001#0102030405060708", "000#"];
        for t in mixed {
            sh(&format!("cansend cksl0 '{t}'"));
        }
        // a burst from cangen: 400 frames, 1 ms apart
        sh("cangen cksl0 -g 1 -n 400 -I i -L i -D i -e");
        let n = mixed.len() + 400;
        let want: Vec<String> = dump
            .frames(n, Duration::from_secs(60))
            .iter()
            .map(|(_, f)| format_frame(f))
            .collect();
        assert_eq!(want.len(), n, "candump saw them all");
        assert_eq!(&want[..mixed.len()], mixed.map(|t| format_frame(&parse_frame(t).unwrap())));
        let got: Vec<String> = logger
            .frames(n, Duration::from_secs(60))
            .iter()
            .map(|(_, f)| format_frame(f))
            .collect();
        assert_eq!(got.len(), n, "frames through slcanpty: {}", logger.stderr());
        assert_eq!(got, want);
        let (st, err) = logger.interrupt_status();
        assert!(st, "{err}");
        assert!(!err.contains("malformed"), "{err}");
    }

    fn can_send_frames_reach_candump_through_slcanpty() {
        let _i = Iface::vcan("cksl1", false);
        let cable = pty::Bridge::new();
        let _dev = SlcanPty::start(&cable.a.path(), "cksl1");
        let dump = candump(&["-L"], "cksl1", READY, || {
            sh(&format!("cansend cksl1 {PROBE}"));
        });
        // 500 frames of every classic shape, through stdin as fast as it goes
        let mut sent = Vec::new();
        for i in 0..500u32 {
            let t = match i % 4 {
                0 => format!("{:03X}#{:02X}", i & 0x7FF, i & 0xFF),
                1 => format!("{:08X}#{}", 0x1000_0000 | i, "A5".repeat((i % 9) as usize)),
                2 => format!("{:03X}#R", (i * 7) & 0x7FF),
                _ => format!("{:03X}#{:016X}", 0x7FF - (i & 0x3FF), u64::from(i) * 0x0101_0101),
            };
            sent.push(t);
        }
        let mut child = tool("can-send")
            .args(["-i", "slcan", "-c", &cable.b.path(), "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all((sent.join("\n") + "\n").as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let got: Vec<String> = dump
            .frames(sent.len(), Duration::from_secs(60))
            .iter()
            .map(|(_, f)| format_frame(f))
            .collect();
        let want: Vec<String> = sent.iter().map(|t| format_frame(&parse_frame(t).unwrap())).collect();
        assert_eq!(got, want);
        // and nothing more
        assert!(dump.lines(1, Duration::from_millis(500)).is_empty());
    }
}

trait InterruptStatus {
    fn interrupt_status(self) -> (bool, String);
}

impl InterruptStatus for Proc {
    fn interrupt_status(self) -> (bool, String) {
        let (st, _, err) = self.interrupt();
        (st.success(), err)
    }
}
