//! `can-convert` across every pair of formats, checked two ways: our readers
//! give back the source stream up to what each format can hold, and python-can
//! reads each of our files as it reads the same-format file its own writers made.
//! Also: random streams through every lossless writer/reader pair (plain and
//! gzip), and the tool's stdin/stdout, filter, time-window, clobbering and
//! damaged-input behaviour.
//!
//! What each format holds (the "projection" of a record written to it and read
//! back, [`project`]):
//!
//! | format | keeps | loses |
//! | --- | --- | --- |
//! | BLF | all, time to the ns | channel becomes a number: none is 1, `canK`/`vcanK` is K+1, other names as `format::ChannelNumbers` gives them |
//! | MF4 | all, time to the ns (f64 seconds from the start: exact for about 50 days) | channel numbered as in BLF |
//! | JSONL | all | nothing |
//! | rich CSV (`layout=rich`) | all | nothing |
//! | candump `.log` | frame, direction, time to the µs | channel becomes a name: number n is `can<n-1>`, none is `can0`; an error frame without a class becomes a bus error (`20000080#` + 8 bytes) |
//! | ASC | frame, direction, time to the µs | channel numbered as in BLF; error frames keep only time and channel (`Frame::error(0, [])`, Rx, not FD) |
//! | python-can CSV, SQLite | id, kind, dlc, data, time to the µs | channel (none), direction (Rx); FD only for frames over 8 bytes, without BRS/ESI |
//! | TRC | frame, direction, time to the µs | channel numbered as in BLF; FD remote/error frames become classic; error frames become PEAK's `ER` (class `0x208`, see [`trc_error`]) |

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use cankit::format::{self, WriterOptions};
use cankit::frame::{len_to_dlc, Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};
use proptest::prelude::*;
use serde_json::Value;

/// A way to write a file: its extension and `--format-opt`s.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Blf,
    Asc,
    Log,
    Csv,
    RichCsv,
    Db,
    Trc,
    Jsonl,
    Mf4,
}

const KINDS: [Kind; 9] = [
    Kind::Blf,
    Kind::Asc,
    Kind::Log,
    Kind::Csv,
    Kind::RichCsv,
    Kind::Db,
    Kind::Trc,
    Kind::Jsonl,
    Kind::Mf4,
];

impl Kind {
    fn file_name(self, stem: &str) -> String {
        let ext = match self {
            Kind::Blf => "blf",
            Kind::Asc => "asc",
            Kind::Log => "log",
            Kind::Csv => "csv",
            Kind::RichCsv => "rich.csv",
            Kind::Db => "db",
            Kind::Trc => "trc",
            Kind::Jsonl => "jsonl",
            Kind::Mf4 => "mf4",
        };
        format!("{stem}.{ext}")
    }

    fn format_opts(self) -> &'static [&'static str] {
        match self {
            Kind::RichCsv => &["--format-opt", "layout=rich"],
            _ => &[],
        }
    }

    fn writer_options(self) -> WriterOptions {
        let mut o = WriterOptions::default();
        if self == Kind::RichCsv {
            o.options.insert("layout".into(), "rich".into());
        }
        o
    }
}

/// The number a numbered format (BLF, ASC, TRC) gives a channel.
fn numbered(ch: &Channel) -> Channel {
    match ch {
        Channel::Number(n) => Channel::Number(*n),
        Channel::None => Channel::Number(1),
        Channel::Name(s) => {
            let k = s
                .strip_prefix("vcan")
                .or_else(|| s.strip_prefix("can"))
                .and_then(|d| d.parse::<u32>().ok())
                .unwrap_or_else(|| panic!("no number for channel name {s:?} in this test"));
            Channel::Number(k + 1)
        }
    }
}

fn micros(t: Timestamp) -> Timestamp {
    Timestamp(((t.as_nanos() as f64) / 1000.0).round() as i64 * 1000)
}

/// The error frame PEAK's `ER` line gives back for any error frame we write:
/// the protocol/counter class with the counters at zero.
fn trc_error() -> Frame {
    Frame::error(0x208, &[0; 8]).unwrap()
}

