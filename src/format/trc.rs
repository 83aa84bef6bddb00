//! PEAK trace files (`.trc`), versions 1.0 to 2.1, as PCAN-View, PCAN-Explorer
//! and PEAK-Converter write them.
//!
//! Reading:
//!
//! * versions 1.0, 1.1, 1.2, 1.3 (fixed columns) and 2.0, 2.1 (columns named by
//!   `;$COLUMNS=`); no `;$FILEVERSION` line means 1.0;
//! * `;$STARTTIME` (an OLE date: days since 1899-12-30, local wall clock of the
//!   capturing PC, taken as UTC as python-can does) plus each line's offset gives
//!   absolute times; without it (1.0) times are the offsets themselves. The start
//!   is rounded to the microsecond exactly as python-can does, so both tools give
//!   the same times;
//! * types `DT` (classic data), `FD`/`FB`/`FE`/`BI` (CAN FD without flags, BRS,
//!   ESI, BRS+ESI, as PEAK defines them; python-can reads `FE` as BRS+ESI and `BI`
//!   as ESI only), `RR` (remote), `ER` (error frame); `ST` (status), `EC` (error
//!   counters), `EV` (user events) and 1.x `Warng` lines are skipped. 1.x `Error`
//!   lines and 1.0 `ERROR` data are error frames. python-can drops every error
//!   frame; we keep them;
//! * error frames: PEAK logs 5 bytes (type: 1 bit, 2 form, 4 stuff, 8 other;
//!   direction: 0 while sending, 1 while receiving; bit position; RX and TX error
//!   counters; 1.x puts the type in the id column and logs the other 4). We map
//!   them to a SocketCAN error frame: class `CAN_ERR_PROT | CAN_ERR_CNT` (0x208),
//!   data\[2\] the protocol error type (`CAN_ERR_PROT_BIT`/`FORM`/`STUFF`, with
//!   `CAN_ERR_PROT_TX` while sending), data\[6\]/data\[7\] the TX/RX counters. The
//!   bit position is not kept;
//! * the channel is `Channel::Number(bus)` as the file writes it (no bus column:
//!   bus 1), like python-can's reader. python-can's *writer* adds 1 to its
//!   0-based channel, so a python-can TRC round trip shifts channels by one; ours
//!   does not;
//! * extended ids are those written with more than 4 hex digits (PEAK writes 8,
//!   python-can 7);
//! * a file that is not a PEAK trace is refused with an error naming the file
//!   and what was found: Car Bus Analyzer's `@ TEXT @` files, and any file whose
//!   first line is neither a `;` header line nor shaped like a PEAK message
//!   (a number, then a time offset) when no `;$` directive came before it, as
//!   CANHacker's and dSPACE's traces, which share the extension;
//! * a message line that does not read is skipped: counted, the first few named
//!   in warnings, and a file of which no message reads is an error naming its
//!   first bad line ([`crate::format::lines`]).
//!
//! Writing produces version 2.1 (`;$COLUMNS=N,O,T,B,I,d,R,L,D`) with CRLF line
//! ends, as PCAN-View and PEAK-Converter read it: numbering from 1, `$STARTTIME`
//! from the first record (10 decimals, rounded down), offsets in ms with 3
//! decimals (1 µs resolution), 8-digit extended ids, the DLC code in `L`, types
//! `DT`, `FD`/`FB`/`FE`/`BI`, `RR` and `ER`. Lossy: sub-microsecond time, FD
//! remote/error frames become `RR`/`ER`, error frames keep only what `ER` holds
//! (see above). Buses are numbered as ASC and BLF channels are
//! ([`super::ChannelNumbers`]): `Channel::Number(n)` is bus n, `canK`/`vcanK` bus
//! K+1, other names the lowest number no earlier name has, no channel bus 1.
//! Appending to an existing TRC is refused.

use super::civil::civil_from_days;
use super::lines::{split_spans, LineReader, TextSink};
use super::{ChannelNumbers, Input, Output, RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Position, Result};
use crate::frame::error_class::class::{CNT as CAN_ERR_CNT, PROT as CAN_ERR_PROT};
use crate::frame::error_class::prot::{
    BIT as CAN_ERR_PROT_BIT, BIT0 as CAN_ERR_PROT_BIT0, BIT1 as CAN_ERR_PROT_BIT1,
    FORM as CAN_ERR_PROT_FORM, STUFF as CAN_ERR_PROT_STUFF, TX as CAN_ERR_PROT_TX,
};
use crate::frame::hex::{self, Case};
use crate::frame::text::decimal;
use crate::frame::{dlc_to_len, Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};

// ---------------------------------------------------------------------------
// Small text helpers, shared with the other text formats of this crate.

/// Decimal text (1 to 9 digits) to a number.
pub(crate) fn parse_dec(tok: &[u8]) -> Option<u32> {
    if tok.is_empty() || tok.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in tok {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Decimal text with an optional sign and fraction, scaled by `10^scale` and
/// rounded toward zero beyond that: `parse_fixed(b"1.5", 6)` is 1_500_000.
pub(crate) fn parse_fixed(tok: &[u8], scale: u32) -> Option<i64> {
    let (neg, t) = match tok {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, tok),
    };
    let (int, frac) = match t.iter().position(|&c| c == b'.') {
        Some(p) => (&t[..p], &t[p + 1..]),
        None => (t, &t[t.len()..]),
    };
    if (int.is_empty() && frac.is_empty()) || int.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in int {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as i64)?;
    }
    let mut f: i64 = 0;
    for (i, &c) in frac.iter().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        if (i as u32) < scale {
            f = f * 10 + (c - b'0') as i64;
        }
    }
    for _ in (frac.len() as u32).min(scale)..scale {
        f *= 10;
    }
    let v = v.checked_mul(10i64.pow(scale))?.checked_add(f)?;
    Some(if neg { -v } else { v })
}

