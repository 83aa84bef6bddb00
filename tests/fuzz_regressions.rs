//! Inputs the fuzz targets in `fuzz/` found, cut down to a few bytes: each must
//! read to records or to one error naming the file and a position, without a
//! panic, a hang or a huge allocation.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use cankit::error::{Error, Position};
use cankit::format::{self, Format, Input, RecordReader};
use cankit::Record;

fn input(name: &str, bytes: &[u8]) -> Input {
    Input {
        path: PathBuf::from(name),
        reader: Box::new(Cursor::new(bytes.to_vec())),
    }
}

/// Opens a streaming reader of `format` over `bytes`, as `open_reader` would.
fn open(format: Format, name: &str, bytes: &[u8]) -> cankit::Result<Box<dyn RecordReader>> {
    // Through the registry, as the tools and the fuzz targets read.
    format::read_stream(format, input(name, bytes))
}

/// Reads everything: the records before the first error, and that error.
fn read_all(format: Format, name: &str, bytes: &[u8]) -> (Vec<Record>, Option<Error>) {
    let mut recs = Vec::new();
    let mut r = match open(format, name, bytes) {
        Ok(r) => r,
        Err(e) => return (recs, Some(e)),
    };
    loop {
        match r.read() {
            Ok(Some(x)) => recs.push(x),
            Ok(None) => return (recs, None),
            Err(e) => return (recs, Some(e)),
        }
    }
}

/// Asserts a format error in `file` at `pos`, whose text says `what`.
fn assert_format_error(e: &Error, file: &str, pos: Position, what: &str) {
    match e {
        Error::Format {
            path: Some(p),
            position,
            message,
        } => {
            assert_eq!(p, Path::new(file));
            assert_eq!(*position, pos, "{e}");
            assert!(message.contains(what), "{e}");
        }
        other => panic!("expected a format error naming {file}, got {other:?}"),
    }
}

#[test]
fn jsonl_non_utf8_line_is_a_format_error_at_its_line() {
    // found by read_jsonl: a byte sequence that is not UTF-8 came out as an I/O
    // error without a line number. Now such a line is skipped and named at its
    // line; alone in the file, it is the format error at its line.
    let good = br#"{"timestamp":1.5,"id":291,"dlc":1,"data":"aa"}"#;
    let bad = b"{\"timestamp\":1.5,\"id\":\x98\x93}\n";
    let mut bytes = good.to_vec();
    bytes.push(b'\n');
    bytes.extend_from_slice(bad);
    let mut r = open(Format::Jsonl, "bad.jsonl", &bytes).unwrap();
    let mut n = 0;
    while r.read().unwrap().is_some() {
        n += 1;
    }
    assert_eq!((n, r.skipped()), (1, 1));
    let w = r.take_warnings();
    assert_eq!(w[0], "bad.jsonl: line 2: not UTF-8 text; skipped");
    let (recs, err) = read_all(Format::Jsonl, "bad.jsonl", bad);
    assert!(recs.is_empty());
    assert_format_error(
        &err.expect("an error"),
        "bad.jsonl",
        Position::Line(1),
        "UTF-8",
    );
}

#[test]
fn trc_columns_line_with_ten_columns_and_no_d_is_refused() {
    // found by read_trc: ten columns passed the count check, then the implied
    // D column made eleven and indexing the fixed column table panicked
    let text = b";$FILEVERSION=2.1\n;$COLUMNS=N,O,T,B,I,d,R,l,L,N\n";
    let (recs, err) = read_all(Format::Trc, "cols.trc", text);
    assert!(recs.is_empty());
    assert_format_error(
        &err.expect("an error"),
        "cols.trc",
        Position::Line(2),
        "columns",
    );
    // ten with D is still the limit, nine plus the implied D reads
    let ok = b";$FILEVERSION=2.1\n;$COLUMNS=N,O,T,B,I,d,R,l,L\n 1 0.500 DT 1 0123 Rx - 2 2 11 22\n";
    let (recs, err) = read_all(Format::Trc, "ok.trc", ok);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].frame.data_bytes(), &[0x11, 0x22]);
}

#[test]
fn sqlite_damaged_page_mid_read_is_a_format_error_at_a_row() {
    // found by read_sqlite: a database whose schema is intact but whose data
    // pages are damaged failed with an I/O error naming no row
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA page_size=1024; CREATE TABLE messages (ts REAL, arbitration_id INTEGER, \
             extended INTEGER, remote INTEGER, error INTEGER, dlc INTEGER, data BLOB);",
        )
        .unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..3000 {
            tx.execute(
                "INSERT INTO messages VALUES (?, ?, 0, 0, 0, 8, ?)",
                rusqlite::params![1.0 + i as f64, i % 0x800, [i as u8; 8]],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let pages = bytes.len() / 1024;
    assert!(pages > 20, "{pages} pages");
    // damage the last leaf page: rows near the end cannot be read
    let last = (pages - 1) * 1024;
    bytes[last..last + 1024].fill(0xA5);
    std::fs::write(&path, &bytes).unwrap();

    let mut r = format::open_reader(&path, None).expect("schema and table are intact");
    let mut n = 0u64;
    let err = loop {
        match r.read() {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("read {n} rows of a damaged database without an error"),
            Err(e) => break e,
        }
    };
    match &err {
        Error::Format {
            path: Some(p),
            position: Position::Row(row),
            message,
        } => {
            assert_eq!(p, &path);
            assert!(*row > n && *row <= 3000, "row {row} after {n} rows: {err}");
            assert!(message.contains("malformed"), "{err}");
        }
        other => panic!("expected a format error at a row, got {other:?}"),
    }
}

#[test]
fn slcan_stream_edge_cases_decode_or_are_refused_in_bounded_memory() {
    // Inputs in the shape decode_slcan mutates (the target had no finding
    // when this was written): an overlong line, text before a \a, a FD DLC
    // whose length the line does not hold, a timestamp past the minute, an
    // 11-bit id above 7FF. None may panic; each line is one piece.
    use cankit::bus::slcan::wire::{decode, Piece, Reply, Splitter, MAX_LINE};
    let mut input = vec![b'd'; 100_000];
    input.extend_from_slice(b"\rjunk\x07d123F00\rt1231AAEA60\rt8000\rb7FF1AB\r");
    let mut s = Splitter::default();
    let mut pieces = Vec::new();
    s.push(&input, |p| {
        pieces.push(match p {
            Piece::Line(l) => {
                assert!(l.len() <= MAX_LINE);
                match decode(l) {
                    Ok(Reply::Frame(f, _)) => cankit::frame::text::format_frame(&f),
                    Ok(other) => format!("{other:?}"),
                    Err(why) => format!("error: {why}"),
                }
            }
            other => format!("{other:?}"),
        })
    });
    assert_eq!(
        pieces,
        [
            "Overlong(100000)",
            "Garbage(4)",
            "Nack",
            "error: data length does not match the DLC",
            "error: timestamp above 59999 ms",
            "error: id out of range",
            "7FF##1AB",
        ]
    );
}
