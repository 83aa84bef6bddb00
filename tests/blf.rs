//! BLF reader and writer against python-can's expected output, Vector's test
//! files, python-can itself, damaged files and random round trips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cankit::error::{Error, Position};
use cankit::format::{self, Format, WriterOptions};
use cankit::frame::{dlc_to_len, Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};
use proptest::prelude::*;
use serde_json::Value;

fn read_all(path: &Path) -> (Result<Vec<Record>, Error>, Vec<String>) {
    common::read_with_warnings(path, Format::Blf)
}

fn read_ok(path: &Path) -> Vec<Record> {
    common::read_ok_as(path, Format::Blf)
}

use common::assert_same_records as same;

fn blf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            blf_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "blf") {
            out.push(p);
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decimal seconds text with up to 6 decimals as microseconds.
fn micros(t: &str) -> i64 {
    let (i, f) = t.split_once('.').unwrap_or((t, ""));
    let mut us: i64 = i.parse::<i64>().expect("seconds") * 1_000_000;
    let f = format!("{f:0<6}");
    us += f[..6].parse::<i64>().expect("fraction");
    us
}

/// Compares one of our records with one python-can line, as python-can defines
/// the fields (FD dlc = bytes; classic dlc = raw, which we clamp to 15), with our
/// documented differences: channel + 1, an 11-bit-flagged id above 0x7FF is
/// 29-bit, error frames have no 11/29-bit distinction.
fn compare(rec: &Record, exp: &Value, what: &str) {
    let f = &rec.frame;
    let b = |k: &str| exp[k].as_bool().unwrap_or_else(|| panic!("{what}: no {k}"));
    let n = |k: &str| exp[k].as_i64().unwrap_or_else(|| panic!("{what}: no {k}"));
    let t = match &exp["t"] {
        Value::Number(x) => x.to_string(),
        v => panic!("{what}: bad t {v}"),
    };
    let dt = rec.timestamp.as_nanos() - micros(&t) * 1000;
    assert!(
        dt.abs() <= 1000,
        "{what}: time {} vs {t}",
        rec.timestamp.as_nanos()
    );
    assert_eq!(f.id().raw() as i64, n("id"), "{what}: id");
    if !b("err") {
        let ext = b("ext") || n("id") > 0x7FF;
        assert_eq!(f.id().is_extended(), ext, "{what}: ext");
    }
    assert_eq!(f.is_remote(), b("rtr"), "{what}: rtr");
    assert_eq!(f.is_error(), b("err"), "{what}: err");
    assert_eq!(f.is_fd(), b("fd"), "{what}: fd");
    assert_eq!(f.brs(), b("brs"), "{what}: brs");
    assert_eq!(f.esi(), b("esi"), "{what}: esi");
    if f.is_fd() {
        assert_eq!(dlc_to_len(f.dlc()) as i64, n("dlc"), "{what}: dlc");
    } else {
        assert_eq!(f.dlc() as i64, n("dlc").min(15), "{what}: dlc");
    }
    assert_eq!(
        hex(f.data_bytes()),
        exp["data"].as_str().unwrap(),
        "{what}: data"
    );
    assert_eq!(
        rec.channel,
        Channel::Number((n("ch") + 1) as u32),
        "{what}: channel"
    );
    assert_eq!(rec.direction == Direction::Rx, b("rx"), "{what}: rx");
}

fn expected_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn fixtures_read_like_python_can() {
    let Some(fx) = common::fixtures() else { return };
    let mut files = Vec::new();
    for sub in ["python-can", "generated", "vector_blf"] {
        blf_files(&fx.join(sub), &mut files);
    }
    files.sort();
    assert!(files.len() > 150, "only {} BLF fixtures", files.len());
    let (mut passed, mut frames, mut special) = (0, 0, 0);
    for path in &files {
        let rel = path
            .strip_prefix(&fx)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let exp_path = if rel.starts_with("vector_blf/") {
            fx.join("expected").join(format!("{rel}.jsonl"))
        } else {
            fx.join("expected").join(format!(
                "{}.jsonl",
                path.file_name().unwrap().to_string_lossy()
            ))
        };
        let got = read_ok(path);
        if exp_path.exists() {
            let exp = expected_lines(&exp_path);
            assert_eq!(got.len(), exp.len(), "{rel}: frame count");
            for (i, (r, e)) in got.iter().zip(&exp).enumerate() {
                compare(r, e, &format!("{rel} frame {i}"));
            }
            frames += exp.len();
        } else {
            // the README's "python-can cannot read" table
            let errors = |n: usize, fd: bool| {
                assert_eq!(got.len(), n, "{rel}: frame count");
                for r in &got {
                    assert!(r.frame.is_error(), "{rel}: {r:?} is not an error frame");
                    assert_eq!(r.frame.is_fd(), fd, "{rel}: FD flag");
                }
            };
            match rel.as_str() {
                "vector_blf/events_from_binlog/test_CanErrorFrame.blf" => errors(2, false),
                "vector_blf/events_from_binlog/test_CanFdErrorFrame64.blf" => errors(2, true),
                "vector_blf/events_from_converter/test_CanErrorFrame.blf" => errors(1, false),
                "vector_blf/events_from_converter/test_GlobalMarker.blf" => {
                    assert!(got.is_empty(), "{rel}: {got:?}")
                }
                _ => panic!("{rel}: no expected output and not in the README's table"),
            }
            frames += got.len();
            special += 1;
        }
        passed += 1;
    }
    eprintln!(
        "BLF fixtures: {passed} of {} files passed ({special} beyond python-can), {frames} frames compared",
        files.len()
    );
}

#[test]
fn vector_error_files_warn_but_keep_what_is_intact() {
    let Some(fx) = common::fixtures() else { return };
    let dir = fx.join("vector_blf/errors");
    for (name, frames) in [
        ("FileWithUnknownObjectType.blf", 1),
        ("FileWithTruncatedCanMessage.blf", 1),
        ("FileWithTruncatedCompressedLogContainer.blf", 1),
        ("FileWithTruncatedUncompressedLogContainer.blf", 1),
        ("FileWithoutLogContainers.blf", 0),
    ] {
        let (got, warnings) = read_all(&dir.join(name));
        assert_eq!(got.unwrap().len(), frames, "{name}");
        assert!(!warnings.is_empty(), "{name}: no warning");
        assert!(warnings.iter().all(|w| w.contains(name)), "{warnings:?}");
    }
}

#[test]
fn gzip_and_stream_output() {
    let dir = temp();
    let p = dir.path().join("z.blf.gz");
    let recs = sample(2000, 1_700_000_000_000_000_000);
    write_blf(&p, &recs, &opts(&[("compression", "1")]));
    same(&read_ok(&p), &recs, "gzip");
    let app = WriterOptions {
        append: true,
        ..WriterOptions::default()
    };
    assert!(format::create_writer(&p, Some(Format::Blf), &app).is_err());
    let bad = opts(&[("compression", "11")]);
    assert!(format::create_writer(&dir.path().join("x.blf"), Some(Format::Blf), &bad).is_err());
}

#[test]
fn spanning_objects_read_the_same() {
    let Some(fx) = common::fixtures() else { return };
    let a = read_ok(&fx.join("generated/corpus-1k-s109.blf"));
    let b = read_ok(&fx.join("generated/corpus-1k-s109-4k-containers.blf"));
    assert_eq!(a.len(), 1000);
    same(&b, &a, "4k containers");
}

#[test]
fn error_frames_beyond_python_can_carry_their_fields() {
    let Some(fx) = common::fixtures() else { return };
    let got = read_ok(&fx.join("vector_blf/events_from_binlog/test_CanFdErrorFrame64.blf"));
    let f = &got[0].frame;
    // channel 0x11, id 0xAAAAAAAA (29 bits kept), 64 valid bytes of which 8 are kept
    assert_eq!(got[0].channel, Channel::Number(0x11));
    assert_eq!(f.id().raw(), 0xAAAA_AAAA & 0x1FFF_FFFF);
    assert_eq!(f.data_bytes(), &[0, 1, 2, 3, 4, 5, 6, 7]);
    let got = read_ok(&fx.join("vector_blf/events_from_binlog/test_CanErrorFrame.blf"));
    assert_eq!(got[0].channel, Channel::Number(0x1111));
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write_blf(path: &Path, recs: &[Record], opts: &WriterOptions) {
    let mut w = format::create_writer(path, Some(Format::Blf), opts).unwrap();
    for r in recs {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
}

fn opts(pairs: &[(&str, &str)]) -> WriterOptions {
    let mut o = WriterOptions {
        force: true,
        ..WriterOptions::default()
    };
    for (k, v) in pairs {
        o.options.insert(k.to_string(), v.to_string());
    }
    o
}

#[test]
fn python_can_reads_what_we_write() {
    let Some(fx) = common::fixtures() else { return };
    let Some(py) = common::python() else { return };
    let recs = read_ok(&fx.join("generated/corpus-1k-s109.blf"));
    let dir = temp();
    for level in ["6", "0"] {
        let out = dir.path().join(format!("ours-{level}.blf"));
        write_blf(&out, &recs, &opts(&[("compression", level)]));
        let got = common::python_can_reads(&py, &out, &[]);
        let exp = std::fs::read_to_string(fx.join("expected/corpus-1k-s109.blf.jsonl")).unwrap();
        let (g, e): (Vec<_>, Vec<_>) = (got.lines().collect(), exp.lines().collect());
        assert_eq!(g.len(), e.len(), "level {level}: line count");
        for (i, (a, b)) in g.iter().zip(&e).enumerate() {
            assert_eq!(a, b, "level {level}: line {i}");
        }
        // and we read back exactly what we wrote
        same(&read_ok(&out), &recs, "our file");
    }
}

/// Reads `path` with python-can (`tests/tools/pycan_dump.py`) and checks that
/// it finds exactly `recs`, as python-can defines the fields ([`compare`]; it
/// reads every CAN_ERROR_EXT as received).
fn python_can_reads_exactly(py: &Path, path: &Path, recs: &[Record]) {
    let lines: Vec<Value> = common::python_can_reads(py, path, &[])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), recs.len(), "python-can's count");
    for (i, (r, e)) in recs.iter().zip(&lines).enumerate() {
        let r = if r.frame.is_error() {
            r.clone().with_direction(Direction::Rx)
        } else {
            r.clone()
        };
        compare(&r, e, &format!("record {i}"));
    }
}

#[test]
fn python_can_reads_flushed_and_full_containers() {
    // As can-logger writes: periodic flushes of partial containers (compressed
    // by the flushing thread) between full ones (compressed by the pool).
    let Some(py) = common::python() else { return };
    let recs = sample(12_000, 1_700_000_000_000_000_000);
    let dir = temp();
    let out = dir.path().join("flushed.blf");
    let mut w = format::create_writer(&out, Some(Format::Blf), &opts(&[])).unwrap();
    for (i, r) in recs.iter().enumerate() {
        w.write(r).unwrap();
        // a flush now and then, while containers are in flight and while not
        if i < 500 && i % 97 == 0 || i % 4001 == 0 || i > 11_500 && i % 89 == 0 {
            w.flush().unwrap();
        }
    }
    w.finish().unwrap();
    same(&read_ok(&out), &recs, "flushed");
    python_can_reads_exactly(&py, &out, &recs);
}

#[test]
fn python_can_reads_every_kind_we_write() {
    let Some(py) = common::python() else { return };
    let dir = temp();
    let out = dir.path().join("kinds.blf");
    let mut recs = sample(600, 1_700_000_000_000_000_000);
    // channels above 255 take the 16-bit-channel objects (CAN_FD_MESSAGE for FD)
    for (i, r) in recs.iter_mut().enumerate() {
        if i % 7 == 0 {
            r.channel = Channel::Number(300 + i as u32);
        }
    }
    write_blf(&out, &recs, &opts(&[]));
    python_can_reads_exactly(&py, &out, &recs);
}

#[test]
fn we_read_what_python_can_writes() {
    let Some(py) = common::python() else { return };
    let dir = temp();
    let out = dir.path().join("py.blf");
    let script = r#"
import sys, can
w = can.BLFWriter(sys.argv[1], max_container_size=1000)
for i in range(300):
    t = 1700000000.0 + i * 0.0015
    if i % 3 == 0:
        m = can.Message(timestamp=t, arbitration_id=0x100 + i, is_extended_id=False, data=bytes([i % 256] * (i % 9)), channel=i % 2)
    elif i % 3 == 1:
        m = can.Message(timestamp=t, arbitration_id=0x18DAF100 + i, is_extended_id=True, is_fd=True,
                        bitrate_switch=bool(i % 2), data=bytes(range(16)), channel=1, is_rx=False)
    else:
        m = can.Message(timestamp=t, arbitration_id=0x7FF, is_extended_id=False, is_remote_frame=True, dlc=i % 9, channel=0)
    w.on_message_received(m)
w.stop()
"#;
    let st = Command::new(&py)
        .args(["-c", script])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let got = read_ok(&out);
    assert_eq!(got.len(), 300);
    for (i, r) in got.iter().enumerate() {
        let want_ns = 1_700_000_000_000_000_000i64 + i as i64 * 1_500_000;
        assert!(
            (r.timestamp.as_nanos() - want_ns).abs() <= 1000,
            "{i}: time"
        );
        let f = &r.frame;
        match i % 3 {
            0 => {
                assert_eq!(f.id(), Id::Standard(0x100 + i as u16));
                assert_eq!(f.data_bytes(), &vec![(i % 256) as u8; i % 9][..]);
                assert_eq!(r.channel, Channel::Number((i % 2) as u32 + 1));
            }
            1 => {
                assert_eq!(f.id(), Id::Extended(0x18DAF100 + i as u32));
                assert!(f.is_fd() && f.brs() == (i % 2 == 1));
                assert_eq!(f.data_bytes(), &(0..16).collect::<Vec<u8>>()[..]);
                assert_eq!(r.direction, Direction::Tx);
            }
            _ => {
                assert!(f.is_remote());
                assert_eq!(f.dlc() as usize, i % 9);
            }
        }
    }
}

fn header_stats(path: &Path) -> (u64, u64, u32, [u16; 8]) {
    let b = std::fs::read(path).unwrap();
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let mut st = [0u16; 8];
    for (i, v) in st.iter_mut().enumerate() {
        *v = u16_at(0x28 + 2 * i);
    }
    (
        u64::from_le_bytes(b[0x10..0x18].try_into().unwrap()),
        u64::from_le_bytes(b[0x18..0x20].try_into().unwrap()),
        u32::from_le_bytes(b[0x20..0x24].try_into().unwrap()),
        st,
    )
}

/// A deterministic stream of `n` records of every kind, 1 ms apart.
fn sample(n: usize, t0: i64) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let id = if i % 2 == 0 {
                Id::Standard((i % 0x800) as u16)
            } else {
                Id::Extended(i as u32 * 7919 % 0x2000_0000)
            };
            let byte = i as u8;
            let frame = match i % 6 {
                0 => Frame::data(id, &[byte; 8]).unwrap(),
                1 => Frame::data(id, &[byte; 3]).unwrap(),
                2 => Frame::fd(
                    id,
                    &[byte; 64],
                    FdFlags {
                        brs: true,
                        esi: false,
                    },
                )
                .unwrap(),
                3 => Frame::remote(id, 5).unwrap(),
                4 => Frame::error(0x40 | (i as u32 % 16), &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap(),
                _ => Frame::fd(id, &[byte; 12], FdFlags::default()).unwrap(),
            };
            Record {
                timestamp: Timestamp(t0 + i as i64 * 1_000_123),
                channel: Channel::Number(1 + (i % 3) as u32),
                direction: if i % 5 == 0 {
                    Direction::Tx
                } else {
                    Direction::Rx
                },
                frame,
            }
        })
        .collect()
}