/// What reading back a record written in `kind` gives (see the module docs).
fn project(kind: Kind, r: &Record) -> Record {
    let mut r = r.clone();
    let f = r.frame;
    match kind {
        Kind::Jsonl | Kind::RichCsv => {}
        Kind::Blf | Kind::Mf4 => r.channel = numbered(&r.channel),
        Kind::Log => {
            r.timestamp = micros(r.timestamp);
            r.channel = match &r.channel {
                Channel::Name(s) => Channel::Name(s.clone()),
                Channel::Number(n) => Channel::name(&format!("can{}", n.saturating_sub(1))),
                Channel::None => Channel::name("can0"),
            };
            if f.is_error() && f.id().raw() == 0 {
                // no class: written as a bus error with 8 bytes
                let mut d = [0u8; 8];
                d[..f.len().min(8)].copy_from_slice(&f.data_bytes()[..f.len().min(8)]);
                r.frame = Frame::error(0x80, &d).unwrap();
            }
        }
        Kind::Asc => {
            r.timestamp = micros(r.timestamp);
            r.channel = numbered(&r.channel);
            if f.is_error() {
                r.frame = Frame::error(0, &[]).unwrap();
                r.direction = Direction::Rx;
            }
        }
        Kind::Csv | Kind::Db => {
            r.timestamp = micros(r.timestamp);
            r.channel = Channel::None;
            r.direction = Direction::Rx;
            r.frame = if f.is_data() && f.len() > 8 {
                Frame::fd(f.id(), f.data_bytes(), FdFlags::default()).unwrap()
            } else if f.is_data() && f.is_fd() {
                Frame::data(f.id(), f.data_bytes()).unwrap()
            } else if f.is_remote() {
                Frame::remote(f.id(), f.dlc()).unwrap()
            } else if f.is_error() {
                Frame::error_with_dlc(f.id().raw(), f.data_bytes(), f.dlc()).unwrap()
            } else {
                f
            };
        }
        Kind::Trc => {
            r.timestamp = micros(r.timestamp);
            r.channel = numbered(&r.channel);
            if f.is_remote() {
                r.frame = Frame::remote(f.id(), f.dlc()).unwrap();
            } else if f.is_error() {
                r.frame = trc_error();
            }
        }
    }
    r
}

fn read(path: &Path) -> (Vec<Record>, Vec<String>) {
    let mut r = format::open_reader(path, None)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut v = Vec::new();
    while let Some(x) = r
        .read()
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    {
        v.push(x);
    }
    (v, r.take_warnings())
}

/// Asserts two streams are equal, naming the first difference.
fn same(got: &[Record], want: &[Record], what: &str) {
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(a, b, "{what}: record {i}");
    }
    assert_eq!(got.len(), want.len(), "{what}: record count");
}

fn convert(args: &[&str]) -> Output {
    common::tools::tool("can-convert")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn can-convert")
}

