//! Writing decoded signals: JSON Lines (one object per frame), CSV in a long
//! form (one row per signal) or a wide one (one column per signal of the
//! DBC, fixed before the first row so nothing is buffered), and the short
//! text line can-logger prints under a frame.
//!
//! A value is the physical number, or the value-table name as a string where
//! the DBC has one for the raw value (as cantools' `decode_choices`). Integer
//! signals with factor 1 and offset 0 are written as the exact integer.

use std::collections::BTreeMap;
use std::io::Write;

use super::{Dbc, Decoded, Message, Signal};
use crate::frame::{Channel, Record, Timestamp};

/// The shape of the decoded output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `{"timestamp":..,"channel":..,"id":..,"message":"M","signals":{"S":v}}`
    Jsonl,
    /// `timestamp,channel,id,message,signal,value,unit`, a row per signal.
    CsvLong,
    /// `timestamp,channel,id,message,M.S,...`, a row per frame.
    CsvWide,
}

/// Decodes records with a [`Dbc`] and writes their signals.
pub struct SignalWriter<W: Write> {
    out: W,
    dbc: Dbc,
    layout: Layout,
    decoded: Vec<Decoded>,
    line: Vec<u8>,
    /// Wide CSV: the first column of each message's signals.
    columns: Vec<usize>,
    total_columns: usize,
    /// Wide CSV: decoded index of each signal of the row's message.
    slot: Vec<usize>,
    /// Frames decoded.
    pub frames: u64,
    /// Signal values written.
    pub values: u64,
    /// Data frames no message matched, by (id, extended).
    pub unmatched: BTreeMap<(u32, bool), u64>,
    /// Frames not decoded at all (remote and error frames).
    pub not_data: u64,
}

impl<W: Write> SignalWriter<W> {
    /// A writer; CSV gets its header at once.
    pub fn new(dbc: Dbc, layout: Layout, out: W) -> std::io::Result<SignalWriter<W>> {
        let mut columns = Vec::with_capacity(dbc.messages().len());
        let mut total = 0;
        for m in dbc.messages() {
            columns.push(total);
            total += m.signals.len();
        }
        let max = dbc
            .messages()
            .iter()
            .map(|m| m.signals.len())
            .max()
            .unwrap_or(0);
        let mut w = SignalWriter {
            out,
            dbc,
            layout,
            decoded: Vec::with_capacity(max),
            line: Vec::with_capacity(4096),
            columns,
            total_columns: total,
            slot: vec![usize::MAX; max],
            frames: 0,
            values: 0,
            unmatched: BTreeMap::new(),
            not_data: 0,
        };
        match layout {
            Layout::Jsonl => {}
            Layout::CsvLong => w
                .out
                .write_all(b"timestamp,channel,id,message,signal,value,unit\n")?,
            Layout::CsvWide => {
                let mut h = b"timestamp,channel,id,message".to_vec();
                for m in w.dbc.messages() {
                    for s in &m.signals {
                        h.push(b',');
                        csv_field(&mut h, &format!("{}.{}", m.name, s.name));
                    }
                }
                h.push(b'\n');
                w.out.write_all(&h)?;
            }
        }
        Ok(w)
    }

