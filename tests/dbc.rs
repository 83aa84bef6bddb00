//! DBC decoding: every fixture DBC parses (or is refused with its file and
//! line), and decoded values agree with cantools 45 on frames cantools encoded
//! from random signal values.

mod common;

use std::path::{Path, PathBuf};

use cankit::dbc::Dbc;

/// Every `.dbc` under the fixture folder, sorted.
fn fixture_dbcs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("dbc")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "dbc") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_fixture_dbc_parses() {
    let Some(dir) = common::fixtures() else {
        return;
    };
    let files = fixture_dbcs(&dir);
    assert_eq!(files.len(), 59, "the fixture folder holds 59 DBC files");
    let (mut ok, mut messages, mut signals) = (0, 0, 0);
    let mut refused = Vec::new();
    for f in &files {
        match Dbc::open(f) {
            Ok(d) => {
                ok += 1;
                messages += d.messages().len();
                signals += d.messages().iter().map(|m| m.signals.len()).sum::<usize>();
            }
            Err(e) => refused.push(e.to_string()),
        }
    }
    eprintln!("{ok} files parsed ({messages} messages, {signals} signals); refused: {refused:#?}");
    for e in &refused {
        assert!(e.contains(": line "), "an error names the line: {e}");
    }
}

/// What a frame's signals decode to: the value-table name or the number.
#[derive(Debug)]
enum Value {
    Label(String),
    Number(f64),
}

/// Each decoded signal: name, value, factor.
type Signals = Vec<(String, Value, f64)>;

fn ours(dbc: &Dbc, frame: &cankit::Frame) -> Option<(String, Signals)> {
    let m = dbc.message_for(frame)?;
    let mut out = Vec::new();
    m.decode(frame.data_bytes(), &mut out);
    let values = out
        .iter()
        .map(|d| {
            let s = &m.signals[d.signal];
            let v = match s.label_of(d) {
                Some(l) => Value::Label(l.to_string()),
                None => Value::Number(d.value),
            };
            (s.name.clone(), v, s.factor)
        })
        .collect();
    Some((m.name.clone(), values))
}

