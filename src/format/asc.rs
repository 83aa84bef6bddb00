//! Vector ASC logs (`.asc`): the text log CANalyzer/CANoe export, python-can's
//! `ASCReader`/`ASCWriter` and can-utils' `asc2log`/`log2asc` speak.
//!
//! # Reading
//!
//! The reader takes every variant met in real files:
//!
//! * the header lines `date …` (English or German weekday and month names,
//!   12 h with `am`/`pm` or 24 h, with or without a fraction of a second),
//!   `base hex|dec`, `timestamps absolute|relative`, `[no] internal events logged`
//!   and `//` comments; any of them may be missing, and a `base` line may come
//!   mid-file (it changes the radix of the lines after it);
//! * `Begin Triggerblock <date>` (any case), which may repeat, and `End TriggerBlock`;
//! * classic lines `<t> <ch> <id>[x] Rx|Tx d <dlc> <bytes…> [trailing fields]`,
//!   remote frames `r` with or without a DLC, a DLC of 9 to 15 with 8 bytes
//!   (and python-can's `d 40`, read as DLC 15); a symbolic message name in the
//!   id column when the line ends with the decimal `ID = <n>[x]` field;
//! * error frames in every form (`ErrorFrame`, `ErrorFrame ECC: …`,
//!   `ErrorFrame Flags = …`, `CANFD <ch> <dir> ErrorFrame …`);
//! * `CANFD` lines of CANalyzer/CANoe 8.1 and later, with or without the symbolic
//!   name column, and the older layout that puts the id before the direction.
//!
//! Every other event line (status, `Statistic:`, J1939TP, LIN, FlexRay, MOST,
//! Ethernet, `Start of measurement`, `log direct start`, system variables, …)
//! is skipped and counted ([`Reader::skipped`]); such lines need not be UTF-8.
//! A line that has the shape of a CAN frame but is malformed (bad id, too few
//! data bytes, a DLC out of range) is an error naming the file and line. A last
//! line cut off without a newline ends the stream with a warning instead.
//!
//! Choices where ASC files are ambiguous:
//!
//! * **Time.** A record's timestamp is the trigger block's date (else the
//!   header's `date`) plus the line's offset. The date carries no time zone
//!   (it is the recording PC's local time); it is read as **UTC**, so the same
//!   file gives the same timestamps on every machine. python-can reads it in the
//!   local zone, and by default gives offsets only. Without any date, timestamps
//!   are the bare offsets. [`Reader::measurement_start`] gives the base in use.
//!   Under `timestamps relative` each offset is the delta to the previous event
//!   line (as asc2log does; python-can 4.6.1 ignores the keyword). A fraction in
//!   the date is a decimal fraction (`.19` is 190 ms).
//! * **Channels** are `Channel::Number` of the file's 1-based number.
//! * **`TxRq`** (transmit request) lines are skipped: the frame follows as `Tx`
//!   once sent (asc2log skips them too; python-can reads them as a second `Tx`).
//! * **Error frames** carry no class or detail: `Frame::error(0, &[])`, as
//!   python-can gives id 0 and no data. A `CANFD … ErrorFrame` line is marked
//!   FD and keeps its direction; classic ones are `Rx`.
//! * **`CANFD` lines** are FD frames unless their flags column clears the EDL
//!   bit (0x1000) and the line agrees: with bit 0x10 (RTR) set it is a classic
//!   remote frame on an FD channel, with BRS 0 and at most 8 bytes a classic data
//!   frame (as `asc2log` reads them; python-can marks every `CANFD` line FD).
//!   Hand-made files write flags `0` on 64-byte frames: those stay FD. A `CANFD`
//!   line with length 0 and a non-zero DLC is an FD-flagged remote frame, as
//!   python-can reads it. A DLC that disagrees with the length keeps the length
//!   (with a warning). Under `base dec` their id and data bytes are decimal too,
//!   as python-can reads them (`asc2log` always reads hex there); the DLC is a
//!   hex digit either way and the length decimal.
//!
//! # Writing
//!
//! The writer produces a file that CANalyzer, python-can and `asc2log` read:
//!
//! ```text
//! date Tue Nov 14 10:13:20.001 pm 2023
//! base hex  timestamps absolute
//! internal events logged
//! // version 9.0.0
//! Begin Triggerblock Tue Nov 14 10:13:20.001 pm 2023
//!    0.000000 Start of measurement
//!    0.000458 1  B6              Rx   d 6 7E 83 65 D7 4D 5F
//!    0.000792 CANFD   2 Tx   CF1F4C1x                                   1 0 f 64 57 1D …        0    0     3000 …
//!    0.001923 1  ErrorFrame
//! End TriggerBlock
//! ```
//!
//! The dates are the first record's time, in UTC, cut to the millisecond; the
//! offsets (microseconds, rounded) are relative to that, so reading the file back
//! gives every timestamp to the microsecond. A record earlier than the first is
//! written at offset 0 (ASC readers take no negative times). Channels: `Number(n)`
//! is `n`; `Name("canK")`/`Name("vcanK")` is `K+1`; other names get the lowest
//! number no earlier name has, in order of appearance; no channel is 1. Error
//! frames are written as `<ch>  ErrorFrame` (the only form every reader takes;
//! direction, class and detail are lost). CAN FD frames are `CANFD` lines with
//! the flags column set (EDL, BRS, ESI, and RTR for FD-flagged remote frames) and
//! zero duration, bit count, CRC and bit timing, as python-can writes them.
//! With `append`, a new trigger block is added after the existing content.
//!
//! Known limits of the other readers (not of the file): python-can reads a
//! `CANFD` line of length 0 as a remote frame, so an empty FD data frame comes
//! back remote there, and takes the DLC of a classic `r` line only when it is
//! decimal (`r A` gives 0); can-utils 2020.11's `asc2log` drops classic lines
//! with a DLC above 8 (`d D`), which newer versions read.

use std::sync::Arc;

use super::civil::{civil_from_days, days_from_civil, days_in_month};
use super::lines::{LineReader, TextSink};
use super::{Input, Output, RecordReader, RecordWriter, WriterOptions};
use crate::error::{Error, Result};
use crate::frame::{
    dlc_to_len, len_to_dlc, Channel, Direction, FdFlags, Frame, Id, Record, Timestamp,
    CANFD_MAX_LEN, CAN_MAX_LEN,
};

/// Warnings kept per file; later ones are counted in one closing line.
const MAX_WARNINGS: usize = 20;

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// `CANFD` flags column: remote frame (classic only).
const FLAG_RTR: u32 = 0x10;
/// `CANFD` flags column: EDL/FDF, the frame is CAN FD.
const FLAG_EDL: u32 = 0x1000;
/// `CANFD` flags column: bit rate switch.
const FLAG_BRS: u32 = 0x2000;
/// `CANFD` flags column: error state indicator.
const FLAG_ESI: u32 = 0x4000;

// ---------------------------------------------------------------------------
// Tokens and numbers
// ---------------------------------------------------------------------------

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Whitespace-separated tokens of a line, without allocating.
#[derive(Clone)]
struct Tokens<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a [u8]) -> Tokens<'a> {
        Tokens { s, i: 0 }
    }

    #[inline]
    fn next_token(&mut self) -> Option<&'a [u8]> {
        let s = self.s;
        let mut i = self.i;
        while i < s.len() && is_space(s[i]) {
            i += 1;
        }
        if i == s.len() {
            self.i = i;
            return None;
        }
        let start = i;
        while i < s.len() && !is_space(s[i]) {
            i += 1;
        }
        self.i = i;
        Some(&s[start..i])
    }

    fn peek(&self) -> Option<&'a [u8]> {
        self.clone().next_token()
    }
}

/// A token for an error message (lossy, shortened).
fn show(tok: &[u8]) -> String {
    let t = &tok[..tok.len().min(40)];
    let mut s = String::from_utf8_lossy(t).into_owned();
    if tok.len() > 40 {
        s.push('…');
    }
    s
}

/// The value of each hex digit character, 0xFF for other bytes.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[inline]
fn hex_digit(c: u8) -> Option<u32> {
    match HEX_VALUE[c as usize] {
        0xFF => None,
        v => Some(v as u32),
    }
}

/// `"HH HH … HH"` (single spaces, then whitespace or the end) decoded into `out`;
/// returns the bytes consumed, or `None` when the text has another shape.
#[inline]
fn hex_run(s: &[u8], out: &mut [u8]) -> Option<usize> {
    let n = out.len();
    let end = (3 * n).checked_sub(1)?;
    let seg = s.get(..end)?;
    if s.get(end).is_some_and(|&c| !is_space(c)) {
        return None;
    }
    for (k, o) in out.iter_mut().enumerate() {
        let p = 3 * k;
        let (h, l) = (HEX_VALUE[seg[p] as usize], HEX_VALUE[seg[p + 1] as usize]);
        if (h | l) == 0xFF || (k + 1 < n && seg[p + 2] != b' ') {
            return None;
        }
        *o = h << 4 | l;
    }
    Some(end)
}

