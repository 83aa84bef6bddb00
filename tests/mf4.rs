//! MF4 (ASAM MDF 4 bus logging) through the real tools, against python-can
//! 4.6.1's MF4Reader/MF4Writer and asammdf: files they write read as they read
//! them, files we write read back in them, and unfinalized files (a killed
//! logger, a cut-off file, a peer's file with its counts missing) read up to
//! their last complete block.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use cankit::error::{Error, Position};
use cankit::format::{self, Format, WriterOptions};
use cankit::frame::{dlc_to_len, Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};
use common::tools::{channel, read_records, run, tool, wait_for_peers};
use serde_json::Value;

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn opts(pairs: &[(&str, &str)]) -> WriterOptions {
    WriterOptions {
        force: true,
        options: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..WriterOptions::default()
    }
}

fn read_all(path: &Path) -> (Result<Vec<Record>, Error>, Vec<String>) {
    common::read_with_warnings(path, Format::Mf4)
}

fn read_ok(path: &Path) -> Vec<Record> {
    common::read_ok_as(path, Format::Mf4)
}

use common::assert_same_records as same;

/// What the real `can-convert` reads from `mf4`: converted to JSON Lines by
/// the binary, then parsed.
fn convert_reads(mf4: &Path) -> Vec<Record> {
    let out = mf4.with_extension("cankit.jsonl");
    let o = run(tool("can-convert").arg(mf4).arg(&out).arg("--force"));
    assert!(
        o.status.success(),
        "can-convert {}: {}",
        mf4.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    read_records(&out)
}

/// Writes `recs` to `path` with the real `can-convert` (from a JSON Lines file).
fn convert_writes(recs: &[Record], path: &Path, args: &[&str]) {
    let src = path.with_extension("src.jsonl");
    let mut w = format::create_writer(&src, None, &opts(&[])).unwrap();
    for r in recs {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
    drop(w);
    let o = run(tool("can-convert")
        .arg(&src)
        .arg(path)
        .arg("--force")
        .args(args));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decimal seconds text as nanoseconds (up to 9 decimals).
fn nanos(t: &str) -> i64 {
    let (i, f) = t.split_once('.').unwrap_or((t, ""));
    let f = format!("{f:0<9}");
    i.parse::<i64>().expect("seconds") * 1_000_000_000 + f[..9].parse::<i64>().expect("fraction")
}

/// Compares one of our records with one python-can line, as python-can defines
/// the fields (FD dlc = bytes; classic data dlc = bytes too, as python-can's
/// MF4Reader ignores DLC; error frames without the 11/29-bit distinction).
fn compare(rec: &Record, exp: &Value, what: &str) {
    let f = &rec.frame;
    let b = |k: &str| exp[k].as_bool().unwrap_or_else(|| panic!("{what}: no {k}"));
    let n = |k: &str| exp[k].as_i64().unwrap_or_else(|| panic!("{what}: no {k}"));
    let t = match &exp["t"] {
        Value::Number(x) => x.to_string(),
        v => panic!("{what}: bad t {v}"),
    };
    let dt = rec.timestamp.as_nanos() - nanos(&t);
    assert!(
        dt.abs() <= 1000,
        "{what}: time {} vs {t}",
        rec.timestamp.as_nanos()
    );
    assert_eq!(f.id().raw() as i64, n("id"), "{what}: id");
    if !b("err") {
        assert_eq!(f.id().is_extended(), b("ext"), "{what}: ext");
    }
    assert_eq!(f.is_remote(), b("rtr"), "{what}: rtr");
    assert_eq!(f.is_error(), b("err"), "{what}: err");
    assert_eq!(f.is_fd(), b("fd"), "{what}: fd");
    assert_eq!(f.brs(), b("brs"), "{what}: brs");
    assert_eq!(f.esi(), b("esi"), "{what}: esi");
    if f.is_remote() {
        assert_eq!(f.dlc() as i64, n("dlc"), "{what}: dlc");
    } else if f.is_fd() {
        assert_eq!(dlc_to_len(f.dlc()) as i64, n("dlc"), "{what}: dlc");
    } else {
        assert_eq!(f.len() as i64, n("dlc"), "{what}: dlc");
    }
    assert_eq!(
        hex(f.data_bytes()),
        exp["data"].as_str().unwrap(),
        "{what}: data"
    );
    assert_eq!(
        rec.channel,
        Channel::Number(n("ch") as u32),
        "{what}: channel"
    );
    assert_eq!(rec.direction == Direction::Rx, b("rx"), "{what}: rx");
}

/// python-can reads `path` as exactly `recs`.
fn python_can_reads_exactly(py: &Path, path: &Path, recs: &[Record]) {
    let lines: Vec<Value> = common::python_can_reads(py, path, &[])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), recs.len(), "python-can's count");
    for (i, (r, e)) in recs.iter().zip(&lines).enumerate() {
        compare(r, e, &format!("{} record {i}", path.display()));
    }
}

/// A Python with python-can 4.6.1 and asammdf 8.8.
fn python_with_asammdf() -> Option<PathBuf> {
    let py = common::python()?;
    let ok = Command::new(&py)
        .args([
            "-c",
            "import asammdf; assert asammdf.__version__.startswith('8.8')",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(py)
    } else {
        common::missing("asammdf 8.8 beside python-can (run tests/setup.sh)");
        None
    }
}

fn python(py: &Path, script: &str, args: &[&str]) -> String {
    let o = Command::new(py)
        .args(["-c", script])
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// python-can's MF4Writer: data, FD, remote and error frames on buses 1-3.
const PY_WRITER: &str = r#"
import sys, can
w = can.MF4Writer(sys.argv[1], compression_level=int(sys.argv[2]))
for i in range(int(sys.argv[3])):
    t = 1700000000.0 + i * 0.0015 + (i % 7) * 1e-6
    ch = 1 + i % 3
    k = i % 5
    if k == 0:
        m = can.Message(timestamp=t, arbitration_id=(0x100 + i) % 0x800, is_extended_id=False, data=bytes([i % 256] * (i % 9)), channel=ch)
    elif k == 1:
        m = can.Message(timestamp=t, arbitration_id=(0x18DAF100 + i) % 0x20000000, is_extended_id=True, is_fd=True,
                        bitrate_switch=bool(i % 2), error_state_indicator=(i % 3 == 0), data=bytes(range(16 + (i % 2) * 48)), channel=ch, is_rx=False)
    elif k == 2:
        m = can.Message(timestamp=t, arbitration_id=0x7FF, is_extended_id=False, is_remote_frame=True, dlc=i % 9, channel=ch)
    elif k == 3:
        m = can.Message(timestamp=t, arbitration_id=0x4 | (i % 16) << 4, is_error_frame=True, data=bytes([1, 2, 3, i % 256]), channel=ch)
    else:
        m = can.Message(timestamp=t, arbitration_id=i * 7919 % 0x20000000, is_extended_id=True, data=bytes([9, 8, 7, 6, 5, 4, 3, 2]), channel=ch, is_rx=(i % 2 == 0))
    w.on_message_received(m)
w.stop()
"#;

/// asammdf directly: one CAN_DataFrame group of classic and FD frames on four
/// buses, big enough for data lists, and a CAN_RemoteFrame group.
const ASAMMDF_WRITER: &str = r#"
import sys
from datetime import datetime, timezone
import numpy as np
from asammdf import MDF, Signal
from asammdf.blocks.v4_blocks import SourceInformation
from asammdf.blocks.v4_constants import BUS_TYPE_CAN, SOURCE_BUS
path, n, comp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
P = "CAN_DataFrame."
dt = np.dtype([(P + "BusChannel", "<u1"), (P + "ID", "<u4"), (P + "IDE", "<u1"), (P + "DLC", "<u1"),
               (P + "DataLength", "<u1"), (P + "DataBytes", "(64,)u1"), (P + "Dir", "<u1"),
               (P + "EDL", "<u1"), (P + "BRS", "<u1"), (P + "ESI", "<u1")])
i = np.arange(n)
s = np.zeros(n, dtype=dt)
ext = i % 3 == 0
fd = i % 2 == 1
lens_fd = np.array([0, 1, 8, 12, 16, 20, 24, 32, 48, 64])
dlc_fd = np.array([0, 1, 8, 9, 10, 11, 12, 13, 14, 15])
s[P + "BusChannel"] = 1 + i % 4
s[P + "ID"] = np.where(ext, (i * 7919) % 0x20000000, i % 0x800)
s[P + "IDE"] = ext
s[P + "DataLength"] = np.where(fd, lens_fd[i % 10], i % 9)
s[P + "DLC"] = np.where(fd, dlc_fd[i % 10], i % 9)
s[P + "DataBytes"] = (i[:, None] + np.arange(64)[None, :]) % 256
s[P + "Dir"] = i % 5 == 0
s[P + "EDL"] = fd
s[P + "BRS"] = fd & (i % 4 == 1)
s[P + "ESI"] = fd & (i % 7 == 1)
R = "CAN_RemoteFrame."
rdt = np.dtype([(R + "BusChannel", "<u1"), (R + "ID", "<u4"), (R + "IDE", "<u1"), (R + "DLC", "<u1"),
                (R + "DataLength", "<u1"), (R + "Dir", "<u1")])
m = n // 10
j = np.arange(m)
r = np.zeros(m, dtype=rdt)
r[R + "BusChannel"] = 2
r[R + "ID"] = 0x123
r[R + "DLC"] = j % 9
src = SourceInformation(source_type=SOURCE_BUS, bus_type=BUS_TYPE_CAN)
mdf = MDF(version="4.10")
mdf.header.start_time = datetime.fromtimestamp(1700000000.25, timezone.utc)
mdf.append(Signal(name="CAN_DataFrame", samples=s, timestamps=0.5 + i * 0.00025, source=src))
mdf.append(Signal(name="CAN_RemoteFrame", samples=r, timestamps=0.5001 + j * 0.0025, source=src))
mdf.save(path, compression=comp, overwrite=True)
"#;

#[test]
fn we_read_what_python_can_writes() {
    let Some(py) = python_with_asammdf() else {
        return;
    };
    let dir = temp();
    for level in ["0", "1", "2"] {
        let p = dir.path().join(format!("py{level}.mf4"));
        python(&py, PY_WRITER, &[p.to_str().unwrap(), level, "3000"]);
        let got = convert_reads(&p);
        assert_eq!(got.len(), 3000, "level {level}");
        python_can_reads_exactly(&py, &p, &got);
        // and directly through the library, without warnings
        let (lib, warnings) = read_all(&p);
        same(&lib.unwrap(), &got, "library");
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}

#[test]
fn we_read_what_asammdf_writes_with_lists_and_transposition() {
    let Some(py) = python_with_asammdf() else {
        return;
    };
    let dir = temp();
    for comp in ["0", "2"] {
        let p = dir.path().join(format!("am{comp}.mf4"));
        // 60000 records of 84 bytes: more than asammdf's 4 MiB blocks
        python(&py, ASAMMDF_WRITER, &[p.to_str().unwrap(), "60000", comp]);
        let bytes = std::fs::read(&p).unwrap();
        if comp == "2" {
            let has = |id: &[u8]| bytes.windows(4).any(|w| w == id);
            assert!(has(b"##HL") && has(b"##DL") && has(b"##DZ"), "no lists");
        }
        let got = convert_reads(&p);
        assert_eq!(got.len(), 66_000, "comp {comp}");
        python_can_reads_exactly(&py, &p, &got);
        let chans: std::collections::BTreeSet<u32> =
            got.iter().filter_map(|r| r.channel.number()).collect();
        assert_eq!(chans.len(), 4);
        assert!(got.iter().any(|r| r.frame.len() == 64 && r.frame.brs()));
    }
}

/// Records of every kind on three buses, one every ~1 ms.
fn sample(n: usize, t0: i64) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let id = if i % 2 == 0 {
                Id::Standard((i % 0x800) as u16)
            } else {
                Id::Extended(i as u32 * 7919 % 0x2000_0000)
            };
            let byte = i as u8;
            let frame = match i % 7 {
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
                5 => Frame::fd(
                    id,
                    &[byte; 12],
                    FdFlags {
                        brs: false,
                        esi: true,
                    },
                )
                .unwrap(),
                _ => Frame::data(id, &[]).unwrap(),
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
fn python_can_and_asammdf_read_what_we_write() {
    let Some(py) = python_with_asammdf() else {
        return;
    };
    let dir = temp();
    let recs = sample(5000, 1_700_000_000_123_456_789);
    for level in ["0", "6"] {
        let p = dir.path().join(format!("ours{level}.mf4"));
        convert_writes(
            &recs,
            &p,
            &["--format-opt", &format!("compression={level}")],
        );
        same(&convert_reads(&p), &recs, "read back");
        python_can_reads_exactly(&py, &p, &recs);
        // asammdf itself: the groups, their counts and a field
        let got = python(
            &py,
            r#"
import sys
from asammdf import MDF
m = MDF(sys.argv[1])
assert m.identification.file_identification == b"MDF     "
for i, g in enumerate(m.groups):
    name = [c.name for c in g.channels if c.name.startswith("CAN_")][0]
    ids = m.get(name + ".ID", i).samples
    print(name, g.channel_group.cycles_nr, int(ids.sum()))
"#,
            &[p.to_str().unwrap()],
        );
        let mut want = String::new();
        for (name, pick) in [
            ("CAN_DataFrame", 0),
            ("CAN_DataFrame", 1),
            ("CAN_RemoteFrame", 2),
            ("CAN_ErrorFrame", 3),
        ] {
            let of: Vec<&Record> = recs
                .iter()
                .filter(|r| {
                    let f = &r.frame;
                    pick == if f.is_error() {
                        3
                    } else if f.is_remote() {
                        2
                    } else if f.is_fd() {
                        1
                    } else {
                        0
                    }
                })
                .collect();
            let sum: u64 = of.iter().map(|r| r.frame.id().raw() as u64).sum();
            want.push_str(&format!("{name} {} {sum}\n", of.len()));
        }
        assert_eq!(got, want, "level {level}");
    }
}

#[test]
fn blocks_flushes_and_many_lists_round_trip() {
    // DZ blocks cut by flushes and by the 1 MiB limit (records straddling
    // nothing: blocks hold whole records), more blocks than the first list holds
    let dir = temp();
    let recs = sample(60_000, 1_700_000_000_000_000_000);
    for level in ["0", "1"] {
        let p = dir.path().join(format!("f{level}.mf4"));
        let mut w =
            format::create_writer(&p, Some(Format::Mf4), &opts(&[("compression", level)])).unwrap();
        for (i, r) in recs.iter().enumerate() {
            w.write(r).unwrap();
            if i % 5 == 0 && i < 45_000 {
                w.flush().unwrap(); // 9000 blocks: a second DL at the end
            }
        }
        w.finish().unwrap();
        drop(w);
        let (got, warnings) = read_all(&p);
        same(&got.unwrap(), &recs, &format!("level {level}"));
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}

#[test]
fn relative_times_and_named_channels() {
    let dir = temp();
    let p = dir.path().join("rel.mf4");
    let names = ["can0", "vcan3", "demo", "can0", "other", "demo"];
    let recs: Vec<Record> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Record::new(
                Timestamp(i as i64 * 1_000_001 + 7),
                Frame::data(Id::Standard(0x10), &[i as u8]).unwrap(),
            )
            .with_channel(Channel::name(n))
        })
        .collect();
    let mut w = format::create_writer(&p, None, &opts(&[])).unwrap();
    for r in &recs {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
    drop(w);
    let got = read_ok(&p);
    let chans: Vec<u32> = got.iter().map(|r| r.channel.number().unwrap()).collect();
    assert_eq!(chans, [1, 4, 1, 1, 2, 1]);
    let times: Vec<i64> = got.iter().map(|r| r.timestamp.as_nanos()).collect();
    let want: Vec<i64> = recs.iter().map(|r| r.timestamp.as_nanos()).collect();
    assert_eq!(times, want);
}

#[test]
fn refusals_name_the_problem() {
    let dir = temp();
    let p = dir.path().join("x.mf4");
    // stdout, appending, a bad option, a channel past 255
    let o = run(tool("can-convert").args(["x.log", "-", "--output-format", "mf4"]));
    assert!(!o.status.success());
    let bad = format::create_writer(&p, None, &opts(&[("compression", "11")]));
    assert!(matches!(bad, Err(Error::Config(_))));
    let append = WriterOptions {
        append: true,
        ..WriterOptions::default()
    };
    assert!(format::create_writer(&p, None, &append).is_err());
    let mut w = format::create_writer(&p, None, &opts(&[])).unwrap();
    let r = Record::new(Timestamp(0), Frame::data(Id::Standard(1), &[]).unwrap())
        .with_channel(Channel::Number(256));
    assert!(matches!(w.write(&r), Err(Error::Unsupported(_))));
    w.finish().unwrap();
    drop(w);
    assert!(read_ok(&p).is_empty());
    // not an MDF file, a link out of the file
    std::fs::write(
        &p,
        b"hello, this is not a measurement file at all............................................",
    )
    .unwrap();
    match read_all(&p).0 {
        Err(Error::Format { position, path, .. }) => {
            assert_eq!(position, Position::Byte(0));
            assert_eq!(path.as_deref(), Some(p.as_path()));
        }
        other => panic!("{other:?}"),
    }
}

/// A logger writing `frames` sends at 1 ms into `path`, killed with SIGKILL
/// after `after`.
fn kill_logger_mid_run(path: &Path, level: &str, after: Duration) {
    let chan = channel(&format!("mf4kill{level}"));
    let mut logger = tool("can-logger")
        .args(["-c", &chan, "-f"])
        .arg(path)
        .args(["--format-opt", &format!("compression={level}")])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_peers(&chan, 1);
    let mut send = tool("can-send")
        .args(["-c", &chan, "--period", "1ms", "--count", "100000"])
        .args(["123#0102", "18FF0102##1AABBCCDDEEFF001122334455", "7FF#R3"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    logger.kill().unwrap(); // SIGKILL
    logger.wait().unwrap();
    send.kill().unwrap();
    send.wait().unwrap();
}

#[test]
fn a_killed_logger_leaves_a_file_everyone_reads() {
    let py = python_with_asammdf();
    let dir = temp();
    for level in ["0", "6"] {
        let p = dir.path().join(format!("killed{level}.mf4"));
        kill_logger_mid_run(&p, level, Duration::from_millis(2500));
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(
            &bytes[..8],
            b"UnFinMF ",
            "level {level}: not left unfinalized"
        );
        let got = convert_reads(&p);
        // a 1 s flush period: at least the first second's frames are there
        assert!(got.len() > 500, "level {level}: only {} frames", got.len());
        let texts = common::tools::frames_text(&got);
        for (i, t) in texts.iter().enumerate() {
            let want = ["123#0102", "18FF0102##1AABBCCDDEEFF001122334455", "7FF#R3"][i % 3];
            assert_eq!(t, want, "level {level}: frame {i}");
        }
        if let Some(py) = &py {
            python_can_reads_exactly(py, &p, &got);
        }
        // cut further: what is left reads as a prefix
        let mut last = 0;
        for cut in [bytes.len() * 9 / 10, bytes.len() - 1, bytes.len() - 30] {
            let q = dir.path().join("cut.mf4");
            std::fs::write(&q, &bytes[..cut]).unwrap();
            let (v, _) = read_all(&q);
            let v = v.unwrap_or_else(|e| panic!("level {level} cut at {cut}: {e}"));
            same(&v, &got[..v.len()], &format!("level {level} cut at {cut}"));
            last = last.max(v.len());
        }
        assert!(last > 0);
    }
}

#[test]
fn a_cut_off_file_keeps_the_frames_before_the_cut() {
    let dir = temp();
    let recs = sample(20_000, 1_700_000_000_000_000_000);
    for level in ["0", "3"] {
        let p = dir.path().join(format!("full{level}.mf4"));
        let mut w = format::create_writer(&p, None, &opts(&[("compression", level)])).unwrap();
        for (i, r) in recs.iter().enumerate() {
            w.write(r).unwrap();
            if i % 3000 == 0 {
                w.flush().unwrap();
            }
        }
        w.finish().unwrap();
        drop(w);
        let bytes = std::fs::read(&p).unwrap();
        let len = bytes.len();
        let mut last = 0;
        for cut in [len / 4, len / 2, len * 3 / 4, len - 100, len - 5] {
            let q = dir.path().join("cut.mf4");
            std::fs::write(&q, &bytes[..cut]).unwrap();
            let (got, warnings) = read_all(&q);
            let got = got.unwrap_or_else(|e| panic!("level {level} cut at {cut}: {e}"));
            same(&got, &recs[..got.len()], &format!("cut at {cut}"));
            assert!(got.len() >= last, "cut at {cut}: fewer than a shorter cut");
            if got.len() < recs.len() {
                assert!(
                    !warnings.is_empty(),
                    "level {level} cut at {cut}: no warning"
                );
            }
            last = got.len();
        }
        assert!(last > 10_000, "level {level}: only {last}");
        // inside the metadata: an error naming the file and a byte offset
        let q = dir.path().join("cut.mf4");
        std::fs::write(&q, &bytes[..300]).unwrap();
        match read_all(&q).0 {
            Err(Error::Format { position, .. }) => {
                assert!(matches!(position, Position::Byte(b) if b >= 64))
            }
            other => panic!("metadata cut: {other:?}"),
        }
    }
}

#[test]
fn peer_files_with_their_counts_missing_read_to_the_end() {
    // python-can's file, made unfinalized as a logger losing power leaves it:
    // the unfinalized id and flag 1, every cycle count zero. Both python-can
    // (through asammdf's finalization) and we recover the counts.
    let Some(py) = python_with_asammdf() else {
        return;
    };
    let dir = temp();
    let p = dir.path().join("unfin.mf4");
    python(&py, PY_WRITER, &[p.to_str().unwrap(), "0", "2000"]);
    let full = convert_reads(&p);
    let mut b = std::fs::read(&p).unwrap();
    b[0..8].copy_from_slice(b"UnFinMF ");
    b[60] = 1;
    let mut zeroed = 0;
    for i in (0..=b.len() - 104).step_by(8) {
        if &b[i..i + 4] == b"##CG" {
            b[i + 80..i + 88].fill(0);
            zeroed += 1;
        }
    }
    assert_eq!(zeroed, 3);
    std::fs::write(&p, &b).unwrap();
    let got = convert_reads(&p);
    same(&got, &full, "counts recovered");
    python_can_reads_exactly(&py, &p, &got);
    // asammdf's own layout puts the metadata after the data: cut short, it
    // has nothing to read from, and we say where
    let q = dir.path().join("short.mf4");
    std::fs::write(&q, &b[..b.len() / 2]).unwrap();
    match read_all(&q).0 {
        Err(Error::Format { position, .. }) => {
            assert!(matches!(position, Position::Byte(b) if b > 0))
        }
        other => panic!("cut python-can file: {other:?}"),
    }
}

#[test]
fn mutated_files_never_panic_or_hang() {
    let dir = temp();
    let recs = sample(300, 1_700_000_000_000_000_000);
    for level in ["0", "5"] {
        let p = dir.path().join(format!("m{level}.mf4"));
        let mut w = format::create_writer(&p, None, &opts(&[("compression", level)])).unwrap();
        for (i, r) in recs.iter().enumerate() {
            w.write(r).unwrap();
            if i % 100 == 0 {
                w.flush().unwrap();
            }
        }
        w.finish().unwrap();
        drop(w);
        let bytes = std::fs::read(&p).unwrap();
        let q = dir.path().join("mut.mf4");
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            if next() % 4 == 0 {
                let cut = (next() as usize) % b.len();
                b.truncate(cut);
            }
            std::fs::write(&q, &b).unwrap();
            if let (Ok(v), _) = read_all(&q) {
                // a mutated count may end early, never invent records
                assert!(v.len() <= recs.len() + 1);
            }
        }
    }
}

#[test]
fn two_readers_of_one_file_at_once() {
    // each reader (and each of its cursors) has its own file handle
    let dir = temp();
    let p = dir.path().join("twice.mf4");
    let recs = sample(3000, 1_700_000_000_000_000_000);
    let mut w = format::create_writer(&p, None, &opts(&[("compression", "1")])).unwrap();
    for r in &recs {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
    drop(w);
    let mut a = format::open_reader(&p, None).unwrap();
    let mut b = format::open_reader(&p, None).unwrap();
    for r in &recs {
        assert_eq!(a.read().unwrap().as_ref(), Some(r));
        assert_eq!(b.read().unwrap().as_ref(), Some(r));
    }
    assert!(a.read().unwrap().is_none());
    assert!(b.read().unwrap().is_none());
}

/// A hand-made MDF file, block by block (8-aligned), for layouts our writer
/// does not produce.
struct Mdf {
    b: Vec<u8>,
}

impl Mdf {
    fn new(unfinished_flags: u16) -> Mdf {
        let mut b = vec![0u8; 64];
        b[0..8].copy_from_slice(if unfinished_flags != 0 {
            b"UnFinMF "
        } else {
            b"MDF     "
        });
        b[8..16].copy_from_slice(b"4.10    ");
        b[28..30].copy_from_slice(&410u16.to_le_bytes());
        b[60..62].copy_from_slice(&unfinished_flags.to_le_bytes());
        Mdf { b }
    }

    fn block(&mut self, id: &[u8; 4], links: &[u64], data: &[u8]) -> u64 {
        while self.b.len() % 8 != 0 {
            self.b.push(0);
        }
        let at = self.b.len() as u64;
        self.b.extend_from_slice(id);
        self.b.extend_from_slice(&[0; 4]);
        let len = 24 + 8 * links.len() as u64 + data.len() as u64;
        self.b.extend_from_slice(&len.to_le_bytes());
        self.b
            .extend_from_slice(&(links.len() as u64).to_le_bytes());
        for l in links {
            self.b.extend_from_slice(&l.to_le_bytes());
        }
        self.b.extend_from_slice(data);
        at
    }

    fn text(&mut self, s: &str) -> u64 {
        let mut d = s.as_bytes().to_vec();
        d.resize(d.len() / 8 * 8 + 8, 0);
        self.block(b"##TX", &[], &d)
    }

    /// A CN: name, (type, sync, data type), (byte, bit, bits), conversion, next, composition.
    fn cn(
        &mut self,
        name: &str,
        kind: (u8, u8, u8),
        at: (u32, u8, u32),
        cc: u64,
        next: u64,
        comp: u64,
    ) -> u64 {
        let n = self.text(name);
        let mut d = [0u8; 72];
        d[0] = kind.0;
        d[1] = kind.1;
        d[2] = kind.2;
        d[3] = at.1;
        d[4..8].copy_from_slice(&at.0.to_le_bytes());
        d[8..12].copy_from_slice(&at.2.to_le_bytes());
        self.block(b"##CN", &[next, comp, n, 0, cc, 0, 0, 0], &d)
    }

    fn cg(
        &mut self,
        next: u64,
        first_cn: u64,
        rid: u64,
        cycles: u64,
        flags: u16,
        bytes: u32,
    ) -> u64 {
        // a bus event group names its bus: an SI of type bus, bus type CAN
        let si = if flags & 2 != 0 {
            self.block(b"##SI", &[0, 0, 0], &[2, 2, 0, 0, 0, 0, 0, 0])
        } else {
            0
        };
        let mut d = [0u8; 32];
        d[0..8].copy_from_slice(&rid.to_le_bytes());
        d[8..16].copy_from_slice(&cycles.to_le_bytes());
        d[16..18].copy_from_slice(&flags.to_le_bytes());
        d[24..28].copy_from_slice(&bytes.to_le_bytes());
        self.block(b"##CG", &[next, first_cn, 0, si, 0, 0], &d)
    }
}

/// An unsorted group as a CANedge-style logger writes it: a u64 microsecond
/// time with a linear conversion, the IDE bit inside the ID's u32, a non-CAN
/// group and a VLSD group between the frames; finalized or left unfinalized
/// (counts zero, the DT's length never written). python-can reads it too.
fn unsorted_file(unfinished: bool, n: usize) -> (Vec<u8>, Vec<Record>) {
    let mut m = Mdf::new(if unfinished { 0x1 | 0x4 } else { 0 });
    let hd = m.block(b"##HD", &[0; 6], &{
        let mut d = [0u8; 32];
        d[0..8].copy_from_slice(&1_700_000_000_000_000_000u64.to_le_bytes());
        d
    });
    let cc = m.block(b"##CC", &[0, 0, 0, 0], &{
        let mut d = vec![0u8; 24 + 16];
        d[0] = 1; // linear
        d[6..8].copy_from_slice(&2u16.to_le_bytes());
        d[24..32].copy_from_slice(&0.5f64.to_le_bytes()); // offset
        d[32..40].copy_from_slice(&1e-6f64.to_le_bytes()); // factor
        d
    });
    // CAN group: time u64 @0, BusChannel @8, ID 29 bits @9 with IDE bit 31,
    // DLC 4 bits @13, DataLength @14, Dir bit 0 @15, DataBytes 8 @16
    let data = m.cn("CAN_DataFrame.DataBytes", (0, 0, 10), (16, 0, 64), 0, 0, 0);
    let dir = m.cn("CAN_DataFrame.Dir", (0, 0, 0), (15, 0, 1), 0, data, 0);
    let len = m.cn("CAN_DataFrame.DataLength", (0, 0, 0), (14, 0, 8), 0, dir, 0);
    let dlc = m.cn("CAN_DataFrame.DLC", (0, 0, 0), (13, 0, 4), 0, len, 0);
    let ide = m.cn("CAN_DataFrame.IDE", (0, 0, 0), (12, 7, 1), 0, dlc, 0);
    let id = m.cn("CAN_DataFrame.ID", (0, 0, 0), (9, 0, 29), 0, ide, 0);
    let bus = m.cn("CAN_DataFrame.BusChannel", (0, 0, 0), (8, 0, 8), 0, id, 0);
    let frame = m.cn("CAN_DataFrame", (0, 0, 10), (8, 0, 128), 0, 0, bus);
    let time = m.cn("Timestamp", (2, 1, 0), (0, 0, 64), cc, frame, 0);
    let gps_t = m.cn("t", (2, 1, 4), (0, 0, 64), 0, 0, 0);
    let counts = |k: u64| if unfinished { 0 } else { k };
    let n = n as u64;
    // a VLSD group's data (and invalidation) bytes hold the size of its values;
    // counted here with their length prefixes: asammdf reads it as a limit only
    let vlsd = m.cg(0, 0, 3, counts(n / 2), 1, counts(n / 2 * 9) as u32);
    let gps = m.cg(vlsd, gps_t, 2, counts(n / 3), 0, 8);
    let can = m.cg(gps, time, 1, counts(n), 0x6, 24);
    let dg_at = m.b.len() as u64 + (8 - m.b.len() as u64 % 8) % 8;
    let dt_at = dg_at + 64;
    let dg = m.block(b"##DG", &[0, can, dt_at, 0], &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(dg, dg_at);
    m.b[hd as usize + 24..hd as usize + 32].copy_from_slice(&dg.to_le_bytes());
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for i in 0..n {
        if i % 2 == 0 {
            stream.push(3u8);
            stream.extend_from_slice(&5u32.to_le_bytes());
            stream.extend_from_slice(b"vlsd!");
        }
        let us = 1000 * i + 7;
        let ext = i % 3 == 1;
        let raw_id = if ext {
            0x18DA_F100 + i as u32
        } else {
            0x100 + i as u32 % 0x700
        };
        let k = (i % 9) as usize;
        let mut r = vec![1u8];
        r.extend_from_slice(&us.to_le_bytes());
        r.push(1 + (i % 2) as u8);
        r.extend_from_slice(&(raw_id | if ext { 0x8000_0000 } else { 0 }).to_le_bytes());
        r.push(k as u8);
        r.push(k as u8);
        r.push((i % 4 == 0) as u8);
        let mut d = [0u8; 8];
        for (j, x) in d.iter_mut().enumerate().take(k) {
            *x = (i as usize + j) as u8;
        }
        r.extend_from_slice(&d);
        stream.extend_from_slice(&r);
        if i % 3 == 0 {
            stream.push(2);
            stream.extend_from_slice(&(i as f64).to_le_bytes());
        }
        let id = if ext {
            Id::Extended(raw_id)
        } else {
            Id::Standard(raw_id as u16)
        };
        want.push(Record {
            timestamp: Timestamp(1_700_000_000_500_000_000 + us as i64 * 1000),
            channel: Channel::Number(1 + (i % 2) as u32),
            direction: if i % 4 == 0 {
                Direction::Tx
            } else {
                Direction::Rx
            },
            frame: Frame::data(id, &d[..k]).unwrap(),
        });
    }
    let dt_len = if unfinished {
        24
    } else {
        24 + stream.len() as u64
    };
    let dt = m.block(b"##DT", &[], &stream);
    assert_eq!(dt, dt_at);
    m.b[dt as usize + 8..dt as usize + 16].copy_from_slice(&dt_len.to_le_bytes());
    (m.b, want)
}

#[test]
fn unsorted_groups_with_foreign_and_vlsd_records() {
    let dir = temp();
    for unfinished in [false, true] {
        let (bytes, want) = unsorted_file(unfinished, 1000);
        let p = dir.path().join(format!("u{unfinished}.mf4"));
        std::fs::write(&p, &bytes).unwrap();
        let (got, warnings) = read_all(&p);
        same(&got.unwrap(), &want, &format!("unfinished {unfinished}"));
        assert!(warnings.is_empty(), "{warnings:?}");
        same(&convert_reads(&p), &want, "through can-convert");
        if let Some(py) = common::python() {
            python_can_reads_exactly(&py, &p, &want);
        }
        // a logger cut mid-record: every whole record before the cut
        if unfinished {
            std::fs::write(&p, &bytes[..bytes.len() - 11]).unwrap();
            let (got, warnings) = read_all(&p);
            let got = got.unwrap();
            assert_eq!(got.len(), want.len() - 1);
            same(&got, &want[..got.len()], "cut");
            assert!(!warnings.is_empty());
        }
    }
}
