//! How the six tools report failures, through the real binaries: clap's whole
//! message for usage errors, every other error on one line with each OS error
//! once, config errors with their line and column, python-can's options as
//! warnings, and one exit code per kind of failure whatever the tool.

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

    // a value clap checks comes with the values there are
    let o = run(tool("can-send").args(["-i", "nosuch", "123#11"]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("can-send: error: invalid value 'nosuch' for '--interface"),
        "{err}"
    );
    assert!(
        err.contains("[possible values: virtual, udp_multicast"),
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
    for (name, args, code, path) in [
        ("can-convert", vec![s(&log), s(&asc)], 4, &log),
        ("can-player", vec![s(&blf)], 4, &blf),
        ("can-viewer", vec!["--file", s(&log)], 4, &log),
        ("can-logger", vec!["-d", "100ms", "-f", s(&out)], 1, &out),
    ] {
        let err = fails(name, &args, code, "No such file or directory");
        assert_eq!(
            err.matches("No such file or directory").count(),
            1,
            "{name}: {err}"
        );
        assert_eq!(err.matches(s(path)).count(), 1, "{name}: {err}");
    }
    assert!(!asc.exists());
}

#[test]
fn config_file_errors_name_the_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // TOML syntax: the value must be quoted
        ("[default]\ninterface = virtual\n", "2:13: invalid string"),
        // a misspelt key, with the nearest one
        (
            "[default]\ninterface = \"virtual\"\nchanel = \"a\"\n",
            "3:1: unknown key 'chanel' (did you mean 'channel'?)",
        ),
        // a value of the wrong type
        (
            "[car]\ninterface = \"virtual\"\nbitrate = \"fast\"\n",
            "3:11: 'bitrate' must be a number of bit/s, not \"fast\"",
        ),
        // a bad filter, at its value
        (
            "\n[default]\nfilter = \"123:zz\"\n",
            "3:10: bad filter '123:zz'",
        ),
        // settings outside any table
        ("channel = \"a\"\n", "1:1: 'channel' is outside any table"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let cfg = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&cfg, text).unwrap();
        let err = fails("can-logger", &["--config", s(&cfg), "-d", "100ms"], 3, want);
        assert!(
            err.starts_with(&format!("can-logger: error: {}:{want}", cfg.display())),
            "{err}"
        );
    }
}

#[test]
fn python_can_options_are_warnings_and_unknown_keys_errors() {
    let dir = tempfile::tempdir().unwrap();
    let chan = channel("pycan");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[default]\ninterface = \"virtual\"\nchannel = \"{chan}\"\n\
             receive_own_messages = false\noptions = {{ app_name = \"CANalyzer\" }}\n"
        ),
    )
    .unwrap();
    let can_config = r#"{"single_handle": true, "serial": 1234}"#;
    for (name, args) in [
        ("can-logger", vec!["--duration", "100ms"]),
        ("can-send", vec!["123#01"]),
    ] {
        let o = run(tool(name)
            .env("CAN_CONFIG", can_config)
            .args(["--config", s(&cfg)])
            .args(&args));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {err}");
        let file = cfg.display();
        for want in [
            format!("ignoring python-can option 'receive_own_messages' (not supported by cankit) in {file}:4:1"),
            format!("ignoring python-can option 'app_name' (not supported by cankit) in {file}:5:11"),
            "ignoring python-can option 'single_handle' (not supported by cankit) in CAN_CONFIG".into(),
            "ignoring python-can option 'serial' (not supported by cankit) in CAN_CONFIG".into(),
        ] {
            let line = format!("{name}: warning: {want}");
            assert_eq!(
                err.lines().filter(|l| *l == line).count(),
                1,
                "{name}: no '{line}' in:\n{err}"
            );
        }
        // besides can-logger's summary at the end
        let lines = err.lines().filter(|l| !l.contains(" recorded in ")).count();
        assert_eq!(lines, 4, "{name}: {err}");
    }

    // a key nobody knows stays an error, naming the keys there are
    std::fs::write(&cfg, "[default]\ninterface = \"virtual\"\nrecieve = 1\n").unwrap();
    fails(
        "can-logger",
        &["--config", s(&cfg), "-d", "100ms"],
        3,
        "3:1: unknown key 'recieve'; a table takes interface, channel, bitrate, fd, data_bitrate, filter and options",
    );
}

/// Like [`fails`], for failures clap may report (an unknown name in an option
/// clap checks): the needle on the first line, clap's lines after it.
fn exits(name: &str, args: &[&str], code: i32, needle: &str) {
    let o = run(tool(name).args(args));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{name} {args:?}: {err}");
    assert!(
        err.starts_with(&format!("{name}: error: ")),
        "{name} {args:?}: {err}"
    );
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains(needle), "{name} {args:?}: {err}");
    assert!(
        err.lines().count() == 1 || err.ends_with("For more information, try '--help'.\n"),
        "{name} {args:?}: {err}"
    );
}