/// An unsigned number in base 16 or 10; `None` when empty, not a number or
/// above `u32::MAX`.
#[inline]
fn parse_num(tok: &[u8], hex: bool) -> Option<u32> {
    if tok.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in tok {
        let d = if hex {
            hex_digit(c)?
        } else if c.is_ascii_digit() {
            (c - b'0') as u32
        } else {
            return None;
        };
        v = v * if hex { 16 } else { 10 } + d as u64;
        if v > u32::MAX as u64 {
            return None;
        }
    }
    Some(v as u32)
}

/// A data byte in the file's base.
#[inline]
fn parse_byte(tok: &[u8], hex: bool) -> Option<u8> {
    if hex && tok.len() == 2 {
        // the common case, fast
        return Some((hex_digit(tok[0])? << 4 | hex_digit(tok[1])?) as u8);
    }
    parse_num(tok, hex).and_then(|v| u8::try_from(v).ok())
}

/// The flags column: hex, with or without `0x`.
fn parse_flags(tok: &[u8]) -> Option<u32> {
    let t = tok
        .strip_prefix(b"0x")
        .or_else(|| tok.strip_prefix(b"0X"))
        .unwrap_or(tok);
    parse_num(t, true)
}

fn is_channel_token(tok: &[u8]) -> bool {
    !tok.is_empty() && tok.iter().all(u8::is_ascii_digit)
}

fn parse_channel(tok: &[u8]) -> std::result::Result<u32, String> {
    parse_num(tok, false).ok_or_else(|| format!("channel '{}' is not a number", show(tok)))
}

/// An id token `123`, `18EBFF00x`: the shape only (digits of the base, optional `x`).
fn looks_like_id(tok: &[u8], hex: bool) -> bool {
    let body = match tok.last() {
        Some(b'x') | Some(b'X') => &tok[..tok.len() - 1],
        _ => tok,
    };
    !body.is_empty()
        && body.iter().all(|&c| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        })
}

fn parse_id(tok: &[u8], hex: bool) -> std::result::Result<Id, String> {
    let (body, ext) = match tok.last() {
        Some(b'x') | Some(b'X') => (&tok[..tok.len() - 1], true),
        _ => (tok, false),
    };
    let raw = parse_num(body, hex).ok_or_else(|| {
        format!(
            "identifier '{}' is not a {} number",
            show(tok),
            if hex { "hex" } else { "decimal" }
        )
    })?;
    Id::new(raw, ext).map_err(|e| e.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    Rx,
    Tx,
    TxRq,
}

fn parse_dir(tok: &[u8]) -> Option<Dir> {
    if tok.eq_ignore_ascii_case(b"Rx") {
        Some(Dir::Rx)
    } else if tok.eq_ignore_ascii_case(b"Tx") {
        Some(Dir::Tx)
    } else if tok.eq_ignore_ascii_case(b"TxRq") {
        Some(Dir::TxRq)
    } else {
        None
    }
}

fn is_error_frame(tok: &[u8]) -> bool {
    tok.len() >= 10 && tok[..10].eq_ignore_ascii_case(b"ErrorFrame")
}

/// Decimal seconds (`2.501000`, `2.5010`, `13`) to nanoseconds; any number of
/// fraction digits (beyond 9 they are dropped). `None` when malformed or too large.
fn parse_seconds(tok: &[u8]) -> Option<i64> {
    let (int, frac) = match tok.iter().position(|&c| c == b'.') {
        Some(p) => (&tok[..p], &tok[p + 1..]),
        None => (tok, &tok[tok.len()..]),
    };
    if int.is_empty() || int.len() > 12 {
        return None;
    }
    let mut secs: i64 = 0;
    for &c in int {
        if !c.is_ascii_digit() {
            return None;
        }
        secs = secs * 10 + (c - b'0') as i64;
    }
    let mut ns: i64 = 0;
    for (i, &c) in frac.iter().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        if i < 9 {
            ns = ns * 10 + (c - b'0') as i64;
        }
    }
    for _ in frac.len()..9 {
        ns *= 10;
    }
    secs.checked_mul(NS_PER_SEC)?.checked_add(ns)
}

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

/// A month name, English or German, abbreviated or not, any case, in any 8-bit
/// encoding of `ä` (`Mär` in cp1252 or UTF-8, `Mrz`).
fn parse_month(tok: &[u8]) -> Option<u32> {
    if tok.len() < 3 {
        return None;
    }
    let p = [
        tok[0].to_ascii_lowercase(),
        tok[1].to_ascii_lowercase(),
        tok[2].to_ascii_lowercase(),
    ];
    let m = match &p {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" | b"mrz" => 3,
        b"apr" => 4,
        b"may" | b"mai" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" | b"okt" => 10,
        b"nov" => 11,
        b"dec" | b"dez" => 12,
        // `Mär` with a non-ASCII `ä` in whatever encoding (1 to 3 bytes)
        _ if p[0] == b'm'
            && !tok[1].is_ascii()
            && tok.len() <= 5
            && tok[tok.len() - 1].eq_ignore_ascii_case(&b'r') =>
        {
            3
        }
        _ => return None,
    };
    Some(m)
}

/// `HH:MM:SS[.fff]` to (h, m, s, ns).
fn parse_clock(tok: &[u8]) -> Option<(u32, u32, u32, i64)> {
    let mut parts = tok.splitn(3, |&c| c == b':');
    let h = parse_num(parts.next()?, false)?;
    let m = parse_num(parts.next()?, false)?;
    let rest = parts.next()?;
    let (s, frac) = match rest.iter().position(|&c| c == b'.' || c == b',') {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    let s = parse_num(s, false)?;
    let mut ns: i64 = 0;
    for (i, &c) in frac.iter().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        if i < 9 {
            ns = ns * 10 + (c - b'0') as i64;
        }
    }
    for _ in frac.len()..9 {
        ns *= 10;
    }
    (m < 60 && s <= 60).then_some((h, m, s, ns))
}