#[test]
fn header_statistics_are_written() {
    let dir = temp();
    let p = dir.path().join("s.blf");
    let recs = sample(30_000, 1_700_000_000_123_456_789); // ~16 containers
    write_blf(&p, &recs, &opts(&[]));
    let (size, unc, count, start) = header_stats(&p);
    assert_eq!(size, std::fs::metadata(&p).unwrap().len());
    assert_eq!(count, 30_000);
    assert!(unc > size, "uncompressed {unc} vs file {size}");
    // 2023-11-14 22:13:20.123 UTC, a Tuesday
    assert_eq!(start, [2023, 11, 2, 14, 22, 13, 20, 123]);
    same(&read_ok(&p), &recs, "statistics");
}

#[test]
fn an_empty_log_is_a_bare_header() {
    let dir = temp();
    let p = dir.path().join("e.blf");
    write_blf(&p, &[], &opts(&[]));
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 144);
    let (got, warnings) = read_all(&p);
    assert!(got.unwrap().is_empty() && warnings.is_empty());
    std::fs::write(&p, b"not a log at all").unwrap();
    assert!(matches!(
        read_all(&p).0,
        Err(Error::Format {
            position: Position::Byte(0),
            ..
        })
    ));
}

#[test]
fn channels_map_from_names() {
    let dir = temp();
    let p = dir.path().join("c.blf");
    let f = Frame::data(Id::Standard(1), &[1]).unwrap();
    let chans = [
        Channel::name("can0"),
        Channel::name("vcan3"),
        Channel::name("demo"),
        Channel::None,
        Channel::name("other"),
        Channel::name("demo"),
        Channel::Number(7),
    ];
    let recs: Vec<Record> = chans
        .iter()
        .enumerate()
        .map(|(i, c)| Record::new(Timestamp(i as i64), f).with_channel(c.clone()))
        .collect();
    write_blf(&p, &recs, &opts(&[]));
    let got: Vec<u32> = read_ok(&p)
        .iter()
        .map(|r| r.channel.number().unwrap())
        .collect();
    // demo is not 1: can0 has it (format::ChannelNumbers)
    assert_eq!(got, [1, 4, 2, 1, 3, 2, 7]);
}

