//! Helpers shared by the integration tests: where the fixtures, the python-can
//! interpreter and the built binaries are, and how to skip loudly.
//!
//! A missing external piece (python-can, can-utils, the CAN VM, ...) skips a
//! test with a loud message on a developer machine, and fails it under CI
//! (`CI=true`), where `.ci/run` has installed everything. The fixtures are in
//! the repository (`tests/fixtures/`), so a clone alone has them.
#![allow(dead_code)]

pub mod tools;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// True under CI, where a skip is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Reports a missing prerequisite: panics under CI, skips loudly otherwise.
///
/// libtest hides what a passing test prints, so a skip also appends a line
/// (`<test binary> <test name>`, a tab, `what`) to the file named by
/// `CANKIT_SKIP_LOG`, which `tests/run.sh` sets and prints after the run.
pub fn missing(what: &str) {
    if in_ci() {
        panic!("prerequisite missing under CI: {what}");
    }
    eprintln!("\n*** SKIPPED: {what} ***\n");
    if let Some(log) = std::env::var_os("CANKIT_SKIP_LOG") {
        let line = format!("{}\t{}\n", current_test(), one_line(what));
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            panic!(
                "cannot record the skip in CANKIT_SKIP_LOG={}: {e}",
                Path::new(&log).display()
            );
        }
    }
}

/// `<test binary> <test name>` of the running test: libtest names each
/// test's thread after the test; the binary is `<name>-<hash>`.
fn current_test() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let binary = match exe.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name,
        _ => &exe,
    };
    let thread = std::thread::current();
    let test = match thread.name() {
        Some(name) if name != "main" => name,
        _ => "(test name unknown)",
    };
    format!("{binary} {test}")
}

/// The first line of `text`, marked when more lines followed.
fn one_line(text: &str) -> String {
    let mut lines = text.trim().lines();
    let first = lines.next().unwrap_or_default().trim_end();
    if lines.next().is_some() {
        format!("{first} [...]")
    } else {
        first.to_string()
    }
}

/// The fixture folder: `CANKIT_FIXTURES`, else the repository's
/// `tests/fixtures` (see its README.md).
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("CANKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    if dir.join("expected").is_dir() {
        Some(dir)
    } else {
        missing(&format!(
            "fixture folder {} (tests/fixtures, or CANKIT_FIXTURES if set)",
            dir.display()
        ));
        None
    }
}

/// A Python interpreter with python-can 4.6.1 and msgpack (`CANKIT_PYTHON`,
/// else `/tmp/cankit-venv/bin/python`, which `tests/setup.sh` creates).
pub fn python() -> Option<PathBuf> {
    let py = std::env::var_os("CANKIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/cankit-venv/bin/python"));
    let ok = Command::new(&py)
        .args([
            "-c",
            "import can, msgpack; assert can.__version__ == '4.6.1'",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(py)
    } else {
        missing(&format!(
            "python-can 4.6.1 at {} (run tests/setup.sh or set CANKIT_PYTHON)",
            py.display()
        ));
        None
    }
}

/// The path of a built binary of this package (`can-logger`, ...).
pub fn bin(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop(); // the test binary's name
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// True if `prog` runs (`prog --version` or any exit), for optional peers.
pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// What python-can 4.6.1 reads from `file`: `tests/tools/pycan_dump.py`
/// run with `args` before the file, in UTC; its stdout, one canonical JSON
/// object per message, as in `tests/fixtures/expected/`. Fails the test when
/// python-can fails.
pub fn python_can_reads(py: &Path, file: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/pycan_dump.py");
    let o = Command::new(py)
        .arg(&script)
        .args(args)
        .arg(file)
        .env("TZ", "UTC")
        .output()
        .expect("run tests/tools/pycan_dump.py");
    assert!(
        o.status.success(),
        "python-can on {}: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("pycan_dump.py prints UTF-8")
}

/// Records and warnings cankit reads from `path` as `format`, or the error
/// (with the warnings gathered before it).
pub fn read_with_warnings(
    path: &Path,
    format: cankit::format::Format,
) -> (Result<Vec<cankit::Record>, cankit::Error>, Vec<String>) {
    let mut r = match cankit::format::open_reader(path, Some(format)) {
        Ok(r) => r,
        Err(e) => return (Err(e), Vec::new()),
    };
    let mut out = Vec::new();
    loop {
        match r.read() {
            Ok(Some(rec)) => out.push(rec),
            Ok(None) => return (Ok(out), r.take_warnings()),
            Err(e) => return (Err(e), r.take_warnings()),
        }
    }
}

/// The records cankit reads from `path` as `format`; panics on an error.
pub fn read_ok_as(path: &Path, format: cankit::format::Format) -> Vec<cankit::Record> {
    match read_with_warnings(path, format).0 {
        Ok(v) => v,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Asserts two record streams are equal, naming the first difference.
pub fn assert_same_records(got: &[cankit::Record], want: &[cankit::Record], what: &str) {
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(a, b, "{what}: record {i}");
    }
    assert_eq!(got.len(), want.len(), "{what}: record count");
}

/// The variable that marks a test process re-run inside its own network
/// namespace by [`in_netns`].
const NETNS_MARK: &str = "CANKIT_TEST_NETNS";

/// Runs `ip ARGS` and asserts it succeeded.
pub fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {args:?} failed inside the namespace");
}

/// For a test that sends UDP or TCP. Inside the namespace: brings `lo` up
/// with multicast routed to it (group 239.74.163.2 and the like stay on
/// loopback) and returns true: run the body. Outside: runs the test `test` of
/// this binary again in a new network namespace (`unshare --net`, mapped to
/// root when not root), asserts it passed, and returns false. Skips loudly
/// (fails under CI) when namespaces cannot be made.
pub fn in_netns(test: &str) -> bool {
    if std::env::var_os(NETNS_MARK).is_some() {
        ip(&["link", "set", "lo", "up"]);
        ip(&["link", "set", "lo", "multicast", "on"]);
        ip(&["route", "add", "224.0.0.0/4", "dev", "lo"]);
        return true;
    }
    if !have("unshare") || !have("ip") {
        missing("unshare and ip (util-linux, iproute2) to create a network namespace");
        return false;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut args = vec!["--net"];
    if !root {
        args.push("--map-root-user");
    }
    let probe = Command::new("unshare")
        .args(&args)
        .arg("true")
        .status()
        .is_ok_and(|s| s.success());
    if !probe {
        missing("permission to create a network namespace (unshare --net)");
        return false;
    }
    let st = Command::new("unshare")
        .args(&args)
        .arg("--")
        .arg(std::env::current_exe().expect("test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(NETNS_MARK, "1")
        .status()
        .expect("run the test inside unshare");
    assert!(st.success(), "{test} failed inside its network namespace");
    false
}
