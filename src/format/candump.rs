//! can-utils candump log files (`candump -l`, `-L`; `.log`), as `canplayer`,
//! `log2asc` and python-can read them.
//!
//! Reading is lenient where real files need it: comment and `DROPCOUNT` lines are
//! skipped, blank lines too, and a truncated last line (no newline, cut inside the
//! frame) ends the stream with a warning instead of an error. Any other bad line is
//! an error naming its line number.
//!
//! A `.log` file whose first line is a BUSMASTER header (`***BUSMASTER ...`) is
//! read by [`super::busmaster`] instead ([`super::open_reader`] looks at the
//! content: the suffix is shared).
//!
//! Writing: `(sec.usec) iface frame R|T`, one line per record. Numbered channels
//! become `can<N-1>` (python-can's convention: file channel 1 is `can0`), records
//! without a channel `can0`. `digits=9` writes nanoseconds as `candump -N` does.

use std::sync::Arc;

use super::lines::{LineReader, TextSink};
use super::{Input, Output, RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Result};
use crate::frame::text::{parse_log_line, write_log_line};
use crate::frame::{Channel, Direction, Record};

/// Reads a candump log.
pub struct Reader {
    lines: LineReader,
    last_iface: Option<Arc<str>>,
}

impl Reader {
    /// A reader over an opened input.
    pub fn new(input: Input) -> Reader {
        Reader {
            lines: LineReader::new(input),
            last_iface: None,
        }
    }
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        while self.lines.next_line()? {
            let Ok(text) = std::str::from_utf8(self.lines.line()) else {
                return Err(self.lines.error("not UTF-8 text: is this a candump log?"));
            };
            let text = text.trim();
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
                Err(e) => self.lines.reject(e)?,
            }
        }
        Ok(None)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        self.lines.take_warnings()
    }
}

/// Writes a candump log.
pub struct Writer {
    sink: TextSink,
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
            sink: TextSink::new(out),
            digits,
            direction,
            names: Vec::new(),
        })
    }
}

/// The name `can<n>`, made once and kept.
fn numbered(names: &mut Vec<String>, n: usize) -> &str {
    while names.len() <= n {
        let k = names.len();
        names.push(format!("can{k}"));
    }
    &names[n]
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        let dir = self.direction.then_some(r.direction);
        let name: &str = match &r.channel {
            Channel::Name(name) => name,
            Channel::Number(n) => numbered(&mut self.names, n.saturating_sub(1) as usize),
            Channel::None => numbered(&mut self.names, 0),
        };
        write_log_line(
            &mut self.sink.buf,
            r.timestamp,
            name,
            &r.frame,
            dir,
            self.digits,
        );
        self.sink.commit()
    }

    fn flush(&mut self) -> Result<()> {
        self.sink.flush()
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
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