/// Appends `bytes` right-aligned in `width` columns.
#[inline]
fn push_right(buf: &mut Vec<u8>, bytes: &[u8], width: usize) {
    for _ in bytes.len()..width {
        buf.push(b' ');
    }
    buf.extend_from_slice(bytes);
}

// ---------------------------------------------------------------------------
// OLE dates

/// Days from 1899-12-30 (the OLE epoch) to 1970-01-01.
const OLE_UNIX_DAYS: i64 = 25_569;
const US_PER_DAY: i64 = 86_400_000_000;
const NS_PER_DAY: i128 = 86_400_000_000_000;

/// Unix microseconds of an OLE date as text, computed the way python-can does
/// (float days, then `timedelta`'s rounding to the microsecond).
pub(crate) fn ole_to_unix_us(text: &str) -> Option<i64> {
    let d: f64 = text.trim().parse().ok()?;
    if !d.is_finite() || d.abs() > 3.0e6 {
        return None;
    }
    let whole = d.trunc();
    let frac = d - whole;
    let mut us = whole as i64 * US_PER_DAY;
    let scaled = frac * US_PER_DAY as f64;
    let whole_us = scaled.trunc();
    us += whole_us as i64;
    us += (scaled - whole_us).round_ties_even() as i64;
    Some(us - OLE_UNIX_DAYS * US_PER_DAY)
}

/// The OLE date of a time as text with 10 decimals, rounded down, minus
/// `back` units of the last decimal.
fn ole_text(ts: Timestamp, back: i128) -> String {
    let ns = ts.as_nanos() as i128 + OLE_UNIX_DAYS as i128 * NS_PER_DAY;
    let days = ns.div_euclid(NS_PER_DAY);
    let rem = ns.rem_euclid(NS_PER_DAY);
    let total = days * 10_000_000_000 + rem * 10_000_000_000 / NS_PER_DAY - back;
    let (days, frac) = (
        total.div_euclid(10_000_000_000),
        total.rem_euclid(10_000_000_000),
    );
    format!("{days}.{frac:010}")
}

// ---------------------------------------------------------------------------
// Reader

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Col {
    /// Message number.
    N,
    /// Time offset (ms).
    O,
    /// Type.
    T,
    /// Bus.
    B,
    /// Id.
    I,
    /// Direction.
    Dir,
    /// Reserved.
    R,
    /// Length in bytes.
    LenBytes,
    /// DLC code.
    LenDlc,
    /// Data (the rest of the line).
    D,
}

const MAX_COLS: usize = 10;

/// What one line holds.
enum LineKind {
    Skip,
    Frame(Record),
}

/// Reads a PEAK trace.
pub struct Reader {
    lines: LineReader,
    v2: bool,
    cols: [Col; MAX_COLS],
    ncols: usize,
    start_ns: i64,
    toks: Vec<(usize, usize)>,
    /// The header loop stopped on a message line, not yet parsed.
    pending: bool,
}

/// True if `line` starts as a PEAK message line does: a message number
/// (`17` or `17)`) and a time offset in ms (`1841`, `1059.900`).
fn peak_message_shape(line: &[u8]) -> bool {
    let mut toks = line
        .split(|c| c.is_ascii_whitespace())
        .filter(|t| !t.is_empty());
    let (Some(n), Some(off)) = (toks.next(), toks.next()) else {
        return false;
    };
    let n = n.strip_suffix(b")").unwrap_or(n);
    parse_dec(n).is_some() && parse_fixed(off, 6).is_some()
}

fn v1_cols(minor: u32) -> &'static [Col] {
    use Col::*;
    match minor {
        0 => &[N, O, I, LenDlc, D],
        1 => &[N, O, T, I, LenDlc, D],
        2 => &[N, O, B, T, I, LenDlc, D],
        _ => &[N, O, B, T, I, R, LenDlc, D],
    }
}

