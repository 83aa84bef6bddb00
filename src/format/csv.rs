//! CSV logs: python-can's layout (the default), a richer layout of our own, and
//! SavvyCAN/GVRET exports (read only). The reader tells them apart by the header
//! line.
//!
//! **python-can layout** (`layout=python`, the default), which python-can's
//! `CSVReader` reads:
//!
//! ```text
//! timestamp,arbitration_id,extended,remote,error,dlc,data
//! 1700000000.001458,0xb6,0,0,0,6,foNl101f
//! ```
//!
//! `timestamp` is Unix seconds as Python prints a float (shortest round-trip
//! digits, so about 0.2 µs resolution today), `arbitration_id` hex with `0x`,
//! flags `1`/`0`, `dlc` python-can's `Message.dlc` (the byte count for CAN FD,
//! the DLC code otherwise), `data` Base64. It holds no channel, direction or FD
//! flags: on reading, the channel is none, the direction Rx, and a frame of more
//! than 8 bytes is CAN FD (without BRS/ESI) — python-can itself calls those
//! classic. Error frames carry their SocketCAN error class as the id, as
//! python-can's socketcan interface reports them (its file readers give 0). An appended file gets no second header.
//!
//! **Rich layout** (`layout=rich`), lossless up to the nanosecond:
//!
//! ```text
//! timestamp,channel,direction,id,extended,remote,error,fd,brs,esi,dlc,data
//! 1700000000.001458000,can0,rx,0xb6,0,0,0,0,0,0,6,7e8365d74d5f
//! ```
//!
//! | column | content |
//! | --- | --- |
//! | timestamp | Unix seconds with 9 decimals |
//! | channel | empty (none), a number (a 1-based numbered channel) or a name; a name is quoted CSV-style if it holds `,` or `"` or only digits |
//! | direction | `rx` or `tx` |
//! | id | hex with `0x` (the error class for error frames) |
//! | extended, remote, error, fd, brs, esi | `1` or `0` |
//! | dlc | the DLC code 0–15 as on the wire |
//! | data | lowercase hex, no separators (empty for remote frames) |
//!
//! Columns may come in any order; `timestamp`, `id` and `data` are required.
//!
//! **SavvyCAN/GVRET** (`Time Stamp,ID,Extended,[Dir,]Bus,LEN,D1,...`, read only):
//! the time stamp is in microseconds (a value with a decimal point is taken as
//! seconds), the 0-based `Bus` becomes `Channel::Number(bus + 1)`, `Dir` the
//! direction, and `LEN` bytes are taken from the `D` columns. A `LEN` above 8 is
//! CAN FD.
//!
//! An unknown header is an error naming the file. A row that does not read is
//! skipped: counted, the first few named in warnings, and a file of which no row
//! reads is an error naming its first bad line ([`crate::format::lines`]); a
//! cut-off last line is skipped the same way and ends the stream.

use std::io::Write;

use super::lines::{LineReader, TextSink};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::trc::{parse_dec, parse_fixed};
use super::{Input, Output, RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Result};
use crate::frame::hex::{self, Case};
use crate::frame::text::{push_decimal, push_decimal_padded};
use crate::frame::{dlc_to_len, Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};

/// The python-can header.
const PYTHON_HEADER: &str = "timestamp,arbitration_id,extended,remote,error,dlc,data";
/// The rich header.
const RICH_HEADER: &str =
    "timestamp,channel,direction,id,extended,remote,error,fd,brs,esi,dlc,data";

