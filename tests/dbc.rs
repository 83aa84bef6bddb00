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

fn ours(dbc: &Dbc, frame: &cankit::Frame) -> Option<(String, Vec<(String, Value, f64)>)> {
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

#[test]
fn decoding_agrees_with_cantools() {
    let Some(dir) = common::fixtures() else {
        return;
    };
    let Some(py) = common::python() else { return };
    let ok = std::process::Command::new(&py)
        .args([
            "-c",
            "import cantools; assert cantools.__version__.startswith('45.')",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::missing("cantools 45 in the test venv (tests/setup.sh)");
        return;
    }
    let files = fixture_dbcs(&dir);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/dbc_oracle.py");
    let out = std::process::Command::new(&py)
        .arg(&script)
        .args(["--frames", "20"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();

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
        let id = cankit::Id::new(
            j["id"].as_u64().unwrap() as u32,
            j["extended"].as_bool().unwrap(),
        )
        .unwrap();
        let hex = j["data"].as_str().unwrap();
        let data: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let frame = if data.len() <= 8 {
            cankit::Frame::data(id, &data).unwrap()
        } else {
            cankit::Frame::fd(id, &data, Default::default()).unwrap()
        };
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
            let ok = match (v, w) {
                (Value::Label(l), serde_json::Value::String(s)) => l == s,
                (Value::Number(x), serde_json::Value::Number(n)) => {
                    let y = n.as_f64().unwrap();
                    // A millionth of the signal's resolution, and the
                    // rounding of a 64-bit integer to a double.
                    let tol = factor.abs() * 1e-6 + y.abs() * 4.0 * f64::EPSILON;
                    (x - y).abs() <= tol
                }
                _ => false,
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
