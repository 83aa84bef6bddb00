//! can-logger's rotation, summary, status line and durability, through the
//! real binaries on the `virtual` bus: what can-send sent is what python-can
//! reads from all the files together, in order, each file on its own.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cankit::frame::Timestamp;
use cankit::pipe::file_stamp;
use common::tools::*;

/// What `can-send --generate -I i -L 8 -D i` sends: frame `n` has id
/// `n % 0x800` and the 8-byte little-endian counter `n` as data.
fn generated(n: u64) -> Vec<(u32, String)> {
    (0..n)
        .map(|i| {
            let data: String = i.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
            ((i % 0x800) as u32, data)
        })
        .collect()
}

/// Sends `n` generated frames on `chan`, one every `gap`.
fn send_generated(chan: &str, n: u64, gap: &str) -> Child {
    tool("can-send")
        .args(["-c", chan, "--generate", "-I", "i", "-L", "8", "-D", "i"])
        .args(["-g", gap, "-n", &n.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// The files in `dir` whose names start with `prefix`, sorted by name.
fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    v
}

/// One message as python-can reads it.
#[derive(Debug, PartialEq)]
struct Msg {
    t: f64,
    id: u32,
    data: String,
}

/// What python-can reads from each of `paths` (one reader per file), in order.
fn pycan(py: &Path, paths: &[PathBuf]) -> Vec<Vec<Msg>> {
    paths
        .iter()
        .map(|p| {
            common::python_can_reads(py, p, &[])
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    Msg {
                        t: v["t"].to_string().parse().unwrap(),
                        id: v["id"].as_u64().unwrap() as u32,
                        data: v["data"].as_str().unwrap().to_string(),
                    }
                })
                .collect()
        })
        .collect()
}

fn ids_and_data(files: &[Vec<Msg>]) -> Vec<(u32, String)> {
    files
        .iter()
        .flatten()
        .map(|m| (m.id, m.data.clone()))
        .collect()
}