/// cantools' output for every fixture DBC (tests/tools/dbc_oracle.py), or
/// None (skipped) without cantools 45.
fn cantools_oracle(frames: u32) -> Option<(Vec<PathBuf>, String)> {
    let dir = common::fixtures()?;
    let py = common::python()?;
    let ok = std::process::Command::new(&py)
        .args([
            "-c",
            "import cantools; assert cantools.__version__.startswith('45.')",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::missing("cantools 45 in the test venv (tests/setup.sh)");
        return None;
    }
    let files = fixture_dbcs(&dir);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/dbc_oracle.py");
    let out = std::process::Command::new(&py)
        .arg(&script)
        .args(["--frames", &frames.to_string()])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((files, String::from_utf8(out.stdout).unwrap()))
}

fn frame_of(j: &serde_json::Value) -> cankit::Frame {
    let id = cankit::Id::new(
        j["id"].as_u64().unwrap() as u32,
        j["extended"].as_bool().unwrap(),
    )
    .unwrap();
    let hex = j["data"].as_str().unwrap();
    let data: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    if data.len() <= 8 {
        cankit::Frame::data(id, &data).unwrap()
    } else {
        cankit::Frame::fd(id, &data, Default::default()).unwrap()
    }
}

/// A value as cantools gives it, against ours: the same label, or numbers
/// within a millionth of the signal's resolution (and the rounding of a
/// 64-bit integer to a double).
fn same_value(ours: &serde_json::Value, theirs: &serde_json::Value, factor: f64) -> bool {
    match (ours, theirs) {
        (serde_json::Value::String(a), serde_json::Value::String(b)) => a == b,
        (serde_json::Value::Number(a), serde_json::Value::Number(b)) => {
            let (x, y) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            (x - y).abs() <= factor.abs() * 1e-6 + y.abs() * 4.0 * f64::EPSILON
        }
        _ => false,
    }
}

#[test]
fn decoding_agrees_with_cantools() {
    let Some((_files, text)) = cantools_oracle(20) else {
        return;
    };

    let mut dbcs = std::collections::HashMap::<String, Option<Dbc>>::new();
    let mut refused_by_cantools = std::collections::HashSet::new();
    let (mut frames, mut values) = (0usize, 0usize);
    let mut files_done = std::collections::BTreeSet::new();
    let mut messages = std::collections::BTreeSet::new();
    let mut signals = std::collections::BTreeSet::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for line in text.lines() {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = j["file"].as_str().unwrap().to_string();
        if let Some(why) = j["refused"].as_str() {
            eprintln!(
                "cantools refuses {file}: {why} (lenient read: {})",
                j["lenient"]
            );
            refused_by_cantools.insert(file);
            continue;
        }
        if let Some(why) = j["skipped"].as_str() {
            skipped.push(format!("{file} {}: {why}", j["message"]));
            continue;
        }
        let dbc = dbcs
            .entry(file.clone())
            .or_insert_with(|| Dbc::open(Path::new(&file)).ok());
        let Some(dbc) = dbc else {
            // We refuse a file cantools reads only without its checks.
            assert!(
                refused_by_cantools.contains(&file),
                "we refuse {file}, which cantools reads"
            );
            continue;
        };
        let frame = frame_of(&j);
        let want_msg = j["message"].as_str().unwrap();
        let Some((name, got)) = ours(dbc, &frame) else {
            failures.push(format!("{file} {want_msg}: no message for {frame}"));
            continue;
        };
        if name != want_msg {
            failures.push(format!(
                "{file}: {frame} is {name} for us, {want_msg} for cantools"
            ));
            continue;
        }
        frames += 1;
        files_done.insert(file.clone());
        messages.insert((file.clone(), name.clone()));
        let want = j["signals"].as_object().unwrap();
        let mut got_names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        let mut want_names: Vec<&str> = want.keys().map(String::as_str).collect();
        got_names.sort();
        want_names.sort();
        if got_names != want_names {
            failures.push(format!(
                "{file} {name} {frame}: signals {got_names:?}, cantools {want_names:?}"
            ));
            continue;
        }
        for (sig, v, factor) in &got {
            let w = &want[sig.as_str()];
            let ok = match v {
                Value::Label(l) => same_value(&serde_json::json!(l), w, *factor),
                Value::Number(x) => serde_json::Number::from_f64(*x)
                    .is_some_and(|n| same_value(&serde_json::Value::Number(n), w, *factor)),
            };
            values += 1;
            signals.insert((file.clone(), name.clone(), sig.clone()));
            if !ok {
                failures.push(format!(
                    "{file} {name} {frame} {sig}: ours {v:?}, cantools {w}"
                ));
            }
        }
    }
    eprintln!(
        "compared with cantools: {} files, {} messages, {} signals, {frames} frames, {values} values; \
         {} files refused by cantools' checks; {} messages not compared:\n  {}",
        files_done.len(),
        messages.len(),
        signals.len(),
        refused_by_cantools.len(),
        skipped.len(),
        skipped.join("\n  ")
    );
    assert!(
        failures.is_empty(),
        "{} differences, the first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    assert!(
        files_done.len() >= 45 && values > 25_000,
        "too little compared"
    );
}

/// The same frames through the tool: a candump log per DBC, decoded by
/// `can-convert --dbc F --decode` to JSON Lines, compared line by line.
#[test]
fn can_convert_decode_agrees_with_cantools() {
    let Some((_files, text)) = cantools_oracle(5) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut by_file: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
        Default::default();
    for line in text.lines() {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        if j.get("data").is_some() {
            by_file
                .entry(j["file"].as_str().unwrap().to_string())
                .or_default()
                .push(j);
        }
    }
    let (mut files, mut values) = (0, 0);
    for (k, (file, frames)) in by_file.iter().enumerate() {
        let Ok(dbc) = Dbc::open(Path::new(file)) else {
            continue;
        };
        let log = dir.path().join(format!("{k}.log"));
        let mut body = String::new();
        for (i, j) in frames.iter().enumerate() {
            body += &format!("({}.000000) can0 {}\n", 1_700_000_000 + i, frame_of(j));
        }
        std::fs::write(&log, body).unwrap();
        let out = dir.path().join(format!("{k}.jsonl"));
        let o = common::tools::run(
            common::tools::tool("can-convert")
                .arg("--dbc")
                .arg(file)
                .arg("--decode")
                .arg(&log)
                .arg(&out),
        );
        assert!(
            o.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let got = std::fs::read_to_string(&out).unwrap();
        let got: Vec<serde_json::Value> = got
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(got.len(), frames.len(), "{file}: one line per frame");
        for (g, w) in got.iter().zip(frames) {
            assert_eq!(g["message"], w["message"], "{file}");
            assert_eq!(g["id"], w["id"], "{file}");
            let m = dbc.message_for(&frame_of(w)).unwrap();
            let (gs, ws) = (
                g["signals"].as_object().unwrap(),
                w["signals"].as_object().unwrap(),
            );
            assert_eq!(
                gs.keys().collect::<std::collections::BTreeSet<_>>(),
                ws.keys().collect::<std::collections::BTreeSet<_>>(),
                "{file} {}",
                w["message"]
            );
            for (name, v) in gs {
                let factor = m.signals[m.signal_index(name).unwrap()].factor;
                assert!(
                    same_value(v, &ws[name], factor),
                    "{file} {} {name}: can-convert {v}, cantools {}",
                    w["message"],
                    ws[name]
                );
                values += 1;
            }
        }
        files += 1;
    }
    eprintln!("can-convert --decode agrees with cantools: {files} files, {values} values");
    assert!(files >= 45);
}

fn convert(args: &[&str]) -> std::process::Output {
    common::tools::run(common::tools::tool("can-convert").args(args))
}

#[test]
fn can_convert_decode_forms_and_refusals() {
    let Some(fx) = common::fixtures() else { return };
    let dbc = fx.join("dbc/cantools/motohawk.dbc");
    let dbc = dbc.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("in.log");
    std::fs::write(
        &log,
        "(1700000000.000000) can0 1F0#A5E0000000000000\n\
         (1700000000.001000) can0 123#00\n\
         (1700000000.002000) can1 1F0#0100000000000000\n\
         (1700000000.003000) can1 123#01\n",
    )
    .unwrap();
    let log = log.to_str().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();

    let o = convert(&["--dbc", dbc, "--decode", log, &p("a.jsonl")]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 frame(s) matched no DBC message") && err.contains("123 (2)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(p("a.jsonl")).unwrap(),
        "{\"timestamp\":1700000000.000000000,\"channel\":\"can0\",\"id\":496,\"message\":\"ExampleMessage\",\"signals\":{\"Temperature\":247.44,\"AverageRadius\":1.8,\"Enable\":\"Enabled\"}}\n\
         {\"timestamp\":1700000000.002000000,\"channel\":\"can1\",\"id\":496,\"message\":\"ExampleMessage\",\"signals\":{\"Temperature\":229.52,\"AverageRadius\":0,\"Enable\":\"Disabled\"}}\n"
    );
    assert!(convert(&["--dbc", dbc, "--decode", log, &p("l.csv")])
        .status
        .success());
    assert_eq!(
        std::fs::read_to_string(p("l.csv")).unwrap(),
        "timestamp,channel,id,message,signal,value,unit\n\
         1700000000.000000000,can0,496,ExampleMessage,Temperature,247.44,degK\n\
         1700000000.000000000,can0,496,ExampleMessage,AverageRadius,1.8,m\n\
         1700000000.000000000,can0,496,ExampleMessage,Enable,Enabled,-\n\
         1700000000.002000000,can1,496,ExampleMessage,Temperature,229.52,degK\n\
         1700000000.002000000,can1,496,ExampleMessage,AverageRadius,0,m\n\
         1700000000.002000000,can1,496,ExampleMessage,Enable,Disabled,-\n"
    );
    let o = convert(&[
        "--dbc",
        dbc,
        "--decode",
        "--format-opt",
        "layout=wide",
        log,
        &p("w.csv"),
    ]);
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_to_string(p("w.csv")).unwrap(),
        "timestamp,channel,id,message,ExampleMessage.Temperature,ExampleMessage.AverageRadius,ExampleMessage.Enable\n\
         1700000000.000000000,can0,496,ExampleMessage,247.44,1.8,Enabled\n\
         1700000000.002000000,can1,496,ExampleMessage,229.52,0,Disabled\n"
    );
    let bad = dir.path().join("bad.dbc");
    std::fs::write(
        &bad,
        "BO_ 1 X: 8 Y\n SG_ a : 0|8@1+ (1,0) [0|0] \"\" X\n SG_ b 0|8\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    for (args, code, says) in [
        (
            vec!["--decode", log, &p("x.jsonl")],
            2,
            "--decode needs a DBC file",
        ),
        (
            vec!["--dbc", dbc, log, &p("x.jsonl")],
            2,
            "is used with --decode",
        ),
        (
            vec!["--dbc", dbc, "--decode", log, &p("x.blf")],
            2,
            "JSON Lines (.jsonl) or CSV",
        ),
        (
            vec![
                "--dbc",
                dbc,
                "--decode",
                "--format-opt",
                "layout=tall",
                log,
                &p("x.csv"),
            ],
            2,
            "layout=tall",
        ),
        (
            vec!["--dbc", bad, "--decode", log, &p("x.jsonl")],
            1,
            "bad.dbc: line 3: SG_",
        ),
        (
            vec!["--dbc", "/nonexistent.dbc", "--decode", log, &p("x.jsonl")],
            4,
            "/nonexistent.dbc",
        ),
    ] {
        let o = convert(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(
            err.starts_with("can-convert: error: ") && err.contains(says),
            "{err}"
        );
    }
}

#[test]
fn garbage_dbc_is_an_error_not_a_panic() {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for n in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let bytes: Vec<u8> = (0..(seed % 300))
            .map(|i| (seed.rotate_left(i as u32 % 64) >> 3) as u8)
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = Dbc::parse(&text, "garbage.dbc") {
            assert!(e.to_string().starts_with("garbage.dbc: line "), "{n}: {e}");
        }
    }
}

#[test]
fn can_logger_prints_decoded_lines_on_stdout() {
    let Some(fx) = common::fixtures() else { return };
    let dbc = fx.join("dbc/cantools/motohawk.dbc");
    let chan = common::tools::channel("dbclog");
    let logger = common::tools::tool("can-logger")
        .args(["-c", &chan, "-n", "2", "-d", "30s", "--dbc"])
        .arg(&dbc)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::tools::wait_for_peers(&chan, 1);
    let s = common::tools::run(common::tools::tool("can-send").args([
        "-c",
        &chan,
        "1F0#A5E0000000000000",
        "123#00",
    ]));
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let o = logger.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].ends_with(&format!(" {chan} 1F0#A5E0000000000000 R")),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "  ExampleMessage: Temperature=247.44 degK, AverageRadius=1.8 m, Enable=Enabled (1)"
    );
    assert!(lines[2].ends_with(&format!(" {chan} 123#00 R")), "{out}");

    // Decoding is for stdout: with a file, one line says where to go.
    let dir = tempfile::tempdir().unwrap();
    let o = common::tools::run(
        common::tools::tool("can-logger")
            .args(["-c", &chan, "-d", "1s", "--dbc"])
            .arg(&dbc)
            .arg("-f")
            .arg(dir.path().join("x.log")),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("can-convert --dbc FILE --decode") && err.lines().count() == 1,
        "{err}"
    );
}
