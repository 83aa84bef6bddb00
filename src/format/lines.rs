//! What the text formats share: [`LineReader`], which reads one bounded line at a
//! time with its number, tells a cut-off last line apart and keeps the account
//! of the lines a reader could not read; and [`TextSink`], the buffered byte
//! sink their writers fill. Keeping this in one place keeps every text reader in
//! constant memory (no line may exceed [`MAX_LINE`]) and every message alike.
//!
//! # Lines that do not read
//!
//! One bad line never ends a file. A reader hands a line it cannot read to
//! [`LineReader::skip`], which counts it and names the first [`NAMED_SKIPS`] in
//! warnings (`trace.log: line 23: not a candump log line ...; skipped`). At the
//! end of the input the reader calls [`LineReader::end`]: if lines were skipped
//! it adds a closing warning (`trace.log: 412 line(s) skipped`), and if no
//! record was read at all (the reader reports each one with
//! [`LineReader::record_read`]) the file is refused with an error naming it and
//! its first bad line, so a file in another format never converts to nothing
//! without a word. A cut-off last line (no newline) is skipped the same way and
//! ends the stream. Lines a reader knowingly passes over (comments, headers,
//! events of other buses) are not skipped lines.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use super::{read_err, write_err, Input, Output};
use crate::error::{Error, Position, Result};

/// The longest line a text reader accepts, in bytes.
pub const MAX_LINE: usize = 1 << 20;

/// How many skipped lines are named one by one in warnings; the rest are counted.
pub const NAMED_SKIPS: u64 = 5;

/// Buffered bytes a [`TextSink`] collects before writing them out.
const SINK_CHUNK: usize = 1 << 16;

/// Reads a text log line by line.
pub struct LineReader {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    line_no: u64,
    complete: bool,
    done: bool,
    warnings: Vec<String>,
    /// Records read from the lines (as the reader reported them).
    records: u64,
    /// Lines skipped, and the first of them with why.
    skipped: u64,
    first_skip: Option<(u64, String)>,
    /// [`LineReader::end`] was called.
    ended: bool,
}

impl LineReader {
    /// A reader over an opened input.
    pub fn new(input: Input) -> LineReader {
        LineReader {
            path: input.path,
            input: input.reader,
            buf: Vec::with_capacity(256),
            line_no: 0,
            complete: true,
            done: false,
            warnings: Vec::new(),
            records: 0,
            skipped: 0,
            first_skip: None,
            ended: false,
        }
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of the current line (1-based; 0 before the first).
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// The current line without its line end (`\n` or `\r\n`).
    pub fn line(&self) -> &[u8] {
        let mut e = self.buf.len();
        while e > 0 && (self.buf[e - 1] == b'\n' || self.buf[e - 1] == b'\r') {
            e -= 1;
        }
        &self.buf[..e]
    }

    /// False when the current line is the last one and has no newline: the file
    /// may have been cut off there.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Reads the next line; `Ok(false)` at the end of the input (or after
    /// [`LineReader::stop`]). A line longer than [`MAX_LINE`] is an error.
    pub fn next_line(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        self.buf.clear();
        let n = (&mut self.input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| read_err(&self.path, e))?;
        if n == 0 {
            self.done = true;
            return Ok(false);
        }
        self.line_no += 1;
        self.complete = self.buf.last() == Some(&b'\n');
        if !self.complete && self.buf.len() > MAX_LINE {
            self.done = true;
            return Err(self.error(format!(
                "line longer than {MAX_LINE} bytes: is this really a text log?"
            )));
        }
        Ok(true)
    }

    /// An error at the current line, naming the file.
    pub fn error(&self, msg: impl Into<String>) -> Error {
        Error::format(Position::Line(self.line_no), msg).in_file(&self.path)
    }

    /// Skips the current line, which does not read: counts it and names it in a
    /// warning if it is among the first [`NAMED_SKIPS`]. A cut-off last line is
    /// skipped too, always named, and ends the stream.
    pub fn skip(&mut self, msg: impl std::fmt::Display) {
        self.skipped += 1;
        if self.first_skip.is_none() {
            self.first_skip = Some((self.line_no, msg.to_string()));
        }
        if !self.complete {
            self.warnings.push(format!(
                "{}: line {}: last line is cut off ({msg}); stopped there",
                self.path.display(),
                self.line_no
            ));
            self.done = true;
        } else if self.skipped <= NAMED_SKIPS {
            self.warnings.push(format!(
                "{}: line {}: {msg}; skipped",
                self.path.display(),
                self.line_no
            ));
        }
    }

    /// Counts a parsed line: its record read, or the line skipped for the
    /// reason given.
    #[inline]
    pub fn keep<T, E: std::fmt::Display>(
        &mut self,
        parsed: std::result::Result<T, E>,
    ) -> Option<T> {
        match parsed {
            Ok(r) => {
                self.records += 1;
                Some(r)
            }
            Err(m) => {
                self.skip(m);
                None
            }
        }
    }

    /// [`LineReader::end`] as a reader's last result: `Ok(None)`, or the
    /// error when nothing was read.
    pub fn finish<T>(&mut self) -> Result<Option<T>> {
        self.end()?;
        Ok(None)
    }

    /// Counts a record read from the input (for [`LineReader::end`]).
    #[inline]
    pub fn record_read(&mut self) {
        self.records += 1;
    }

    /// The lines skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The end of the input (call it where [`LineReader::next_line`] returned
    /// false). With skipped lines, adds the closing count to the warnings, or,
    /// if no record was read at all, is the error naming the file and the first
    /// skipped line. Ends the stream; later calls do nothing.
    pub fn end(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.ended, true) {
            return Ok(());
        }
        self.done = true;
        if self.skipped == 0 {
            return Ok(());
        }
        if self.records == 0 {
            let (line, msg) = self.first_skip.take().unwrap_or_default();
            return Err(Error::format(
                Position::Line(line),
                format!("{msg} (no frame read; {} line(s) skipped)", self.skipped),
            )
            .in_file(&self.path));
        }
        let more = if self.skipped > NAMED_SKIPS {
            format!(" (the first {NAMED_SKIPS} named above)")
        } else {
            String::new()
        };
        self.warnings.push(format!(
            "{}: {} line(s) skipped{more}",
            self.path.display(),
            self.skipped
        ));
        Ok(())
    }

