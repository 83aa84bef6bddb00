//! Shared checks for the cankit fuzz targets: read a whole log from bytes and
//! assert the rules every reader must keep on hostile input.
//!
//! * no panic (libFuzzer reports it), no hang (`-timeout`), no huge allocation
//!   (`-malloc_limit_mb`);
//! * an error names the file and a position (`Error::Format` with the path);
//! * warnings stay bounded, and reading stops.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use cankit::error::Error;
use cankit::format::{self, Format, Input, RecordReader};

/// More records than any input of a fuzzer's size can honestly hold (a BLF
/// container inflates at most ~1000:1): past this the reader is looping.
const MAX_RECORDS: u64 = 1 << 22;
/// Warnings a reader may collect; every reader caps or deduplicates them.
const MAX_WARNINGS: usize = 100;

/// The file name the readers see (errors must carry it).
pub fn fake_path(format: Format) -> PathBuf {
    PathBuf::from(format!("fuzz-input.{}", format.name()))
}

/// Panics unless `e` is a format error naming `path` (and so a position).
pub fn check_error(e: &Error, path: &Path) {
    match e {
        Error::Format { path: Some(p), .. } if p == path => {}
        other => panic!("error without the file and a position: {other:?} ({other})"),
    }
    let text = e.to_string();
    assert!(
        text.contains(&*path.to_string_lossy()),
        "error text does not name the file: {text}"
    );
}

/// Reads every record of `reader`, checking errors, the record count and warnings.
pub fn drain(reader: &mut dyn RecordReader, path: &Path) {
    let mut n = 0u64;
    loop {
        match reader.read() {
            Ok(Some(rec)) => {
                // touch the record: its frame must be internally consistent
                let f = rec.frame;
                assert!(f.data_bytes().len() <= 64);
                n += 1;
                assert!(n < MAX_RECORDS, "reader does not stop: {n} records");
            }
            Ok(None) => break,
            Err(e) => {
                check_error(&e, path);
                break;
            }
        }
    }
    let w = reader.take_warnings();
    assert!(w.len() <= MAX_WARNINGS, "{} warnings kept", w.len());
}

/// Opens a streaming reader (every format but SQLite) over `data`.
pub fn open_stream(format: Format, data: &[u8]) -> cankit::Result<Box<dyn RecordReader>> {
    let input = Input {
        path: fake_path(format),
        reader: Box::new(Cursor::new(data.to_vec())),
    };
    // Through the registry, as the tools read: a .log is sniffed for
    // BUSMASTER's header first, so that detection is fuzzed too.
    format::read_stream(format, input)
}

/// Reads `data` as a whole log of `format` (not SQLite), checking the rules.
pub fn read_stream(format: Format, data: &[u8]) {
    let path = fake_path(format);
    match open_stream(format, data) {
        Ok(mut r) => drain(&mut *r, &path),
        Err(e) => check_error(&e, &path),
    }
}

/// Writes `data` to a file and reads it through `open_reader`, as the tools do.
/// The file name must carry the format's extension.
pub fn read_file(file: &Path, data: &[u8]) {
    std::fs::write(file, data).expect("writing the fuzz input file");
    match format::open_reader(file, None) {
        Ok(mut r) => drain(&mut *r, file),
        Err(e) => {
            // opening may refuse the whole file (not a database, no table):
            // that error must still name it
            let text = e.to_string();
            assert!(
                text.contains(&*file.to_string_lossy()),
                "error does not name the file: {e:?}"
            );
        }
    }
}