/// Base64 that accepts missing padding.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A frame from the seven values python-can's CSV and SQLite formats store.
pub(crate) fn python_frame(
    id: i64,
    extended: bool,
    remote: bool,
    error: bool,
    dlc: i64,
    data: &[u8],
) -> std::result::Result<Frame, String> {
    let id = u32::try_from(id).map_err(|_| format!("identifier {id} is out of range"))?;
    let dlc = u8::try_from(dlc)
        .ok()
        .filter(|&d| d <= 64)
        .ok_or_else(|| format!("dlc {dlc} is out of range"))?;
    let n = data.len();
    if error {
        return if dlc as usize == n || n == 0 {
            Frame::error(id, data)
        } else {
            Frame::error_with_dlc(id, data, dlc)
        }
        .map_err(|e| e.to_string());
    }
    let id = Id::new(id, extended).map_err(|e| e.to_string())?;
    if remote {
        return Frame::remote(id, dlc).map_err(|e| e.to_string());
    }
    if n > 8 {
        if dlc as usize != n && (dlc > 15 || dlc_to_len(dlc) != n) {
            return Err(format!("dlc {dlc} does not match {n} data bytes"));
        }
        return Frame::fd(id, data, FdFlags::default()).map_err(|e| e.to_string());
    }
    if dlc as usize == n {
        Frame::data(id, data)
    } else {
        Frame::data_with_dlc(id, data, dlc)
    }
    .map_err(|e| e.to_string())
}

/// python-can's `Message.dlc` of a frame: the byte count for CAN FD data.
pub(crate) fn python_dlc(f: &Frame) -> u8 {
    if f.is_fd() && f.is_data() {
        f.len() as u8
    } else {
        f.dlc()
    }
}

/// Appends a float as Python's `repr` prints it.
pub(crate) fn push_py_float(buf: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        buf.extend_from_slice(if v.is_nan() {
            b"nan"
        } else if v > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
        return;
    }
    // shortest round-trip digits in exponent form: "1.7000000000014579e9"
    let mut tmp = [0u8; 40];
    let len = {
        let mut cur = std::io::Cursor::new(&mut tmp[..]);
        let _ = write!(cur, "{:e}", v);
        cur.position() as usize
    };
    let s = &tmp[..len];
    let (neg, s) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let epos = s.iter().position(|&c| c == b'e').unwrap_or(s.len());
    let mant = &s[..epos];
    let exp: i32 = std::str::from_utf8(&s[(epos + 1).min(s.len())..])
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &c in mant {
        if c.is_ascii_digit() && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let digits = &digits[..nd.max(1)];
    if neg {
        buf.push(b'-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            buf.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                buf.push(b'0');
            }
            buf.extend_from_slice(digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                buf.extend_from_slice(digits);
                for _ in digits.len()..int_len {
                    buf.push(b'0');
                }
                buf.extend_from_slice(b".0");
            } else {
                buf.extend_from_slice(&digits[..int_len]);
                buf.push(b'.');
                buf.extend_from_slice(&digits[int_len..]);
            }
        }
    } else {
        buf.push(digits[0]);
        if digits.len() > 1 {
            buf.push(b'.');
            buf.extend_from_slice(&digits[1..]);
        }
        buf.push(b'e');
        buf.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            buf.push(b'0');
        }
        push_decimal(buf, a as u64);
    }
}

/// Parses seconds text (plain decimal exactly, exponent form as a float).
pub(crate) fn parse_secs(tok: &[u8]) -> Option<Timestamp> {
    if let Some(ns) = parse_fixed(tok, 9) {
        return Some(Timestamp::from_nanos(ns));
    }
    let v: f64 = std::str::from_utf8(tok).ok()?.parse().ok()?;
    (v.is_finite() && v.abs() < 9.0e9).then(|| Timestamp::from_secs_f64(v))
}

/// Seconds as a float to a timestamp, through the float's shortest decimal
/// form (so `1700000000.00225` is exactly ...002250000 ns).
pub(crate) fn secs_from_f64(v: f64) -> Option<Timestamp> {
    if !v.is_finite() || v.abs() >= 9.0e9 {
        return None;
    }
    if v.abs() < 1e-6 {
        return Some(Timestamp::from_secs_f64(v)); // `{}` would print many zeros
    }
    let mut tmp = [0u8; 40];
    let len = {
        let mut cur = std::io::Cursor::new(&mut tmp[..]);
        let _ = write!(cur, "{}", v);
        cur.position() as usize
    };
    parse_secs(&tmp[..len])
}

