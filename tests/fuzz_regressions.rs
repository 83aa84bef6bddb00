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

/// The cannelloni decoders (`fuzz/fuzz_targets/decode_cannelloni.rs`): every
/// length is checked against the frame kind and the input before it is used.
mod cannelloni {
    use cankit::bus::cannelloni::wire::{decode_datagram, decode_frame, header, Step};
    use cankit::{FdFlags, Frame, Id};

    fn datagram(count: u16, body: &[u8]) -> Vec<u8> {
        let mut d = header(9, count).to_vec();
        d.extend_from_slice(body);
        d
    }

    fn decode(d: &[u8]) -> (Vec<Frame>, Result<u8, String>) {
        let mut out = Vec::new();
        let r = decode_datagram(d, &mut out).map_err(|e| e.to_string());
        (out, r)
    }

    /// CVE-2026-37539: a 7-bit length of 127 on an FD frame whose bytes are
    /// all present; the reference (before 2.1.2) copied 127 bytes into 64.
    #[test]
    fn the_cve_shape_is_refused() {
        let mut body = vec![0, 0, 1, 0x23, 0xFF, 0x04];
        body.extend([0x41; 127]);
        let (frames, r) = decode(&datagram(1, &body));
        assert!(frames.is_empty());
        let e = r.unwrap_err();
        assert!(
            e.contains("at byte 5") && e.contains("CAN FD length 127"),
            "{e}"
        );
        // The same bytes on a TCP stream: malformed at once, not "wait for more".
        assert!(matches!(decode_frame(&body[..6]), Step::Malformed(_)));
    }

    #[test]
    fn a_length_past_the_end_of_the_datagram_is_refused() {
        // A good frame, then an 8-byte classic frame with 3 bytes present.
        let mut body = vec![0, 0, 0, 0x10, 1, 0xAA];
        body.extend([0, 0, 0, 0x11, 8, 1, 2, 3]);
        let (frames, r) = decode(&datagram(2, &body));
        assert_eq!(
            frames,
            vec![Frame::data(Id::Standard(0x10), &[0xAA]).unwrap()]
        );
        let e = r.unwrap_err();
        assert!(
            e.contains("at byte 11") && e.contains("runs past the end"),
            "{e}"
        );
        // An FD frame whose flags byte is missing.
        assert!(decode(&datagram(1, &[0, 0, 0, 1, 0x80])).1.is_err());
        assert_eq!(decode_frame(&[0, 0, 0, 1, 0x80]), Step::Incomplete);
    }

    #[test]
    fn lengths_the_frame_cannot_have_are_refused() {
        for body in [
            &[0, 0, 0, 1, 9][..],      // classic 9
            &[0, 0, 0, 1, 0x8D, 0],    // FD 13: not an FD length
            &[0, 0, 0, 1, 0xC1, 0],    // FD 65
            &[0x40, 0, 0, 1, 9],       // remote DLC 9
            &[0, 0, 0x08, 0, 0],       // 11-bit id 0x800
            &[0x60, 0, 0, 1, 0],       // remote and error
            &[0x40, 0, 0, 1, 0x88, 0], // FD remote
        ] {
            let (frames, r) = decode(&datagram(1, body));
            assert!(frames.is_empty() && r.is_err(), "{body:?} accepted");
            assert!(matches!(decode_frame(body), Step::Malformed(_)), "{body:?}");
        }
    }

    #[test]
    fn counts_and_headers_that_lie_are_refused_without_allocating() {
        // A count of 65535 with one frame present.
        let (frames, r) = decode(&datagram(u16::MAX, &[0, 0, 0, 1, 0]));
        assert_eq!(frames.len(), 1);
        assert!(r.unwrap_err().contains("frame 2 of 65535"));
        // Bytes after the counted frames.
        assert!(decode(&datagram(1, &[0, 0, 0, 1, 0, 7])).1.is_err());
        // Wrong version, opcode, a short header; an empty datagram is fine.
        for d in [&[3, 0, 0, 0, 0][..], &[2, 1, 0, 0, 0], &[2, 0, 0], &[]] {
            assert!(decode(d).1.is_err(), "{d:?}");
        }
        assert_eq!(decode(&datagram(0, &[])), (vec![], Ok(9)));
    }

    #[test]
    fn every_kind_of_frame_decodes() {
        let body = [
            &[0x80, 0, 0, 0x05, 2, 1, 2][..],               // 29-bit
            &[0x40, 0, 0, 0x06, 3],                         // remote, DLC 3, no data
            &[0x20, 0, 0, 0x04, 8, 0, 4, 0, 0, 0, 0, 0, 0], // error
            &[0, 0, 0, 0x07, 0x8C, 0x07],                   // FD 12, BRS ESI FDF
        ]
        .concat();
        let mut body = body;
        body.extend([0x5A; 12]);
        let (frames, r) = decode(&datagram(4, &body));
        assert_eq!(r, Ok(9));
        let fd = FdFlags {
            brs: true,
            esi: true,
        };
        assert_eq!(
            frames,
            vec![
                Frame::data(Id::Extended(5), &[1, 2]).unwrap(),
                Frame::remote(Id::Standard(6), 3).unwrap(),
                Frame::error(4, &[0, 4, 0, 0, 0, 0, 0, 0]).unwrap(),
                Frame::fd(Id::Standard(7), &[0x5A; 12], fd).unwrap(),
            ]
        );
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