impl Reader {
    /// A reader over an opened input. Reads the header (up to the first
    /// message line) and fails if the file is not a PEAK trace.
    pub fn new(input: Input) -> Result<Reader> {
        let mut r = Reader {
            lines: LineReader::new(input),
            v2: false,
            cols: [Col::D; MAX_COLS],
            ncols: 0,
            start_ns: 0,
            toks: Vec::with_capacity(80),
            pending: false,
        };
        r.set_cols(v1_cols(0));
        let mut version: Option<(u32, u32)> = None;
        let mut columns: Option<(String, u64)> = None;
        // a `;$` line seen: PEAK's header, whatever the lines after it hold
        let mut directives = false;
        while r.lines.next_line()? {
            let t = r.lines.line().trim_ascii();
            if t.is_empty() {
                continue;
            }
            if t.starts_with(b"@ TEXT @") {
                return Err(r.lines.error(
                    "not a PEAK trace: this is a Car Bus Analyzer text file ('@ TEXT @'), which cankit does not read",
                ));
            }
            if t[0] != b';' {
                if !directives && !peak_message_shape(t) {
                    let shown = String::from_utf8_lossy(&t[..t.len().min(60)]).into_owned();
                    return Err(r.lines.error(format!(
                        "not a PEAK trace file: found '{shown}' where a PEAK trace has ';$FILEVERSION' or a numbered message ('1) 1841 0001 8 ...'); CANHacker and dSPACE traces share the .trc extension"
                    )));
                }
                r.pending = true;
                break;
            }
            let Some(d) = t.strip_prefix(b";$") else {
                continue;
            };
            directives = true;
            let d = String::from_utf8_lossy(d).into_owned();
            let (key, value) = d.split_once('=').unwrap_or((d.as_str(), ""));
            let value = value.trim();
            match key.trim().to_ascii_uppercase().as_str() {
                "FILEVERSION" => {
                    let v = value
                        .split_once('.')
                        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
                    match v {
                        Some((1, m)) if m <= 3 => version = v,
                        Some((2, m)) if m <= 1 => version = v,
                        _ => {
                            return Err(r.lines.error(format!(
                                "unsupported TRC file version '{value}' (known: 1.0 to 2.1)"
                            )))
                        }
                    }
                }
                "STARTTIME" => {
                    r.start_ns = ole_to_unix_us(value.trim_end_matches(';'))
                        .and_then(|us| us.checked_mul(1000))
                        .ok_or_else(|| r.lines.error(format!("bad $STARTTIME '{value}'")))?;
                }
                "COLUMNS" => columns = Some((value.to_string(), r.lines.line_no())),
                _ => {}
            }
        }
        match version {
            None | Some((1, _)) => r.set_cols(v1_cols(version.map_or(0, |v| v.1))),
            Some((2, minor)) => {
                r.v2 = true;
                let (text, at) = columns.unwrap_or_else(|| {
                    let t = if minor == 0 {
                        "N,O,T,I,d,l,D"
                    } else {
                        "N,O,T,B,I,d,R,L,D"
                    }
                    .to_string();
                    (t, 1)
                });
                let mut cols = Vec::new();
                for c in text.split(',') {
                    cols.push(match c.trim() {
                        "N" => Col::N,
                        "O" => Col::O,
                        "T" => Col::T,
                        "B" => Col::B,
                        "I" => Col::I,
                        "d" => Col::Dir,
                        "R" => Col::R,
                        "l" => Col::LenBytes,
                        "L" => Col::LenDlc,
                        "D" => Col::D,
                        other => {
                            return Err(Error::format(
                                Position::Line(at),
                                format!("unknown column '{other}' in $COLUMNS={text}"),
                            )
                            .in_file(r.lines.path()))
                        }
                    });
                }
                let has = |c: Col| cols.contains(&c);
                // the D column appended below counts too
                if cols.len() + usize::from(!has(Col::D)) > MAX_COLS
                    || !(has(Col::O) && has(Col::T) && has(Col::I) && has(Col::Dir))
                    || !(has(Col::LenBytes) || has(Col::LenDlc))
                    || cols
                        .iter()
                        .position(|&c| c == Col::D)
                        .is_some_and(|p| p + 1 != cols.len())
                {
                    return Err(Error::format(
                        Position::Line(at),
                        format!("$COLUMNS={text} lacks O, T, I, d or l/L, has D before the end, or has more than {MAX_COLS} columns"),
                    )
                    .in_file(r.lines.path()));
                }
                if !has(Col::D) {
                    cols.push(Col::D);
                }
                r.set_cols(&cols);
            }
            Some(_) => {}
        }
        Ok(r)
    }

    fn set_cols(&mut self, cols: &[Col]) {
        self.cols[..cols.len()].copy_from_slice(cols);
        self.ncols = cols.len();
    }

    fn tok(&self, i: usize) -> &[u8] {
        let (s, e) = self.toks[i];
        &self.lines.line()[s..e]
    }