/// Appends a timestamp as seconds with 9 decimals.
fn push_secs9(buf: &mut Vec<u8>, ts: Timestamp) {
    if ts.as_nanos() < 0 {
        buf.push(b'-');
    }
    let abs = ts.as_nanos().unsigned_abs();
    push_decimal(buf, abs / 1_000_000_000);
    buf.push(b'.');
    push_decimal_padded(buf, abs % 1_000_000_000, 9);
}

/// Appends `0x` and the lower-case hex digits of `v`.
fn push_hex_lower(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(b"0x");
    hex::push_u32(buf, v, 1, Case::Lower);
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    Python,
    Rich,
    Savvy,
}

/// Column positions for the rich and SavvyCAN layouts.
#[derive(Default, Clone, Copy)]
struct Cols {
    ts: usize,
    channel: Option<usize>,
    direction: Option<usize>,
    id: usize,
    extended: Option<usize>,
    remote: Option<usize>,
    error: Option<usize>,
    fd: Option<usize>,
    brs: Option<usize>,
    esi: Option<usize>,
    dlc: Option<usize>,
    data: usize,
    /// SavvyCAN: the number of `Dn` columns from `data` on.
    ndata: usize,
}

/// Reads a CSV log (python-can, rich or SavvyCAN layout).
pub struct Reader {
    lines: LineReader,
    layout: Layout,
    cols: Cols,
    fields: Vec<(usize, usize)>,
    last_name: Option<std::sync::Arc<str>>,
}

impl Reader {
    /// A reader over an opened input; reads the header line to choose the layout.
    pub fn new(input: Input) -> Result<Reader> {
        let mut r = Reader {
            lines: LineReader::new(input),
            layout: Layout::Python,
            cols: Cols::default(),
            fields: Vec::with_capacity(80),
            last_name: None,
        };
        if !r.lines.next_line()? {
            return Ok(r); // an empty file holds no records
        }
        let header = String::from_utf8_lossy(r.lines.line()).into_owned();
        let header = header.trim_start_matches('\u{feff}');
        let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
        let find = |n: &str| names.iter().position(|x| x.eq_ignore_ascii_case(n));
        if header == PYTHON_HEADER {
            r.layout = Layout::Python;
        } else if find("Time Stamp").is_some() && find("ID").is_some() && find("LEN").is_some() {
            r.layout = Layout::Savvy;
            let d1 =
                find("D1").ok_or_else(|| r.lines.error("SavvyCAN header without a D1 column"))?;
            let ndata = names[d1..]
                .iter()
                .enumerate()
                .take_while(|(i, n)| n.eq_ignore_ascii_case(&format!("D{}", i + 1)))
                .count();
            r.cols = Cols {
                ts: find("Time Stamp").unwrap_or(0),
                channel: find("Bus"),
                direction: find("Dir"),
                id: find("ID").unwrap_or(1),
                extended: find("Extended"),
                dlc: find("LEN"),
                data: d1,
                ndata,
                ..Cols::default()
            };
        } else if let (Some(ts), Some(id), Some(data)) =
            (find("timestamp"), find("id"), find("data"))
        {
            r.layout = Layout::Rich;
            r.cols = Cols {
                ts,
                channel: find("channel"),
                direction: find("direction"),
                id,
                extended: find("extended"),
                remote: find("remote"),
                error: find("error"),
                fd: find("fd"),
                brs: find("brs"),
                esi: find("esi"),
                dlc: find("dlc"),
                data,
                ndata: 1,
            };
        } else {
            let shown: String = header.chars().take(80).collect();
            return Err(r.lines.error(format!(
                "unknown CSV header '{shown}': expected python-can's '{PYTHON_HEADER}', cankit's rich layout or a SavvyCAN 'Time Stamp,ID,...' export"
            )));
        }
        Ok(r)
    }