#[test]
fn the_same_failure_gives_the_same_code_in_every_tool() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let log = d("in.log");
    std::fs::write(&log, "(1.000000) can0 123#11\n").unwrap();
    let (xyz, out, missing_cfg) = (d("x.xyz"), d("out.log"), d("none.toml"));
    let (gone, out2, out3) = (d("gone.blf"), d("o2.log"), d("o3.log"));
    let chan = channel("codes");
    let c = chan.as_str();
    let known = "cannot tell the format";
    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        // a file name that names no format
        ("can-viewer", vec!["--file", &xyz], 2, known),
        ("can-convert", vec![&xyz, &out], 2, known),
        ("can-player", vec![&xyz], 2, known),
        ("can-logger", vec!["-d", "100ms", "-f", &xyz], 2, known),
        // a format name nobody knows
        (
            "can-viewer",
            vec!["--input-format", "xyz", "--file", &log],
            2,
            "'xyz'",
        ),
        (
            "can-convert",
            vec!["--output-format", "xyz", &log, &out],
            2,
            "'xyz'",
        ),
        (
            "can-player",
            vec!["--input-format", "xyz", &log],
            2,
            "'xyz'",
        ),
        (
            "can-logger",
            vec!["--format", "xyz", "-d", "100ms"],
            2,
            "'xyz'",
        ),
        // an interface nobody knows
        ("can-send", vec!["-i", "nosuch", "123#11"], 2, "'nosuch'"),
        (
            "can-logger",
            vec!["-i", "nosuch", "-d", "100ms"],
            2,
            "'nosuch'",
        ),
        (
            "can-viewer",
            vec!["-i", "nosuch", "-d", "100ms"],
            2,
            "'nosuch'",
        ),
        ("can-player", vec!["-i", "nosuch", &log], 2, "'nosuch'"),
        (
            "can-bridge",
            vec!["--from", "nosuch:a", "--to", "virtual:b", "-d", "100ms"],
            2,
            "'nosuch'",
        ),
        // a bad filter
        (
            "can-send",
            vec!["-c", c, "--filter", "123:zz", "123#11"],
            2,
            "bad filter",
        ),
        (
            "can-logger",
            vec!["-c", c, "--filter", "123:zz", "-d", "100ms"],
            2,
            "bad filter",
        ),
        (
            "can-viewer",
            vec!["-c", c, "--filter", "123:zz", "-d", "100ms"],
            2,
            "bad filter",
        ),
        (
            "can-viewer",
            vec!["--filter", "123:zz", "--file", &log],
            2,
            "bad filter",
        ),
        (
            "can-player",
            vec!["-c", c, "--filter", "123:zz", &log],
            2,
            "bad filter",
        ),
        (
            "can-convert",
            vec!["--filter", "123:zz", &log, &out],
            2,
            "bad filter",
        ),
        (
            "can-bridge",
            vec![
                "--from",
                "virtual:a",
                "--to",
                "virtual:b",
                "--filter",
                "123:zz",
                "-d",
                "100ms",
            ],
            2,
            "bad filter",
        ),
        // a bad --format-opt value
        (
            "can-convert",
            vec!["--format-opt", "digits=7", &log, &out3],
            2,
            "digits=7: expected 6 or 9",
        ),
        (
            "can-logger",
            vec![
                "-c",
                c,
                "--format-opt",
                "digits=7",
                "-d",
                "100ms",
                "-f",
                &out2,
            ],
            2,
            "digits",
        ),
        // a config file that is not there
        (
            "can-send",
            vec!["--config", &missing_cfg, "123#11"],
            3,
            "none.toml",
        ),
        (
            "can-logger",
            vec!["--config", &missing_cfg, "-d", "100ms"],
            3,
            "none.toml",
        ),
        (
            "can-viewer",
            vec!["--config", &missing_cfg, "-d", "100ms"],
            3,
            "none.toml",
        ),
        (
            "can-player",
            vec!["--config", &missing_cfg, &log],
            3,
            "none.toml",
        ),
        (
            "can-bridge",
            vec![
                "--config",
                &missing_cfg,
                "--from",
                "a",
                "--to",
                "b",
                "-d",
                "100ms",
            ],
            3,
            "none.toml",
        ),
        // an input that is not there
        ("can-viewer", vec!["--file", &gone], 4, "gone.blf"),
        ("can-convert", vec![&gone, &out], 4, "gone.blf"),
        ("can-player", vec![&gone], 4, "gone.blf"),
    ];
    for (name, args, code, needle) in cases {
        exits(name, &args, code, needle);
    }
    // none of these got as far as creating the output
    assert!(!Path::new(&out).exists());
}
