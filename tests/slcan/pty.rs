//! Pseudo-terminals for the slcan tests: a raw pty pair whose slave path a
//! tool opens as its serial port, a bridge joining two pairs (so that
//! `slcanpty`, which needs a path too, and our tool each get one), and
//! [`Device`], a small slcan adapter of our own on the master side for what
//! `slcanpty` does not do (CAN FD, status flags, timestamps, silence, garbage).
#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A raw pty pair. The slave stays open here too, so that the master never
/// reads EIO between two openers of the slave.
pub struct Pty {
    pub master: File,
    pub slave_path: PathBuf,
    slave: OwnedFd,
}

impl Pty {
    pub fn open() -> Pty {
        let mut m: libc::c_int = -1;
        let mut s: libc::c_int = -1;
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: openpty writes two fds and a NUL-terminated name (< 128 bytes).
        let rc = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                name.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // Not inherited by the tools the tests start: an unplug closes it.
        for fd in [m, s] {
            // SAFETY: fcntl on fds openpty just opened.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: openpty succeeded, so both are open fds we now own.
        let (master, slave) = unsafe { (File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        // SAFETY: a termios is plain data; tcgetattr fills it.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(s, &mut t), 0);
            libc::cfmakeraw(&mut t);
            assert_eq!(libc::tcsetattr(s, libc::TCSANOW, &t), 0);
        }
        // SAFETY: openpty NUL-terminated it.
        let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
            .to_str()
            .unwrap()
            .to_string();
        Pty {
            master,
            slave_path: PathBuf::from(path),
            slave,
        }
    }

    pub fn path(&self) -> String {
        self.slave_path.display().to_string()
    }
}

/// Waits up to `ms` for `fd` to be readable.
pub fn readable(fd: &impl AsRawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// Copies bytes both ways between the masters of two pty pairs until
/// dropped: a null-modem cable.
pub struct Bridge {
    pub a: Pty,
    pub b: Pty,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Bridge {
    pub fn new() -> Bridge {
        let a = Pty::open();
        let b = Pty::open();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (from, to) in [(&a.master, &b.master), (&b.master, &a.master)] {
            let mut from = from.try_clone().unwrap();
            let mut to = to.try_clone().unwrap();
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    if !readable(&from, 50) {
                        continue;
                    }
                    match from.read(&mut buf) {
                        Ok(0) | Err(_) => std::thread::sleep(Duration::from_millis(5)),
                        Ok(n) => {
                            if to.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            }));
        }
        Bridge {
            a,
            b,
            stop,
            threads,
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// How the simulated adapter behaves.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Answers to `F`, one per poll; `F00` once they are used up.
    pub flags: Vec<u8>,
    /// Frame lines starting with one of these are refused (`\a`).
    pub refuse: Vec<String>,
    /// Commands refused (`Z1`: an adapter without timestamps).
    pub refuse_commands: Vec<String>,
    /// Answer nothing at all after this many lines (None: always answer).
    pub mute_after: Option<usize>,
    /// Answer frames with Lawicel's `z`/`Z` instead of a bare `\r`.
    pub lawicel_acks: bool,
}

#[derive(Default)]
pub struct Seen {
    /// Every line the host sent, in order, without the `\r`.
    pub lines: Vec<String>,
    pub open: bool,
}

/// A simulated slcan adapter on the master side of a pty.
pub struct Device {
    pub pty: Pty,
    pub seen: Arc<(Mutex<Seen>, Condvar)>,
    out: File,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Device {
    pub fn start(behaviour: Behaviour) -> Device {
        let pty = Pty::open();
        let seen: Arc<(Mutex<Seen>, Condvar)> = Default::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut rx = pty.master.try_clone().unwrap();
        let mut tx = pty.master.try_clone().unwrap();
        let out = pty.master.try_clone().unwrap();
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut b = behaviour;
            let mut line = Vec::new();
            let mut count = 0usize;
            let mut buf = [0u8; 4096];
            while !stop2.load(Ordering::Relaxed) {
                if !readable(&rx, 50) {
                    continue;
                }
                let n = match rx.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Ok(n) => n,
                };
                let mut answer = Vec::new();
                for &c in &buf[..n] {
                    if c != b'\r' {
                        line.push(c);
                        continue;
                    }
                    let l = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    if l.is_empty() {
                        continue; // as slcanpty: bare CRs are skipped
                    }
                    count += 1;
                    let muted = b.mute_after.is_some_and(|m| count > m);
                    {
                        let (m, cv) = &*seen2;
                        let mut s = m.lock().unwrap();
                        match l.as_bytes()[0] {
                            b'O' | b'L' => s.open = true,
                            b'C' => s.open = false,
                            _ => {}
                        }
                        s.lines.push(l.clone());
                        cv.notify_all();
                    }
                    if muted {
                        continue;
                    }
                    let first = l.as_bytes()[0];
                    if b.refuse_commands.contains(&l) {
                        answer.push(b'\x07');
                    } else if first == b'F' {
                        let f = if b.flags.is_empty() {
                            0
                        } else {
                            b.flags.remove(0)
                        };
                        answer.extend_from_slice(format!("F{f:02X}\r").as_bytes());
                    } else if b"tTrRdDbB".contains(&first) {
                        if b.refuse.iter().any(|p| l.starts_with(p.as_str())) {
                            answer.push(b'\x07');
                        } else if b.lawicel_acks {
                            let z = if first.is_ascii_uppercase() {
                                "Z\r"
                            } else {
                                "z\r"
                            };
                            answer.extend_from_slice(z.as_bytes());
                        } else {
                            answer.push(b'\r');
                        }
                    } else if b"COLSsYZ".contains(&first) {
                        answer.push(b'\r');
                    } else if first == b'V' {
                        answer.extend_from_slice(b"V1013\r");
                    } else {
                        answer.push(b'\x07');
                    }
                }
                if !answer.is_empty() && tx.write_all(&answer).is_err() {
                    return;
                }
            }
        });
        Device {
            pty,
            seen,
            out,
            stop,
            thread: Some(thread),
        }
    }

    pub fn path(&self) -> String {
        self.pty.path()
    }

    /// Sends raw bytes to the host, as the adapter would.
    pub fn inject(&self, bytes: &[u8]) {
        (&self.out).write_all(bytes).unwrap();
    }

    /// Waits until the host opened the channel (sent `O`/`L`).
    pub fn wait_open(&self, limit: Duration) {
        self.wait(limit, "the channel opened", |s| s.open);
    }

    /// Waits until `n` lines starting with one of `prefixes` were received.
    pub fn wait_lines(&self, prefixes: &str, n: usize, limit: Duration) -> Vec<String> {
        let pick = |s: &Seen| -> Vec<String> {
            s.lines
                .iter()
                .filter(|l| prefixes.as_bytes().contains(&l.as_bytes()[0]))
                .cloned()
                .collect()
        };
        self.wait(limit, &format!("{n} lines '{prefixes}'"), |s| {
            pick(s).len() >= n
        });
        pick(&self.seen.0.lock().unwrap())
    }

    pub fn lines(&self) -> Vec<String> {
        self.seen.0.lock().unwrap().lines.clone()
    }

    fn wait(&self, limit: Duration, what: &str, ok: impl Fn(&Seen) -> bool) {
        let (m, cv) = &*self.seen;
        let deadline = Instant::now() + limit;
        let mut s = m.lock().unwrap();
        while !ok(&s) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "the device waited in vain for {what}; it saw {:?}",
                s.lines
            );
            s = cv.wait_timeout(s, deadline - now).unwrap().0;
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