    /// Splits the current line into fields (CSV quoting allowed).
    fn split(&mut self) {
        self.fields.clear();
        let b = self.lines.line();
        let mut i = 0;
        loop {
            if i < b.len() && b[i] == b'"' {
                let s = i;
                i += 1;
                while i < b.len() {
                    if b[i] == b'"' {
                        if i + 1 < b.len() && b[i + 1] == b'"' {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                while i < b.len() && b[i] != b',' {
                    i += 1;
                }
                self.fields.push((s, i));
            } else {
                let s = i;
                while i < b.len() && b[i] != b',' {
                    i += 1;
                }
                self.fields.push((s, i));
            }
            if i >= b.len() {
                break;
            }
            i += 1; // the comma
        }
    }

    fn field(&self, i: usize) -> &[u8] {
        match self.fields.get(i) {
            Some(&(s, e)) => self.lines.line()[s..e].trim_ascii(),
            None => b"",
        }
    }

    fn flag(&self, i: Option<usize>) -> std::result::Result<bool, String> {
        let Some(i) = i else { return Ok(false) };
        match self.field(i) {
            b"1" | b"true" | b"True" | b"TRUE" => Ok(true),
            b"0" | b"false" | b"False" | b"FALSE" | b"" => Ok(false),
            o => Err(format!(
                "flag must be 1/0 or true/false, not '{}'",
                String::from_utf8_lossy(o)
            )),
        }
    }

    fn need_fields(&self, n: usize) -> std::result::Result<(), String> {
        if self.fields.len() < n {
            Err(format!(
                "{} fields, expected at least {n}",
                self.fields.len()
            ))
        } else {
            Ok(())
        }
    }

    fn parse_row(&mut self) -> std::result::Result<Record, String> {
        match self.layout {
            Layout::Python => {
                if self.fields.len() != 7 {
                    return Err(format!(
                        "{} fields, python-can's layout has 7",
                        self.fields.len()
                    ));
                }
                let ts = self.timestamp(0)?;
                let id = self.hex_id(1)?;
                let (ext, rem, err) = (
                    self.flag(Some(2))?,
                    self.flag(Some(3))?,
                    self.flag(Some(4))?,
                );
                let dlc = self.dec(5)?;
                let mut buf = [0u8; 72];
                let n = decode_b64(self.field(6), &mut buf)?;
                let frame = python_frame(id as i64, ext, rem, err, dlc as i64, &buf[..n])?;
                Ok(Record::new(ts, frame))
            }
            Layout::Rich => {
                let c = self.cols;
                let ts = self.timestamp(c.ts)?;
                let id = self.hex_id(c.id)?;
                let (ext, rem, err) = (
                    self.flag(c.extended)?,
                    self.flag(c.remote)?,
                    self.flag(c.error)?,
                );
                let fd = self.flag(c.fd)?;
                let flags = FdFlags {
                    brs: self.flag(c.brs)?,
                    esi: self.flag(c.esi)?,
                };
                let mut buf = [0u8; 64];
                let n = decode_hex(self.field(c.data), &mut buf)?;
                let data = &buf[..n];
                let dlc = match c.dlc {
                    Some(i) if !self.field(i).is_empty() => Some(self.dec(i)?),
                    _ => None,
                };
                let dlc8 = dlc.map(|d| d.min(255) as u8);
                let frame = if err {
                    match dlc8 {
                        Some(d) if d as usize != n => Frame::error_with_dlc(id, data, d),
                        _ => Frame::error(id, data),
                    }
                    .map(|f| if fd { f.with_fd_flags(flags) } else { f })
                } else {
                    let id = Id::new(id, ext).map_err(|e| e.to_string())?;
                    if rem {
                        Frame::remote(id, dlc8.unwrap_or(0)).map(|f| {
                            if fd {
                                f.with_fd_flags(flags)
                            } else {
                                f
                            }
                        })
                    } else if fd {
                        if let Some(d) = dlc8 {
                            if d > 15 || dlc_to_len(d) != n {
                                return Err(format!("dlc {d} does not match {n} data bytes"));
                            }
                        }
                        Frame::fd(id, data, flags)
                    } else {
                        match dlc8 {
                            Some(d) => Frame::data_with_dlc(id, data, d),
                            None => Frame::data(id, data),
                        }
                    }
                }
                .map_err(|e| e.to_string())?;
                let channel = match c.channel {
                    None => Channel::None,
                    Some(i) => self.channel(i),
                };
                let direction = match c.direction.map(|i| self.field(i)) {
                    None | Some(b"") | Some(b"rx") | Some(b"Rx") | Some(b"RX") => Direction::Rx,
                    Some(b"tx") | Some(b"Tx") | Some(b"TX") => Direction::Tx,
                    Some(o) => {
                        return Err(format!(
                            "direction must be rx or tx, not '{}'",
                            String::from_utf8_lossy(o)
                        ))
                    }
                };
                Ok(Record {
                    timestamp: ts,
                    channel,
                    direction,
                    frame,
                })
            }
            Layout::Savvy => {
                let c = self.cols;
                self.need_fields(c.data)?;
                let t = self.field(c.ts);
                let ts = if t.contains(&b'.') {
                    parse_secs(t)
                } else {
                    parse_fixed(t, 0)
                        .and_then(|us| us.checked_mul(1000))
                        .map(Timestamp)
                }
                .ok_or_else(|| format!("bad time stamp '{}'", String::from_utf8_lossy(t)))?;
                let id = self.hex_id(c.id)?;
                let ext = self.flag(c.extended)?;
                let len = match c.dlc {
                    Some(i) => self.dec(i)? as usize,
                    None => 0,
                };
                if len > 64 || len > c.ndata {
                    return Err(format!(
                        "LEN {len} is more than the {} data columns",
                        c.ndata
                    ));
                }
                let mut buf = [0u8; 64];
                for (k, b) in buf.iter_mut().take(len).enumerate() {
                    let f = self.field(c.data + k);
                    *b = hex::byte(f)
                        .ok_or_else(|| format!("bad data byte '{}'", String::from_utf8_lossy(f)))?;
                }
                let id = Id::new(id, ext).map_err(|e| e.to_string())?;
                let frame = if len > 8 {
                    Frame::fd(id, &buf[..len], FdFlags::default())
                } else {
                    Frame::data(id, &buf[..len])
                }
                .map_err(|e| e.to_string())?;
                let channel = match c.channel {
                    Some(i) if !self.field(i).is_empty() => {
                        let b = self.field(i);
                        Channel::Number(
                            parse_dec(b).and_then(|v| v.checked_add(1)).ok_or_else(|| {
                                format!("bad bus '{}'", String::from_utf8_lossy(b))
                            })?,
                        )
                    }
                    _ => Channel::None,
                };
                let direction = match c.direction.map(|i| self.field(i)) {
                    Some(b"Tx") | Some(b"TX") | Some(b"tx") => Direction::Tx,
                    _ => Direction::Rx,
                };
                Ok(Record {
                    timestamp: ts,
                    channel,
                    direction,
                    frame,
                })
            }
        }
    }

    fn timestamp(&self, i: usize) -> std::result::Result<Timestamp, String> {
        let t = self.field(i);
        parse_secs(t).ok_or_else(|| format!("bad timestamp '{}'", String::from_utf8_lossy(t)))
    }

    fn hex_id(&self, i: usize) -> std::result::Result<u32, String> {
        let t = self.field(i);
        hex::u32_prefixed(t)
            .ok_or_else(|| format!("bad identifier '{}'", String::from_utf8_lossy(t)))
    }

    fn dec(&self, i: usize) -> std::result::Result<u32, String> {
        let t = self.field(i);
        parse_dec(t).ok_or_else(|| format!("bad number '{}'", String::from_utf8_lossy(t)))
    }

    fn channel(&mut self, i: usize) -> Channel {
        let raw = self.field(i);
        if raw.is_empty() {
            return Channel::None;
        }
        if let Some(n) = parse_dec(raw) {
            return Channel::Number(n);
        }
        let text: std::borrow::Cow<'_, str> =
            if raw.len() >= 2 && raw[0] == b'"' && raw[raw.len() - 1] == b'"' {
                String::from_utf8_lossy(&raw[1..raw.len() - 1])
                    .replace("\"\"", "\"")
                    .into()
            } else {
                String::from_utf8_lossy(raw)
            };
        match &self.last_name {
            Some(a) if **a == *text => Channel::Name(a.clone()),
            _ => {
                let a: std::sync::Arc<str> = std::sync::Arc::from(&*text);
                self.last_name = Some(a.clone());
                Channel::Name(a)
            }
        }
    }
}

fn decode_b64(s: &[u8], out: &mut [u8; 72]) -> std::result::Result<usize, String> {
    if s.is_empty() {
        return Ok(0);
    }
    if s.len() > 88 {
        return Err("Base64 data longer than 64 bytes".into());
    }
    let n = B64_LENIENT
        .decode_slice(s, &mut out[..])
        .map_err(|e| format!("bad Base64 data '{}': {e}", String::from_utf8_lossy(s)))?;
    if n > 64 {
        return Err("Base64 data longer than 64 bytes".into());
    }
    Ok(n)
}

fn decode_hex(s: &[u8], out: &mut [u8; 64]) -> std::result::Result<usize, String> {
    hex::decode(s, out).ok_or_else(|| format!("bad hex data '{}'", String::from_utf8_lossy(s)))
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        while self.lines.next_line()? {
            if self.lines.line().trim_ascii().is_empty() {
                continue;
            }
            self.split();
            let parsed = self.parse_row();
            if let Some(r) = self.lines.keep(parsed) {
                return Ok(Some(r));
            }
        }
        self.lines.finish()
    }

    crate::line_reader_methods!();
}

/// Writes a CSV log in python-can's or the rich layout.
pub struct Writer {
    sink: TextSink,
    rich: bool,
}

impl Writer {
    /// A writer over an opened output. Option `layout=python|rich`.
    pub fn new(out: Output, opts: &WriterOptions) -> Result<Writer> {
        let rich = match opts.options.get("layout").map(String::as_str) {
            None | Some("python") | Some("python-can") => false,
            Some("rich") => true,
            Some(v) => {
                return Err(Error::bad_option_value(
                    "the csv format",
                    "layout",
                    v,
                    "python or rich",
                ))
            }
        };
        let appending = out.appending;
        let mut sink = TextSink::new(out);
        if !appending {
            let header = if rich { RICH_HEADER } else { PYTHON_HEADER };
            sink.buf.extend_from_slice(header.as_bytes());
            sink.buf.push(b'\n');
        }
        Ok(Writer { sink, rich })
    }
}

/// Appends one record in python-can's layout.
pub fn write_python_row(buf: &mut Vec<u8>, r: &Record) {
    let f = &r.frame;
    push_py_float(buf, r.timestamp.as_secs_f64());
    buf.push(b',');
    push_hex_lower(buf, f.id().raw());
    buf.extend_from_slice(if f.id().is_extended() { b",1," } else { b",0," });
    buf.extend_from_slice(if f.is_remote() { b"1," } else { b"0," });
    buf.extend_from_slice(if f.is_error() { b"1," } else { b"0," });
    push_decimal(buf, python_dlc(f) as u64);
    buf.push(b',');
    let d = f.data_bytes();
    if !d.is_empty() {
        let start = buf.len();
        buf.resize(start + d.len().div_ceil(3) * 4, 0);
        let n = STANDARD.encode_slice(d, &mut buf[start..]).unwrap_or(0);
        buf.truncate(start + n);
    }
    buf.push(b'\n');
}

/// Appends one record in the rich layout.
pub fn write_rich_row(buf: &mut Vec<u8>, r: &Record) {
    let f = &r.frame;
    push_secs9(buf, r.timestamp);
    buf.push(b',');
    match &r.channel {
        Channel::None => {}
        Channel::Number(n) => push_decimal(buf, *n as u64),
        Channel::Name(s) => {
            if s.contains([',', '"', '\n', '\r']) || s.bytes().all(|c| c.is_ascii_digit()) {
                buf.push(b'"');
                buf.extend_from_slice(s.replace('"', "\"\"").as_bytes());
                buf.push(b'"');
            } else {
                buf.extend_from_slice(s.as_bytes());
            }
        }
    }
    buf.extend_from_slice(match r.direction {
        Direction::Rx => b",rx,",
        Direction::Tx => b",tx,",
    });
    push_hex_lower(buf, f.id().raw());
    let b = |v: bool| if v { b",1" } else { b",0" };
    buf.extend_from_slice(b(f.id().is_extended()));
    buf.extend_from_slice(b(f.is_remote()));
    buf.extend_from_slice(b(f.is_error()));
    buf.extend_from_slice(b(f.is_fd()));
    buf.extend_from_slice(b(f.brs()));
    buf.extend_from_slice(b(f.esi()));
    buf.push(b',');
    push_decimal(buf, f.dlc() as u64);
    buf.push(b',');
    hex::push_bytes(buf, f.data_bytes(), Case::Lower);
    buf.push(b'\n');
}

impl Writer {
    fn row(&mut self, r: &Record) {
        if self.rich {
            write_rich_row(&mut self.sink.buf, r);
        } else {
            write_python_row(&mut self.sink.buf, r);
        }
    }
}

impl RecordWriter for Writer {
    crate::text_writer_methods!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;
    use std::io::Cursor;

    fn read_all(text: &str) -> Result<Vec<Record>> {
        crate::format::read_in_memory("t.csv", text.as_bytes())
    }

    fn py(v: f64) -> String {
        let mut b = Vec::new();
        push_py_float(&mut b, v);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn floats_print_as_python_repr() {
        assert_eq!(py(1700000000.00225), "1700000000.00225");
        assert_eq!(py(1700000000.001458), "1700000000.001458");
        assert_eq!(py(1.0), "1.0");
        assert_eq!(py(0.0), "0.0");
        assert_eq!(py(1e-5), "1e-05");
        assert_eq!(py(0.0001), "0.0001");
        assert_eq!(py(1.5e16), "1.5e+16");
        assert_eq!(py(1e16), "1e+16");
        assert_eq!(py(123456789012345.0), "123456789012345.0");
        assert_eq!(py(-2.5), "-2.5");
        assert_eq!(py(5e-324), "5e-324");
    }

    #[test]
    fn python_layout_reads_like_python_can() {
        let v = read_all(
            "timestamp,arbitration_id,extended,remote,error,dlc,data\n\
1700000000.001458,0xb6,0,0,0,6,foNl101f\n\
1700000000.00225,0xcf1f4c1,1,0,0,64,Vx0dALsQR5+0wogit2t9qjvoH1xqlJI1YqxLLs/ArMCbxUp2A7ZZiCypJZUIhpgyEA5A/Qp72C5ALwdLAydw2Q==\n\
1700000000.003381,0x0,1,0,1,0,\n\
1700000000.101414,0x21a,0,1,0,4,\n",
        )
        .unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].frame, parse_frame("0B6#7E8365D74D5F").unwrap());
        assert_eq!(v[1].timestamp.as_nanos(), 1_700_000_000_002_250_000);
        assert!(v[1].frame.is_fd() && v[1].frame.len() == 64);
        assert!(v[2].frame.is_error());
        assert!(v[3].frame.is_remote() && v[3].frame.dlc() == 4);
    }

    #[test]
    fn rich_layout_round_trip() {
        let frames = [
            "123#DEADBEEF",
            "1F334455#11",
            "123#R4",
            "123#1122334455667788_E",
            "20000080#0000000000000000",
            "123##3AABBCCDDEEFF001122334455",
        ];
        let chans = [
            Channel::name("can0"),
            Channel::Number(2),
            Channel::None,
            Channel::name("a,\"b"),
            Channel::name("7"),
            Channel::name("vcan1"),
        ];
        let mut text = format!("{RICH_HEADER}\n").into_bytes();
        let mut recs = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let r = Record::new(
                Timestamp::from_parts(1_700_000_000, 123_456_789 + i as u32),
                parse_frame(f).unwrap(),
            )
            .with_channel(chans[i].clone())
            .with_direction(if i == 1 { Direction::Tx } else { Direction::Rx });
            write_rich_row(&mut text, &r);
            recs.push(r);
        }
        let text = String::from_utf8(text).unwrap();
        let back = read_all(&text).unwrap();
        assert_eq!(back, recs, "{text}");
    }