    fn parse_line(&self) -> std::result::Result<LineKind, String> {
        let ntok = self.toks.len();
        let cols = &self.cols[..self.ncols];
        let col_ix = |c: Col| cols.iter().position(|&x| x == c);
        let need = |i: usize| -> std::result::Result<&[u8], String> {
            if i < ntok {
                Ok(self.tok(i))
            } else {
                Err(format!(
                    "line has {ntok} fields, too few for a TRC message line"
                ))
            }
        };
        // type
        let ty: &[u8] = match col_ix(Col::T) {
            Some(i) => need(i)?,
            None => b"",
        };
        let off_tok = need(col_ix(Col::O).unwrap_or(1))?;
        let off_ns = parse_fixed(off_tok, 6)
            .ok_or_else(|| format!("bad time offset '{}'", String::from_utf8_lossy(off_tok)))?;
        let timestamp = Timestamp::from_nanos(self.start_ns.saturating_add(off_ns));
        enum Ty {
            Data(Option<FdFlags>),
            Remote,
            Error,
        }
        let mut dir_fixed: Option<Direction> = None;
        let t = if self.v2 {
            match ty {
                b"DT" => Ty::Data(None),
                // FD, with BRS, with ESI, with both
                b"FD" | b"FB" | b"FE" | b"BI" => Ty::Data(Some(FdFlags {
                    brs: matches!(ty, b"FB" | b"BI"),
                    esi: matches!(ty, b"FE" | b"BI"),
                })),
                b"RR" => Ty::Remote,
                b"ER" => return self.parse_v2_error(timestamp).map(LineKind::Frame),
                b"ST" | b"EC" | b"EV" => return Ok(LineKind::Skip),
                other => {
                    return Err(format!(
                        "unknown message type '{}' (known: DT FD FB FE BI RR ER ST EC EV)",
                        String::from_utf8_lossy(other)
                    ))
                }
            }
        } else {
            match ty {
                b"" => {
                    dir_fixed = Some(Direction::Rx);
                    Ty::Data(None)
                }
                b"Rx" => {
                    dir_fixed = Some(Direction::Rx);
                    Ty::Data(None)
                }
                b"Tx" => {
                    dir_fixed = Some(Direction::Tx);
                    Ty::Data(None)
                }
                b"Warng" => return Ok(LineKind::Skip),
                b"Error" => {
                    dir_fixed = Some(Direction::Rx);
                    Ty::Error
                }
                other => {
                    return Err(format!(
                        "unknown message type '{}' (known: Rx Tx Warng Error)",
                        String::from_utf8_lossy(other)
                    ))
                }
            }
        };
        // the fixed columns before D
        let mut ix = [usize::MAX; MAX_COLS];
        let mut d_start = 0;
        for (k, &c) in cols.iter().enumerate() {
            if c == Col::D {
                d_start = k;
                break;
            }
            ix[k] = k;
        }
        if ntok < d_start {
            return Err(format!(
                "line has {ntok} fields, a message line needs at least {d_start}"
            ));
        }
        let get = |c: Col| col_ix(c).map(|k| self.tok(ix[k]));
        let id_tok = get(Col::I).ok_or("no id column")?;
        let raw_id = hex::u32_prefixed(id_tok)
            .ok_or_else(|| format!("bad id '{}'", String::from_utf8_lossy(id_tok)))?;
        if !self.v2 && raw_id == 0xFFFF_FFFF {
            return Ok(LineKind::Skip); // status line (BUSLIGHT, BUSHEAVY, ...)
        }
        let ext = id_tok.len() > 4;
        let channel = match get(Col::B) {
            None => Channel::Number(1),
            Some(b) => Channel::Number(
                parse_dec(b).ok_or_else(|| format!("bad bus '{}'", String::from_utf8_lossy(b)))?,
            ),
        };
        let direction = match dir_fixed {
            Some(d) => d,
            None => match get(Col::Dir) {
                Some(b"Rx") => Direction::Rx,
                Some(b"Tx") => Direction::Tx,
                Some(o) => {
                    return Err(format!(
                        "direction must be Rx or Tx, not '{}'",
                        String::from_utf8_lossy(o)
                    ))
                }
                None => Direction::Rx,
            },
        };
        let (len_tok, is_dlc) = match (get(Col::LenDlc), get(Col::LenBytes)) {
            (Some(t), _) => (t, true),
            (None, Some(t)) => (t, false),
            (None, None) => return Err("no length column".into()),
        };
        let len_val = parse_dec(len_tok)
            .filter(|&v| v <= 64)
            .ok_or_else(|| format!("bad length '{}'", String::from_utf8_lossy(len_tok)))?
            as u8;
        let mut data_toks = d_start..ntok;
        // 1.x markers in the data column
        let mut t = t;
        if !self.v2 && d_start < ntok {
            match self.tok(d_start) {
                b"RTR" => {
                    t = Ty::Remote;
                    data_toks = d_start + 1..d_start + 1;
                }
                b"ERROR" => {
                    t = Ty::Error;
                    data_toks = d_start + 1..ntok;
                }
                _ => {}
            }
        }
        let mut buf = [0u8; 64];
        let mut read_bytes =
            |range: std::ops::Range<usize>, n: usize| -> std::result::Result<(), String> {
                if range.len() < n {
                    return Err(format!("{n} data bytes announced, {} found", range.len()));
                }
                if self.v2 && range.len() > n {
                    return Err(format!("{n} data bytes announced, {} found", range.len()));
                }
                for (k, i) in range.take(n).enumerate() {
                    let b = self.tok(i);
                    buf[k] = hex::byte2(b)
                        .ok_or_else(|| format!("bad data byte '{}'", String::from_utf8_lossy(b)))?;
                }
                Ok(())
            };
        let frame = match t {
            Ty::Remote => {
                if self.v2 && !data_toks.is_empty() {
                    return Err("a remote request (RR) carries no data".into());
                }
                Frame::remote(
                    Id::new(raw_id, ext).map_err(|e| e.to_string())?,
                    len_val.min(15),
                )
                .map_err(|e| e.to_string())?
            }
            Ty::Data(None) => {
                let id = Id::new(raw_id, ext).map_err(|e| e.to_string())?;
                if is_dlc {
                    if len_val > 15 {
                        return Err(format!("DLC {len_val} is out of range (0-15)"));
                    }
                    let n = (len_val as usize).min(8);
                    read_bytes(data_toks, n)?;
                    Frame::data_with_dlc(id, &buf[..n], len_val).map_err(|e| e.to_string())?
                } else {
                    let n = len_val as usize;
                    read_bytes(data_toks, n)?;
                    Frame::data(id, &buf[..n]).map_err(|e| e.to_string())?
                }
            }
            Ty::Data(Some(flags)) => {
                let id = Id::new(raw_id, ext).map_err(|e| e.to_string())?;
                let n = if is_dlc {
                    if len_val > 15 {
                        return Err(format!("DLC {len_val} is out of range (0-15)"));
                    }
                    dlc_to_len(len_val)
                } else {
                    len_val as usize
                };
                read_bytes(data_toks, n)?;
                Frame::fd(id, &buf[..n], flags).map_err(|e| e.to_string())?
            }
            Ty::Error => {
                // 1.x: the id column holds the error type, the data 4 bytes
                read_bytes(data_toks, (len_val as usize).min(4))?;
                let n = (len_val as usize).min(4);
                let mut b5 = [0u8; 5];
                b5[0] = raw_id as u8;
                b5[1..1 + n].copy_from_slice(&buf[..n]);
                peak_error_frame(&b5)?
            }
        };
        Ok(LineKind::Frame(Record {
            timestamp,
            channel,
            direction,
            frame,
        }))
    }