#[test]
fn append_continues_the_file() {
    let dir = temp();
    let p = dir.path().join("a.blf");
    let recs = sample(3000, 1_700_000_000_000_000_000);
    write_blf(&p, &recs[..1000], &opts(&[]));
    let app = WriterOptions {
        append: true,
        ..WriterOptions::default()
    };
    write_blf(&p, &recs[1000..], &app);
    same(&read_ok(&p), &recs, "appended");
    let (size, _, count, start) = header_stats(&p);
    assert_eq!(size, std::fs::metadata(&p).unwrap().len());
    assert_eq!(count, 3000);
    assert_eq!(start, [2023, 11, 2, 14, 22, 13, 20, 0]);

    // a file whose writer was killed mid-container: the cut-off tail goes
    let q = dir.path().join("b.blf");
    write_blf(&q, &recs[..2000], &opts(&[("compression", "0")]));
    let len = std::fs::metadata(&q).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&q).unwrap();
    f.set_len(len - 10).unwrap();
    drop(f);
    let kept = read_ok(&q).len();
    assert!(kept > 500 && kept < 2000, "kept {kept}");
    write_blf(&q, &recs[2000..], &app);
    let got = read_ok(&q);
    let (_, _, count, _) = header_stats(&q);
    assert_eq!(count as usize, got.len());
    let whole = read_ok(&q);
    same(&whole[whole.len() - 1000..], &recs[2000..], "appended part");
    same(
        &whole[..whole.len() - 1000],
        &recs[..whole.len() - 1000],
        "kept part",
    );
}