    /// Decodes one record and writes it; a frame no message matches is
    /// counted in [`SignalWriter::unmatched`].
    pub fn write(&mut self, r: &Record) -> std::io::Result<()> {
        if !r.frame.is_data() {
            self.not_data += 1;
            return Ok(());
        }
        let Some(mi) = self.dbc.message_index_for(&r.frame) else {
            let id = r.frame.id();
            *self
                .unmatched
                .entry((id.raw(), id.is_extended()))
                .or_insert(0) += 1;
            return Ok(());
        };
        let m = &self.dbc.messages()[mi];
        self.decoded.clear();
        m.decode(r.frame.data_bytes(), &mut self.decoded);
        self.frames += 1;
        self.values += self.decoded.len() as u64;
        self.line.clear();
        let line = &mut self.line;
        match self.layout {
            Layout::Jsonl => {
                line.extend_from_slice(b"{\"timestamp\":");
                seconds(line, r.timestamp);
                line.extend_from_slice(b",\"channel\":");
                match &r.channel {
                    Channel::None => line.extend_from_slice(b"null"),
                    Channel::Number(n) => {
                        let _ = write!(line, "{n}");
                    }
                    Channel::Name(s) => {
                        let _ = serde_json::to_writer(&mut *line, &**s);
                    }
                }
                let _ = write!(line, ",\"id\":{},\"message\":", r.frame.id().raw());
                let _ = serde_json::to_writer(&mut *line, &m.name);
                line.extend_from_slice(b",\"signals\":{");
                for (k, d) in self.decoded.iter().enumerate() {
                    let s = &m.signals[d.signal];
                    if k > 0 {
                        line.push(b',');
                    }
                    let _ = serde_json::to_writer(&mut *line, &s.name);
                    line.push(b':');
                    match s.label_of(d) {
                        Some(l) => {
                            let _ = serde_json::to_writer(&mut *line, l);
                        }
                        None => number(line, s, d, b"null"),
                    }
                }
                line.extend_from_slice(b"}}\n");
            }
            Layout::CsvLong => {
                for d in &self.decoded {
                    let s = &m.signals[d.signal];
                    row_start(line, r, m);
                    line.push(b',');
                    csv_field(line, &s.name);
                    line.push(b',');
                    match s.label_of(d) {
                        Some(l) => csv_field(line, l),
                        None => number(line, s, d, b"NaN"),
                    }
                    line.push(b',');
                    csv_field(line, &s.unit);
                    line.push(b'\n');
                }
            }
            Layout::CsvWide => {
                row_start(line, r, m);
                let base = self.columns[mi];
                for _ in 0..base {
                    line.push(b',');
                }
                let n = m.signals.len();
                self.slot[..n].fill(usize::MAX);
                for (k, d) in self.decoded.iter().enumerate() {
                    self.slot[d.signal] = k;
                }
                for (si, s) in m.signals.iter().enumerate() {
                    line.push(b',');
                    if let Some(d) = self.decoded.get(self.slot[si]) {
                        match s.label_of(d) {
                            Some(l) => csv_field(line, l),
                            None => number(line, s, d, b"NaN"),
                        }
                    }
                }
                for _ in base + n..self.total_columns {
                    line.push(b',');
                }
                line.push(b'\n');
            }
        }
        self.out.write_all(&self.line)
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Data frames no message matched.
    pub fn unmatched_frames(&self) -> u64 {
        self.unmatched.values().sum()
    }

    /// The output, after a last flush.
    pub fn into_inner(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// `timestamp,channel,id,message` of a CSV row.
fn row_start(line: &mut Vec<u8>, r: &Record, m: &Message) {
    seconds(line, r.timestamp);
    line.push(b',');
    match &r.channel {
        Channel::None => {}
        Channel::Number(n) => {
            let _ = write!(line, "{n}");
        }
        Channel::Name(s) => csv_field(line, s),
    }
    let _ = write!(line, ",{},", r.frame.id().raw());
    csv_field(line, &m.name);
}

/// Unix seconds with 9 decimals.
fn seconds(line: &mut Vec<u8>, ts: Timestamp) {
    let sign = if ts.as_nanos() < 0 { "-" } else { "" };
    let abs = ts.as_nanos().unsigned_abs();
    let _ = write!(
        line,
        "{sign}{}.{:09}",
        abs / 1_000_000_000,
        abs % 1_000_000_000
    );
}

/// A physical value: the exact integer when the signal does not scale,
/// else the shortest decimal that reads back as the same double;
/// `not_finite` for NaN and infinities.
fn number(line: &mut Vec<u8>, s: &Signal, d: &Decoded, not_finite: &[u8]) {
    if s.is_identity() {
        let _ = match s.value_type {
            super::ValueType::Unsigned => write!(line, "{}", d.raw as u64),
            _ => write!(line, "{}", d.raw),
        };
    } else if d.value.is_finite() {
        let _ = write!(line, "{}", d.value);
    } else {
        line.extend_from_slice(not_finite);
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(line: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        line.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                line.push(b'"');
            }
            line.push(b);
        }
        line.push(b'"');
    } else {
        line.extend_from_slice(s.as_bytes());
    }
}

/// The text can-logger prints under a frame: `  Name: Sig=value unit,
/// Sig2=Label (raw), ...`.
pub fn write_text(line: &mut Vec<u8>, m: &Message, decoded: &[Decoded]) {
    line.extend_from_slice(b"  ");
    line.extend_from_slice(m.name.as_bytes());
    line.push(b':');
    for (k, d) in decoded.iter().enumerate() {
        let s = &m.signals[d.signal];
        line.extend_from_slice(if k == 0 { b" " } else { b", " });
        line.extend_from_slice(s.name.as_bytes());
        line.push(b'=');
        match s.label_of(d) {
            Some(l) => {
                let _ = if s.is_float() {
                    write!(line, "{l} ({})", f64::from_bits(d.raw as u64))
                } else {
                    write!(line, "{l} ({})", d.raw)
                };
            }
            None => {
                number(line, s, d, b"NaN");
                if !s.unit.is_empty() {
                    line.push(b' ');
                    line.extend_from_slice(s.unit.as_bytes());
                }
            }
        }
    }
    line.push(b'\n');
}