    /// A 2.x `ER` line: 2.0 leaves the id and length blank, 2.1 writes `-`.
    fn parse_v2_error(&self, timestamp: Timestamp) -> std::result::Result<Record, String> {
        let cols = &self.cols[..self.ncols];
        let ti = cols.iter().position(|&c| c == Col::T).unwrap_or(2);
        let ntok = self.toks.len();
        let di = (ti + 1..ntok)
            .find(|&i| matches!(self.tok(i), b"Rx" | b"Tx"))
            .ok_or("error frame line without Rx/Tx")?;
        let direction = if self.tok(di) == b"Tx" {
            Direction::Tx
        } else {
            Direction::Rx
        };
        let mut channel = Channel::Number(1);
        if let Some(bi) = cols.iter().position(|&c| c == Col::B) {
            if bi < di && bi < ntok {
                match self.tok(bi) {
                    b"-" => channel = Channel::None,
                    b => {
                        channel =
                            Channel::Number(parse_dec(b).ok_or_else(|| {
                                format!("bad bus '{}'", String::from_utf8_lossy(b))
                            })?)
                    }
                }
            }
        }
        let mut k = di + 1;
        if k < ntok && self.tok(k) == b"-" {
            k += 1;
        }
        if k < ntok && ntok - k == 6 && parse_dec(self.tok(k)) == Some(5) {
            k += 1;
        }
        if ntok - k != 5 {
            return Err(format!(
                "an error frame (ER) carries 5 data bytes, not {}",
                ntok - k
            ));
        }
        let mut b5 = [0u8; 5];
        for (j, i) in (k..ntok).enumerate() {
            let b = self.tok(i);
            b5[j] = hex::byte2(b)
                .ok_or_else(|| format!("bad data byte '{}'", String::from_utf8_lossy(b)))?;
        }
        Ok(Record {
            timestamp,
            channel,
            direction,
            frame: peak_error_frame(&b5)?,
        })
    }
}

/// A SocketCAN error frame from PEAK's 5 error bytes (type, direction,
/// position, RX counter, TX counter).
fn peak_error_frame(b: &[u8; 5]) -> std::result::Result<Frame, String> {
    let mut data = [0u8; 8];
    data[2] = match b[0] {
        1 => CAN_ERR_PROT_BIT,
        2 => CAN_ERR_PROT_FORM,
        4 => CAN_ERR_PROT_STUFF,
        _ => 0,
    };
    if b[1] == 0 {
        data[2] |= CAN_ERR_PROT_TX;
    }
    data[6] = b[4];
    data[7] = b[3];
    Frame::error(CAN_ERR_PROT | CAN_ERR_CNT, &data).map_err(|e| e.to_string())
}

/// PEAK's 5 error bytes for a SocketCAN error frame (see the module docs).
fn peak_error_bytes(f: &Frame) -> [u8; 5] {
    let class = f.id().raw();
    let d = f.data_bytes();
    let at = |i: usize| d.get(i).copied().unwrap_or(0);
    let mut b = [8u8, 1, 0, 0, 0];
    if class & CAN_ERR_PROT != 0 {
        let t = at(2);
        b[0] = if t & (CAN_ERR_PROT_BIT | CAN_ERR_PROT_BIT0 | CAN_ERR_PROT_BIT1) != 0 {
            1
        } else if t & CAN_ERR_PROT_FORM != 0 {
            2
        } else if t & CAN_ERR_PROT_STUFF != 0 {
            4
        } else {
            8
        };
        if t & CAN_ERR_PROT_TX != 0 {
            b[1] = 0;
        }
    }
    if class & CAN_ERR_CNT != 0 {
        b[3] = at(7);
        b[4] = at(6);
    }
    b
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        loop {
            if !std::mem::take(&mut self.pending) && !self.lines.next_line()? {
                self.lines.end()?;
                return Ok(None);
            }
            let t = self.lines.line().trim_ascii();
            if t.is_empty() || t[0] == b';' {
                continue;
            }
            split_spans(self.lines.line(), &mut self.toks);
            match self.parse_line() {
                Ok(LineKind::Skip) => continue,
                Ok(LineKind::Frame(r)) => {
                    self.lines.record_read();
                    return Ok(Some(r));
                }
                Err(m) => self.lines.skip(m),
            }
        }
    }

    crate::line_reader_methods!();
}

// ---------------------------------------------------------------------------
// Writer

/// Writes a PEAK trace, version 2.1.
pub struct Writer {
    sink: TextSink,
    /// Unix µs of the `$STARTTIME` written, once the header is out.
    start_us: Option<i64>,
    count: u64,
    /// The bus number of each record's channel.
    channels: ChannelNumbers,
}