#[test]
fn a_killed_writer_leaves_a_readable_file() {
    let dir = temp();
    let p = dir.path().join("k.blf");
    let recs = sample(4000, 1_700_000_000_000_000_000);
    let mut w = format::create_writer(&p, Some(Format::Blf), &opts(&[])).unwrap();
    for r in &recs[..3000] {
        w.write(r).unwrap();
    }
    w.flush().unwrap();
    for r in &recs[3000..] {
        w.write(r).unwrap();
    }
    std::mem::forget(w); // no finish, no drop: as if killed
    let (got, warnings) = read_all(&p);
    same(&got.unwrap(), &recs[..3000], "killed");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(header_stats(&p).2, 3000);
}

#[test]
fn truncated_files_keep_the_frames_before_the_cut() {
    let Some(fx) = common::fixtures() else { return };
    let dir = temp();
    let stored = dir.path().join("stored.blf");
    let full = read_ok(&fx.join("generated/corpus-1k-s109.blf"));
    write_blf(&stored, &full, &opts(&[("compression", "0")]));
    for src in [
        fx.join("generated/corpus-1k-s109-4k-containers.blf"),
        fx.join("generated/corpus-1k-s109.blf"),
        stored,
    ] {
        let bytes = std::fs::read(&src).unwrap();
        let len = bytes.len();
        let mut last = 0;
        for cut in [
            150,
            176,
            200,
            1000,
            len / 3,
            len / 2,
            len * 2 / 3,
            len - 9,
            len - 1,
        ] {
            let p = dir.path().join("cut.blf");
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let (got, warnings) = read_all(&p);
            let got = got.unwrap_or_else(|e| panic!("{} cut at {cut}: {e}", src.display()));
            same(&got, &full[..got.len()], &format!("cut at {cut}"));
            assert!(
                got.len() >= last,
                "cut at {cut}: fewer frames than a shorter cut"
            );
            // (the last bytes may be padding: nothing lost, nothing to say)
            if got.len() < full.len() {
                assert!(!warnings.is_empty(), "cut at {cut}: no warning");
            }
            last = got.len();
        }
        assert!(
            last > 900,
            "{}: only {last} frames before the last cut",
            src.display()
        );
        // inside the header: an error at the cut
        let p = dir.path().join("cut.blf");
        std::fs::write(&p, &bytes[..100]).unwrap();
        match read_all(&p).0 {
            Err(Error::Format { position, .. }) => assert_eq!(position, Position::Byte(100)),
            other => panic!("header cut: {other:?}"),
        }
    }
}

