//! can-utils candump log files (`candump -l`, `-L`; `.log`), as `canplayer`,
//! `log2asc` and python-can read them.
//!
//! Reading is lenient where real files need it: `DROPCOUNT` lines, comments
//! (`#`, `//`, `;`) and blank lines are passed over. Any other line that does not
//! read is skipped: counted, the first few named in warnings, and a file of which
//! no frame reads is an error naming its first bad line
//! ([`crate::format::lines`]); a truncated last line (no newline, cut inside the
//! frame) is skipped the same way and ends the stream.
//!
//! A `.log` file whose first line is a BUSMASTER header (`***BUSMASTER ...`) is
//! read by [`super::busmaster`] instead ([`super::open_reader`] looks at the
//! content: the suffix is shared).
//!
//! candump's screen output (`  can0  123   [4]  DE AD BE EF`, with any `-t`,
//! `-x`, `-8`, `-a`, `-i`, `-S`, `-c`, `-e` options), which people paste into
//! `.log` files, is read too, line by line, by content (the module `screen` has
//! its layout). Its relative times (`-t z`, `-t d`, `(000.010000)`) count from
//! 0; which of the two they are is not written, so the records are held back
//! (up to 64) until a time smaller than the one before shows `-t d`, else they
//! are taken as `-t z`, and a warning says which. Screen lines without a time
//! (no `-t`) are at time 0, with a warning.
//!
//! Writing: `(sec.usec) iface frame R|T`, one line per record. Numbered channels
//! become `can<N-1>` (python-can's convention: file channel 1 is `can0`), records
//! without a channel `can0`. `digits=9` writes nanoseconds as `candump -N` does;
//! the default 6 digits round to the nearest microsecond (as python-can writes
//! its float times, so a python-can BLF converts to the same text). An error
//! frame whose class is unknown (0: ASC's `ErrorFrame`, BLF's `CAN_ERROR`) is
//! written as a bus error, `20000080#0000000000000000`: `CAN_ERR_BUSERROR` with
//! the kernel's 8 data bytes, as `asc2log` writes ASC error frames, because
//! python-can reads a `.log` error frame only when that bit is set (`20000000#`
//! came back from it as a data frame). Error frames with a class keep it.

use std::collections::VecDeque;
use std::sync::Arc;

use super::lines::{LineReader, TextSink};
use super::{Input, Output, RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Result};
use crate::frame::error_class::class::BUSERROR;
use crate::frame::hex;
use crate::frame::text::{parse_log_line, write_log_line};
use crate::frame::{Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};

mod screen;

/// Reads a candump log.
pub struct Reader {
    lines: LineReader,
    /// Interface names seen lately, shared by the records that name them.
    ifaces: Vec<Arc<str>>,
    /// Records read but not yet handed over (screen output with relative times,
    /// until their kind is known), each with whether its time is still relative.
    queue: VecDeque<(bool, Record)>,
    /// The kind of relative times, once known.
    relative: Option<Relative>,
    /// The last relative time read while the kind is not known, and the sum of
    /// the `-t d` times so far.
    last_relative: i64,
    delta_sum: i64,
    /// The previous line was a screen error frame (its `-e` detail lines follow).
    after_error: bool,
    /// A screen line without a time was read (warned once).
    timeless: bool,
    /// Colour codes removed from a screen line.
    scratch: Vec<u8>,
}

/// candump's relative times: `-t z` (since the first frame) or `-t d` (since
/// the one before).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Relative {
    Zero,
    Delta,
}

/// Screen lines with relative times held back to tell `-t z` from `-t d`: a
/// time smaller than the one before means `-t d`; this many without one mean `-t z`.
const RELATIVE_WINDOW: usize = 64;

impl Reader {
    /// A reader over an opened input.
    pub fn new(input: Input) -> Reader {
        Reader {
            lines: LineReader::new(input),
            ifaces: Vec::with_capacity(IFACE_CACHE),
            queue: VecDeque::new(),
            relative: None,
            last_relative: 0,
            delta_sum: 0,
            after_error: false,
            timeless: false,
            scratch: Vec::new(),
        }
    }

