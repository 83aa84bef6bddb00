//! Running integration tests against the real kernel CAN stack, in the QEMU VM
//! of `tests/vm/run-in-vm.sh` when the host kernel has no CAN.
//!
//! Include it from a test file and write the tests with [`vm_test!`]:
//!
//! ```ignore
//! #[macro_use]
//! #[path = "vm/harness.rs"]
//! mod vm;
//!
//! vm_test! {
//!     fn candump_sees_our_frames() {
//!         // runs where the kernel has CAN: create vcan interfaces, run can-utils...
//!     }
//! }
//! ```
//!
//! On a host without CAN, the first such test to run boots the VM once and runs
//! the whole test binary inside it (same filter arguments, repository shared
//! read-write at the same path, can-utils and iproute2 on PATH, root). Every
//! host test then reports its own result from that run: a failure in the VM is
//! a failure on the host, with the VM's output for that test. If the VM cannot
//! boot, the tests are skipped loudly, or fail under `CI=true`.
//!
//! `CANKIT_VM=host` runs the tests directly on a host whose kernel has CAN (as
//! root; they create and delete `vcan`/`vxcan` interfaces); `CANKIT_VM=vm`
//! (the default on hosts without CAN) always uses the VM.
//!
//! [`run`] runs any command in the VM, for tests of the command-line tools.
//! [`sh`], [`Iface`] and [`Proc`] (a running process whose output lines the
//! test reads, made ready with a [`PROBE`] frame; [`candump`]) are for the
//! test bodies.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cankit::frame::text::parse_log_line;
use cankit::Frame;

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/vm/run-in-vm.sh`.
pub fn script() -> PathBuf {
    repo().join("tests/vm/run-in-vm.sh")
}

/// True inside the VM.
pub fn in_vm() -> bool {
    std::env::var("CANKIT_IN_VM").is_ok_and(|v| v == "1")
}

/// True when this process should use the kernel's CAN stack directly.
pub fn kernel_has_can() -> bool {
    in_vm()
        || (std::env::var("CANKIT_VM").is_ok_and(|v| v == "host")
            && Path::new("/proc/net/can").exists())
}

/// Environment forwarded into the VM.
fn forwarded_env() -> Vec<String> {
    std::env::vars()
        .filter(|(k, _)| {
            k == "CI"
                || k.starts_with("CARGO")
                || k.starts_with("RUST")
                || (k.starts_with("CANKIT_") && k != "CANKIT_IN_VM")
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// Runs `cmd` in a fresh VM with the repository shared at its host path (also
/// the working directory) and returns its output (stdout and stderr both in
/// `stdout`) and exit status. `extra` are further `run-in-vm.sh` options
/// (`--add PATH`, `--share DIR`, `--timeout S`, ...). An executable under the
/// repository (e.g. `env!("CARGO_BIN_EXE_can-logger")`) runs in place, also
/// from a shell script: the libraries of this test binary, which are those
/// of the package's binaries, are copied into the VM.
pub fn run(cmd: &[&str], extra: &[&str]) -> std::io::Result<Output> {
    let mut c = Command::new(script());
    c.arg("--share").arg(repo());
    for e in forwarded_env() {
        c.arg("--env").arg(e);
    }
    // The libraries the package's binaries link (libc, libm, libgcc_s) are
    // those of this test binary: copy them, for binaries run from a script.
    if let Ok(exe) = std::env::current_exe() {
        c.arg("--libs").arg(exe);
    }
    // The cargo target directory may live outside the repository.
    if let Some(dir) = target_dir() {
        if !dir.starts_with(repo()) {
            c.arg("--share").arg(dir);
        }
    }
    c.args(extra).arg("--").args(cmd).output()
}

/// The cargo target directory of the running test binary.
fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/<test binary>
    Some(exe.parent()?.parent()?.parent()?.to_path_buf())
}

/// The run of this test binary inside the VM.
pub struct VmRun {
    /// Everything the VM printed.
    pub output: String,
    /// The exit code of `run-in-vm.sh` (the test binary's, or 124/125).
    pub code: Option<i32>,
    /// Why the VM could not be used, if it could not.
    pub failure: Option<String>,
}

/// Runs this test binary in the VM once per process (later calls reuse it).
pub fn this_binary_in_vm() -> &'static VmRun {
    static RUN: OnceLock<VmRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let started = Instant::now();
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => {
                return VmRun {
                    output: String::new(),
                    code: None,
                    failure: Some(format!("cannot find the test binary: {e}")),
                }
            }
        };
        // The host's libtest arguments, minus those that change the output we parse.
        let mut args: Vec<String> = vec![exe.to_string_lossy().into_owned()];
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "-q" | "--quiet" | "--nocapture" | "--show-output" => {}
                "--format" | "--color" | "-Z" | "--logfile" => {
                    it.next();
                }
                _ if a.starts_with("--format=")
                    || a.starts_with("--color=")
                    || a.starts_with("--logfile=") => {}
                _ => args.push(a),
            }
        }
        args.push("--color=never".into());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&argv, &["--timeout", "300"]);
        let secs = started.elapsed().as_secs_f64();
        let run = match out {
            Err(e) => VmRun {
                output: String::new(),
                code: None,
                failure: Some(format!("cannot run {}: {e}", script().display())),
            },
            Ok(o) => {
                let mut output = String::from_utf8_lossy(&o.stdout).into_owned();
                output.push_str(&String::from_utf8_lossy(&o.stderr));
                let code = o.status.code();
                // Once libtest started, a missing verdict is a failure of that
                // test, not of the VM.
                let started = output.lines().any(|l| l.starts_with("running "));
                let failure = if started {
                    None
                } else {
                    Some(format!(
                        "the CAN VM did not run the tests (exit {code:?}); its output:\n{output}"
                    ))
                };
                VmRun {
                    output,
                    code,
                    failure,
                }
            }
        };
        if let Ok(p) = std::env::var("CANKIT_VM_LOG") {
            let _ = std::fs::write(p, &run.output);
        }
        // Straight to stderr, past libtest's capture: the timing is worth seeing.
        let summary = match &run.failure {
            Some(why) => format!("NOT RUN, {}", why.lines().next().unwrap_or_default()),
            None => run
                .output
                .lines()
                .rev()
                .find(|l| l.starts_with("test result:"))
                .unwrap_or("no result")
                .to_string(),
        };
        let _ = writeln!(
            std::io::stderr(),
            "[vm] {} ran in the CAN VM in {secs:.1} s (boot included): {summary}",
            exe.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        run
    })
}

/// The test name libtest prints for `name` in `module` (the crate's own name
/// dropped).
fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, rest)) => format!("{rest}::{name}"),
        None => name.to_string(),
    }
}

/// For [`vm_test!`]: false when the test should run here; otherwise runs the
/// binary in the VM (once) and reports this test's result from there.
pub fn delegate(module: &str, name: &str) -> bool {
    if kernel_has_can() {
        return false;
    }
    let run = this_binary_in_vm();
    if let Some(why) = &run.failure {
        crate::common::missing(&format!("the CAN VM (tests/vm/run-in-vm.sh): {why}"));
        return true;
    }
    let full = test_name(module, name);
    let prefix = format!("test {full} ... ");
    let verdict = run
        .output
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(str::trim);
    match verdict {
        Some(v) if v == "ok" || v.starts_with("ignored") => true,
        Some(v) => {
            let section = failure_section(&run.output, &full);
            panic!("{full} failed in the CAN VM ({v}):\n{section}");
        }
        None => panic!(
            "{full}: no result in the CAN VM's output (exit {:?}):\n{}",
            run.code, run.output
        ),
    }
}

/// The `---- NAME stdout ----` block of a failed test.
fn failure_section(output: &str, name: &str) -> String {
    let head = format!("---- {name} stdout ----");
    let Some(start) = output.find(&head) else {
        return output.to_string();
    };
    let rest = &output[start..];
    let end = rest[head.len()..]
        .find("\n---- ")
        .or_else(|| rest[head.len()..].find("\nfailures:"))
        .map(|e| e + head.len())
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Declares tests that need the kernel CAN stack (see the module docs).
macro_rules! vm_test {
    ($($(#[$meta:meta])* fn $name:ident() $body:block)*) => {$(
        $(#[$meta])*
        #[test]
        fn $name() {
            if $crate::vm::delegate(module_path!(), stringify!($name)) {
                return;
            }
            $body
        }
    )*};
}

/// Runs a shell command (in the VM), failing the test with its output if it fails.
pub fn sh(cmd: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A vcan interface, up, FD-capable unless `fd` is false (MTU 16 makes it
/// classic-only); deleted on drop.
pub struct Iface(pub String);

impl Iface {
    /// Creates (or re-creates) `name`.
    pub fn vcan(name: &str, fd: bool) -> Iface {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", name])
            .output();
        sh(&format!(
            "ip link add dev {name} type vcan && ip link set {name} mtu {} && ip link set {name} up",
            if fd { 72 } else { 16 }
        ));
        Iface(name.to_string())
    }
}

impl Drop for Iface {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .output();
    }
}

/// The probe frame that tells a reader (candump, can-logger) is listening;
/// never a test frame.
pub const PROBE: &str = "7FE#";

/// True for an output line that shows the probe frame, in candump's log
/// format (`-L`, can-logger's stdout) or its default one (`7FE   [0]`).
pub fn is_probe(line: &str) -> bool {
    line.split_whitespace()
        .any(|t| t == "7FE" || t.starts_with(PROBE))
}

/// A running process whose stdout lines arrive on a channel (read on a
/// thread) and whose stderr is collected; killed on drop.
pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Lines read while waiting for a probe, not yet handed out.
    pending: RefCell<VecDeque<String>>,
    stderr: Arc<Mutex<String>>,
    what: String,
}

impl Proc {
    /// Starts `cmd` and returns once a stdout line holds the probe frame,
    /// sending it with `probe` every 200 ms until then, for up to `ready`.
    pub fn start(cmd: Command, what: &str, ready: Duration, mut probe: impl FnMut()) -> Proc {
        let p = Proc::spawn(cmd, what);
        p.wait_for_probe(ready, &mut probe);
        p
    }

    /// Starts `cmd` (stdin empty) without waiting for anything.
    pub fn spawn(mut cmd: Command, what: &str) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(|l| l.ok()) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        Proc {
            child,
            lines,
            pending: RefCell::default(),
            stderr,
            what: what.to_string(),
        }
    }

    /// Waits until a stdout line holds the probe frame, sending it with
    /// `probe` every 200 ms, for up to `ready`. Other lines read meanwhile are
    /// kept for [`Proc::lines`]; later probes of the loop are skipped there.
    pub fn wait_for_probe(&self, ready: Duration, probe: &mut impl FnMut()) {
        let end = Instant::now() + ready;
        loop {
            assert!(
                Instant::now() < end,
                "{} never saw its probe frame; stderr: {}",
                self.what,
                self.stderr()
            );
            probe();
            let end_wait = Instant::now() + Duration::from_millis(200);
            while let Ok(l) = self
                .lines
                .recv_timeout(end_wait.saturating_duration_since(Instant::now()))
            {
                if is_probe(&l) {
                    return;
                }
                self.pending.borrow_mut().push_back(l);
            }
        }
    }

    /// Waits (up to 30 s) until stderr holds `needle` `times` times.
    pub fn wait_stderr(&self, needle: &str, times: usize) {
        let end = Instant::now() + Duration::from_secs(30);
        while self.stderr().matches(needle).count() < times {
            assert!(
                Instant::now() < end,
                "{} never printed '{needle}' x{times}; stderr: {}",
                self.what,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The next `n` non-probe lines (fewer if `timeout` passes first).
    pub fn lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        let end = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n {
            if let Some(l) = self.pending.borrow_mut().pop_front() {
                if !is_probe(&l) {
                    out.push(l);
                }
                continue;
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if is_probe(&l) => {}
                Ok(l) => out.push(l),
                Err(_) => break,
            }
        }
        out
    }

    /// The next `n` frames of candump log lines (`candump -L`, can-logger's
    /// stdout) with their interface names.
    pub fn frames(&self, n: usize, timeout: Duration) -> Vec<(String, Frame)> {
        self.lines(n, timeout)
            .iter()
            .map(|l| {
                let p = parse_log_line(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}"));
                (p.interface.to_string(), p.frame)
            })
            .collect()
    }

    /// Sends signal `sig` (e.g. `libc::SIGSTOP`) to the process.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    /// Sends SIGINT (Ctrl-C) and waits (up to 20 s) for the exit; returns the
    /// status, how long the exit took and the whole stderr.
    pub fn interrupt(mut self) -> (ExitStatus, Duration, String) {
        let t = Instant::now();
        self.signal(libc::SIGINT);
        let status = self.wait_exit(Duration::from_secs(20));
        let took = t.elapsed();
        // Let the stderr reader see EOF.
        std::thread::sleep(Duration::from_millis(50));
        (status, took, self.stderr())
    }

    /// Waits up to `limit` for the exit; returns the status and the whole stderr.
    pub fn wait(mut self, limit: Duration) -> (ExitStatus, String) {
        let status = self.wait_exit(limit);
        std::thread::sleep(Duration::from_millis(50));
        (status, self.stderr())
    }

    /// Waits up to `limit` for the exit, failing the test after that.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                Instant::now() < end,
                "{} did not finish within {limit:?}",
                self.what
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `candump ARGS IFACE` and returns once it has printed the probe
/// frame `probe` sends (see [`Proc::start`]), so that nothing sent afterwards
/// can be missed.
pub fn candump(args: &[&str], iface: &str, ready: Duration, probe: impl FnMut()) -> Proc {
    let mut c = Command::new("candump");
    c.args(args).arg(iface);
    Proc::start(c, &format!("candump {iface}"), ready, probe)
}

/// The seconds `candump -t d` prints before each frame (time since the
/// previous one).
pub fn candump_deltas(lines: &[String]) -> Vec<f64> {
    lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix('('))
        .filter_map(|l| l.split(')').next())
        .filter_map(|d| d.parse().ok())
        .collect()
}