#[test]
fn corrupt_container_is_an_error_at_its_offset() {
    let Some(fx) = common::fixtures() else { return };
    let bytes = std::fs::read(fx.join("generated/corpus-1k-s109.blf")).unwrap();
    let dir = temp();
    let p = dir.path().join("bad.blf");
    // one zlib container at byte 144; its compressed payload starts at 176
    for at in [180, 2000, 8000, bytes.len() - 30] {
        let mut b = bytes.clone();
        for x in &mut b[at..at + 4] {
            *x ^= 0x5A;
        }
        std::fs::write(&p, &b).unwrap();
        match read_all(&p).0 {
            Err(e @ Error::Format { .. }) => {
                let Error::Format { position, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(*position, Position::Byte(144), "flip at {at}: {e}");
                assert!(e.to_string().contains("bad.blf"), "{e}");
            }
            other => panic!("flip at {at}: {:?}", other.map(|v| v.len())),
        }
    }
}

/// A stored-container BLF holding `stream` as its object stream.
fn stored_blf(stream: &[u8]) -> Vec<u8> {
    let mut head = vec![0u8; 144];
    head[0..4].copy_from_slice(b"LOGG");
    head[4..8].copy_from_slice(&144u32.to_le_bytes());
    let mut c = Vec::new();
    c.extend_from_slice(b"LOBJ");
    c.extend_from_slice(&16u16.to_le_bytes());
    c.extend_from_slice(&1u16.to_le_bytes());
    c.extend_from_slice(&(32 + stream.len() as u32).to_le_bytes());
    c.extend_from_slice(&10u32.to_le_bytes());
    c.extend_from_slice(&[0u8; 8]);
    c.extend_from_slice(&(stream.len() as u32).to_le_bytes());
    c.extend_from_slice(&[0u8; 4]);
    c.extend_from_slice(stream);
    head.extend_from_slice(&c);
    head
}

fn can_message(size: u32, version: u16, ts: u64) -> Vec<u8> {
    let mut o = Vec::new();
    o.extend_from_slice(b"LOBJ");
    o.extend_from_slice(&32u16.to_le_bytes());
    o.extend_from_slice(&version.to_le_bytes());
    o.extend_from_slice(&size.to_le_bytes());
    o.extend_from_slice(&1u32.to_le_bytes());
    o.extend_from_slice(&1u32.to_le_bytes()); // 10 us units
    o.extend_from_slice(&[0u8; 4]);
    o.extend_from_slice(&ts.to_le_bytes());
    o.extend_from_slice(&[2, 0, 1, 2, 0x23, 0x01, 0, 0, 0xAA, 0xBB, 0, 0, 0, 0, 0, 0]);
    o
}

#[test]
fn header_v3_ten_microsecond_units_and_zero_sizes() {
    let dir = temp();
    let p = dir.path().join("v3.blf");
    let mut s = can_message(48, 3, 5);
    s.extend_from_slice(&can_message(48, 1, 7));
    std::fs::write(&p, stored_blf(&s)).unwrap();
    let got = read_ok(&p);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].timestamp, Timestamp(50_000));
    assert_eq!(got[1].timestamp, Timestamp(70_000));
    assert_eq!(got[0].channel, Channel::Number(2));
    assert_eq!(got[0].direction, Direction::Tx);
    assert_eq!(got[0].frame.id(), Id::Standard(0x123));
    assert_eq!(got[0].frame.data_bytes(), &[0xAA, 0xBB]);

    // an object of size 0 inside the stream: an error, not a hang
    let mut s = can_message(48, 1, 5);
    s.extend_from_slice(&can_message(0, 1, 7));
    std::fs::write(&p, stored_blf(&s)).unwrap();
    let (got, _) = read_all(&p);
    match got {
        Err(Error::Format { position, .. }) => assert_eq!(position, Position::Byte(144 + 32 + 48)),
        other => panic!("{other:?}"),
    }
    // a container of size 0
    let mut b = stored_blf(&[]);
    b[144 + 8..144 + 12].copy_from_slice(&0u32.to_le_bytes());
    std::fs::write(&p, &b).unwrap();
    assert!(matches!(
        read_all(&p).0,
        Err(Error::Format {
            position: Position::Byte(144),
            ..
        })
    ));
    // garbage between objects is skipped with a warning
    let mut s = can_message(48, 1, 5);
    s.extend_from_slice(b"garbage!");
    s.extend_from_slice(&can_message(48, 2, 7)[..]);
    // a v2 header is 40 bytes: rebuild the second object with headerSize 40
    let v2_at = 48 + 8;
    s[v2_at + 4..v2_at + 6].copy_from_slice(&40u16.to_le_bytes());
    s[v2_at + 8..v2_at + 12].copy_from_slice(&56u32.to_le_bytes());
    s.splice(v2_at + 32..v2_at + 32, [0u8; 8]);
    std::fs::write(&p, stored_blf(&s)).unwrap();
    let (got, warnings) = read_all(&p);
    let got = got.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].frame.data_bytes(), &[0xAA, 0xBB]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn mutated_files_never_panic_or_hang() {
    let Some(fx) = common::fixtures() else { return };
    let dir = temp();
    let p = dir.path().join("m.blf");
    for src in [
        "python-can/test_CanFdMessage64.blf",
        "generated/corpus-1k-s109-4k-containers.blf",
    ] {
        let bytes = std::fs::read(fx.join(src)).unwrap();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..150 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            if next() % 4 == 0 {
                let cut = (next() as usize) % b.len();
                b.truncate(cut);
            }
            std::fs::write(&p, &b).unwrap();
            let (got, _) = read_all(&p);
            if let Ok(v) = got {
                assert!(v.len() <= 1100);
            }
        }
    }
}