/// The date of a `date` or `Begin Triggerblock` line (the tokens after the
/// keyword): `[weekday] month day HH:MM:SS[.fff] [am|pm] year`, read as UTC.
/// Nanoseconds since the epoch.
fn parse_date(mut t: Tokens<'_>) -> Option<i64> {
    let mut toks: [&[u8]; 8] = [&[]; 8];
    let mut n = 0;
    while let Some(tok) = t.next_token() {
        if n == toks.len() {
            return None;
        }
        toks[n] = tok;
        n += 1;
    }
    let toks = &toks[..n];
    // the weekday carries nothing; skip it unless the first token is the month
    let start = match toks {
        [a, b, ..] if parse_month(a).is_some() && parse_num(b, false).is_some() => 0,
        _ => 1,
    };
    let rest = toks.get(start..)?;
    let month = parse_month(rest.first()?)?;
    let day = parse_num(rest.get(1)?, false)?;
    let (mut hour, min, sec, ns) = parse_clock(rest.get(2)?)?;
    let mut year: Option<i64> = None;
    let mut half: Option<bool> = None; // Some(pm)
    for tok in rest.get(3..)? {
        if tok.eq_ignore_ascii_case(b"am") {
            half = Some(false);
        } else if tok.eq_ignore_ascii_case(b"pm") {
            half = Some(true);
        } else if year.is_none() && tok.len() <= 6 {
            year = Some(parse_num(tok, false)? as i64);
        } else {
            return None;
        }
    }
    let year = year?;
    match half {
        Some(pm) => {
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour = match (pm, hour) {
                (false, 12) => 0,
                (false, h) => h,
                (true, 12) => 12,
                (true, h) => h + 12,
            };
        }
        None if hour > 23 => return None,
        None => {}
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * SECS_PER_DAY
        + hour as i64 * 3600
        + min as i64 * 60
        + sec as i64;
    secs.checked_mul(NS_PER_SEC)?.checked_add(ns)
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/// Reads a Vector ASC log. See the module docs for what it accepts.
///
/// Lines come from a [`LineReader`] (at most [`super::lines::MAX_LINE`] bytes
/// each; Ethernet and CAN XL event lines run to a few KiB); the parsing state
/// lives apart in `Parser` so a line can be parsed while it is borrowed.
pub struct Reader {
    lines: LineReader,
    p: Parser,
    /// Warnings passed on since the last [`RecordReader::take_warnings`]; at
    /// [`MAX_WARNINGS`] later ones are only counted in `suppressed`.
    warned: usize,
    suppressed: usize,
    /// The stream has ended (end of input, a cut-off last line or an error).
    done: bool,
}

/// The state an ASC file's lines change, and the parsing of one line.
struct Parser {
    /// `base hex` (default) or `base dec`.
    hex: bool,
    /// `timestamps relative`.
    relative: bool,
    /// The date of the current trigger block (else of the header), ns since the epoch.
    base: Option<i64>,
    /// The last event's offset from the base (for relative timestamps).
    offset: i64,
    /// Inside `Begin Triggerblock` … `End TriggerBlock`.
    in_block: bool,
    /// Lines skipped as events that are no CAN frames.
    skipped: u64,
    /// True once anything ASC-like was seen (a header line or an event).
    seen: bool,
    /// Warnings about the current line, passed on once it is parsed.
    notes: Vec<String>,
}

/// What one line turned out to be.
enum Line {
    Record(Record),
    Nothing,
}

type LineResult = std::result::Result<Line, String>;

impl Reader {
    /// A reader over an opened input. Nothing is read until [`RecordReader::read`].
    pub fn new(input: Input) -> Result<Reader> {
        Ok(Reader {
            lines: LineReader::new(input),
            p: Parser {
                hex: true,
                relative: false,
                base: None,
                offset: 0,
                in_block: false,
                skipped: 0,
                seen: false,
                notes: Vec::new(),
            },
            warned: 0,
            suppressed: 0,
            done: false,
        })
    }

    /// The date the current offsets count from (the trigger block's, else the
    /// header's), read as UTC; `None` when the file names none (timestamps are
    /// then the bare offsets).
    pub fn measurement_start(&self) -> Option<Timestamp> {
        self.p.base.map(Timestamp::from_nanos)
    }

    /// How many event lines were skipped so far because they hold no CAN frame
    /// (status, statistics, LIN, `TxRq`, …) or are not understood.
    pub fn skipped(&self) -> u64 {
        self.p.skipped
    }

    /// Passes on a warning about the current line, or counts it past the cap.
    fn warn(&mut self, msg: String) {
        if self.warned < MAX_WARNINGS {
            self.warned += 1;
            self.lines.warn(msg);
        } else {
            self.suppressed += 1;
        }
    }
}

impl Parser {
    fn warn(&mut self, msg: String) {
        self.notes.push(msg);
    }

    /// Parses one line (without its line end); `first` for the file's first line.
    fn parse_line(&mut self, mut line: &[u8], first: bool) -> LineResult {
        if first {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        let mut t = Tokens::new(line);
        let Some(first) = t.next_token() else {
            return Ok(Line::Nothing);
        };
        if first[0].is_ascii_digit() {
            self.seen = true;
            return self.parse_event(first, t);
        }
        if first.starts_with(b"//") {
            self.seen = true;
            return Ok(Line::Nothing);
        }
        if first.eq_ignore_ascii_case(b"date") {
            self.seen = true;
            match parse_date(t.clone()) {
                // a trigger block's date wins over the header's; outside a block a
                // `date` line starts a new file (concatenated logs)
                Some(ns) => {
                    if !self.in_block {
                        self.base = Some(ns);
                        self.offset = 0;
                    }
                }
                None => self.warn(format!(
                    "cannot read the date '{}'; times stay relative",
                    show(line.trim_ascii())
                )),
            }
            return Ok(Line::Nothing);
        }
        if first.eq_ignore_ascii_case(b"base") {
            self.seen = true;
            let radix = t.next_token().unwrap_or_default();
            if radix.eq_ignore_ascii_case(b"hex") {
                self.hex = true;
            } else if radix.eq_ignore_ascii_case(b"dec") {
                self.hex = false;
            } else {
                return Err(format!("base must be hex or dec, not '{}'", show(radix)));
            }
            if let Some(kw) = t.next_token() {
                if kw.eq_ignore_ascii_case(b"timestamps") {
                    let mode = t.next_token().unwrap_or_default();
                    if mode.eq_ignore_ascii_case(b"absolute") {
                        self.relative = false;
                    } else if mode.eq_ignore_ascii_case(b"relative") {
                        self.relative = true;
                    } else {
                        return Err(format!(
                            "timestamps must be absolute or relative, not '{}'",
                            show(mode)
                        ));
                    }
                }
            }
            return Ok(Line::Nothing);
        }
        if first.eq_ignore_ascii_case(b"internal") || first.eq_ignore_ascii_case(b"no") {
            // `[no] internal events logged`: informational
            self.seen = true;
            return Ok(Line::Nothing);
        }
        if first.eq_ignore_ascii_case(b"begin") {
            if t.next_token()
                .is_some_and(|k| k.eq_ignore_ascii_case(b"triggerblock"))
            {
                self.seen = true;
                self.offset = 0;
                self.in_block = true;
                if t.peek().is_some() {
                    match parse_date(t) {
                        Some(ns) => self.base = Some(ns),
                        None => self.warn(format!(
                            "cannot read the trigger block date '{}'; the previous date stays",
                            show(line.trim_ascii())
                        )),
                    }
                }
                return Ok(Line::Nothing);
            }
        } else if first.eq_ignore_ascii_case(b"end")
            && t.next_token()
                .is_some_and(|k| k.eq_ignore_ascii_case(b"triggerblock"))
        {
            self.seen = true;
            self.in_block = false;
            return Ok(Line::Nothing);
        }
        if !self.seen {
            return Err(format!(
                "'{}' is neither an ASC header line nor an event: is this a Vector ASC log?",
                show(line.trim_ascii())
            ));
        }
        self.skipped += 1;
        Ok(Line::Nothing)
    }

    fn parse_event(&mut self, time: &[u8], mut t: Tokens<'_>) -> LineResult {
        let off = parse_seconds(time).ok_or_else(|| {
            format!(
                "'{}' is not a timestamp (seconds with decimals) or too large",
                show(time)
            )
        })?;
        self.offset = if self.relative {
            self.offset
                .checked_add(off)
                .ok_or("relative timestamps add up beyond range")?
        } else {
            off
        };
        let ts = self
            .base
            .unwrap_or(0)
            .checked_add(self.offset)
            .ok_or("timestamp out of range")?;
        let ts = Timestamp::from_nanos(ts);
        let Some(kind) = t.next_token() else {
            self.skipped += 1;
            return Ok(Line::Nothing);
        };
        if kind.eq_ignore_ascii_case(b"CANFD") {
            return self.parse_canfd(ts, t);
        }
        if !is_channel_token(kind) {
            // `CAN 1 Status:`, `Start of measurement`, `Li`, `M1`, `CANXL`, …
            self.skipped += 1;
            return Ok(Line::Nothing);
        }
        self.parse_classic(ts, kind, t)
    }

    fn parse_classic(&mut self, ts: Timestamp, ch: &[u8], mut t: Tokens<'_>) -> LineResult {
        let Some(a) = t.next_token() else {
            self.skipped += 1;
            return Ok(Line::Nothing);
        };
        if is_error_frame(a) {
            let channel = parse_channel(ch)?;
            let frame = Frame::error(0, &[]).map_err(|e| e.to_string())?;
            return Ok(Line::Record(Record {
                timestamp: ts,
                channel: Channel::Number(channel),
                direction: Direction::Rx,
                frame,
            }));
        }
        // the shape of a CAN line: <id> <dir> d|r; anything else is another event
        let (Some(dir_tok), Some(typ)) = (t.next_token(), t.next_token()) else {
            self.skipped += 1;
            return Ok(Line::Nothing);
        };
        let Some(dir) = parse_dir(dir_tok) else {
            self.skipped += 1;
            return Ok(Line::Nothing);
        };
        let remote = if typ.eq_ignore_ascii_case(b"r") {
            true
        } else if typ.eq_ignore_ascii_case(b"d") {
            false
        } else {
            self.skipped += 1;
            return Ok(Line::Nothing);
        };
        if dir == Dir::TxRq {
            self.skipped += 1;
            return Ok(Line::Nothing);
        }
        let channel = parse_channel(ch)?;
        let hex = self.hex;
        let id = parse_id(a, hex);
        let frame = if remote {
            // `r`, `r 8`, `r Length = …`
            let dlc = match t.peek().and_then(|d| parse_num(d, hex)) {
                Some(d) if d <= 15 => d as u8,
                Some(d) => return Err(format!("remote frame DLC {d} is out of range (0-15)")),
                None => 0,
            };
            Frame::remote(id.or_else(|e| trailing_id(t).ok_or(e))?, dlc)
        } else {
            let dtok = t.next_token().ok_or("data frame without a DLC")?;
            let v = parse_num(dtok, hex)
                .ok_or_else(|| format!("DLC '{}' is not a number", show(dtok)))?;
            // python-can writes a 64-byte classic message as `d 40`
            let dlc = match v {
                0..=15 => v as u8,
                _ => match len_to_dlc(v as usize) {
                    Some(code) => code,
                    None => return Err(format!("DLC {v} is out of range (0-15)")),
                },
            };
            let len = (dlc as usize).min(CAN_MAX_LEN);
            let mut data = [0u8; CAN_MAX_LEN];
            read_bytes(&mut t, &mut data[..len], hex)?;
            // a symbolic name in the id column: the `ID = <dec>[x]` field has the number
            let id = id.or_else(|e| trailing_id(t).ok_or(e))?;
            if dlc as usize > CAN_MAX_LEN {
                Frame::data_with_dlc(id, &data, dlc)
            } else {
                Frame::data(id, &data[..len])
            }
        }
        .map_err(|e| e.to_string())?;
        Ok(Line::Record(Record {
            timestamp: ts,
            channel: Channel::Number(channel),
            direction: if dir == Dir::Rx {
                Direction::Rx
            } else {
                Direction::Tx
            },
            frame,
        }))
    }

    fn parse_canfd(&mut self, ts: Timestamp, mut t: Tokens<'_>) -> LineResult {
        let hex = self.hex;
        let ch = t.next_token().ok_or("CANFD line without a channel")?;
        let channel = parse_channel(ch)?;
        let tok = t.next_token().ok_or("CANFD line ends after the channel")?;
        let record = |frame: Frame, dir: Dir| {
            Line::Record(Record {
                timestamp: ts,
                channel: Channel::Number(channel),
                direction: if dir == Dir::Rx {
                    Direction::Rx
                } else {
                    Direction::Tx
                },
                frame,
            })
        };
        if let Some(dir) = parse_dir(tok) {
            // CANalyzer 8.1+: <dir> <id> [name] brs esi dlc len bytes… duration bits flags …
            let idtok = t
                .next_token()
                .ok_or("CANFD line ends after the direction")?;
            if is_error_frame(idtok) {
                if dir == Dir::TxRq {
                    self.skipped += 1;
                    return Ok(Line::Nothing);
                }
                let frame = Frame::error(0, &[])
                    .map_err(|e| e.to_string())?
                    .with_fd_flags(FdFlags::default());
                return Ok(record(frame, dir));
            }
            if !looks_like_id(idtok, hex) {
                self.skipped += 1;
                return Ok(Line::Nothing);
            }
            if dir == Dir::TxRq {
                self.skipped += 1;
                return Ok(Line::Nothing);
            }
            let id = parse_id(idtok, hex)?;
            let mut x = t.next_token().ok_or("CANFD line ends after the id")?;
            if !x.iter().all(u8::is_ascii_digit) {
                // a symbolic name (python-can: BRS is the token if it is all digits)
                x = t.next_token().ok_or("CANFD line ends after the name")?;
            }
            let brs = parse_bit(x, "BRS")?;
            let esi = parse_bit(t.next_token().unwrap_or_default(), "ESI")?;
            let dlc = parse_fd_dlc(t.next_token(), hex)?;
            let ltok = t
                .next_token()
                .ok_or("CANFD line ends before the data length")?;
            let len = parse_num(ltok, false)
                .filter(|&l| l as usize <= CANFD_MAX_LEN)
                .ok_or_else(|| format!("data length '{}' is not 0-64", show(ltok)))?
                as usize;
            let mut data = [0u8; CANFD_MAX_LEN];
            read_bytes(&mut t, &mut data[..len], hex)?;
            // message duration, bit count, then the flags
            let flags = match (t.next_token(), t.next_token(), t.next_token()) {
                (Some(_), Some(_), Some(f)) => parse_flags(f),
                _ => None,
            };
            let fd = FdFlags { brs, esi };
            let data = &data[..len];
            let frame = match flags {
                // a classic frame on an FD channel, when the line agrees
                Some(f) if f & FLAG_EDL == 0 && f & FLAG_RTR != 0 => Frame::remote(id, dlc),
                Some(f) if f & FLAG_EDL == 0 && !brs && len <= CAN_MAX_LEN => {
                    if dlc > 8 && len == CAN_MAX_LEN {
                        Frame::data_with_dlc(id, data, dlc)
                    } else {
                        Frame::data(id, data)
                    }
                }
                Some(f) if f & FLAG_RTR != 0 => Frame::remote(id, dlc).map(|r| r.with_fd_flags(fd)),
                _ if len == 0 && dlc != 0 => Frame::remote(id, dlc).map(|r| r.with_fd_flags(fd)),
                _ => {
                    if dlc_to_len(dlc) != len {
                        self.warn(format!(
                            "CANFD DLC {dlc} means {} bytes but the line has {len}; keeping {len}",
                            dlc_to_len(dlc)
                        ));
                    }
                    Frame::fd(id, data, fd)
                }
            }
            .map_err(|e| e.to_string())?;
            return Ok(record(frame, dir));
        }
        // CANoe 7/8.0: <id> <dir> brs esi d|r dlc [len bytes…] [Length = …]
        let Some(dir) = t.peek().and_then(parse_dir) else {
            self.skipped += 1;
            return Ok(Line::Nothing);
        };
        if !looks_like_id(tok, hex) {
            self.skipped += 1;
            return Ok(Line::Nothing);
        }
        t.next_token();
        if dir == Dir::TxRq {
            self.skipped += 1;
            return Ok(Line::Nothing);
        }
        let id = parse_id(tok, hex)?;
        let brs = parse_bit(t.next_token().unwrap_or_default(), "BRS")?;
        let esi = parse_bit(t.next_token().unwrap_or_default(), "ESI")?;
        let fd = FdFlags { brs, esi };
        let typ = t.next_token().unwrap_or_default();
        let remote = if typ.eq_ignore_ascii_case(b"r") {
            true
        } else if typ.eq_ignore_ascii_case(b"d") {
            false
        } else {
            return Err(format!(
                "CANFD line: expected 'd' or 'r' after BRS and ESI, found '{}'",
                show(typ)
            ));
        };
        let dlc = parse_fd_dlc(t.next_token(), hex)?;
        let frame = if remote {
            Frame::remote(id, dlc).map(|r| r.with_fd_flags(fd))
        } else {
            let ltok = t
                .next_token()
                .ok_or("CANFD line ends before the data length")?;
            let len = parse_num(ltok, false)
                .filter(|&l| l as usize <= CANFD_MAX_LEN)
                .ok_or_else(|| format!("data length '{}' is not 0-64", show(ltok)))?
                as usize;
            let mut data = [0u8; CANFD_MAX_LEN];
            read_bytes(&mut t, &mut data[..len], hex)?;
            Frame::fd(id, &data[..len], fd)
        }
        .map_err(|e| e.to_string())?;
        Ok(record(frame, dir))
    }
}

/// The `ID = <dec>[x]` trailing field of a classic line, if present and valid.
fn trailing_id(mut t: Tokens<'_>) -> Option<Id> {
    while let Some(tok) = t.next_token() {
        if tok == b"ID" && t.next_token() == Some(b"=") {
            return parse_id(t.next_token()?, false).ok();
        }
    }
    None
}

fn parse_bit(tok: &[u8], what: &str) -> std::result::Result<bool, String> {
    match tok {
        b"0" => Ok(false),
        b"1" => Ok(true),
        _ => Err(format!(
            "CANFD line: {what} must be 0 or 1, not '{}'",
            show(tok)
        )),
    }
}

fn parse_fd_dlc(tok: Option<&[u8]>, hex: bool) -> std::result::Result<u8, String> {
    let tok = tok.ok_or("CANFD line ends before the DLC")?;
    // a single hex digit in Vector files; under `base dec` try decimal first
    parse_num(tok, hex)
        .or_else(|| parse_num(tok, true))
        .filter(|&d| d <= 15)
        .map(|d| d as u8)
        .ok_or_else(|| format!("DLC '{}' is not 0-15", show(tok)))
}

fn read_bytes(t: &mut Tokens<'_>, out: &mut [u8], hex: bool) -> std::result::Result<(), String> {
    if hex {
        let mut i = t.i;
        while i < t.s.len() && is_space(t.s[i]) {
            i += 1;
        }
        if let Some(k) = hex_run(&t.s[i..], out) {
            t.i = i + k;
            return Ok(());
        }
    }
    let want = out.len();
    for (i, slot) in out.iter_mut().enumerate() {
        let tok = t
            .next_token()
            .ok_or_else(|| format!("expected {want} data bytes, found {i}"))?;
        *slot = parse_byte(tok, hex).ok_or_else(|| {
            format!(
                "data byte {} '{}' is not a {} byte",
                i + 1,
                show(tok),
                if hex { "hex" } else { "decimal" }
            )
        })?;
    }
    Ok(())
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        while !self.done {
            match self.lines.next_line() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
            let first = self.lines.line_no() == 1;
            let res = self.p.parse_line(self.lines.line(), first);
            if !self.p.notes.is_empty() {
                for msg in std::mem::take(&mut self.p.notes) {
                    self.warn(msg);
                }
            }
            match res {
                Ok(Line::Record(r)) => return Ok(Some(r)),
                Ok(Line::Nothing) => {}
                Err(msg) => {
                    // a cut-off last line ends the stream with a warning, once
                    // the file has shown it is ASC; any other bad line is an error
                    let res = if !self.p.seen || self.lines.complete() {
                        Err(self.lines.error(msg))
                    } else if self.warned < MAX_WARNINGS {
                        self.warned += 1;
                        self.lines.reject(msg)
                    } else {
                        self.suppressed += 1;
                        Ok(())
                    };
                    self.lines.stop();
                    self.done = true;
                    res?;
                }
            }
        }
        self.done = true;
        Ok(None)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        let mut w = self.lines.take_warnings();
        self.warned = 0;
        if self.done && self.suppressed > 0 {
            let n = std::mem::take(&mut self.suppressed);
            w.push(format!(
                "{}: {n} more warnings",
                self.lines.path().display()
            ));
        }
        w
    }
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// `" HH"` for every byte value.
static BYTE_TEXT: [[u8; 3]; 256] = {
    let mut t = [[0u8; 3]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [b' ', HEX_UPPER[i >> 4], HEX_UPPER[i & 15]];
        i += 1;
    }
    t
};

/// `"00"` to `"99"`.
static TWO_DIGITS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Room for the longest event line the writer produces (an FD frame with 64
/// bytes, a 10-digit channel and a far-away time stays under 400 bytes).
const LINE_CAP: usize = 512;

/// A line being built in a fixed buffer: no growth checks per byte.
struct LineBuf<'a> {
    b: &'a mut [u8; LINE_CAP],
    n: usize,
}

impl LineBuf<'_> {
    #[inline]
    fn byte(&mut self, c: u8) {
        self.b[self.n] = c;
        self.n += 1;
    }

    #[inline]
    fn bytes(&mut self, s: &[u8]) {
        self.b[self.n..self.n + s.len()].copy_from_slice(s);
        self.n += s.len();
    }

    #[inline]
    fn spaces(&mut self, k: usize) {
        self.b[self.n..self.n + k].fill(b' ');
        self.n += k;
    }

    /// `v` in decimal, padded with spaces to `width` on the left (`right`) or right.
    #[inline]
    fn dec(&mut self, v: u64, width: usize, right: bool) {
        let mut tmp = [0u8; 20];
        let i = dec_digits(v, &mut tmp);
        let n = tmp.len() - i;
        if right && n < width {
            self.spaces(width - n);
        }
        self.bytes(&tmp[i..]);
        if !right && n < width {
            self.spaces(width - n);
        }
    }

    /// `v` (below 1 000 000) as exactly 6 digits.
    #[inline]
    fn six_digits(&mut self, v: u32) {
        let (a, r) = (v / 10_000, v % 10_000);
        let (b, c) = (r / 100, r % 100);
        self.bytes(&TWO_DIGITS[a as usize]);
        self.bytes(&TWO_DIGITS[b as usize]);
        self.bytes(&TWO_DIGITS[c as usize]);
    }

    /// The time field: seconds right-aligned in 4, a dot, 6 decimals, a space.
    #[inline]
    fn time(&mut self, offset_ns: i64) {
        let us = (offset_ns.max(0) as u64 + 500) / 1000;
        let secs = us / 1_000_000;
        if secs < 10 {
            self.bytes(b"   ");
            self.byte(b'0' + secs as u8);
        } else {
            self.dec(secs, 4, true);
        }
        self.byte(b'.');
        self.six_digits((us % 1_000_000) as u32);
        self.byte(b' ');
    }

    /// Data bytes as ` HH` each.
    #[inline]
    fn data(&mut self, data: &[u8]) {
        let out = &mut self.b[self.n..self.n + 3 * data.len()];
        for (dst, &b) in out.chunks_exact_mut(3).zip(data) {
            dst.copy_from_slice(&BYTE_TEXT[b as usize]);
        }
        self.n += 3 * data.len();
    }
}

/// Decimal digits of `v` into the end of `tmp`; returns the start index.
#[inline]
fn dec_digits(mut v: u64, tmp: &mut [u8; 20]) -> usize {
    let mut i = tmp.len();
    while v >= 100 {
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&TWO_DIGITS[(v % 100) as usize]);
        v /= 100;
    }
    if v >= 10 {
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&TWO_DIGITS[v as usize]);
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    i
}

/// Hex digits of `v` (upper case) into the end of `tmp`, plus an optional `x`;
/// returns the start index.
#[inline]
fn hex_digits(mut v: u32, tmp: &mut [u8; 12], x: bool) -> usize {
    let mut i = tmp.len();
    if x {
        i -= 1;
        tmp[i] = b'x';
    }
    loop {
        i -= 1;
        tmp[i] = HEX_UPPER[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            return i;
        }
    }
}

/// `Tue Nov 14 10:13:20.001 pm 2023` (UTC, milliseconds).
fn put_date(buf: &mut Vec<u8>, ns: i64) {
    let secs = ns.div_euclid(NS_PER_SEC);
    let ms = ns.rem_euclid(NS_PER_SEC) / 1_000_000;
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let wd = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let h24 = sod / 3600;
    let h12 = match h24 % 12 {
        0 => 12,
        h => h,
    };
    let half = if h24 < 12 { "am" } else { "pm" };
    let text = format!(
        "{} {} {d} {h12:02}:{:02}:{:02}.{ms:03} {half} {y}",
        String::from_utf8_lossy(WEEKDAYS[wd]),
        String::from_utf8_lossy(MONTHS[(m - 1) as usize]),
        (sod / 60) % 60,
        sod % 60,
    );
    buf.extend_from_slice(text.as_bytes());
}

/// `can3`/`vcan3` → 3.
fn can_index(name: &str) -> Option<u32> {
    let digits = name
        .strip_prefix("vcan")
        .or_else(|| name.strip_prefix("can"))?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Writes a Vector ASC log. See the module docs for the layout.
pub struct Writer {
    sink: TextSink,
    line: Box<[u8; LINE_CAP]>,
    appending: bool,
    /// The measurement start (first record, cut to the millisecond), once known.
    start: Option<i64>,
    /// Channel numbers given to names.
    names: Vec<(Arc<str>, u32)>,
    /// Index in `names` of the last name looked up (runs of one channel are common).
    last: usize,
    finished: bool,
}

impl Writer {
    /// A writer over an opened output. It takes no option; the header is
    /// written with the first record (or by `finish` for an empty log).
    pub fn new(out: Output, opts: &WriterOptions) -> Result<Writer> {
        if let Some(k) = opts.options.keys().next() {
            return Err(Error::Config(format!("ASC logs take no option '{k}'")));
        }
        Ok(Writer {
            appending: out.appending,
            sink: TextSink::new(out),
            line: Box::new([0; LINE_CAP]),
            start: None,
            names: Vec::new(),
            last: 0,
            finished: false,
        })
    }

    /// Writes the header and opens the trigger block at `first` (ns since the epoch).
    fn begin(&mut self, first: i64) -> i64 {
        let start = first.saturating_sub(first.rem_euclid(1_000_000));
        let buf = &mut self.sink.buf;
        if !self.appending {
            buf.extend_from_slice(b"date ");
            put_date(buf, start);
            buf.extend_from_slice(
                b"\nbase hex  timestamps absolute\ninternal events logged\n// version 9.0.0\n",
            );
        } else {
            // the file may have switched to `base dec`; say it again
            buf.extend_from_slice(b"base hex  timestamps absolute\n");
        }
        buf.extend_from_slice(b"Begin Triggerblock ");
        put_date(buf, start);
        buf.extend_from_slice(b"\n   0.000000 Start of measurement\n");
        self.start = Some(start);
        start
    }

    fn channel_number(&mut self, ch: &Channel) -> u32 {
        let name = match ch {
            Channel::None => return 1,
            Channel::Number(n) => return *n,
            Channel::Name(name) => name,
        };
        if let Some((last, n)) = self.names.get(self.last) {
            if **last == **name {
                return *n;
            }
        }
        if let Some(i) = self.names.iter().position(|(s, _)| **s == **name) {
            self.last = i;
            return self.names[i].1;
        }
        let n = match can_index(name) {
            Some(k) => k.saturating_add(1),
            None => {
                let mut n = 1;
                while self.names.iter().any(|(_, m)| *m == n) {
                    n += 1;
                }
                n
            }
        };
        self.last = self.names.len();
        self.names.push((name.clone(), n));
        n
    }
}

/// One event line for `r` at offset `offset_ns` on channel `ch`; returns its length.
fn put_record(b: &mut [u8; LINE_CAP], offset_ns: i64, ch: u32, r: &Record) -> usize {
    let mut l = LineBuf { b, n: 0 };
    l.time(offset_ns);
    let f = &r.frame;
    let dir: &[u8; 2] = match r.direction {
        Direction::Rx => b"Rx",
        Direction::Tx => b"Tx",
    };
    if f.is_error() {
        l.dec(ch as u64, 2, false);
        l.bytes(b" ErrorFrame\n");
        return l.n;
    }
    let id = f.id();
    let mut tmp = [0u8; 12];
    let i = hex_digits(id.raw(), &mut tmp, id.is_extended());
    let id_text = &tmp[i..];
    if let Some(fd) = f.fd_flags() {
        // CANFD <ch:>3> <dir:<4> <id:>8> <34 blanks: no name> brs esi dlc len bytes…
        l.bytes(b"CANFD ");
        l.dec(ch as u64, 3, true);
        l.byte(b' ');
        l.bytes(dir);
        l.bytes(b"   ");
        if id_text.len() < 8 {
            l.spaces(8 - id_text.len());
        }
        l.bytes(id_text);
        l.spaces(35);
        l.bytes(&[
            b'0' + fd.brs as u8,
            b' ',
            b'0' + fd.esi as u8,
            b' ',
            HEX_LOWER[(f.dlc() & 15) as usize],
            b' ',
        ]);
        let mut flags = FLAG_EDL;
        if fd.brs {
            flags |= FLAG_BRS;
        }
        if fd.esi {
            flags |= FLAG_ESI;
        }
        if f.is_remote() {
            flags |= FLAG_RTR;
            l.bytes(b" 0");
        } else {
            l.dec(f.len() as u64, 2, true);
            l.data(f.data_bytes());
        }
        // duration, bit count, flags, crc and four bit-timing words
        l.bytes(b"        0    0 ");
        let mut ftmp = [0u8; 12];
        let fi = hex_digits(flags, &mut ftmp, false);
        l.spaces(8 - (ftmp.len() - fi));
        l.bytes(&ftmp[fi..]);
        l.bytes(b"        0        0        0        0        0\n");
        return l.n;
    }
    // <ch:<2> <id:<15> <dir:<4> d|r <dlc> bytes…
    l.dec(ch as u64, 2, false);
    l.byte(b' ');
    l.bytes(id_text);
    if id_text.len() < 15 {
        l.spaces(15 - id_text.len());
    }
    l.bytes(&[
        b' ',
        dir[0],
        dir[1],
        b' ',
        b' ',
        b' ',
        if f.is_remote() { b'r' } else { b'd' },
        b' ',
        HEX_UPPER[(f.dlc() & 15) as usize],
    ]);
    l.data(f.data_bytes());
    l.byte(b'\n');
    l.n
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        let ts = r.timestamp.as_nanos();
        let start = match self.start {
            Some(s) => s,
            None => self.begin(ts),
        };
        let ch = self.channel_number(&r.channel);
        let n = put_record(&mut self.line, ts.saturating_sub(start), ch, r);
        self.sink.buf.extend_from_slice(&self.line[..n]);
        self.sink.commit()
    }

    fn flush(&mut self) -> Result<()> {
        self.sink.flush()
    }

    fn finish(&mut self) -> Result<()> {
        if !self.finished {
            self.finished = true;
            if self.start.is_none() {
                self.begin(Timestamp::now().as_nanos());
            }
            self.sink.buf.extend_from_slice(b"End TriggerBlock\n");
        }
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::lines::MAX_LINE;
    use super::*;
    use std::io::{Cursor, Write};

    fn reader(text: &[u8]) -> Reader {
        Reader::new(Input {
            path: "t.asc".into(),
            reader: Box::new(Cursor::new(text.to_vec())),
        })
        .unwrap()
    }

    fn read_all(text: &[u8]) -> Result<Vec<Record>> {
        let mut r = reader(text);
        let mut v = Vec::new();
        while let Some(x) = r.read()? {
            v.push(x);
        }
        Ok(v)
    }

    fn one(text: &str) -> Record {
        let v = read_all(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(v.len(), 1, "{text}: {v:?}");
        v.into_iter().next().unwrap()
    }

    fn err(text: &str) -> String {
        match read_all(text.as_bytes()) {
            Ok(v) => panic!("{text}: expected an error, read {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, ms: i64) -> i64 {
        ((days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + s) * 1000 + ms)
            * 1_000_000
    }

    fn date(s: &str) -> Option<i64> {
        parse_date(Tokens::new(s.as_bytes()))
    }

    #[test]
    fn dates_in_every_seen_form() {
        let want = utc(2017, 9, 30, 15, 6, 13, 191);
        assert_eq!(date("Sam Sep 30 15:06:13.191 2017"), Some(want));
        assert_eq!(date("Sat Sep 30 03:06:13.191 PM 2017"), Some(want));
        assert_eq!(date("Sat Sep 30 03:06:13.191 pm 2017"), Some(want));
        assert_eq!(
            date("Thu Apr 28 10:44:52.480 am 2022"),
            Some(utc(2022, 4, 28, 10, 44, 52, 480))
        );
        assert_eq!(
            date("Tue May 27 12:09:35.000 am 2014"),
            Some(utc(2014, 5, 27, 0, 9, 35, 0))
        );
        assert_eq!(
            date("Mon Mar 7 01:21:51 pm 2005"),
            Some(utc(2005, 3, 7, 13, 21, 51, 0))
        );
        assert_eq!(
            date("Don Nov 24 15:30:43 2005"),
            Some(utc(2005, 11, 24, 15, 30, 43, 0))
        );
        assert_eq!(
            date("Fre Okt 12 11:21:07 2007"),
            Some(utc(2007, 10, 12, 11, 21, 7, 0))
        );
        assert_eq!(
            date("Die Dez 21 11:29:01 2004"),
            Some(utc(2004, 12, 21, 11, 29, 1, 0))
        );
        // python-can's unpadded milliseconds read as a decimal fraction
        assert_eq!(
            date("Tue Nov 14 22:13:20.1 2023"),
            Some(utc(2023, 11, 14, 22, 13, 20, 100))
        );
        // Mär in UTF-8 and cp1252, Mai
        let m = utc(2021, 3, 2, 8, 0, 0, 0);
        assert_eq!(date("Die Mär 2 08:00:00 2021"), Some(m));
        assert_eq!(
            parse_date(Tokens::new(b"Die M\xe4r 2 08:00:00 2021")),
            Some(m)
        );
        assert_eq!(
            date("Mit Mai 5 08:00:00 2021"),
            Some(utc(2021, 5, 5, 8, 0, 0, 0))
        );
        // no weekday
        assert_eq!(
            date("Nov 14 22:13:20 2023"),
            Some(utc(2023, 11, 14, 22, 13, 20, 0))
        );
        for bad in [
            "",
            "Tue",
            "Tue Foo 14 22:13:20 2023",
            "Tue Nov 31 22:13:20 2023",
            "Tue Nov 14 25:13:20 2023",
            "Tue Nov 14 13:13:20 pm 2023",
            "Tue Nov 14 22:13 2023",
            "Tue Nov 14 22:13:20",
            "Tue Nov 14 22:13:20 2023 x y",
        ] {
            assert_eq!(date(bad), None, "{bad}");
        }
    }

    #[test]
    fn classic_lines() {
        let r = one("   3.098426 1  18EBFF00x       Rx d 8 01 A0 0F A6 60 3B D1 40    Length = 273910 BitCount = 141 ID = 418119424x\n");
        assert_eq!(r.timestamp.as_nanos(), 3_098_426_000);
        assert_eq!(r.channel, Channel::Number(1));
        assert_eq!(r.direction, Direction::Rx);
        assert_eq!(r.frame.id(), Id::Extended(0x18EB_FF00));
        assert_eq!(
            r.frame.data_bytes(),
            &[0x01, 0xA0, 0x0F, 0xA6, 0x60, 0x3B, 0xD1, 0x40]
        );
        let r = one(
            "  13.258671 1  3FF             Tx   d D 55 AA 01 02 03 04 05 06  Length = 232016\n",
        );
        assert_eq!((r.frame.dlc(), r.frame.len()), (13, 8));
        assert_eq!(r.direction, Direction::Tx);
        let r = one(" 0.000000 1  123x            Rx   d 40 00 01 02 03 04 05 06 07 08 09 0A\n");
        assert_eq!((r.frame.dlc(), r.frame.len()), (15, 8));
        // one-digit bytes, tabs, several spaces: the slow path
        let r = one("   1.0 1 1 Rx d 4 1 02\t3  fF Length = 1\n");
        assert_eq!(r.frame.data_bytes(), &[1, 2, 3, 0xFF]);
        let r = one("   1.0 1 1 Rx d 2 0102\n".replace("0102", "01 02").as_str());
        assert_eq!(r.frame.data_bytes(), &[1, 2]);
        // symbolic name in the id column, number in the trailing field
        let r = one(
            "   1.0 2  EngineData      Tx   d 2 01 02  Length = 1 BitCount = 2 ID = 418119424x\n",
        );
        assert_eq!(r.frame.id(), Id::Extended(418_119_424));
        let r = one("   1.0 2  Request   Tx   r 2  Length = 1 BitCount = 2 ID = 256\n");
        assert_eq!((r.frame.id(), r.frame.dlc()), (Id::Standard(256), 2));
        let r = one("     2.5010 2   C8             Tx   d 0\n");
        assert_eq!(r.timestamp.as_nanos(), 2_501_000_000);
        assert!(r.frame.is_empty() && r.frame.is_data());
    }

    #[test]
    fn remote_and_error_lines() {
        for (line, dlc) in [
            ("   2.510001 2 100 Tx r\n", 0),
            (
                "   2.520002 3 200 Tx r Length = 1704000 BitCount = 145 ID = 88888888x\n",
                0,
            ),
            ("   2.584921 4 300 Rx r 8 Length = 1704000\n", 8),
            ("   2.584921 4 300 Rx r A\n", 10),
        ] {
            let r = one(line);
            assert!(r.frame.is_remote(), "{line}");
            assert_eq!(r.frame.dlc(), dlc, "{line}");
        }
        for (line, ch) in [
            ("   2.501000 1 ErrorFrame\n", 1),
            ("   1.592186 1  ErrorFrame\tECC: 10100010\r\n", 1),
            ("   2.501020 2 ErrorFrame Flags = 0xe CodeExt = 0x20a2 Code = 0x82 ID = 0 DLC = 0 Position = 5 Length = 11300\n", 2),
        ] {
            let r = one(line);
            assert!(r.frame.is_error() && !r.frame.is_fd(), "{line}");
            assert_eq!(r.channel, Channel::Number(ch));
        }
        let r = one("3.923364 CANFD 2 Tx ErrorFrame Not Acknowledge error, dominant error flag fffe c7 31ca Data 45 ff 1 0 f 64 aa aa\r\n");
        assert!(r.frame.is_error() && r.frame.is_fd());
        assert_eq!(
            (r.channel, r.direction),
            (Channel::Number(2), Direction::Tx)
        );
    }

    #[test]
    fn canfd_lines() {
        let r = one("  30.005071 CANFD   2 Rx        300  Generic_Name_12                  1 0 8  8 01 02 03 04 05 06 07 08   102203  133   303000 e0006659 46500250 4b140250 20011736 2001040d\n");
        assert!(r.frame.is_fd() && r.frame.brs() && !r.frame.esi());
        assert_eq!(r.frame.id(), Id::Standard(0x300));
        assert_eq!(r.frame.len(), 8);
        let r = one("   8.151536 CANFD   2 Tx c9  ABSdata_FD_64Byte 0 0 9 12 29 00 00 00 0b 2a 00 00 00 00 00 00 164000 167 121200 7ca0 500a2041 460a4841\n");
        assert_eq!((r.frame.dlc(), r.frame.len()), (9, 12));
        assert_eq!(r.frame.data_bytes()[4], 0x0b);
        // EDL clear, RTR set: a classic remote frame on an FD channel
        let r = one("  30.300981 CANFD   3 Tx     50005x                                0 1 5 0 140000 73 200050 7a60 46500250 460a0250 20011736 20010205\n");
        assert!(r.frame.is_remote() && !r.frame.is_fd());
        assert_eq!(r.frame.dlc(), 5);
        // EDL clear, data: classic
        let r =
            one("   1.0 CANFD   1 Rx 123 0 0 8 8 01 02 03 04 05 06 07 08 130000 130 0 0 0 0 0 0\n");
        assert!(!r.frame.is_fd() && r.frame.len() == 8);
        // no flags column, length 0: FD remote as python-can reads it
        let r = one("   1.0 CANFD   1 Rx 123 1 0 5 0\n");
        assert!(r.frame.is_remote() && r.frame.is_fd() && r.frame.brs());
        // old layout
        let r = one("   0.010460 CANFD 1  101             Tx   1 0 d 8 8 F1 F1 F1 F1 F1 F1 F1 F1  Length = 209000 BitCount = 128 ID = 257\n");
        assert!(r.frame.is_fd() && r.frame.brs() && r.frame.len() == 8);
        assert_eq!(r.direction, Direction::Tx);
        let r = one("   0.010235 CANFD 1  100             Tx   1 0 r 8  Length = 138000 BitCount = 57 ID = 256\n");
        assert!(r.frame.is_remote() && r.frame.is_fd() && r.frame.dlc() == 8);
    }

    #[test]
    fn header_base_and_relative_times() {
        let text = b"date Sam Sep 30 15:06:13.191 2017\r\nbase dec  timestamps relative\r\nno internal events logged\r\n// c\r\n   1.000000 1  1792 Tx d 8 2 16 0 0 0 0 0 255\r\n   0.500000 1 Statistic: D 0\r\n   0.250000 2 10x Rx r 3\r\nbase hex  timestamps absolute\r\n   4.000000 1  1F Rx d 1 FF\r\n";
        let mut r = reader(text);
        let t0 = utc(2017, 9, 30, 15, 6, 13, 191);
        let a = r.read().unwrap().unwrap();
        assert_eq!(r.measurement_start(), Some(Timestamp(t0)));
        assert_eq!(a.timestamp.as_nanos() - t0, 1_000_000_000);
        assert_eq!(a.frame.id(), Id::Standard(1792));
        assert_eq!(a.frame.data_bytes(), &[2, 16, 0, 0, 0, 0, 0, 255]);
        let b = r.read().unwrap().unwrap();
        assert_eq!(b.timestamp.as_nanos() - t0, 1_750_000_000);
        assert_eq!((b.frame.id(), b.frame.dlc()), (Id::Extended(10), 3));
        let c = r.read().unwrap().unwrap();
        assert_eq!(c.timestamp.as_nanos() - t0, 4_000_000_000);
        assert_eq!(c.frame.id(), Id::Standard(0x1F));
        assert!(r.read().unwrap().is_none());
        assert_eq!(r.skipped(), 1);
    }

    #[test]
    fn trigger_blocks_set_the_base() {
        let text = "date Sam Sep 30 15:06:13.191 2017\nbase hex  timestamps absolute\ninternal events logged\nBegin Triggerblock Sat Sep 30 10:06:13.191 PM 2017\n   0.000000 Start of measurement\n   1.5 1 1 Rx d 0\nEnd TriggerBlock\nbegin triggerblock Sun Oct 1 10:00:00.000 am 2017\n   0.25 1 2 Rx d 0\nEnd TriggerBlock\n";
        let v = read_all(text.as_bytes()).unwrap();
        assert_eq!(
            v[0].timestamp.as_nanos(),
            utc(2017, 9, 30, 22, 6, 13, 191) + 1_500_000_000
        );
        assert_eq!(
            v[1].timestamp.as_nanos(),
            utc(2017, 10, 1, 10, 0, 0, 0) + 250_000_000
        );
    }

    #[test]
    fn concatenated_files_take_each_date() {
        let part = |d: &str| {
            format!("date Tue Nov 14 {d} 2023\nbase hex  timestamps absolute\nno internal events logged\n   0.5 1 1 Rx d 0\n")
        };
        let text = part("22:13:20") + &part("23:00:00");
        let v = read_all(text.as_bytes()).unwrap();
        assert_eq!(
            v[0].timestamp.as_nanos(),
            utc(2023, 11, 14, 22, 13, 20, 500)
        );
        assert_eq!(v[1].timestamp.as_nanos(), utc(2023, 11, 14, 23, 0, 0, 500));
    }

    #[test]
    fn headerless_snippets_and_skipped_events() {
        let text = b"   0.000000  AFDX 1 Tx    1   64\r\n   1.0 M1 Msg50:  Rx   EF00\r\n   2.200804 0 16777215 0 1 GMGroup: Marker\r\n  12.315000    COM2 Rx    10400\r\n   2.0 CAN 1 Status:chip status error active\r\n   3.297743 1  J1939TP FEE3p        6    0  0   -   Rx   d 23 A0\r\n   4.0 1 Statistic: D 0 R 0 XD 0 XR 0 E 0 O 0 B 0.00% \xe4\r\n   5.0 1 64 TxRq d 1 00\r\n   6.0 log direct start (0ms)\r\n   7.0 1 100 Tx d 1 42\r\n";
        let mut r = reader(text);
        let a = r.read().unwrap().unwrap();
        assert_eq!(a.frame.data_bytes(), &[0x42]);
        assert!(r.read().unwrap().is_none());
        assert_eq!(r.skipped(), 9);
        assert_eq!(r.measurement_start(), None);
        assert_eq!(a.timestamp.as_nanos(), 7_000_000_000);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let head = "base hex  timestamps absolute\n";
        for (body, what) in [
            (
                "   1.0 1 123 Rx d 8 01 02\n",
                "expected 8 data bytes, found 2",
            ),
            ("   1.0 1 123 Rx d 2 01 XY\n", "data byte 2 'XY'"),
            ("   1.0 1 800 Rx d 0\n", "11 bits"),
            ("   1.0 1 FFFFFFFFFFx Rx d 0\n", "not a hex number"),
            ("   1.0 1 12G Rx d 0\n", "not a hex number"),
            ("   1.0 1 123 Rx d G\n", "DLC 'G'"),
            ("   1.0 1 123 Rx d 99\n", "out of range"),
            ("   1.0 1 123 Rx r 1F\n", "out of range"),
            ("   1.0 99999999999 123 Rx d 0\n", "channel"),
            (
                "   99999999999999999999.0 1 123 Rx d 0\n",
                "not a timestamp",
            ),
            ("   1.2.3 1 123 Rx d 0\n", "not a timestamp"),
            (
                "   1.0 CANFD 1 Rx 123 1 0 8 8 01\n",
                "expected 8 data bytes",
            ),
            ("   1.0 CANFD 1 Rx 123 2 0 8 8 01\n", "BRS"),
            ("   1.0 CANFD 1 Rx 123 1 0 8 65\n", "0-64"),
            (
                "   1.0 CANFD 1 Rx 123 1 0 8 9 00 00 00 00 00 00 00 00 00\n",
                "9 bytes",
            ),
            ("   1.0 CANFD x Rx 123 1 0 8 8\n", "channel"),
            ("   1.0 CANFD 1 101 Tx 1 0 q 8\n", "'d' or 'r'"),
            ("base oct\n", "hex or dec"),
        ] {
            let e = err(&format!("{head}{body}"));
            assert!(e.starts_with("t.asc: line 2: "), "{body}: {e}");
            assert!(e.contains(what), "{body}: {e} lacks {what}");
        }
        let e = err("\u{1}\u{2}garbage\n   1.0 1 1 Rx d 0\n");
        assert!(e.contains("line 1") && e.contains("Vector ASC"), "{e}");
        let e = err("LOGG\u{0}\u{0}\u{0}");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn unreadable_dates_are_warnings() {
        let mut r =
            reader(b"date Xyz Foo 99 1:2 2017\nBegin Triggerblock Whenever\n   1.0 1 1 Rx d 0\n");
        let a = r.read().unwrap().unwrap();
        assert_eq!(a.timestamp.as_nanos(), 1_000_000_000);
        assert_eq!(r.measurement_start(), None);
        let w = r.take_warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("t.asc: line 1: cannot read the date"),
            "{w:?}"
        );
        assert!(
            w[1].contains("line 2") && w[1].contains("trigger block"),
            "{w:?}"
        );
    }

    #[test]
    fn cut_off_last_line_is_a_warning() {
        let mut r = reader(b"   1.0 1 1 Rx d 1 01\n   2.0 1 1 Rx d 8 01 0");
        assert!(r.read().unwrap().is_some());
        assert!(r.read().unwrap().is_none());
        let w = r.take_warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("line 2") && w[0].contains("cut off"), "{w:?}");
    }

    #[test]
    fn over_long_line_is_an_error() {
        let mut text = b"   1.0 1 1 Rx d 1 01 ".to_vec();
        text.resize(MAX_LINE + 10, b'A');
        let e = read_all(&text).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("longer"), "{e}");
    }

    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn write_all(records: &[Record]) -> String {
        let mem = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut w = Writer::new(
            Output {
                path: "o.asc".into(),
                appending: false,
                writer: Box::new(Shared(mem.clone())),
            },
            &WriterOptions::default(),
        )
        .unwrap();
        for r in records {
            w.write(r).unwrap();
        }
        w.finish().unwrap();
        let v = mem.lock().unwrap().clone();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn writes_vector_layout() {
        let t0 = utc(2023, 11, 14, 22, 13, 20, 1) + 458_000;
        let fd = FdFlags {
            brs: true,
            esi: false,
        };
        let recs = [
            Record::new(
                Timestamp(t0),
                Frame::data(Id::Standard(0xB6), &[0x7E, 0x83]).unwrap(),
            )
            .with_channel(Channel::name("can0")),
            Record::new(
                Timestamp(t0 + 1_000),
                Frame::fd(Id::Extended(0xCF1F4C1), &[0xAB; 12], fd).unwrap(),
            )
            .with_channel(Channel::name("vcan1"))
            .with_direction(Direction::Tx),
            Record::new(Timestamp(t0 + 2_000_000), Frame::error(0x80, &[]).unwrap())
                .with_channel(Channel::name("demo")),
            Record::new(
                Timestamp(t0 + 3_000_000_000),
                Frame::remote(Id::Standard(0x21A), 4).unwrap(),
            )
            .with_channel(Channel::Number(12)),
            Record::new(
                Timestamp(t0 + 4_000_000_000),
                Frame::data_with_dlc(Id::Standard(0x3FF), &[1; 8], 13).unwrap(),
            ),
        ];
        let text = write_all(&recs);
        let want = "date Tue Nov 14 10:13:20.001 pm 2023\n\
base hex  timestamps absolute\n\
internal events logged\n\
// version 9.0.0\n\
Begin Triggerblock Tue Nov 14 10:13:20.001 pm 2023\n   \
0.000000 Start of measurement\n   \
0.000458 1  B6              Rx   d 2 7E 83\n   \
0.000459 CANFD   2 Tx   CF1F4C1x                                   1 0 9 12 AB AB AB AB AB AB AB AB AB AB AB AB        0    0     3000        0        0        0        0        0\n   \
0.002458 3  ErrorFrame\n   \
3.000458 12 21A             Rx   r 4\n   \
4.000458 1  3FF             Rx   d D 01 01 01 01 01 01 01 01\n\
End TriggerBlock\n";
        assert_eq!(text, want);
    }

    #[test]
    fn longest_lines_fit_the_line_buffer() {
        let fd = FdFlags {
            brs: true,
            esi: true,
        };
        let id = Id::Extended(0x1FFF_FFFF);
        for frame in [
            Frame::fd(id, &[0xFF; 64], fd).unwrap(),
            Frame::remote(id, 15).unwrap().with_fd_flags(fd),
            Frame::data_with_dlc(id, &[0xFF; 8], 15).unwrap(),
            Frame::error(0x1FFF_FFFF, &[0xFF; 8]).unwrap(),
        ] {
            let r = Record {
                timestamp: Timestamp(i64::MAX),
                channel: Channel::Number(u32::MAX),
                direction: Direction::Tx,
                frame,
            };
            let mut b = [0u8; LINE_CAP];
            let n = put_record(&mut b, i64::MAX, u32::MAX, &r);
            assert!(n < 400, "{n}");
            let line = std::str::from_utf8(&b[..n]).unwrap();
            assert!(line.starts_with("9223372036.854776 "), "{line}");
            assert!(
                line.contains(" 4294967295 ") && line.ends_with('\n'),
                "{line}"
            );
        }
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        let f = Frame::data(Id::Standard(1), &[1]).unwrap();
        for ts in [
            [i64::MIN, 0, i64::MAX],
            [i64::MAX, i64::MIN, 0],
            [-1, -1_000_001, 1],
        ] {
            let recs: Vec<_> = ts.iter().map(|&t| Record::new(Timestamp(t), f)).collect();
            let text = write_all(&recs);
            assert!(text.contains("Begin Triggerblock"), "{text}");
            let _ = read_all(text.as_bytes());
        }
        // times before 1970 round trip too
        let recs = [Record::new(Timestamp(-86_400_000_000_000 + 123_456_000), f)];
        let back = read_all(write_all(&recs).as_bytes()).unwrap();
        assert_eq!(back[0].timestamp, recs[0].timestamp);
    }

    #[test]
    fn empty_log_still_has_a_header() {
        let text = write_all(&[]);
        assert!(text.starts_with("date "), "{text}");
        assert!(
            text.ends_with("Start of measurement\nEnd TriggerBlock\n"),
            "{text}"
        );
        assert!(read_all(text.as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn channel_names_are_numbered() {
        let mut w = Writer::new(
            Output {
                path: "o.asc".into(),
                appending: false,
                writer: Box::new(std::io::sink()),
            },
            &WriterOptions::default(),
        )
        .unwrap();
        let n = |w: &mut Writer, c: Channel| w.channel_number(&c);
        assert_eq!(n(&mut w, Channel::None), 1);
        assert_eq!(n(&mut w, Channel::Number(7)), 7);
        assert_eq!(n(&mut w, Channel::name("can1")), 2);
        assert_eq!(n(&mut w, Channel::name("foo")), 1);
        assert_eq!(n(&mut w, Channel::name("bar")), 3);
        assert_eq!(n(&mut w, Channel::name("vcan0")), 1);
        assert_eq!(n(&mut w, Channel::name("foo")), 1);
        assert_eq!(n(&mut w, Channel::name("can")), 4);
        let bad = WriterOptions {
            options: [("digits".to_string(), "9".to_string())].into(),
            ..Default::default()
        };
        assert!(Writer::new(
            Output {
                path: "o.asc".into(),
                appending: false,
                writer: Box::new(std::io::sink()),
            },
            &bad
        )
        .is_err());
    }

    #[test]
    fn dates_round_trip_through_the_writer() {
        for ns in [
            0i64,
            utc(2023, 11, 14, 0, 0, 0, 0),
            utc(2024, 2, 29, 12, 59, 59, 999),
            utc(2099, 12, 31, 23, 0, 1, 5),
        ] {
            let mut buf = Vec::new();
            put_date(&mut buf, ns);
            assert_eq!(parse_date(Tokens::new(&buf)), Some(ns), "{}", show(&buf));
        }
    }
}