impl Writer {
    /// A writer over an opened output. Refuses to append to a non-empty file.
    pub fn new(out: Output, _opts: &WriterOptions) -> Result<Writer> {
        if out.appending {
            return Err(Error::Unsupported(format!(
                "{}: cannot append to a TRC file (its header holds the start time); write a new file",
                out.path.display()
            )));
        }
        Ok(Writer {
            sink: TextSink::new(out),
            start_us: None,
            count: 0,
            channels: ChannelNumbers::new(),
        })
    }

    fn header(&mut self, first: Timestamp) {
        // The largest 10-decimal OLE date whose python-can reading is not after
        // the first record, so no offset is negative.
        let first_us = (first.as_nanos() as i128 + 500).div_euclid(1000) as i64;
        let mut back = 0;
        let (text, start_us) = loop {
            let text = ole_text(first, back);
            let us = ole_to_unix_us(&text).unwrap_or(first_us);
            if us <= first_us || back > 4 {
                break (text, us.min(first_us));
            }
            back += 1;
        };
        let start = Timestamp::from_micros(start_us);
        let (y, mo, d) = civil_from_days(start.secs().div_euclid(86_400));
        let sod = start.secs().rem_euclid(86_400);
        let sub_us = start.subsec_nanos() / 1000;
        let name = self
            .sink
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let h = format!(
            ";$FILEVERSION=2.1\r\n;$STARTTIME={text}\r\n;$COLUMNS=N,O,T,B,I,d,R,L,D\r\n;\r\n\
;   {name}\r\n\
;   Start time: {d:02}.{mo:02}.{y:04} {:02}:{:02}:{:02}.{:03}.{}\r\n\
;   Generated by cankit {}\r\n\
;-------------------------------------------------------------------------------\r\n\
;   Bus   Name            Connection               Protocol\r\n\
;   N/A   N/A             N/A                      N/A\r\n\
;-------------------------------------------------------------------------------\r\n\
;   Message   Time    Type    ID     Rx/Tx\r\n\
;   Number    Offset  |  Bus  [hex]  |  Reserved\r\n\
;   |         [ms]    |  |    |      |  |  Data Length Code\r\n\
;   |         |       |  |    |      |  |  |    Data [hex] ...\r\n\
;   |         |       |  |    |      |  |  |    |\r\n\
;---+-- ------+------ +- +- --+----- +- +- +--- +- -- -- -- -- -- -- --\r\n",
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            sub_us / 1000,
            sub_us / 100 % 10,
            env!("CARGO_PKG_VERSION"),
        );
        self.sink.buf.extend_from_slice(h.as_bytes());
        self.start_us = Some(start_us);
    }
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        let start_us = match self.start_us {
            Some(s) => s,
            None => {
                self.header(r.timestamp);
                self.start_us.unwrap_or(0)
            }
        };
        self.count += 1;
        let f = &r.frame;
        let buf = &mut self.sink.buf;
        // N
        let mut num = [0u8; 20];
        let n = decimal(&mut num, self.count);
        push_right(buf, n, 7);
        buf.push(b' ');
        // O: offset in ms, 3 decimals
        let off_ns = r.timestamp.as_nanos() as i128 - start_us as i128 * 1000;
        let off_us = if off_ns >= 0 {
            (off_ns + 500) / 1000
        } else {
            (off_ns - 500) / 1000
        };
        let abs = off_us.unsigned_abs();
        let mut o = [0u8; 32];
        let mut k = 0;
        if off_us < 0 {
            o[k] = b'-';
            k += 1;
        }
        let ip = decimal(&mut num, (abs / 1000) as u64);
        o[k..k + ip.len()].copy_from_slice(ip);
        k += ip.len();
        o[k] = b'.';
        let frac = (abs % 1000) as u32;
        o[k + 1] = b'0' + (frac / 100) as u8;
        o[k + 2] = b'0' + (frac / 10 % 10) as u8;
        o[k + 3] = b'0' + (frac % 10) as u8;
        k += 4;
        push_right(buf, &o[..k], 13);
        buf.push(b' ');
        // T
        buf.extend_from_slice(if f.is_error() {
            b"ER"
        } else if f.is_remote() {
            b"RR"
        } else {
            match f.fd_flags() {
                None => b"DT",
                Some(FdFlags {
                    brs: false,
                    esi: false,
                }) => b"FD",
                Some(FdFlags {
                    brs: true,
                    esi: false,
                }) => b"FB",
                Some(FdFlags {
                    brs: false,
                    esi: true,
                }) => b"FE",
                Some(FdFlags {
                    brs: true,
                    esi: true,
                }) => b"BI",
            }
        });
        buf.push(b' ');
        // B, left-aligned in 2
        let bus = decimal(&mut num, self.channels.number(&r.channel) as u64);
        buf.extend_from_slice(bus);
        if bus.len() < 2 {
            buf.push(b' ');
        }
        buf.push(b' ');
        // I
        if f.is_error() {
            buf.extend_from_slice(b"       -");
        } else {
            let id = f.id();
            if id.is_extended() {
                hex::push_u32(buf, id.raw(), 8, Case::Upper);
            } else {
                buf.extend_from_slice(b"    ");
                hex::push_u32(buf, id.raw(), 4, Case::Upper);
            }
        }
        // d, R
        buf.extend_from_slice(match r.direction {
            Direction::Rx => b" Rx -  ",
            Direction::Tx => b" Tx -  ",
        });
        // L and D
        let ebytes;
        let (dlc, data): (u8, &[u8]) = if f.is_error() {
            ebytes = peak_error_bytes(f);
            (5, &ebytes[..])
        } else {
            (f.dlc(), f.data_bytes())
        };
        let l = decimal(&mut num, dlc as u64);
        buf.extend_from_slice(l);
        if !data.is_empty() {
            for _ in l.len()..4 {
                buf.push(b' ');
            }
        }
        hex::push_spaced(buf, data, Case::Upper);
        buf.extend_from_slice(b"\r\n");
        self.sink.commit()
    }

    fn flush(&mut self) -> Result<()> {
        self.sink.flush()
    }

    fn finish(&mut self) -> Result<()> {
        if self.start_us.is_none() {
            self.header(Timestamp::now());
        }
        self.flush()
    }

    fn size_bound(&self) -> Option<u64> {
        // the header comes with the first record (or from finish): under
        // 1 KiB besides the file name it holds
        let header = match self.start_us {
            Some(_) => 0,
            None => 1024 + self.sink.path().as_os_str().len() as u64,
        };
        Some(self.sink.size_bound() + header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;
    use std::io::Cursor;

    fn reader(text: &str) -> Result<Reader> {
        Reader::new(Input {
            path: "t.trc".into(),
            reader: Box::new(Cursor::new(text.as_bytes().to_vec())),
        })
    }

    fn read_all(text: &str) -> Result<Vec<Record>> {
        let mut r = reader(text)?;
        crate::format::records(&mut r).collect()
    }

    #[test]
    fn ole_start_matches_python_can() {
        // python-can: 1639837687.062001 for 44548.6028595139
        assert_eq!(
            ole_to_unix_us("44548.6028595139"),
            Some(1_639_837_687_062_001)
        );
        assert_eq!(ole_to_unix_us("25569"), Some(0));
        assert_eq!(ole_to_unix_us("x"), None);
    }

    #[test]
    fn reads_the_peak_examples() {
        let v20 =
            ";$FILEVERSION=2.0\r\n;$STARTTIME=42209.4075997106\r\n;$COLUMNS=N,O,T,I,d,l,D\r\n\
      1      1059.900 DT     0300 Rx 7  00 00 00 00 04 00 00  \r\n\
      5      1334.416 FD     0500 Tx 12 01 02 03 04 05 06 07 08 09 0A 0B 0C \r\n\
      6      1334.522 ER          Rx    04 00 02 00 00 \r\n\
      7      1334.531 ST          Rx    00 00 00 08 \r\n\
      8      1334.643 EC          Rx    02 02 \r\n\
      9      1335.156 DT 18EFC034 Tx 8  01 02 03 04 05 06 07 08 \r\n\
     10      1336.543 RR     0100 Rx 3 \r\n";
        let v = read_all(v20).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[0].frame, parse_frame("300#00000000040000").unwrap());
        assert_eq!(v[1].frame.len(), 12);
        assert!(v[1].frame.is_fd() && !v[1].frame.brs());
        assert_eq!(v[1].direction, Direction::Tx);
        assert!(v[2].frame.is_error());
        assert_eq!(
            v[2].frame.data_bytes()[2],
            CAN_ERR_PROT_STUFF | CAN_ERR_PROT_TX
        );
        assert_eq!(v[3].frame.id(), Id::Extended(0x18EFC034));
        assert!(v[4].frame.is_remote() && v[4].frame.dlc() == 3);
        assert_eq!(v[0].channel, Channel::Number(1));

        let v21 = ";$FILEVERSION=2.1\n;$STARTTIME=41766.4648963872\n;$COLUMNS=N,O,T,B,I,d,R,L,D\n\
      5      1334.416 FD 1      0500 Tx -  9    01 02 03 04 05 06 07 08 09 0A 0B 0C \n\
      6      1334.222 ER 2         - Rx -  5    04 00 02 00 00 \n\
      7      1334.224 EV 1  User-defined event for bus 1 \n\
      8      1334.225 EV -  User-defined event for all busses \n\
      9      1334.231 ST 1         - Rx -  4    00 00 00 08 \n\
     11      1334.643 EC 1         - Rx -  2    02 02 \n\
     12      1335.156 BI 3  18EFC034 Tx -  2    01 02 \n\
     13      1336.543 RR 1      0100 Rx -  3 \n";
        let v = read_all(v21).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].frame.len(), 12);
        assert_eq!(v[1].channel, Channel::Number(2));
        assert!(v[1].frame.is_error());
        assert!(v[2].frame.brs() && v[2].frame.esi());
        assert_eq!(v[2].channel, Channel::Number(3));

        let v10 = "     1)      1841      0001  8  00 00 00 00 00 00 00 00  \n\
     2)      1842      0008  4  ERROR 00 19 08 08 \n\
     3)      1843  FFFFFFFF  4  00 00 00 04 -- -- -- --  BUSLIGHT \n\
     4)      1844      0100  3  RTR \n";
        let v = read_all(v10).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].timestamp.as_nanos(), 1_841_000_000);
        assert!(v[1].frame.is_error());
        assert_eq!(v[1].frame.data_bytes()[6..], [8, 8]);
        assert!(v[2].frame.is_remote());

        let v12 = ";$FILEVERSION=1.2\n;$STARTTIME=39878.6772258947;\n\
     3)      1298.945  2  Tx         0400  2  00 00  \n\
     5)      1346.834  1  Warng  FFFFFFFF  4  00 00 00 04  BUSLIGHT \n\
     6)      1349.222  1  Error      0008  4  00 19 08 08 \n";
        let v = read_all(v12).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].channel, Channel::Number(2));
        assert_eq!(v[0].direction, Direction::Tx);
    }

    #[test]
    fn bad_input_names_file_and_line() {
        let e = read_all(
            ";$FILEVERSION=2.1\n;$COLUMNS=N,O,T,B,I,d,R,L,D\n 1 1.0 DT 1 0100 Rx - 2 00\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t.trc: line 3") && e.contains("2 data bytes"),
            "{e}"
        );
        let e = read_all(";$FILEVERSION=2.1\n 1 1.0 QQ 1 0100 Rx - 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("QQ"), "{e}");
        let e = read_all("@ TEXT @ 2 @\r46,016\t1\t0004\t45A\t8\t5A\r")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.trc: line 1") && e.contains("Car Bus Analyzer"),
            "{e}"
        );
        let e = read_all(";$FILEVERSION=3.0\n").unwrap_err().to_string();
        assert!(e.contains("unsupported TRC file version"), "{e}");
        let e = read_all("garbage here\n").unwrap_err().to_string();
        assert!(
            e.starts_with("t.trc: line 1: not a PEAK trace file: found 'garbage here'"),
            "{e}"
        );
        // CANHacker's trace: its column header is what is found, not a bad time offset
        let e = read_all("Time   ID     DLC Data                    Comment\n00.000 0C1    8   00 00 00 00 00 00 00 00\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.trc: line 1: not a PEAK trace file: found 'Time   ID     DLC Data"),
            "{e}"
        );
        // a cut last line is skipped with a warning
        let mut r =
            reader(";$FILEVERSION=2.1\n 1 1.0 DT 1 0100 Rx - 2 00 11\n 2 2.0 DT 1 01").unwrap();
        assert!(r.read().unwrap().is_some());
        assert!(r.read().unwrap().is_none());
        assert_eq!(r.take_warnings().len(), 2);
        // a bad line among good ones is skipped and counted
        let mut r = reader(
            ";$FILEVERSION=2.1\n 1 1.0 DT 1 0100 Rx - 2 00 11\n 2 2.0 QQ 1 0100 Rx - 0\n 3 3.0 DT 1 0101 Rx - 0\n",
        )
        .unwrap();
        let mut n = 0;
        while r.read().unwrap().is_some() {
            n += 1;
        }
        assert_eq!((n, r.skipped()), (2, 1));
        let w = r.take_warnings();
        assert!(
            w[0].starts_with("t.trc: line 3: unknown message type 'QQ'"),
            "{w:?}"
        );
    }

    #[test]
    fn writes_a_peak_header_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.trc");
        let opts = WriterOptions::default();
        let mut w = crate::format::create_writer(&path, None, &opts).unwrap();
        let t0 = Timestamp::from_parts(1_700_000_000, 1_458_000);
        let recs = [
            Record::new(t0, parse_frame("0B6#7E8365D74D5F").unwrap())
                .with_channel(Channel::Number(1)),
            Record::new(
                Timestamp(t0.0 + 254_000),
                parse_frame("0CF5AF71#2AE3216B195E5AF5").unwrap(),
            )
            .with_channel(Channel::name("can1"))
            .with_direction(Direction::Tx),
            Record::new(
                Timestamp(t0.0 + 1_000_000),
                parse_frame("123##3112233445566778899AABBCC").unwrap(),
            ),
            Record::new(Timestamp(t0.0 + 2_000_000), parse_frame("123#R4").unwrap()),
        ];
        for r in &recs {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(";$FILEVERSION=2.1\r\n;$STARTTIME=45244.92592"),
            "{text}"
        );
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(';')).collect();
        assert_eq!(
            lines[0],
            "      1         0.000 DT 1      00B6 Rx -  6    7E 83 65 D7 4D 5F"
        );
        assert_eq!(
            lines[1],
            "      2         0.254 DT 2  0CF5AF71 Tx -  8    2A E3 21 6B 19 5E 5A F5"
        );
        assert_eq!(
            lines[2],
            "      3         1.000 BI 1      0123 Rx -  9    11 22 33 44 55 66 77 88 99 AA BB CC"
        );
        assert_eq!(lines[3], "      4         2.000 RR 1      0123 Rx -  4");
        let back = read_all_path(&path);
        assert_eq!(back.len(), 4);
        for (a, b) in recs.iter().zip(&back) {
            assert_eq!(a.timestamp, b.timestamp);
            assert_eq!(a.frame.id(), b.frame.id());
            assert_eq!(a.frame.dlc(), b.frame.dlc());
        }
        // never clobbers, never appends
        assert!(crate::format::create_writer(&path, None, &opts).is_err());
        let app = WriterOptions {
            append: true,
            ..Default::default()
        };
        assert!(crate::format::create_writer(&path, None, &app).is_err());
    }

    fn read_all_path(p: &std::path::Path) -> Vec<Record> {
        let mut r = crate::format::open_reader(p, None).unwrap();
        crate::format::records(&mut *r)
            .map(|x| x.unwrap())
            .collect()
    }
}