fn arb_frame() -> impl Strategy<Value = (Frame, bool)> {
    let id = prop_oneof![
        (0u32..=0x7FF).prop_map(|v| Id::Standard(v as u16)),
        (0u32..=0x1FFF_FFFF).prop_map(Id::Extended),
    ];
    let fd_len = prop::sample::select(vec![0usize, 1, 5, 8, 12, 16, 20, 24, 32, 48, 64]);
    let flags = (any::<bool>(), any::<bool>()).prop_map(|(brs, esi)| FdFlags { brs, esi });
    prop_oneof![
        (id.clone(), prop::collection::vec(any::<u8>(), 0..=8))
            .prop_map(|(id, d)| (Frame::data(id, &d).unwrap(), false)),
        (id.clone(), prop::collection::vec(any::<u8>(), 8), 9u8..=15)
            .prop_map(|(id, d, dlc)| (Frame::data_with_dlc(id, &d, dlc).unwrap(), false)),
        (id.clone(), 0u8..=15).prop_map(|(id, dlc)| (Frame::remote(id, dlc).unwrap(), false)),
        (
            id.clone(),
            fd_len,
            flags.clone(),
            prop::collection::vec(any::<u8>(), 64)
        )
            .prop_map(|(id, n, fl, d)| (Frame::fd(id, &d[..n], fl).unwrap(), false)),
        (id, 0u8..=15, flags.clone())
            .prop_map(|(id, dlc, fl)| (Frame::remote(id, dlc).unwrap().with_fd_flags(fl), false)),
        (
            0u32..=0x1FFF_FFFF,
            prop::collection::vec(any::<u8>(), 0..=8)
        )
            .prop_map(|(c, d)| (Frame::error(c, &d).unwrap(), false)),
        (
            0u32..=0x1FFF_FFFF,
            prop::collection::vec(any::<u8>(), 0..=8),
            flags
        )
            .prop_map(|(c, d, fl)| (Frame::error(c, &d).unwrap().with_fd_flags(fl), true)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_streams_round_trip(
        absolute in any::<bool>(),
        t0 in 0i64..1_000_000_000_000,
        items in prop::collection::vec((arb_frame(), 0u32..=0xFFFF, any::<bool>(), 0i64..5_000_000_000), 1..120),
        level in prop::sample::select(vec!["0", "1", "6", "9"]),
    ) {
        let mut t = if absolute { 1_600_000_000_000_000_000 + t0 } else { t0 };
        let recs: Vec<Record> = items.into_iter().map(|((frame, fd_error), ch, tx, dt)| {
            t += dt;
            // FD error frames are stored with an 8-bit channel
            let ch = if fd_error { ch & 0xFF } else { ch };
            Record {
                timestamp: Timestamp(t),
                channel: Channel::Number(ch),
                direction: if tx { Direction::Tx } else { Direction::Rx },
                frame,
            }
        }).collect();
        let dir = temp();
        let p = dir.path().join("r.blf");
        write_blf(&p, &recs, &opts(&[("compression", level)]));
        let (got, warnings) = read_all(&p);
        prop_assert_eq!(got.unwrap(), recs);
        prop_assert!(warnings.is_empty());
    }
}

/// Some third-party writers put 16 (the base header's size) into the
/// headerSize field of version-1 objects, whose header is 32 bytes long: the
/// version says the layout, and the wrong field is one warning, not one per
/// object (tests/fixtures/repro/README.md).
#[test]
fn header_size_16_in_version_1_objects_reads_by_the_version() {
    let Some(fx) = common::fixtures() else { return };
    let (good, good_warnings) = read_all(&fx.join("repro/blf_headersize32.blf"));
    let good = good.unwrap();
    let (odd, odd_warnings) = read_all(&fx.join("repro/blf_headersize16.blf"));
    let odd = odd.unwrap();
    assert!(good_warnings.is_empty(), "{good_warnings:?}");
    assert_eq!(good.len(), 2);
    same(&odd, &good, "headerSize 16");
    assert_eq!(good[0].frame.id(), Id::Standard(0x123));
    assert_eq!(good[0].frame.data_bytes(), &[1, 2, 3]);
    assert_eq!(good[1].frame.id(), Id::Standard(0x456));
    assert_eq!(good[1].frame.data_bytes(), &[0xAA, 0xBB]);
    assert_eq!(odd_warnings.len(), 1, "{odd_warnings:?}");
    assert!(
        odd_warnings[0].contains("headerSize field says 16")
            && odd_warnings[0].contains("blf_headersize16.blf"),
        "{odd_warnings:?}"
    );

    // a thousand such objects: still one warning, every frame read
    let dir = temp();
    let p = dir.path().join("hs16.blf");
    let mut s = Vec::new();
    for i in 0..1000u64 {
        let mut o = can_message(48, 1, i);
        o[4..6].copy_from_slice(&16u16.to_le_bytes());
        s.extend_from_slice(&o);
    }
    std::fs::write(&p, stored_blf(&s)).unwrap();
    let (got, warnings) = read_all(&p);
    let got = got.unwrap();
    assert_eq!(got.len(), 1000);
    assert!(got.iter().all(|r| r.frame.data_bytes() == [0xAA, 0xBB]));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

/// A version-1 object with a 40-byte headerSize (as Vector's binlog writes
/// its MOST objects) has its body after 40 bytes.
#[test]
fn a_larger_header_size_field_is_trusted() {
    let dir = temp();
    let p = dir.path().join("hs40.blf");
    let mut o = can_message(56, 1, 3);
    o[4..6].copy_from_slice(&40u16.to_le_bytes());
    o.splice(32..32, [0xEEu8; 8]);
    std::fs::write(&p, stored_blf(&o)).unwrap();
    let (got, warnings) = read_all(&p);
    let got = got.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].frame.id(), Id::Standard(0x123));
    assert_eq!(got[0].frame.data_bytes(), &[0xAA, 0xBB]);
}

/// A CAN object with a version-1 header (32 bytes, 1 ns units, time 0).
fn object(otype: u32, body: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    o.extend_from_slice(b"LOBJ");
    o.extend_from_slice(&32u16.to_le_bytes());
    o.extend_from_slice(&1u16.to_le_bytes());
    o.extend_from_slice(&(32 + body.len() as u32).to_le_bytes());
    o.extend_from_slice(&otype.to_le_bytes());
    o.extend_from_slice(&2u32.to_le_bytes());
    o.extend_from_slice(&[0u8; 12]);
    o.extend_from_slice(body);
    o
}

/// A CAN_FD_MESSAGE (100) body of 88 bytes: data 0, 1, 2, ...
fn fd_message(dlc: u8, valid: u8, fd_flags: u8) -> Vec<u8> {
    let mut b = vec![0u8; 88];
    b[0] = 1; // channel
    b[3] = dlc;
    b[4..8].copy_from_slice(&0x123u32.to_le_bytes());
    b[13] = fd_flags;
    b[14] = valid;
    for (i, x) in b[20..84].iter_mut().enumerate() {
        *x = i as u8;
    }
    b
}

/// A CAN_FD_MESSAGE_64 (101) body: 40 fixed bytes and `stored` data bytes.
fn fd_message_64(dlc: u8, valid: u8, flags: u32, ext_off: u8, stored: usize) -> Vec<u8> {
    let mut b = vec![0u8; 40 + stored];
    b[0] = 1;
    b[1] = dlc;
    b[2] = valid;
    b[4..8].copy_from_slice(&0x123u32.to_le_bytes());
    b[12..16].copy_from_slice(&flags.to_le_bytes());
    b[35] = ext_off;
    for (i, x) in b[40..].iter_mut().enumerate() {
        *x = i as u8;
    }
    b
}

/// Objects whose DLC, valid-byte count and size contradict each other are
/// skipped with a warning naming their byte offset; the good objects around
/// them are read.
#[test]
fn inconsistent_objects_warn_with_their_offset() {
    const EDL: u8 = 1;
    const FD64_EDL: u32 = 0x1000;
    let mut ext = vec![0u8; 24];
    ext[10] = 8; // dlc 8, but only 4 data bytes follow
    ext.extend_from_slice(&[1, 2, 3, 4]);
    let mut fd_err = vec![0u8; 44 + 8];
    fd_err[1] = 8;
    fd_err[2] = 70; // validDataBytes above 64
    let mut msg2 = vec![0u8; 8];
    msg2[0] = 1;
    msg2[3] = 8; // dlc 8, 4 data bytes, then the 8-byte trailer
    msg2[4..8].copy_from_slice(&0x321u32.to_le_bytes());
    msg2.extend_from_slice(&[9, 9, 9, 9]);
    msg2.extend_from_slice(&[0u8; 8]);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        // classic frame, DLC 8 and no valid byte: was read as DLC 0, no data
        (
            "DLC 8 (8 bytes) and validDataBytes 0",
            object(100, &fd_message(8, 0, 0)),
        ),
        (
            "DLC 15 (64 bytes) and validDataBytes 8",
            object(100, &fd_message(15, 8, EDL)),
        ),
        (
            "validDataBytes 65 is above 64",
            object(100, &fd_message(15, 65, EDL)),
        ),
        (
            "DLC 9 (12 bytes) and validDataBytes 64",
            object(101, &fd_message_64(9, 64, FD64_EDL, 0, 64)),
        ),
        (
            "extDataOffset 40 lies outside",
            object(101, &fd_message_64(15, 64, FD64_EDL, 40, 64)),
        ),
        (
            "extDataOffset 200 lies outside",
            object(101, &fd_message_64(15, 64, FD64_EDL, 200, 64)),
        ),
        (
            "DLC 8 needs 8 data bytes, the object holds 4",
            object(73, &ext),
        ),
        ("validDataBytes 70 is above 64", object(104, &fd_err)),
        (
            "DLC 8 needs 8 data bytes, the object holds 4",
            object(86, &msg2),
        ),
    ];
    let good = object(100, &fd_message(9, 12, EDL | 2));
    let dir = temp();
    let p = dir.path().join("bad.blf");
    for (want, obj) in &bad {
        let mut s = good.clone();
        let at = 144 + 32 + s.len();
        s.extend_from_slice(obj);
        s.extend_from_slice(&good);
        std::fs::write(&p, stored_blf(&s)).unwrap();
        let (got, warnings) = read_all(&p);
        let got = got.unwrap_or_else(|e| panic!("{want}: {e}"));
        assert_eq!(got.len(), 2, "{want}: {got:?}");
        for r in &got {
            assert_eq!(r.frame.data_bytes(), (0..12).collect::<Vec<u8>>(), "{want}");
            assert!(r.frame.brs(), "{want}");
        }
        assert_eq!(warnings.len(), 1, "{want}: {warnings:?}");
        assert!(
            warnings[0].contains(want) && warnings[0].contains(&format!("at byte {at} ")),
            "wanted '{want}' at byte {at}: {warnings:?}"
        );
    }
}