    #[test]
    fn savvycan_layouts() {
        let v = read_all("Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8\n7700,00000514,false,Tx,0,3,00,08,78,00,0C,2B,CB,80,\n").unwrap();
        assert_eq!(v[0].timestamp.as_nanos(), 7_700_000);
        assert_eq!(v[0].frame, parse_frame("514#000878").unwrap());
        assert_eq!(v[0].direction, Direction::Tx);
        assert_eq!(v[0].channel, Channel::Number(1));
    }

    #[test]
    fn bad_rows_name_the_line() {
        let h = "timestamp,arbitration_id,extended,remote,error,dlc,data\n";
        let e = read_all(&format!("{h}1.0,0x1,0,0\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.csv: line 2") && e.contains("4 fields"), "{e}");
        // a bad row among good ones is skipped, named and counted
        let mut r = Reader::new(Input {
            path: "t.csv".into(),
            reader: Box::new(Cursor::new(
                format!("{h}1.0,0x1,0,0,0,1,AA==\n1.0,0x1,0,0\n2.0,0x2,0,0,0,0,\n").into_bytes(),
            )),
        })
        .unwrap();
        let mut ids = Vec::new();
        while let Some(x) = r.read().unwrap() {
            ids.push(x.frame.id().raw());
        }
        assert_eq!((ids, r.skipped()), (vec![1, 2], 1));
        let w = r.take_warnings();
        assert!(
            w[0].starts_with("t.csv: line 3: ") && w[0].contains("4 fields"),
            "{w:?}"
        );
        assert_eq!(w[1], "t.csv: 1 line(s) skipped");
        let e = read_all(&format!("{h}1.0,0xzz,0,0,0,1,AA==\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("identifier"), "{e}");
        let e = read_all(&format!("{h}1.0,0x1,0,0,0,1,!!!\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("Base64"), "{e}");
        let e = read_all("a,b,c\n").unwrap_err().to_string();
        assert!(
            e.contains("t.csv: line 1") && e.contains("unknown CSV header"),
            "{e}"
        );
        let e = read_all(&format!("{h}1.0,0x800,0,0,0,0,\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("11 bits"), "{e}");
        // cut-off last row: warning
        let mut r = Reader::new(Input {
            path: "t.csv".into(),
            reader: Box::new(Cursor::new(
                format!("{h}1.0,0x1,0,0,0,1,AA==\n1.0,0x1,0").into_bytes(),
            )),
        })
        .unwrap();
        assert!(r.read().unwrap().is_some());
        assert!(r.read().unwrap().is_none());
        assert_eq!(r.take_warnings().len(), 2);
    }
}