fn convert_ok(args: &[&str]) {
    let o = convert(args);
    assert!(
        o.status.success(),
        "can-convert {args:?}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn corpus(fx: &Path) -> PathBuf {
    fx.join("generated/corpus-1k-s109.blf")
}

/// Converts `src` into `dst` written as `kind`.
fn convert_to(src: &Path, dst: &Path, kind: Kind) {
    let mut args = vec!["-q", "--no-progress"];
    args.extend_from_slice(kind.format_opts());
    args.extend_from_slice(&[s(src), s(dst)]);
    convert_ok(&args);
}

#[test]
fn every_format_into_every_other() {
    let Some(fx) = common::fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = read(&corpus(&fx));
    assert_eq!(source.len(), 1000);
    // first step: the corpus into every format
    let mut firsts = Vec::new();
    for kind in KINDS {
        let p = dir.path().join(kind.file_name("a"));
        convert_to(&corpus(&fx), &p, kind);
        let (got, warnings) = read(&p);
        assert!(warnings.is_empty(), "{kind:?}: {warnings:?}");
        let want: Vec<Record> = source.iter().map(|r| project(kind, r)).collect();
        same(&got, &want, &format!("BLF -> {kind:?}"));
        firsts.push((kind, p, got));
    }
    // second step: each of those into every other format
    for (from, p, recs) in &firsts {
        for to in KINDS {
            if to == *from {
                continue;
            }
            let q = dir.path().join(to.file_name(&format!("b-{from:?}")));
            convert_to(p, &q, to);
            let (got, _) = read(&q);
            let want: Vec<Record> = recs.iter().map(|r| project(to, r)).collect();
            same(&got, &want, &format!("BLF -> {from:?} -> {to:?}"));
            std::fs::remove_file(&q).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// python-can reads our files as it reads its own

fn python_lines(py: &Path, file: &Path, rel: bool) -> Vec<Value> {
    let args: &[&str] = if rel { &["--rel"] } else { &[] };
    lines(&common::python_can_reads(py, file, args))
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn expected(fx: &Path, ext: &str) -> Vec<Value> {
    lines(
        &std::fs::read_to_string(fx.join(format!("expected/corpus-1k-s109.{ext}.jsonl"))).unwrap(),
    )
}

fn same_values(got: &[Value], want: &[Value], what: &str) {
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert_eq!(a, b, "{what}: message {i}");
    }
    assert_eq!(got.len(), want.len(), "{what}: message count");
}

#[test]
fn python_can_reads_our_files_like_its_own() {
    let Some(fx) = common::fixtures() else { return };
    let Some(py) = common::python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (kind, ext) in [
        (Kind::Blf, "blf"),
        (Kind::Asc, "asc"),
        (Kind::Log, "log"),
        (Kind::Csv, "csv"),
        (Kind::Db, "db"),
        (Kind::Trc, "trc"),
    ] {
        let p = dir.path().join(kind.file_name("ours"));
        convert_to(&corpus(&fx), &p, kind);
        // python-can reads ASC times relative to the trigger block; its writer
        // starts the block at the first message, ours at that time cut to the ms
        let got = python_lines(&py, &p, kind == Kind::Asc);
        let what = format!("python-can reading our {ext}");
        match kind {
            Kind::Log => {
                // python-can's writer drops the DLC of remote frames (`#R`), (`#R4`), which python-can reads
                // ours keeps it (`#R4`), which python-can reads. python-can
                // takes a `2000xxxx#` line as an error frame only with the
                // bus-error bit 0x80, which its writer always sets; the BLF's
                // error frames have class 0, which our writer writes as that
                // bit (`20000080#0000000000000000`), so they come back as
                // error frames, as from python-can's own file.
                let mut want = expected(&fx, ext);
                let blf = expected(&fx, "blf");
                for (w, b) in want.iter_mut().zip(&blf) {
                    if w["rtr"] == true {
                        w["dlc"] = b["dlc"].clone();
                    }
                }
                same_values(&got, &want, &what);
            }
            Kind::Trc => {
                // python-can's TRC writer keeps only classic data frames (the
                // expected file), ours writes FD and remote frames too; its
                // reader drops error frames. Channels: its writer adds 1 to the
                // 0-based channel, so both files hold buses 1 and 2.
                let classic: Vec<Value> = got
                    .iter()
                    .filter(|v| v["fd"] == false && v["rtr"] == false)
                    .cloned()
                    .collect();
                same_values(&classic, &expected(&fx, ext), &what);
                let mut want = expected(&fx, "blf");
                want.retain(|v| v["err"] == false);
                // its reader gives an FD frame's DLC code (the `L` column) as
                // Message.dlc, where the other readers give the byte count
                for w in &mut want {
                    w["ch"] = Value::from(w["ch"].as_i64().unwrap() + 1);
                    if w["fd"] == true {
                        let len = w["dlc"].as_u64().unwrap() as usize;
                        w["dlc"] = Value::from(len_to_dlc(len).unwrap());
                    }
                }
                same_values(&got, &want, &format!("{what}, every frame"));
            }
            _ => same_values(&got, &expected(&fx, ext), &what),
        }
    }
}

// ---------------------------------------------------------------------------
// random streams through every lossless writer/reader pair

fn arb_id() -> impl Strategy<Value = Id> {
    prop_oneof![
        (0u32..=0x7FF).prop_map(|v| Id::Standard(v as u16)),
        (0u32..=0x1FFF_FFFF).prop_map(Id::Extended),
    ]
}

/// Frames of every kind; `fd_odd` adds the FD remote and error frames that
/// Vector logs hold.
fn arb_frame(fd_odd: bool) -> BoxedStrategy<Frame> {
    let fd_len = prop::sample::select(vec![0usize, 1, 5, 8, 12, 16, 20, 24, 32, 48, 64]);
    let flags = (any::<bool>(), any::<bool>()).prop_map(|(brs, esi)| FdFlags { brs, esi });
    let common = prop_oneof![
        (arb_id(), prop::collection::vec(any::<u8>(), 0..=8))
            .prop_map(|(id, d)| Frame::data(id, &d).unwrap()),
        (arb_id(), prop::collection::vec(any::<u8>(), 8), 9u8..=15)
            .prop_map(|(id, d, dlc)| Frame::data_with_dlc(id, &d, dlc).unwrap()),
        (arb_id(), 0u8..=8).prop_map(|(id, dlc)| Frame::remote(id, dlc).unwrap()),
        (
            arb_id(),
            fd_len,
            flags.clone(),
            prop::collection::vec(any::<u8>(), 64)
        )
            .prop_map(|(id, n, fl, d)| Frame::fd(id, &d[..n], fl).unwrap()),
        (
            0u32..=0x1FFF_FFFF,
            prop::collection::vec(any::<u8>(), 0..=8)
        )
            .prop_map(|(c, d)| Frame::error(c, &d).unwrap()),
    ];
    if fd_odd {
        prop_oneof![
            4 => common,
            1 => (arb_id(), 0u8..=15, flags.clone())
                .prop_map(|(id, dlc, fl)| Frame::remote(id, dlc).unwrap().with_fd_flags(fl)),
            1 => (0u32..=0x1FFF_FFFF, prop::collection::vec(any::<u8>(), 0..=8), flags)
                .prop_map(|(c, d, fl)| Frame::error(c, &d).unwrap().with_fd_flags(fl)),
        ]
        .boxed()
    } else {
        common.boxed()
    }
}

/// A lossless pair: how it is named and what channels it holds.
#[derive(Clone, Copy, Debug)]
enum Pair {
    Blf,
    Jsonl,
    RichCsv,
    Log,
    Asc,
}

impl Pair {
    fn kind(self) -> Kind {
        match self {
            Pair::Blf => Kind::Blf,
            Pair::Jsonl => Kind::Jsonl,
            Pair::RichCsv => Kind::RichCsv,
            Pair::Log => Kind::Log,
            Pair::Asc => Kind::Asc,
        }
    }

    /// A channel this format stores as it is.
    fn channel(self, n: u32, named: bool) -> Channel {
        match self {
            Pair::Blf | Pair::Asc => Channel::Number(n % 16 + 1),
            Pair::Log => Channel::name(&format!("can{}", n % 16)),
            Pair::Jsonl | Pair::RichCsv => match (n % 3, named) {
                (0, _) => Channel::None,
                (_, true) => Channel::name(&format!("vcan{n}")),
                _ => Channel::Number(n),
            },
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_streams_round_trip_through_lossless_pairs(
        pair in prop::sample::select(vec![Pair::Blf, Pair::Jsonl, Pair::RichCsv, Pair::Log, Pair::Asc]),
        gz in any::<bool>(),
        t0_us in 1_500_000_000_000_000i64..1_800_000_000_000_000,
        sub_us in any::<bool>(),
        items in prop::collection::vec(
            (arb_frame(true), 0u32..40, any::<bool>(), any::<bool>(), 0i64..3_000_000_000, 0i64..1000),
            1..150,
        ),
    ) {
        let kind = pair.kind();
        // µs formats get whole microseconds; the others any nanosecond
        let ns_ok = matches!(pair, Pair::Blf | Pair::Jsonl | Pair::RichCsv);
        let mut t = t0_us * 1000;
        let recs: Vec<Record> = items
            .into_iter()
            .map(|(frame, ch, named, tx, dt, ns)| {
                t += if ns_ok && sub_us { dt + ns } else { dt / 1000 * 1000 };
                let fd_odd = frame.is_fd() && !frame.is_data();
                let frame = if fd_odd && matches!(pair, Pair::Log) {
                    // candump has no FD remote or error frame: classic ones instead
                    if frame.is_remote() {
                        Frame::remote(frame.id(), frame.dlc().min(8)).unwrap()
                    } else {
                        Frame::error(frame.id().raw(), frame.data_bytes()).unwrap()
                    }
                } else {
                    frame
                };
                Record {
                    timestamp: Timestamp(t),
                    channel: pair.channel(ch, named),
                    direction: if tx { Direction::Tx } else { Direction::Rx },
                    frame,
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let mut name = kind.file_name("r");
        if gz {
            name.push_str(".gz");
        }
        let p = dir.path().join(name);
        let mut w = format::create_writer(&p, None, &kind.writer_options()).unwrap();
        for r in &recs {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
        drop(w);
        let (got, warnings) = read(&p);
        let want: Vec<Record> = recs.iter().map(|r| project(kind, r)).collect();
        prop_assert!(warnings.is_empty(), "{:?}", warnings);
        prop_assert_eq!(got.len(), want.len());
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            prop_assert_eq!(a, b, "record {}", i);
        }
    }
}

// ---------------------------------------------------------------------------
// the tool's options

/// Runs can-convert with `input` on stdin, returning its output.
fn convert_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = common::tools::tool("can-convert")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn can-convert");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

#[test]
fn stdin_to_stdout_with_named_formats() {
    let Some(fx) = common::fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = read(&corpus(&fx));
    let blf = std::fs::read(corpus(&fx)).unwrap();
    for (kind, name) in [
        (Kind::Asc, "asc"),
        (Kind::Log, "log"),
        (Kind::Jsonl, "jsonl"),
        (Kind::Blf, "blf"),
    ] {
        let o = convert_stdin(
            &[
                "-q",
                "--input-format",
                "blf",
                "--output-format",
                name,
                "-",
                "-",
            ],
            &blf,
        );
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let p = dir.path().join(kind.file_name("stdout"));
        std::fs::write(&p, &o.stdout).unwrap();
        let (got, _) = read(&p);
        let want: Vec<Record> = source.iter().map(|r| project(kind, r)).collect();
        same(&got, &want, &format!("stdin BLF -> stdout {name}"));
    }
    // and back: a text format on stdin into a file
    let log = dir.path().join(Kind::Log.file_name("stdout"));
    let back = dir.path().join("back.blf");
    let o = convert_stdin(
        &["-q", "--input-format", "candump", "-", s(&back)],
        &std::fs::read(&log).unwrap(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<Record> = source
        .iter()
        .map(|r| project(Kind::Blf, &project(Kind::Log, r)))
        .collect();
    same(&read(&back).0, &want, "stdin .log -> BLF");
    // without a format name, stdin/stdout is a usage error
    let o = convert_stdin(&["-", "-"], b"");
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn filters_and_time_window() {
    let Some(fx) = common::fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = read(&corpus(&fx));
    let out = dir.path().join("f.jsonl");

    // an 11-bit pass filter: standard ids 0x100-0x1FF; error frames always pass
    convert_ok(&["-q", "--filter", "100:700", s(&corpus(&fx)), s(&out)]);
    let want: Vec<Record> = source
        .iter()
        .filter(|r| {
            r.frame.is_error()
                || matches!(r.frame.id(), Id::Standard(v) if (0x100..0x200).contains(&v))
        })
        .cloned()
        .collect();
    assert!(want.len() > 20 && want.len() < 500, "{}", want.len());
    same(&read(&out).0, &want, "--filter 100:700");

    // a 29-bit reject filter on the PGN byte plus a pass-all
    convert_ok(&[
        "-q",
        "--force",
        "--filter",
        "00000000:00000000,00000000~0000FF00",
        s(&corpus(&fx)),
        s(&out),
    ]);
    let want: Vec<Record> = source
        .iter()
        .filter(|r| {
            r.frame.is_error()
                || !matches!(r.frame.id(), Id::Extended(v) if v & 0xFF00 == 0)
                    && r.frame.id().is_extended()
        })
        .cloned()
        .collect();
    let n_ext = source
        .iter()
        .filter(|r| r.frame.id().is_extended() && !r.frame.is_error())
        .count();
    assert!(n_ext > 100, "{n_ext}");
    same(&read(&out).0, &want, "--filter ext pass, PGN reject");

    // a relative window: [0.1 s, 0.3 s) after the first frame (the corpus
    // spans half a second)
    let t0 = source[0].timestamp.as_nanos();
    convert_ok(&[
        "-q",
        "--force",
        "--start",
        "0.1",
        "--end",
        "0.3",
        s(&corpus(&fx)),
        s(&out),
    ]);
    let want: Vec<Record> = source
        .iter()
        .filter(|r| {
            let t = r.timestamp.as_nanos() - t0;
            (100_000_000..300_000_000).contains(&t)
        })
        .cloned()
        .collect();
    assert!(want.len() > 100 && want.len() < 900, "{}", want.len());
    same(&read(&out).0, &want, "--start 0.1 --end 0.3");

    // an absolute window, combined with a filter
    convert_ok(&[
        "-q",
        "--force",
        "--start",
        "2023-11-14T22:13:20.25Z",
        "--filter",
        "100:700",
        s(&corpus(&fx)),
        s(&out),
    ]);
    let want: Vec<Record> = source
        .iter()
        .filter(|r| r.timestamp.as_nanos() >= 1_700_000_000_250_000_000)
        .filter(|r| {
            r.frame.is_error()
                || matches!(r.frame.id(), Id::Standard(v) if (0x100..0x200).contains(&v))
        })
        .cloned()
        .collect();
    assert!(!want.is_empty());
    same(&read(&out).0, &want, "absolute --start with --filter");

    // bad values: usage errors (exit 2) naming the value, no output file
    let src = corpus(&fx);
    for (bad, code) in [
        (&["--start", "-1"][..], 2),
        (&["--end", "yesterday"], 2),
        (&["--filter", "12345:7FF"], 2),
    ] {
        let mut args = bad.to_vec();
        let q = dir.path().join("bad.jsonl");
        args.extend_from_slice(&[s(&src), s(&q)]);
        let o = convert(&args);
        assert_eq!(o.status.code(), Some(code), "{bad:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(bad[1]), "{bad:?}: {err}");
        assert!(!q.exists(), "{bad:?} left an output file");
    }
}

#[test]
fn existing_output_needs_force() {
    let Some(fx) = common::fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    // a streamed text file, a seekable BLF and a SQLite database: one policy
    for name in ["x.asc", "x.blf", "x.db"] {
        let out = dir.path().join(name);
        std::fs::write(&out, b"precious\n").unwrap();
        let o = convert(&[s(&corpus(&fx)), s(&out)]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        let want = format!(
            "{} already exists (use --force to overwrite or --append to add to it): ",
            out.display()
        );
        assert!(err.contains(&want), "{name}: {err}");
        assert_eq!(std::fs::read(&out).unwrap(), b"precious\n", "{name}");
        convert_ok(&["-q", "--force", s(&corpus(&fx)), s(&out)]);
        assert_eq!(read(&out).0.len(), 1000, "{name}");
    }
    let out = dir.path().join("x.asc");
    // the input itself is never the output
    let o = convert(&["--force", s(&out), s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(read(&out).0.len(), 1000);
}

/// BLF, ASC and TRC store channel numbers: a candump log's names get the same
/// numbers in all three (`format::ChannelNumbers`): `canK`/`vcanK` is K+1,
/// other names the lowest number no earlier name has.
#[test]
fn channel_names_get_the_same_numbers_in_blf_asc_and_trc() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("names.log");
    let names = ["foo", "bar", "vcan3", "foo", "bar", "vcan3"];
    let text: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("(1700000000.{i:06}) {n} 123#0{i} R\n"))
        .collect();
    std::fs::write(&src, text).unwrap();
    for ext in ["blf", "asc", "trc"] {
        let out = dir.path().join(format!("names.{ext}"));
        convert_ok(&["-q", s(&src), s(&out)]);
        let (recs, warnings) = read(&out);
        assert!(warnings.is_empty(), "{ext}: {warnings:?}");
        let got: Vec<Channel> = recs.into_iter().map(|r| r.channel).collect();
        let want = [1, 2, 4, 1, 2, 4].map(Channel::Number);
        assert_eq!(got, want, "{ext}: channels foo, bar, vcan3 twice");
    }
}

#[test]
fn truncated_blf_converts_what_is_intact() {
    let Some(fx) = common::fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = fx.join("generated/corpus-1k-s109-4k-containers.blf");
    let (source, _) = read(&src);
    let bytes = std::fs::read(&src).unwrap();

    // a cut-off tail: a warning, exit 0, every frame before the cut
    let cut = dir.path().join("cut.blf");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out = dir.path().join("cut.log");
    let o = convert(&[s(&cut), s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("cut.blf"), "no warning naming the file: {err}");
    let (got, _) = read(&out);
    assert!(got.len() > 500 && got.len() < 1000, "{}", got.len());
    let want: Vec<Record> = source[..got.len()]
        .iter()
        .map(|r| project(Kind::Log, r))
        .collect();
    same(&got, &want, "truncated BLF -> .log");
    // -q keeps the warning out
    let o = convert(&["-q", "--force", s(&cut), s(&out)]);
    assert!(o.status.success() && o.stderr.is_empty());

    // a damaged container in the middle: exit 1, the output finished with the
    // frames before the damage
    let mut bad = bytes.clone();
    let at = bytes.len() / 2;
    let lobj = (0..at)
        .rev()
        .find(|&i| &bytes[i..i + 4] == b"LOBJ")
        .unwrap();
    for x in &mut bad[lobj + 40..lobj + 48] {
        *x ^= 0x5A;
    }
    let badp = dir.path().join("bad.blf");
    std::fs::write(&badp, &bad).unwrap();
    let out = dir.path().join("bad.blf.out.blf");
    let o = convert(&[s(&badp), s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("bad.blf") && err.contains("written"), "{err}");
    let (got, warnings) = read(&out);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(got.len() > 100 && got.len() < 1000, "{}", got.len());
    same(&got, &source[..got.len()], "damaged BLF -> BLF");
}