/// What other writers do that is not an inconsistency: python-can's DLC for a
/// length CAN FD cannot carry, CANoe's valid bytes beyond those stored
/// (python-can issue 1905), remote frames with a DLC and no data.
#[test]
fn consistent_odd_objects_read_without_warning() {
    let cases: Vec<(Vec<u8>, Frame)> = vec![
        (
            object(100, &fd_message(10, 13, 1)),
            Frame::fd(
                Id::Standard(0x123),
                &[&(0..13).collect::<Vec<u8>>()[..], &[0; 3]].concat(),
                FdFlags::default(),
            )
            .unwrap(),
        ),
        (
            object(101, &fd_message_64(15, 64, 0x1000, 0, 48)),
            Frame::fd(
                Id::Standard(0x123),
                &[&(0..48).collect::<Vec<u8>>()[..], &[0; 16]].concat(),
                FdFlags::default(),
            )
            .unwrap(),
        ),
        (
            object(100, &fd_message(4, 0, 0))
                .into_iter()
                .enumerate()
                .map(|(i, b)| if i == 32 + 2 { 0x80 } else { b })
                .collect(),
            Frame::remote(Id::Standard(0x123), 4).unwrap(),
        ),
        (
            object(100, &fd_message(12, 8, 0)),
            Frame::data_with_dlc(Id::Standard(0x123), &(0..8).collect::<Vec<u8>>(), 12).unwrap(),
        ),
    ];
    let dir = temp();
    let p = dir.path().join("odd.blf");
    for (obj, want) in cases {
        std::fs::write(&p, stored_blf(&obj)).unwrap();
        let (got, warnings) = read_all(&p);
        let got = got.unwrap();
        assert!(warnings.is_empty(), "{want:?}: {warnings:?}");
        assert_eq!(got.len(), 1, "{want:?}");
        assert_eq!(got[0].frame, want);
    }
}
