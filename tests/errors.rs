//! How the six tools report failures, through the real binaries: clap's whole
//! message for usage errors, every other error on one line with each OS error
//! once.

mod common;

use std::path::Path;
use std::process::Output;

use common::tools::*;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `name` with `args`; checks the exit code, that stderr is one line
/// `name: error: ...` and that it holds `needle`. Returns stderr.
fn fails(name: &str, args: &[&str], code: i32, needle: &str) -> String {
    let o = run(tool(name).args(args));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{name} {args:?}: {err}");
    assert!(
        err.starts_with(&format!("{name}: error: ")),
        "{name} {args:?}: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{name} {args:?}: {err}");
    assert!(err.contains(needle), "{name} {args:?}: {err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn usage_errors_keep_clap_s_whole_message() {
    // the missing arguments are named, and the usage follows
    let o = run(&mut tool("can-convert"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let first = err.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "can-convert: error: the following required arguments were not provided:"
    );
    assert!(err.contains("<IN>") && err.contains("<OUT>"), "{err}");
    assert!(err.contains("Usage: can-convert"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");

    // a misspelt option gets clap's tip
    let o = run(tool("can-logger").args(["--formt", "csv"]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("can-logger: error: unexpected argument '--formt' found"),
        "{err}"
    );
    assert!(
        err.contains("tip: a similar argument exists: '--format'"),
        "{err}"
    );

    // a bad value names the option and the value
    let o = run(tool("can-send").args(["--period", "soon", "123#11"]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("can-send: error: invalid value 'soon' for '--period"),
        "{err}"
    );

    // --help is not an error
    let o = run(tool("can-player").arg("--help"));
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty());
}

#[test]
fn an_os_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("nonexist.log");
    let blf = dir.path().join("nonexist.blf");
    let out = dir.path().join("nonexistent-dir/x.log");
    let asc = dir.path().join("out.asc");
    for (name, args) in [
        ("can-convert", vec![s(&log), s(&asc)]),
        ("can-player", vec![s(&blf)]),
        ("can-viewer", vec!["--file", s(&log)]),
        ("can-logger", vec!["-d", "100ms", "-f", s(&out)]),
    ] {
        let err = fails(name, &args, 1, "No such file or directory");
        assert_eq!(
            err.matches("No such file or directory").count(),
            1,
            "{name}: {err}"
        );
    }
    assert!(!asc.exists());
}
