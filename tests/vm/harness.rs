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
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

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
