//! can-utils candump log files (`candump -l`, `-L`; `.log`), as `canplayer`,
//! `log2asc` and python-can read them.
//!
//! Reading is lenient where real files need it: comment and `DROPCOUNT` lines are
//! skipped, blank lines too, and a truncated last line (no newline, cut inside the
//! frame) ends the stream with a warning instead of an error. Any other bad line is
//! an error naming its line number.
//!
//! A `.log` file whose first line is a BUSMASTER header (`***BUSMASTER ...`) is
//! read by [`super::busmaster`] instead: the suffix is shared, the content
//! decides.
//!
//! Writing: `(sec.usec) iface frame R|T`, one line per record. Numbered channels
//! become `can<N-1>` (python-can's convention: file channel 1 is `can0`), records
//! without a channel `can0`. `digits=9` writes nanoseconds as `candump -N` does;
//! the default 6 digits round to the nearest microsecond (as python-can writes
//! its float times, so a python-can BLF converts to the same text).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use super::{read_err, write_err, Input, Output, RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Position, Result};
use crate::frame::text::{parse_log_line, write_log_line};
use crate::frame::{Channel, Direction, Record, Timestamp};

/// Reads a candump log.
pub struct Reader {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    line: Vec<u8>,
    line_no: u64,
    last_iface: Option<Arc<str>>,
    warnings: Vec<String>,
    done: bool,
    /// Set when the content turned out to be a BUSMASTER log.
    busmaster: Option<Box<super::busmaster::Reader>>,
}

impl Reader {
    /// A reader over an opened input.
    pub fn new(input: Input) -> Reader {
        Reader {
            path: input.path,
            input: input.reader,
            line: Vec::with_capacity(128),
            line_no: 0,
            last_iface: None,
            warnings: Vec::new(),
            done: false,
            busmaster: None,
        }
    }
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        if let Some(b) = self.busmaster.as_mut() {
            return b.read();
        }
        while !self.done {
            self.line.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.line)
                .map_err(|e| read_err(&self.path, e))?;
            if n == 0 {
                self.done = true;
                break;
            }
            self.line_no += 1;
            if self.line_no == 1 && super::busmaster::Reader::is_header(&self.line) {
                let input = std::mem::replace(&mut self.input, Box::new(std::io::empty()));
                let mut b = Box::new(super::busmaster::Reader::after_first_line(
                    self.path.clone(),
                    input,
                ));
                let r = b.read();
                self.busmaster = Some(b);
                return r;
            }
            let complete = self.line.last() == Some(&b'\n');
            let text = match std::str::from_utf8(&self.line) {
                Ok(t) => t.trim(),
                Err(_) => {
                    return Err(Error::format(
                        Position::Line(self.line_no),
                        "not UTF-8 text: is this a candump log?",
                    )
                    .in_file(&self.path))
                }
            };
            if !text.starts_with('(') {
                continue; // blank, comment, DROPCOUNT
            }
            match parse_log_line(text) {
                Ok(l) => {
                    let channel = match &self.last_iface {
                        Some(a) if &**a == l.interface => a.clone(),
                        _ => {
                            let a: Arc<str> = Arc::from(l.interface);
                            self.last_iface = Some(a.clone());
                            a
                        }
                    };
                    return Ok(Some(Record {
                        timestamp: l.timestamp,
                        channel: Channel::Name(channel),
                        direction: l.direction.unwrap_or(Direction::Rx),
                        frame: l.frame,
                    }));
                }
                Err(e) if !complete => {
                    self.warnings.push(format!(
                        "{}: line {}: last line is cut off ({e}); stopped there",
                        self.path.display(),
                        self.line_no
                    ));
                    self.done = true;
                }
                Err(e) => {
                    return Err(Error::format(Position::Line(self.line_no), e.to_string())
                        .in_file(&self.path))
                }
            }
        }
        Ok(None)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        let mut w = std::mem::take(&mut self.warnings);
        if let Some(b) = self.busmaster.as_mut() {
            w.extend(b.take_warnings());
        }
        w
    }
}

/// Writes a candump log.
pub struct Writer {
    path: PathBuf,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    digits: u8,
    direction: bool,
    names: Vec<String>,
}