    /// [`RecordReader::read`] for every case: records held back, lines of any
    /// kind, the end. `have_line` when the current line is read but not yet
    /// looked at.
    #[inline(never)]
    fn read_general(&mut self, mut have_line: bool) -> Result<Option<Record>> {
        if let Some(r) = self.ready() {
            return Ok(Some(r));
        }
        while std::mem::take(&mut have_line) || self.lines.next_line()? {
            if let Some(fast) = parse_fast(self.lines.line()) {
                let rec = fast_record(&mut self.ifaces, fast);
                self.lines.record_read();
                self.after_error = false;
                self.push(rec, false);
            } else if let Some((rec, relative)) = self.slow_line() {
                self.lines.record_read();
                self.push(rec, relative);
            }
            if let Some(r) = self.ready() {
                return Ok(Some(r));
            }
        }
        if self.relative.is_none() && !self.queue.is_empty() {
            self.decide(Relative::Zero);
        }
        if let Some(r) = self.ready() {
            return Ok(Some(r));
        }
        self.lines.end()?;
        Ok(None)
    }

    /// A line the fast path did not take: a record (and whether its time is a
    /// screen line's relative one), or `None` for a line passed over or skipped.
    fn slow_line(&mut self) -> Option<(Record, bool)> {
        let after_error = std::mem::take(&mut self.after_error);
        let line = self.lines.line();
        if after_error && line.first() == Some(&b'\t') {
            // `candump -e`: the error frame before, in words
            self.after_error = true;
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() || is_comment(text) {
            return None;
        }
        let why = if text.starts_with('(') {
            match parse_log_line(text) {
                Ok(l) => {
                    let rec = Record {
                        timestamp: l.timestamp,
                        channel: Channel::Name(shared_iface(&mut self.ifaces, l.interface)),
                        direction: l.direction.unwrap_or(Direction::Rx),
                        frame: l.frame,
                    };
                    return Some((rec, false));
                }
                Err(e) => e.to_string(),
            }
        } else {
            format!("not a candump log line: '{}'", show(text))
        };
        // candump's screen output, pasted
        match self.screen_line() {
            Ok(Some((rec, relative))) => {
                self.after_error = rec.frame.is_error();
                Some((rec, relative))
            }
            Ok(None) => {
                self.lines.skip(why);
                None
            }
            Err(e) => {
                self.lines.skip(format!("candump screen output: {e}"));
                None
            }
        }
    }

    /// Fixes the kind of relative times and the times of the records held back.
    fn decide(&mut self, kind: Relative) {
        self.relative = Some(kind);
        for (rel, rec) in self.queue.iter_mut() {
            if std::mem::take(rel) && kind == Relative::Delta {
                self.delta_sum = self.delta_sum.saturating_add(rec.timestamp.as_nanos());
                rec.timestamp = Timestamp(self.delta_sum);
            }
        }
        self.lines.warn(match kind {
            Relative::Zero => "candump screen output with relative times: read as `candump -t z` (each since the first frame, which is at 0)",
            Relative::Delta => "candump screen output with relative times that go back: read as `candump -t d` (each since the frame before; the first at 0)",
        });
    }

    /// Queues a record read; `relative` when its time is a screen line's
    /// relative time, still to be resolved.
    fn push(&mut self, mut rec: Record, relative: bool) {
        match (relative, self.relative) {
            (true, Some(Relative::Zero)) | (false, _) => {
                if !relative && self.relative.is_none() && !self.queue.is_empty() {
                    // no `-t d` time went back before this line
                    self.decide(Relative::Zero);
                }
                self.queue.push_back((false, rec));
            }
            (true, Some(Relative::Delta)) => {
                self.delta_sum = self.delta_sum.saturating_add(rec.timestamp.as_nanos());
                rec.timestamp = Timestamp(self.delta_sum);
                self.queue.push_back((false, rec));
            }
            (true, None) => {
                let t = rec.timestamp.as_nanos();
                let back = t < self.last_relative;
                self.last_relative = t;
                self.queue.push_back((true, rec));
                if back {
                    self.decide(Relative::Delta);
                } else if self.queue.len() >= RELATIVE_WINDOW {
                    self.decide(Relative::Zero);
                }
            }
        }
    }

    /// The next record held back, if its time is known.
    fn ready(&mut self) -> Option<Record> {
        match self.queue.front() {
            Some((true, _)) => None,
            Some(_) => self.queue.pop_front().map(|(_, r)| r),
            None => None,
        }
    }

    /// The line as candump's screen output: `Ok(None)` when it is not.
    fn screen_line(&mut self) -> std::result::Result<Option<(Record, bool)>, String> {
        let line = if self.lines.line().contains(&0x1b) {
            screen::strip_colours(self.lines.line(), &mut self.scratch);
            &self.scratch[..]
        } else {
            self.lines.line()
        };
        let Some(l) = screen::parse(line)? else {
            return Ok(None);
        };
        let (timestamp, relative) = match l.time {
            screen::Time::Absolute(t) => (t, false),
            screen::Time::Relative(ns) => (Timestamp(ns), true),
            screen::Time::None => (Timestamp(0), false),
        };
        let rec = Record {
            timestamp,
            channel: Channel::Name(shared_iface(&mut self.ifaces, l.iface)),
            direction: l.direction,
            frame: l.frame,
        };
        if l.time == screen::Time::None && !std::mem::replace(&mut self.timeless, true) {
            self.lines
                .warn("candump screen output without times (no -t): every frame is at time 0");
        }
        Ok(Some((rec, relative)))
    }
}

/// How many interface names a reader keeps shared (logs name a handful).
const IFACE_CACHE: usize = 8;

/// The shared name of an interface: no allocation for a name seen lately.
fn shared_iface(cache: &mut Vec<Arc<str>>, name: &str) -> Arc<str> {
    if let Some(i) = cache.iter().position(|a| &**a == name) {
        if i > 0 {
            cache.swap(i, i - 1); // frequent names move to the front
            return cache[i - 1].clone();
        }
        return cache[0].clone();
    }
    let a: Arc<str> = Arc::from(name);
    if cache.len() == IFACE_CACHE {
        cache.pop();
    }
    cache.push(a.clone());
    a
}

/// Parses the usual shape of a line, `(sec.frac) iface ID#DATA[ R|T]` with
/// `ID##FDATA` and `ID#R[n]`, straight from the bytes. Anything else (error
/// frames, raw DLC suffixes, `.` separators, tabs, extra tokens, anything
/// malformed) gives `None`, and [`parse_log_line`] decides: it accepts the same
/// lines with the same result, only slower.
/// The record of a line [`parse_fast`] read, its interface name shared.
#[inline]
fn fast_record(
    ifaces: &mut Vec<Arc<str>>,
    (timestamp, iface, frame, direction): (Timestamp, &str, Frame, Option<Direction>),
) -> Record {
    Record {
        timestamp,
        channel: Channel::Name(shared_iface(ifaces, iface)),
        direction: direction.unwrap_or(Direction::Rx),
        frame,
    }
}

fn parse_fast(line: &[u8]) -> Option<(Timestamp, &str, Frame, Option<Direction>)> {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let b = line.get(..end)?;
    if b.first() != Some(&b'(') {
        return None;
    }
    // (seconds.fraction)
    let mut i = 1;
    let mut secs: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() && i <= 13 {
        secs = secs * 10 + (b[i] - b'0') as i64;
        i += 1;
    }
    // (more than 9e9 s would overflow the nanosecond time: the full parser says so)
    if i == 1 || i > 13 || secs > 9_000_000_000 || b.get(i) != Some(&b'.') {
        return None;
    }
    i += 1;
    let f0 = i;
    let mut nanos: u32 = 0;
    while i < b.len() && b[i].is_ascii_digit() && i - f0 < 9 {
        nanos = nanos * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    let fd = i - f0;
    if fd == 0 || fd > 9 || b.get(i) != Some(&b')') {
        return None;
    }
    nanos *= 10u32.pow((9 - fd) as u32);
    i += 1;
    let ts = Timestamp::from_parts(secs, nanos);
    // spaces, interface, spaces
    let skip = |mut i: usize| {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    let j = skip(i);
    if j == i {
        return None;
    }
    let mut k = j;
    while k < b.len() && b[k] > b' ' && b[k] < 0x7F {
        k += 1;
    }
    if k == j || (k < b.len() && b[k] != b' ') {
        return None;
    }
    let iface = std::str::from_utf8(&b[j..k]).ok()?;
    let j = skip(k);
    if j == k {
        return None;
    }
    // the frame token, then an optional direction and the end
    let mut k = j;
    while k < b.len() && b[k] != b' ' {
        k += 1;
    }
    let dir = match &b[k..] {
        [] => None,
        [b' ', b'R' | b'r'] => Some(Direction::Rx),
        [b' ', b'T' | b't'] => Some(Direction::Tx),
        _ => return None,
    };
    let tok = &b[j..k];
    let hash = tok.iter().position(|&c| c == b'#')?;
    let raw = hex::u32(&tok[..hash])?;
    let id = match hash {
        3 => Id::standard(raw).ok()?,
        8 if raw & 0x2000_0000 != 0 => return None, // error frames: the full parser
        8 => Id::extended(raw).ok()?,
        _ => return None,
    };
    let rest = &tok[hash + 1..];
    let mut data = [0u8; 64];
    let frame = match rest {
        [b'#', flags, d @ ..] => {
            let n = hex::decode(d, &mut data)?;
            Frame::fd(id, &data[..n], FdFlags::from_nibble(hex::digit(*flags)?)).ok()?
        }
        [b'R' | b'r'] => Frame::remote(id, 0).ok()?,
        [b'R' | b'r', n @ b'0'..=b'8'] => Frame::remote(id, n - b'0').ok()?,
        [b'R' | b'r', ..] => return None,
        d => {
            let n = hex::decode(d, &mut data)?;
            if n > 8 {
                return None;
            }
            Frame::data(id, &data[..n]).ok()?
        }
    };
    Some((ts, iface, frame, dir))
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        if !self.queue.is_empty() || !self.lines.next_line()? {
            return self.read_general(false);
        }
        // the usual line, straight through; anything else takes the long way
        let Some(fast) = parse_fast(self.lines.line()) else {
            return self.read_general(true);
        };
        let rec = fast_record(&mut self.ifaces, fast);
        self.lines.record_read();
        self.after_error = false;
        Ok(Some(rec))
    }

    crate::line_reader_methods!();
}

/// Lines a candump log may hold besides frames, passed over: candump's
/// `DROPCOUNT: ...` (with `-d`) and comments people add (`#`, `//`, `;`).
fn is_comment(text: &str) -> bool {
    text.starts_with("DROPCOUNT")
        || text.starts_with('#')
        || text.starts_with("//")
        || text.starts_with(';')
}

/// A line for a message: at most 60 characters, lossy.
fn show(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
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
                return Err(Error::bad_option_value(
                    "the log format",
                    "digits",
                    v,
                    "6 or 9",
                ))
            }
        };
        let direction = match opts.options.get("direction").map(String::as_str) {
            None | Some("true") | Some("yes") | Some("1") => true,
            Some("false") | Some("no") | Some("0") => false,
            Some(v) => {
                return Err(Error::bad_option_value(
                    "the log format",
                    "direction",
                    v,
                    "true or false",
                ))
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

/// An error frame with no class (from an ASC or a BLF `CAN_ERROR`), as it is
/// written: `CAN_ERR_BUSERROR` with 8 data bytes (its own, zero-padded), the
/// kernel's shape and the class python-can needs to read an error frame back
/// (`20000000#` comes back from python-can as a data frame).
fn unknown_error_frame(f: &Frame) -> Frame {
    let mut data = [0u8; 8];
    let d = f.data_bytes();
    data[..d.len().min(8)].copy_from_slice(&d[..d.len().min(8)]);
    Frame::error(BUSERROR, &data).unwrap_or(*f)
}

/// The name `can<n>`, made once and kept.
fn numbered(names: &mut Vec<String>, n: usize) -> &str {
    while names.len() <= n {
        let k = names.len();
        names.push(format!("can{k}"));
    }
    &names[n]
}

impl Writer {
    fn row(&mut self, r: &Record) {
        let dir = self.direction.then_some(r.direction);
        let name: &str = match &r.channel {
            Channel::Name(name) => name,
            Channel::Number(n) => numbered(&mut self.names, n.saturating_sub(1) as usize),
            Channel::None => numbered(&mut self.names, 0),
        };
        let ts = if self.digits == 9 {
            r.timestamp
        } else {
            Timestamp(r.timestamp.as_nanos().saturating_add(500).div_euclid(1000) * 1000)
        };
        if r.frame.is_error() && r.frame.id().raw() == 0 {
            let frame = unknown_error_frame(&r.frame);
            write_log_line(&mut self.sink.buf, ts, name, &frame, dir, self.digits);
        } else {
            write_log_line(&mut self.sink.buf, ts, name, &r.frame, dir, self.digits);
        }
    }
}

impl RecordWriter for Writer {
    crate::text_writer_methods!();
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

    /// The fast path agrees with the full parser on every line it accepts.
    fn agree(line: &[u8]) -> bool {
        let fast = parse_fast(line);
        if let Some((ts, iface, frame, dir)) = fast {
            let text = std::str::from_utf8(line).unwrap().trim();
            let slow = parse_log_line(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(
                (slow.timestamp, slow.interface, slow.frame, slow.direction),
                (ts, iface, frame, dir),
                "{text:?}"
            );
        }
        fast.is_some()
    }

    #[test]
    fn fast_path_agrees_with_the_full_parser() {
        for ok in [
            "(1700000000.000162) can0 0CF4498D#8EF340BE0E3E332C R\n",
            "(1.5) vcan12 123#\r\n",
            "(0000000007.492000) can1 7FF#R8 t",
            "(1.000000001) x 1FFFFFFF##3001122334455667788990011",
            "(1.0) can0 123#r",
        ] {
            assert!(agree(ok.as_bytes()), "{ok}");
        }
        for other in [
            "(1.0) can0 20000080#",              // error frame
            "(1.0) can0 123#1122334455667788_9", // raw DLC
            "(1.0) can0 123#11.22",
            "(1.0)\tcan0 123#11",
            "(1.0) can0 123#11 R extra",
            "(1.0) can0 123#11 R ",
            "(1.0) can0 800#11",
            "(1.0) can0 3FFFFFFF#11",
            "(1.0) can0 123#112",
            "(1.0) can0 123#112233445566778899",
            "(1.0) can0 123##",
            "(1.0) can0 123##1112",
            "(1.0) can0 123#R9",
            "(1.0) can0 123#R_A",
            "(1.0) can0 12#11",
            "(1.0) can0 12345#11",
            "(1.) can0 123#11",
            "(.5) can0 123#11",
            "(1.0000000001) can0 123#11",
            "(9999999999.0) can0 123#11",
            "(1.0) can\u{e9} 123#11",
            " (1.0) can0 123#11",
            "(1.0)can0 123#11",
        ] {
            assert!(!agree(other.as_bytes()), "{other}");
        }
        // every line the writer makes, and every one-byte change of it
        let mut next = crate::format::test_rng(0x2545_f491_4f6c_dd1du64);
        let mut fast = 0;
        for _ in 0..4000 {
            let r = next();
            let id = if r & 1 == 0 {
                Id::Standard((r >> 8) as u16 & 0x7FF)
            } else {
                Id::Extended((r >> 8) as u32 & 0x1FFF_FFFF)
            };
            let data: Vec<u8> = (0..64).map(|_| next() as u8).collect();
            let frame = match (r >> 40) % 5 {
                0 => Frame::data(id, &data[..(r >> 44) as usize % 9]).unwrap(),
                1 => Frame::data_with_dlc(id, &data[..8], 9 + (r >> 44) as u8 % 7).unwrap(),
                2 => Frame::remote(id, (r >> 44) as u8 % 16).unwrap(),
                3 => {
                    let n = crate::frame::dlc_to_len((r >> 44) as u8 % 16);
                    Frame::fd(id, &data[..n], FdFlags::from_nibble((r >> 50) as u8)).unwrap()
                }
                _ => Frame::error(
                    (r >> 8) as u32 & 0x1FFF_FFFF,
                    &data[..(r >> 44) as usize % 9],
                )
                .unwrap(),
            };
            let dir = [None, Some(Direction::Rx), Some(Direction::Tx)][(r >> 56) as usize % 3];
            let mut line = Vec::new();
            let ts = Timestamp((next() % 4_000_000_000_000_000_000) as i64);
            let digits = if r >> 60 & 1 == 0 { 6 } else { 9 };
            write_log_line(&mut line, ts, "can3", &frame, dir, digits);
            if agree(&line) {
                fast += 1;
            }
            let at = next() as usize % line.len();
            let mut bad = line.clone();
            bad[at] = b"0123456789abcdefABCDEF#.R ()_x\n"[next() as usize % 31];
            if std::str::from_utf8(&bad).is_ok() {
                agree(&bad);
            }
            let mut cut = line.clone();
            cut.truncate(at);
            agree(&cut);
        }
        assert!(fast > 2000, "only {fast} lines took the fast path");
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
        let w = r.take_warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("t.log: line 2: last line is cut off"),
            "{w:?}"
        );
        assert_eq!(w[1], "t.log: 1 line(s) skipped");
    }

    #[test]
    fn bad_lines_are_skipped_named_and_counted() {
        let mut r = reader("(1.000000) can0 123#11\n(2.000000) can0 123#1\n(3.0) can0 1#1\ngarbage here\n\u{ff}\n(4.0) can0 124#\n");
        let mut got = Vec::new();
        while let Some(x) = r.read().unwrap() {
            got.push(crate::frame::text::format_frame(&x.frame));
        }
        assert_eq!(got, ["123#11", "124#"]);
        assert_eq!(r.skipped(), 4);
        let w = r.take_warnings();
        assert_eq!(w.len(), 5, "{w:?}");
        assert!(w[0].starts_with("t.log: line 2: "), "{w:?}");
        assert!(w[1].starts_with("t.log: line 3: "), "{w:?}");
        assert_eq!(
            w[2],
            "t.log: line 4: not a candump log line: 'garbage here'; skipped"
        );
        assert_eq!(
            w[3],
            "t.log: line 5: not a candump log line: '\u{ff}'; skipped"
        );
        assert_eq!(w[4], "t.log: 4 line(s) skipped");
        // nothing read: the error names the file and the first bad line
        let mut r = reader("# a comment\nnot a log\nnor this\n");
        let e = r.read().unwrap_err().to_string();
        assert_eq!(
            e,
            "t.log: line 2: not a candump log line: 'not a log' (no frame read; 2 line(s) skipped)"
        );
        assert!(r.read().unwrap().is_none());
    }

    fn read_all(text: &str) -> (Vec<Record>, Vec<String>) {
        let mut r = reader(text);
        let mut v = Vec::new();
        while let Some(x) = r.read().unwrap() {
            v.push(x);
        }
        (v, r.take_warnings())
    }

    fn frames(v: &[Record]) -> Vec<String> {
        v.iter()
            .map(|r| crate::frame::text::format_frame(&r.frame))
            .collect()
    }

    #[test]
    fn screen_output_reads_with_absolute_times() {
        let (v, w) = read_all(
            " (1733324400.123456)  can0  TX - -  123   [4]  DE AD BE EF\n (1733324400.223456)  can10  RX B -  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B\n(1733324400.300000) can0 7FF#01 R\n (2024-12-04 15:00:00.500000)  can0  7FF   [2]  remote request\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            frames(&v),
            [
                "123#DEADBEEF",
                "12345678##1000102030405060708090A0B",
                "7FF#01",
                "7FF#R2"
            ]
        );
        let t: Vec<i64> = v.iter().map(|r| r.timestamp.as_nanos()).collect();
        assert_eq!(
            t,
            [
                1_733_324_400_123_456_000,
                1_733_324_400_223_456_000,
                1_733_324_400_300_000_000,
                1_733_324_400_500_000_000
            ]
        );
        assert_eq!(v[0].direction, Direction::Tx);
        assert_eq!(v[1].channel, Channel::name("can10"));
    }

    #[test]
    fn screen_output_relative_times_zero_based_or_delta() {
        // -t z: never going back
        let z = " (000.000000)  can0  001   [0] \n (000.010000)  can0  002   [0] \n (000.010000)  can0  003   [0] \n (000.250000)  can0  004   [0] \n";
        let (v, w) = read_all(z);
        let t: Vec<i64> = v.iter().map(|r| r.timestamp.as_nanos()).collect();
        assert_eq!(t, [0, 10_000_000, 10_000_000, 250_000_000]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("read as `candump -t z`"), "{w:?}");
        // -t d: a gap smaller than the one before
        let d = " (000.000000)  can0  001   [0] \n (000.010000)  can0  002   [0] \n (000.020000)  can0  003   [0] \n (000.005000)  can0  004   [0] \n (000.100000)  can0  005   [0] \n";
        let (v, w) = read_all(d);
        let t: Vec<i64> = v.iter().map(|r| r.timestamp.as_nanos()).collect();
        assert_eq!(t, [0, 10_000_000, 30_000_000, 35_000_000, 135_000_000]);
        assert_eq!(frames(&v), ["001#", "002#", "003#", "004#", "005#"]);
        assert!(
            w[0].starts_with("t.log: line 4: ") && w[0].contains("`candump -t d`"),
            "{w:?}"
        );
        // a long -t z capture is decided after 64 lines, in order
        let mut long = String::new();
        for i in 0..200 {
            long.push_str(&format!(
                " ({:03}.{:06})  can0  {:03X}   [0] \n",
                i / 100,
                (i % 100) * 10_000,
                i
            ));
        }
        let (v, _) = read_all(&long);
        assert_eq!(v.len(), 200);
        assert!(v
            .iter()
            .enumerate()
            .all(|(i, r)| r.frame.id().raw() == i as u32
                && r.timestamp.as_nanos() == i as i64 * 10_000_000));
    }

    #[test]
    fn screen_output_without_times_error_frames_and_their_words() {
        let text = "  can0  123   [1]  11\n  can0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME\n\tcontroller-problem{rx-error-warning}\n\terror-counter-tx-rx{{0}{96}}\n  can0  124   [0] \n\tstray\n";
        let mut r = reader(text);
        let mut v = Vec::new();
        while let Some(x) = r.read().unwrap() {
            v.push(x);
        }
        assert_eq!(frames(&v), ["123#11", "20000004#0004000000000000", "124#"]);
        assert!(v.iter().all(|r| r.timestamp.as_nanos() == 0));
        assert_eq!(r.skipped(), 1);
        let w = r.take_warnings();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].starts_with("t.log: line 1: ") && w[0].contains("without times"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("t.log: line 6: not a candump log line: 'stray'"),
            "{w:?}"
        );
    }

    #[test]
    fn mangled_mixed_logs_never_panic_and_fail_cleanly() {
        let base = " (000.000000)  can0  001   [0] \n(1.000000) can0 002#11\n (000.020000)  can0  003   [1]  01\n  can0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME\n\tbus-error\n (000.010000)  can0  TX B -  004  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B\nDROPCOUNT: dropped 1\n";
        let mut next = crate::format::test_rng(0x2545_f491_4f6c_dd1du64);
        for _ in 0..2000 {
            let mut m = base.as_bytes().to_vec();
            for _ in 0..1 + next() % 4 {
                let at = next() as usize % m.len();
                let alphabet = b" 0189AF[]()`\n\t.#R";
                m[at] = alphabet[next() as usize % alphabet.len()];
            }
            let lines = m.split(|&c| c == b'\n').count();
            let mut r = Reader::new(Input {
                path: "t.log".into(),
                reader: Box::new(Cursor::new(m)),
            });
            let mut n = 0;
            loop {
                match r.read() {
                    Ok(Some(_)) => n += 1,
                    Ok(None) => break,
                    Err(e) => {
                        assert!(e.to_string().starts_with("t.log: line "), "{e}");
                        assert!(r.read().unwrap().is_none());
                        break;
                    }
                }
                assert!(n <= lines);
            }
            assert!(r.take_warnings().len() <= 12);
        }
    }

    #[test]
    fn broken_screen_lines_are_skipped_saying_why() {
        let (v, w) = read_all("  can0  123   [4]  DE AD\n  can0  124   [1]  01\n");
        assert_eq!(frames(&v), ["124#01"]);
        assert_eq!(
            w[0],
            "t.log: line 1: candump screen output: 4 data bytes announced, 2 found; skipped"
        );
    }

    #[test]
    fn the_repro_reads_its_screen_lines_and_names_the_busmaster_one() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/repro/log_not_candump.log"
        ))
        .unwrap();
        let mut r = reader(&text);
        let mut v = Vec::new();
        while let Some(x) = r.read().unwrap() {
            v.push(x);
        }
        assert_eq!(frames(&v), ["680#0322010000000000", "690#1027620100010202"]);
        assert_eq!(r.skipped(), 1);
        let w = r.take_warnings();
        assert!(
            w.iter().any(|w| w
                .starts_with("t.log: line 3: not a candump log line: '22:20:14:992 Rx 0 0000021A")),
            "{w:?}"
        );
    }

    #[test]
    fn an_error_frame_without_a_class_is_written_as_a_bus_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.log");
        let mut w = crate::format::create_writer(&path, None, &WriterOptions::default()).unwrap();
        for f in [
            Frame::error(0, &[]).unwrap(),
            Frame::error(0, &[1, 2]).unwrap(),
            Frame::error(0x208, &[0, 0, 4, 0, 0, 0, 7, 9]).unwrap(),
        ] {
            w.write(&Record::new(Timestamp::from_parts(1, 0), f))
                .unwrap();
        }
        w.finish().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "(0000000001.000000) can0 20000080#0000000000000000 R\n(0000000001.000000) can0 20000080#0102000000000000 R\n(0000000001.000000) can0 20000208#0000040000000709 R\n"
        );
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
