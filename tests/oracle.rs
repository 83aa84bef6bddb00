//! `tests/tools/pycan_dump.py`, the python-can oracle that the interop tests
//! run on the files we write, prints what `tests/fixtures/expected/` holds for
//! the fixtures, byte for byte. The check covers one or more fixtures of each
//! source and format, and its `--rel`/`--tdigits` options.

mod common;

use std::path::Path;

use serde_json::Value;

/// Fixtures (relative to `tests/fixtures/`) of every source and format.
const SAMPLE: &[&str] = &[
    "python-can/logfile.asc",
    "python-can/test_CanMessage.asc.gz",
    "python-can/issue_1905.blf",
    "python-can/test_CanFdMessage64.blf",
    "python-can/test_CanMessage_V1_0_BUS1.trc",
    "python-can/test_CanMessage_V2_1.trc",
    "generated/corpus-1k-s109.log",
    "generated/corpus-1k-s109.csv",
    "generated/corpus-1k-s109.db",
    "vector_blf/events_from_converter/test_CanMessage.blf",
    "vector_blf/events_from_binlog/test_LinMessage.blf",
    "vector_asc/data/EngineDiagData.asc",
    "CANBUSlogs/cmu04.trc",
    "CANBUSlogs/only4a0stabsstockecu.log",
];

/// `expected/<file name>.jsonl` for python-can/ and generated/, else
/// `expected/<path>.jsonl` (tests/fixtures/README.md).
fn expected(fx: &Path, rel: &str) -> String {
    let name = match rel.split_once('/') {
        Some(("python-can" | "generated", file)) => file,
        _ => rel,
    };
    let path = fx.join("expected").join(format!("{name}.jsonl"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn pycan_dump_prints_the_expected_files() {
    let Some(fx) = common::fixtures() else { return };
    let Some(py) = common::python() else { return };
    let mut lines = 0;
    for rel in SAMPLE {
        let want = expected(&fx, rel);
        let got = common::python_can_reads(&py, &fx.join(rel), &[]);
        if got != want {
            let at = got
                .lines()
                .zip(want.lines())
                .position(|(g, w)| g != w)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            panic!(
                "{rel}: pycan_dump.py differs from expected/ at line {}:\n got  {:?}\n want {:?}",
                at + 1,
                got.lines().nth(at),
                want.lines().nth(at)
            );
        }
        lines += got.lines().count();
    }
    assert!(lines > 3000, "the sample holds only {lines} messages");
    println!("{} fixtures, {lines} messages: identical", SAMPLE.len());
}

/// The text of `"t"` in a line and the line without it, parsed.
fn split_t(line: &str) -> (String, Value) {
    let mut v: Value = serde_json::from_str(line).unwrap();
    let t = v.as_object_mut().unwrap().remove("t").expect("a t field");
    (t.to_string(), v)
}

#[test]
fn pycan_dump_rel_and_tdigits() {
    let Some(fx) = common::fixtures() else { return };
    let Some(py) = common::python() else { return };
    // absolute epoch times in the expected file
    let rel = "generated/corpus-1k-s109.blf";
    let want = expected(&fx, rel);
    let got = common::python_can_reads(&py, &fx.join(rel), &["--rel", "--tdigits", "3"]);
    assert_eq!(got.lines().count(), want.lines().count());
    let mut t0 = None;
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        let (gt, gv) = split_t(g);
        let (wt, wv) = split_t(w);
        assert_eq!(gv, wv, "line {}: fields other than t", i + 1);
        let decimals = gt.split_once('.').map(|(_, d)| d.len());
        assert_eq!(decimals, Some(3), "line {}: t {gt}", i + 1);
        let wt: f64 = wt.parse().unwrap();
        let t0 = *t0.get_or_insert(wt);
        let gt: f64 = gt.parse().unwrap();
        assert!(
            (gt - (wt - t0)).abs() < 0.0006,
            "line {}: t {gt}, expected {} - {t0}",
            i + 1,
            wt
        );
    }
    assert!(got.starts_with("{\"t\": 0.000, "), "{}", &got[..40]);
}