    /// Records a warning about the current line.
    pub fn warn(&mut self, msg: impl std::fmt::Display) {
        self.warnings.push(format!(
            "{}: line {}: {msg}",
            self.path.display(),
            self.line_no
        ));
    }

    /// Ends the stream: the next [`LineReader::next_line`] returns `Ok(false)`.
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// The warnings collected so far, taken once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Hands the rest of the input to another reader (after sniffing a line).
    pub fn into_parts(self) -> (Input, u64) {
        (
            Input {
                path: self.path,
                reader: self.input,
            },
            self.line_no,
        )
    }
}

/// Splits `line` at ASCII whitespace into `(start, end)` spans.
pub fn split_spans(line: &[u8], out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        let s = i;
        while i < line.len() && !line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i > s {
            out.push((s, i));
        }
    }
}

/// The buffered sink a text writer fills: append to [`TextSink::buf`], then call
/// [`TextSink::commit`], which writes the buffer out once it is large.
pub struct TextSink {
    path: PathBuf,
    out: Box<dyn Write + Send>,
    /// Bytes not yet written.
    pub buf: Vec<u8>,
    /// Bytes written out so far.
    written: u64,
}

impl TextSink {
    /// A sink over an opened output.
    pub fn new(out: Output) -> TextSink {
        TextSink {
            path: out.path,
            out: out.writer,
            buf: Vec::with_capacity(SINK_CHUNK + 1024),
            written: 0,
        }
    }