/// Fails on the first difference, briefly (thousands of frames otherwise).
fn same(got: &[(u32, String)], want: &[(u32, String)], what: &str) {
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: frame {i} is {:?}, sent {:?} ({} read, {} sent)",
            got[i],
            want[i],
            got.len(),
            want.len()
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: frames read and sent");
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn done(c: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    let mut c = c;
    while c.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("a tool did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    c.wait_with_output().unwrap()
}

#[test]
fn rotation_by_size_keeps_every_frame_once_in_blf_asc_log_and_mf4() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("rotsize");
    const N: u64 = 5000;
    // (file, -s, the most one record adds to a file)
    let cases = [
        ("b.blf", 20_000u64, 200u64),
        ("a.asc", 50_000, 100),
        ("l.log", 50_000, 100),
        ("m.mf4", 40_000, 100),
    ];
    let loggers: Vec<Child> = cases
        .iter()
        .map(|(name, size, _)| {
            tool("can-logger")
                .args(["-c", &chan, "-n", &N.to_string(), "-d", "60s"])
                .args(["-s", &size.to_string(), "-f"])
                .arg(dir.path().join(name))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_for_peers(&chan, cases.len());
    let sender = send_generated(&chan, N, "1ms");
    assert!(done(sender, Duration::from_secs(60)).status.success());
    let want = generated(N);
    for ((name, size, record), logger) in cases.iter().zip(loggers) {
        let o = done(logger, Duration::from_secs(30));
        let err = stderr_of(&o);
        assert!(o.status.success(), "{name}: {err}");
        let stem = &name[..1];
        let ext = &name[1..];
        let all = files(dir.path(), &format!("{stem}_"));
        assert!(all.len() >= 3, "{name}: {} file(s)", all.len());
        let read = pycan(&py, &all);
        assert!(read.iter().all(|f| !f.is_empty()), "{name}: an empty file");
        same(&ids_and_data(&read), &want, name);
        let mut total = 0;
        for p in &all {
            let f = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                f.ends_with(ext) && f.len() >= "r_2026-12-04T15-00-00".len() + ext.len(),
                "{f}"
            );
            let len = std::fs::metadata(p).unwrap().len();
            assert!(len <= size + record, "{f}: {len} bytes for -s {size}");
            total += len;
        }
        // the summary, at the default verbosity
        let line = format!("can-logger: {N} frame(s) recorded in ");
        assert!(err.starts_with(&line), "{name}: {err}");
        assert!(
            err.contains(&format!(
                " into {} file(s) ({total} bytes); 0 dropped",
                all.len()
            )),
            "{name}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
    }
}

#[test]
fn rotation_every_second_on_the_second_keeping_two() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("rottime");
    const N: u64 = 3500;
    let logger = tool("can-logger")
        .args(["-c", &chan, "-n", &N.to_string(), "-d", "60s"])
        .args(["--rotate-every", "1s", "--keep", "2", "-f"])
        .arg(dir.path().join("t.log"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    assert!(
        done(send_generated(&chan, N, "1ms"), Duration::from_secs(60))
            .status
            .success()
    );
    let o = done(logger, Duration::from_secs(30));
    let err = stderr_of(&o);
    assert!(o.status.success(), "{err}");
    let all = files(dir.path(), "t_");
    assert_eq!(all.len(), 2, "{all:?}");
    let read = pycan(&py, &all);
    for (p, msgs) in all.iter().zip(&read) {
        // named by the second it holds: every frame's time is in it
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!msgs.is_empty(), "{name}");
        for m in msgs {
            let second = file_stamp(Timestamp::from_parts(m.t.floor() as i64, 0));
            assert_eq!(name, format!("t_{second}.log"), "a frame at {}", m.t);
        }
    }
    // the newest frames, none lost or doubled between the two files
    let got = ids_and_data(&read);
    let want = generated(N);
    assert!(got.len() >= 2, "{got:?}");
    same(
        &got,
        &want[want.len() - got.len().min(want.len())..],
        "the last two files",
    );
    let files_written: u64 = err
        .split(" into ")
        .nth(1)
        .and_then(|s| s.split(" file(s), 2 kept").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no summary of files in {err}"));
    assert!(files_written >= 4, "{err}");
}

#[test]
fn a_taken_name_gets_a_counter_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("rottaken");
    let year = &file_stamp(Timestamp::now())[..4];
    let taken = dir.path().join(format!("y_{year}.log"));
    std::fs::write(&taken, "keep me\n").unwrap();
    let logger = tool("can-logger")
        .args(["-c", &chan, "-n", "300", "-d", "60s", "-s", "4KiB", "-f"])
        .arg(dir.path().join("y_%Y.log"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    assert!(
        done(send_generated(&chan, 300, "1ms"), Duration::from_secs(30))
            .status
            .success()
    );
    let o = done(logger, Duration::from_secs(30));
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me\n");
    let all = files(dir.path(), &format!("y_{year}_"));
    let names: Vec<String> = all
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    for (i, n) in names.iter().enumerate() {
        assert_eq!(n, &format!("y_{year}_{:03}.log", i + 1));
    }
    let got: Vec<String> = all
        .iter()
        .flat_map(|p| frames_text(&read_records(p)))
        .collect();
    assert_eq!(got.len(), 300);
}

#[test]
fn sigterm_finishes_the_rotated_file_and_the_summary_follows_q() {
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("rotterm");
    let start = |name: &str, quiet: bool| {
        let mut c = tool("can-logger");
        c.args(["-c", &chan, "-s", "8kB", "-f"])
            .arg(dir.path().join(name))
            .stderr(Stdio::piped());
        if quiet {
            c.arg("-q");
        }
        c.spawn().unwrap()
    };
    let loud = start("a.asc", false);
    let quiet = start("b.asc", true);
    wait_for_peers(&chan, 2);
    assert!(
        done(send_generated(&chan, 400, "1ms"), Duration::from_secs(30))
            .status
            .success()
    );
    std::thread::sleep(Duration::from_millis(500));
    for c in [&loud, &quiet] {
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    }
    let (loud, quiet) = (
        done(loud, Duration::from_secs(10)),
        done(quiet, Duration::from_secs(10)),
    );
    assert!(loud.status.success() && quiet.status.success());
    assert_eq!(stderr_of(&quiet), "");
    assert!(
        stderr_of(&loud).starts_with("can-logger: 400 frame(s) recorded in "),
        "{}",
        stderr_of(&loud)
    );
    for stem in ["a_", "b_"] {
        let all = files(dir.path(), stem);
        assert!(all.len() >= 3, "{all:?}");
        for p in &all {
            let text = std::fs::read_to_string(p).unwrap();
            assert!(text.ends_with("End TriggerBlock\n"), "{}", p.display());
        }
        let n: usize = all.iter().map(|p| read_records(p).len()).sum();
        assert_eq!(n, 400);
    }
}

#[test]
fn rotation_needs_a_file_and_refuses_append() {
    for (args, needle) in [
        (&["-s", "1MB"][..], "-s and --rotate-every need a file"),
        (&["-s", "1MB", "-a", "-f", "x.log"], "cannot be used with"),
        (
            &["--keep", "2", "-f", "x.log"],
            "--file-size <SIZE>|--rotate-every <DURATION>",
        ),
        (
            &["-s", "12 apples", "-f", "x.log"],
            "expected a size such as 500kB",
        ),
        (&["--rotate-every", "0.5s", "-f", "x.log"], "whole seconds"),
        (
            &["-s", "1MB", "-f", "x-%q.log"],
            "x-%q.log: unknown time code in the file name: %q",
        ),
        (
            &["-s", "1MB", "-f", "%Y/x.log"],
            "the time goes in the file name, not in its folder",
        ),
    ] {
        let o = run(tool("can-logger").args(args).args(["-d", "1s"]));
        let err = stderr_of(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn a_removed_folder_is_an_error_at_the_next_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let chan = channel("rotgone");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-s", "4kB", "-d", "60s", "-f"])
        .arg(sub.join("g.log"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    let first = files(&sub, "g_");
    assert_eq!(first.len(), 1, "the first file is made at the start");
    std::fs::remove_dir_all(&sub).unwrap();
    let sender = send_generated(&chan, 400, "1ms");
    let o = done(logger, Duration::from_secs(30));
    let _ = done(sender, Duration::from_secs(30));
    let err = stderr_of(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let want = format!("can-logger: error: creating {}/g_", sub.display());
    assert!(err.starts_with(&want), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Runs `sh` in a mount namespace of its own (root only): what it mounts
/// leaves no trace. None when that is not allowed here.
fn in_own_mounts(script: &str) -> Option<Command> {
    let probe = Command::new("unshare")
        .args([
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs -o size=4k tmpfs /mnt",
        ])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        common::missing("unshare --mount and tmpfs mounts (run the tests as root)");
        return None;
    }
    let mut c = Command::new("unshare");
    c.args(["--mount", "sh", "-c", script]);
    clean_env(&mut c);
    Some(c)
}

#[test]
fn a_full_disk_is_an_error_naming_the_file_which_stays_readable() {
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("full");
    let logger = common::bin("can-logger");
    let mut children = Vec::new();
    for name in ["full.log", "full.asc"] {
        let mnt = dir.path().join(format!("mnt-{name}"));
        std::fs::create_dir(&mnt).unwrap();
        // 256 KiB fill up in about 4 s at 1000 frames/s (at least two flushes
        // go through first); what the file holds then is copied out of the
        // private mount
        let script = format!(
            "mount -t tmpfs -o size=256k tmpfs '{m}' || exit 99; \
             '{bin}' -c '{chan}' -d 60s -f '{m}/{name}'; rc=$?; \
             cp '{m}/{name}' '{out}/{name}'; exit $rc",
            m = mnt.display(),
            bin = logger.display(),
            out = dir.path().display(),
        );
        let Some(mut c) = in_own_mounts(&script) else {
            return;
        };
        children.push((name, mnt, c.stderr(Stdio::piped()).spawn().unwrap()));
    }
    wait_for_peers(&chan, 2);
    let sender = send_generated(&chan, 6000, "1ms");
    for (name, mnt, c) in children {
        let o = done(c, Duration::from_secs(30));
        let err = stderr_of(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        let want = format!(
            "can-logger: error: writing {}/{name}: No space left on device",
            mnt.display()
        );
        assert!(err.starts_with(&want), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        // cut back to its last flush: whole frames, those sent first
        let kept = dir.path().join(name);
        let read = pycan(&py, std::slice::from_ref(&kept));
        let got = ids_and_data(&read);
        assert!(got.len() > 100, "{name}: {} frames", got.len());
        same(&got, &generated(got.len() as u64), name);
        assert_eq!(frames_text(&read_records(&kept)).len(), got.len());
    }
    let _ = done(sender, Duration::from_secs(30));
}

#[test]
fn the_status_line_shows_on_a_terminal_and_the_summary_stays() {
    if !common::have("tmux") {
        common::missing("tmux (tests/setup.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("status");
    let server = format!("cankit-{}", std::process::id());
    let tmux = |args: &[&str]| {
        let mut c = Command::new("tmux");
        c.args(["-L", &server, "-f", "/dev/null"]).args(args);
        for v in [
            "CAN_INTERFACE",
            "CAN_CHANNEL",
            "CAN_BITRATE",
            "CAN_CONFIG",
            "RUST_LOG",
        ] {
            c.env_remove(v);
        }
        c.env("XDG_CONFIG_HOME", "/nonexistent-cankit-test");
        c.output().unwrap()
    };
    let cmd = format!(
        "'{}' -c '{chan}' -n 3000 -d 60s -f '{}/s.log'; sleep 60",
        common::bin("can-logger").display(),
        dir.path().display()
    );
    let o = tmux(&["new-session", "-d", "-x", "150", "-y", "10", &cmd]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let screen = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    wait_for_peers(&chan, 1);
    let sender = send_generated(&chan, 3000, "1ms");
    // while it records: the line, redrawn with growing counts
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 2 && Instant::now() < deadline {
        let s = screen();
        if let Some(line) = s.lines().find(|l| l.starts_with("recording: ")) {
            let frames: u64 = line["recording: ".len()..]
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if frames > 0 && seen.last() != Some(&frames) {
                assert!(line.contains("/s, ") && line.contains(" dropped"), "{line}");
                seen.push(frames);
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = done(sender, Duration::from_secs(30));
    // at the end: the line gone, the summary there
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        last = screen();
        if last.contains("recorded in") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    tmux(&["kill-server"]);
    assert!(
        seen.len() >= 2 && seen[0] < seen[1],
        "status counts {seen:?}"
    );
    assert!(
        last.contains("can-logger: 3000 frame(s) recorded in "),
        "{last}"
    );
    assert!(!last.contains("recording: "), "{last}");
}

#[test]
fn a_full_stdout_is_an_error_saying_so_once() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        common::missing("/dev/full");
        return;
    };
    let chan = channel("devfull");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-d", "30s"])
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    assert!(run(tool("can-send").args(["-c", &chan, "123#11"]))
        .status
        .success());
    let o = done(logger, Duration::from_secs(20));
    let err = stderr_of(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "can-logger: error: writing stdout: No space left on device (os error 28)\n"
    );
}

#[test]
fn frames_are_on_disk_within_a_second_while_recording() {
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("ondisk");
    let logger = tool("can-logger")
        .args(["-c", &chan, "-s", "1MB", "-f"])
        .arg(dir.path().join("d.blf"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    assert!(
        done(send_generated(&chan, 10, "1ms"), Duration::from_secs(20))
            .status
            .success()
    );
    std::thread::sleep(Duration::from_millis(1600));
    // still recording: the file already holds them, readable as it is
    let all = files(dir.path(), "d_");
    assert_eq!(all.len(), 1, "{all:?}");
    let got: Vec<String> = frames_text(&read_records(&all[0]));
    unsafe { libc::kill(logger.id() as i32, libc::SIGINT) };
    let o = done(logger, Duration::from_secs(10));
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(got.len(), 10, "{got:?}");
    assert_eq!(frames_text(&read_records(&all[0])), got);
}