impl Writer {
    /// A writer over an opened output. Options: `digits=6|9`,
    /// `direction=true|false` (the ` R`/` T` suffix, on by default).
    pub fn new(out: Output, opts: &WriterOptions) -> Result<Writer> {
        let digits = match opts.options.get("digits").map(String::as_str) {
            None | Some("6") => 6,
            Some("9") => 9,
            Some(v) => {
                return Err(Error::Config(format!(
                    "candump logs take digits=6 or digits=9, not '{v}'"
                )))
            }
        };
        let direction = match opts.options.get("direction").map(String::as_str) {
            None | Some("true") | Some("yes") | Some("1") => true,
            Some("false") | Some("no") | Some("0") => false,
            Some(v) => {
                return Err(Error::Config(format!(
                    "candump logs take direction=true or false, not '{v}'"
                )))
            }
        };
        Ok(Writer {
            path: out.path,
            out: out.writer,
            buf: Vec::with_capacity(1 << 16),
            digits,
            direction,
            names: Vec::new(),
        })
    }

    fn numbered(&mut self, n: usize) -> &str {
        while self.names.len() <= n {
            let k = self.names.len();
            self.names.push(format!("can{k}"));
        }
        &self.names[n]
    }
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        let dir = self.direction.then_some(r.direction);
        let digits = self.digits;
        let ts = if digits == 9 {
            r.timestamp
        } else {
            Timestamp(r.timestamp.as_nanos().saturating_add(500).div_euclid(1000) * 1000)
        };
        let mut buf = std::mem::take(&mut self.buf);
        match &r.channel {
            Channel::Name(name) => write_log_line(&mut buf, ts, name, &r.frame, dir, digits),
            Channel::Number(n) => {
                let name = self.numbered(n.saturating_sub(1) as usize);
                write_log_line(&mut buf, ts, name, &r.frame, dir, digits)
            }
            Channel::None => {
                let name = self.numbered(0);
                write_log_line(&mut buf, ts, name, &r.frame, dir, digits)
            }
        }
        self.buf = buf;
        if self.buf.len() >= 1 << 16 {
            self.out
                .write_all(&self.buf)
                .map_err(|e| write_err(&self.path, e))?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out
            .write_all(&self.buf)
            .and_then(|_| self.out.flush())
            .map_err(|e| write_err(&self.path, e))?;
        self.buf.clear();
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{open_input, Format};
    use std::io::Cursor;

    fn reader(text: &str) -> Reader {
        Reader::new(Input {
            path: "t.log".into(),
            reader: Box::new(Cursor::new(text.as_bytes().to_vec())),
        })
    }

    #[test]
    fn reads_lines_and_skips_others() {
        let mut r = reader(
            "(1.000000) can0 123#11 R\nDROPCOUNT: dropped 1 CAN frame(s)\n\n(2.500000) can1 12345678#R T\n",
        );
        let a = r.read().unwrap().unwrap();
        assert_eq!(a.channel, Channel::name("can0"));
        assert_eq!(a.direction, Direction::Rx);
        let b = r.read().unwrap().unwrap();
        assert_eq!(b.timestamp.as_nanos(), 2_500_000_000);
        assert_eq!(b.direction, Direction::Tx);
        assert!(b.frame.is_remote());
        assert!(r.read().unwrap().is_none());
    }

    #[test]
    fn truncated_last_line_is_a_warning() {
        let mut r = reader("(1.000000) can0 123#11\n(1606770");
        assert!(r.read().unwrap().is_some());
        assert!(r.read().unwrap().is_none());
        assert_eq!(r.take_warnings().len(), 1);
    }

    #[test]
    fn bad_line_names_its_number() {
        let mut r = reader("(1.000000) can0 123#11\n(2.000000) can0 123#1\n(3.0) can0 1#1\n");
        r.read().unwrap();
        let e = r.read().unwrap_err().to_string();
        assert!(e.contains("t.log: line 2"), "{e}");
    }

    #[test]
    fn writes_what_it_reads() {
        let text = "(1700000000.000001) can0 123#DEADBEEF R\n(1700000000.000002) can1 1F334455##1AABB T\n(1700000000.000003) can0 20000080#0000000000000000 R\n";
        let mut r = reader(text);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.log");
        let mut w = crate::format::create_writer(&path, None, &WriterOptions::default()).unwrap();
        while let Some(rec) = r.read().unwrap() {
            w.write(&rec).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        // and never clobbers
        assert!(crate::format::create_writer(&path, None, &WriterOptions::default()).is_err());
        let _ = open_input(&path, false).unwrap();
        assert_eq!(Format::from_path(&path), Some((Format::Candump, false)));
    }
}