    /// The bytes of the output so far, the buffered ones included (before
    /// any gzip): the size of the file once flushed.
    pub fn size_bound(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the buffer out if it holds a chunk's worth.
    pub fn commit(&mut self) -> Result<()> {
        if self.buf.len() >= SINK_CHUNK {
            self.out
                .write_all(&self.buf)
                .map_err(|e| write_err(&self.path, e))?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes everything buffered and flushes the output.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .write_all(&self.buf)
            .and_then(|_| self.out.flush())
            .map_err(|e| write_err(&self.path, e))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

/// The `write` (its `row` method, then a commit), `flush`, `finish` and
/// `size_bound` of a [`super::RecordWriter`] whose
/// whole state is a [`TextSink`] in a field named `sink` (the text formats
/// that need no trailer).
#[macro_export]
#[doc(hidden)]
macro_rules! text_writer_methods {
    () => {
        fn write(&mut self, r: &$crate::frame::Record) -> $crate::Result<()> {
            self.row(r);
            self.sink.commit()
        }

        fn flush(&mut self) -> $crate::Result<()> {
            self.sink.flush()
        }

        fn finish(&mut self) -> $crate::Result<()> {
            self.sink.flush()
        }

        fn size_bound(&self) -> Option<u64> {
            Some(self.sink.size_bound())
        }
    };
}

/// The `take_warnings` and `skipped` of a [`super::RecordReader`] that counts
/// its skipped lines in a `LineReader` field named `lines`.
#[macro_export]
#[doc(hidden)]
macro_rules! line_reader_methods {
    () => {
        fn take_warnings(&mut self) -> Vec<String> {
            self.lines.take_warnings()
        }

        fn skipped(&self) -> u64 {
            self.lines.skipped()
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(bytes: &[u8]) -> LineReader {
        LineReader::new(Input {
            path: "x.txt".into(),
            reader: Box::new(Cursor::new(bytes.to_vec())),
        })
    }

    #[test]
    fn lines_numbers_and_line_ends() {
        let mut r = reader(b"a\r\nbb\n\nccc");
        let mut seen = Vec::new();
        while r.next_line().unwrap() {
            seen.push((r.line_no(), r.line().to_vec(), r.complete()));
        }
        assert_eq!(
            seen,
            [
                (1, b"a".to_vec(), true),
                (2, b"bb".to_vec(), true),
                (3, b"".to_vec(), true),
                (4, b"ccc".to_vec(), false)
            ]
        );
    }

    #[test]
    fn bad_lines_are_skipped_counted_and_the_first_named() {
        let mut text = String::from("good\n");
        for i in 0..7 {
            text.push_str(&format!("bad{i}\n"));
        }
        text.push_str("cut");
        let mut r = reader(text.as_bytes());
        while r.next_line().unwrap() {
            if r.line() == b"good" {
                r.record_read();
            } else {
                r.skip("no frame");
            }
        }
        r.end().unwrap();
        assert_eq!(r.skipped(), 8);
        let w = r.take_warnings();
        assert_eq!(w.len(), 7, "{w:?}");
        assert_eq!(w[0], "x.txt: line 2: no frame; skipped");
        assert_eq!(w[4], "x.txt: line 6: no frame; skipped");
        assert_eq!(
            w[5],
            "x.txt: line 9: last line is cut off (no frame); stopped there"
        );
        assert_eq!(w[6], "x.txt: 8 line(s) skipped (the first 5 named above)");
        // once only
        r.end().unwrap();
        assert!(r.take_warnings().is_empty());
    }

    #[test]
    fn no_record_and_skipped_lines_is_an_error_naming_the_first() {
        let mut r = reader(b"# header\nbad\nworse\n");
        while r.next_line().unwrap() {
            if r.line_no() > 1 {
                r.skip(format!(
                    "not a frame '{}'",
                    String::from_utf8_lossy(r.line())
                ));
            }
        }
        let e = r.end().unwrap_err().to_string();
        assert_eq!(
            e,
            "x.txt: line 2: not a frame 'bad' (no frame read; 2 line(s) skipped)"
        );
        assert!(!r.next_line().unwrap());
        r.end().unwrap();
        // nothing skipped, nothing read: an empty log, no error
        let mut r = reader(b"# only a comment\n");
        while r.next_line().unwrap() {}
        r.end().unwrap();
        assert!(r.take_warnings().is_empty());
    }

    #[test]
    fn overlong_lines_are_refused_without_reading_them_whole() {
        let mut big = vec![b'x'; MAX_LINE * 3];
        big.push(b'\n');
        let mut r = reader(&big);
        let e = r.next_line().unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("longer than"), "{e}");
        assert!(!r.next_line().unwrap());
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        let mut r = reader(&exact);
        assert!(r.next_line().unwrap());
        assert_eq!(r.line().len(), MAX_LINE);
    }

    #[test]
    fn spans() {
        let mut v = Vec::new();
        split_spans(b"  a bc\tdef  ", &mut v);
        assert_eq!(v, [(2, 3), (4, 6), (7, 10)]);
        split_spans(b"", &mut v);
        assert!(v.is_empty());
    }
}
