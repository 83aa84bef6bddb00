//! What the text formats share: [`LineReader`], which reads one bounded line at a
//! time with its number, tells a cut-off last line apart and turns a parse
//! failure there into a warning; and [`TextSink`], the buffered byte sink their
//! writers fill. Keeping this in one place keeps every text reader in constant
//! memory (no line may exceed [`MAX_LINE`]) and every error message alike.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use super::{read_err, write_err, Input, Output};
use crate::error::{Error, Position, Result};

/// The longest line a text reader accepts, in bytes.
pub const MAX_LINE: usize = 1 << 20;

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

    /// Reports that the current line does not parse. On a cut-off last line this
    /// is a warning that ends the stream (`Ok`); on any other line, the error.
    pub fn reject(&mut self, msg: impl std::fmt::Display) -> Result<()> {
        if self.complete {
            return Err(self.error(msg.to_string()));
        }
        self.warnings.push(format!(
            "{}: line {}: last line is cut off ({msg}); stopped there",
            self.path.display(),
            self.line_no
        ));
        self.done = true;
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
    fn a_cut_off_last_line_is_a_warning_other_lines_errors() {
        let mut r = reader(b"good\nbad\ncut");
        r.next_line().unwrap();
        r.next_line().unwrap();
        let e = r.reject("no frame").unwrap_err().to_string();
        assert_eq!(e, "x.txt: line 2: no frame");
        r.next_line().unwrap();
        r.reject("no frame").unwrap();
        assert!(!r.next_line().unwrap());
        assert_eq!(
            r.take_warnings(),
            ["x.txt: line 3: last line is cut off (no frame); stopped there"]
        );
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
