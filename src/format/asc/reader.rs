//! The reader: header lines, trigger blocks and event lines to records.

use super::dates::parse_date;
use super::lexer::{
    is_channel_token, is_error_frame, looks_like_id, parse_bit, parse_byte, parse_channel,
    parse_dir, parse_fd_dlc, parse_flags, parse_id, parse_num, parse_seconds, read_bytes,
    read_fd_data, show, trailing_id, Dir, Tokens,
};
use super::{FLAG_EDL, FLAG_RTR};
use crate::error::Result;
use crate::format::civil::continues_measurement;
use crate::format::lines::LineReader;
use crate::format::{Input, RecordReader};
use crate::frame::{
    dlc_to_len, len_to_dlc, Channel, Direction, FdFlags, Frame, Record, Timestamp, CAN_MAX_LEN,
};

/// Warnings kept per file; later ones are counted in one closing line.
const MAX_WARNINGS: usize = 20;

/// Reads a Vector ASC log. See the [module docs](super) for what it accepts.
///
/// Lines come from a [`LineReader`] (at most [`crate::format::lines::MAX_LINE`] bytes
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
    /// The date the offsets of the current lines count from, ns since the epoch.
    base: Option<i64>,
    /// The start of the measurement: the header's date, else the first trigger
    /// block's (absolute timestamps only).
    measurement: Option<i64>,
    /// The date of a trigger block whose offsets may count from the start of
    /// the measurement or from the block: its first event decides.
    pending_block: Option<i64>,
    /// The last event's offset from the base (for relative timestamps).
    offset: i64,
    /// Inside `Begin Triggerblock` … `End TriggerBlock`.
    in_block: bool,
    /// Event lines passed over because they hold no CAN frame.
    events: u64,
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

/// True for the keyword `yes`, false for `no` (any case); otherwise the
/// error naming the `what` of the header line.
fn one_of(
    tok: Option<&[u8]>,
    yes: &[u8],
    no: &[u8],
    what: &str,
) -> std::result::Result<bool, String> {
    let tok = tok.unwrap_or_default();
    if tok.eq_ignore_ascii_case(yes) {
        Ok(true)
    } else if tok.eq_ignore_ascii_case(no) {
        Ok(false)
    } else {
        Err(format!(
            "{what} must be {} or {}, not '{}'",
            show(yes),
            show(no),
            show(tok)
        ))
    }
}

/// A frame line's record.
fn line_record(timestamp: Timestamp, channel: u32, dir: Dir, frame: Frame) -> Line {
    Line::Record(Record {
        timestamp,
        channel: Channel::Number(channel),
        direction: if dir == Dir::Rx {
            Direction::Rx
        } else {
            Direction::Tx
        },
        frame,
    })
}

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
                events: 0,
                measurement: None,
                pending_block: None,
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

    /// How many event lines were passed over so far because they hold no CAN
    /// frame (status, statistics, LIN, `TxRq`, …). Lines that do not read are
    /// counted apart ([`RecordReader::skipped`]).
    pub fn other_events(&self) -> u64 {
        self.p.events
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
                        self.measurement = Some(ns);
                        self.pending_block = None;
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
            self.hex = one_of(t.next_token(), b"hex", b"dec", "base")?;
            if let Some(kw) = t.next_token() {
                if kw.eq_ignore_ascii_case(b"timestamps") {
                    self.relative = one_of(t.next_token(), b"relative", b"absolute", "timestamps")?;
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
                        Some(ns) if self.relative || self.measurement.is_none() => {
                            self.base = Some(ns);
                            self.measurement = Some(ns);
                        }
                        Some(ns) => self.pending_block = Some(ns),
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
        Err(format!(
            "'{}' is neither an ASC header line nor an event (no timestamp)",
            show(line.trim_ascii())
        ))
    }

    fn parse_event(&mut self, time: &[u8], mut t: Tokens<'_>) -> LineResult {
        let off = parse_seconds(time).ok_or_else(|| {
            format!(
                "'{}' is not a timestamp (seconds with decimals) or too large",
                show(time)
            )
        })?;
        if let Some(block) = self.pending_block.take() {
            self.base = Some(match self.measurement {
                Some(m) if continues_measurement(block, m, off) => m,
                _ => {
                    self.measurement = Some(block);
                    block
                }
            });
        }
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
            self.events += 1;
            return Ok(Line::Nothing);
        };
        if kind.eq_ignore_ascii_case(b"CANFD") {
            return self.parse_canfd(ts, t);
        }
        if !is_channel_token(kind) {
            // `CAN 1 Status:`, `Start of measurement`, `Li`, `M1`, `CANXL`, …
            self.events += 1;
            return Ok(Line::Nothing);
        }
        self.parse_classic(ts, kind, t)
    }

    fn parse_classic(&mut self, ts: Timestamp, ch: &[u8], mut t: Tokens<'_>) -> LineResult {
        let Some(a) = t.next_token() else {
            self.events += 1;
            return Ok(Line::Nothing);
        };
        if is_error_frame(a) {
            let channel = parse_channel(ch)?;
            let frame = Frame::error(0, &[]).map_err(|e| e.to_string())?;
            return Ok(line_record(ts, channel, Dir::Rx, frame));
        }
        // the shape of a CAN line: <id> <dir> d|r; anything else is another event
        let (Some(dir_tok), Some(typ)) = (t.next_token(), t.next_token()) else {
            self.events += 1;
            return Ok(Line::Nothing);
        };
        let Some(dir) = parse_dir(dir_tok) else {
            self.events += 1;
            return Ok(Line::Nothing);
        };
        let remote = if typ.eq_ignore_ascii_case(b"r") {
            true
        } else if typ.eq_ignore_ascii_case(b"d") {
            false
        } else {
            self.events += 1;
            return Ok(Line::Nothing);
        };
        if dir == Dir::TxRq {
            self.events += 1;
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
                    None => {
                        return Err(format!(
                            "DLC '{}' is out of range (0 to {})",
                            show(dtok),
                            if hex { "F" } else { "15" }
                        ))
                    }
                },
            };
            let len = (dlc as usize).min(CAN_MAX_LEN);
            let mut data = [0u8; CAN_MAX_LEN];
            read_bytes(&mut t, &mut data[..len], hex)?;
            // python-can writes all the bytes of a longer classic message (`d 40`)
            let mut more = if v > 15 { v as usize - len } else { 0 };
            let dropped = more;
            while more > 0 && t.peek().is_some_and(|b| parse_byte(b, hex).is_some()) {
                t.next_token();
                more -= 1;
            }
            if dropped > more {
                self.warn(format!(
                    "'d {}' with {} data bytes: kept as python-can reads it, DLC {dlc} and the first {len} bytes",
                    show(dtok),
                    len + dropped - more
                ));
            }
            // more data than the DLC gives: an FD payload on a classic line?
            let mut extra = 0;
            if !t.at_end() {
                let mut rest = t.clone();
                while rest
                    .next_token()
                    .is_some_and(|b| parse_byte(b, hex).is_some())
                {
                    extra += 1;
                }
            }
            if extra > 0 {
                return Err(format!(
                    "DLC {} gives {len} data byte(s) on a classic line, but it has {}",
                    show(dtok),
                    len + extra
                ));
            }
            // a symbolic name in the id column: the `ID = <dec>[x]` field has the number
            let id = id.or_else(|e| trailing_id(t).ok_or(e))?;
            if dlc as usize > CAN_MAX_LEN {
                Frame::data_with_dlc(id, &data, dlc)
            } else {
                Frame::data(id, &data[..len])
            }
        }
        .map_err(|e| e.to_string())?;
        Ok(line_record(ts, channel, dir, frame))
    }

    fn parse_canfd(&mut self, ts: Timestamp, mut t: Tokens<'_>) -> LineResult {
        let hex = self.hex;
        let ch = t.next_token().ok_or("CANFD line without a channel")?;
        let channel = parse_channel(ch)?;
        let tok = t.next_token().ok_or("CANFD line ends after the channel")?;
        let record = |frame: Frame, dir: Dir| line_record(ts, channel, dir, frame);
        if let Some(dir) = parse_dir(tok) {
            // CANalyzer 8.1+: <dir> <id> [name] brs esi dlc len bytes… duration bits flags …
            let idtok = t
                .next_token()
                .ok_or("CANFD line ends after the direction")?;
            if is_error_frame(idtok) {
                if dir == Dir::TxRq {
                    self.events += 1;
                    return Ok(Line::Nothing);
                }
                let frame = Frame::error(0, &[])
                    .map_err(|e| e.to_string())?
                    .with_fd_flags(FdFlags::default());
                return Ok(record(frame, dir));
            }
            if !looks_like_id(idtok, hex) {
                self.events += 1;
                return Ok(Line::Nothing);
            }
            if dir == Dir::TxRq {
                self.events += 1;
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
            let (data, len) = read_fd_data(&mut t, hex)?;
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
            self.events += 1;
            return Ok(Line::Nothing);
        };
        if !looks_like_id(tok, hex) {
            self.events += 1;
            return Ok(Line::Nothing);
        }
        t.next_token();
        if dir == Dir::TxRq {
            self.events += 1;
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
            let (data, len) = read_fd_data(&mut t, hex)?;
            Frame::fd(id, &data[..len], fd)
        }
        .map_err(|e| e.to_string())?;
        Ok(record(frame, dir))
    }
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
                Ok(Line::Record(r)) => {
                    self.lines.record_read();
                    return Ok(Some(r));
                }
                Ok(Line::Nothing) => {}
                Err(msg) => self.lines.skip(msg),
            }
        }
        self.done = true;
        self.lines.end()?;
        Ok(None)
    }

    fn skipped(&self) -> u64 {
        self.lines.skipped()
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

#[cfg(test)]
mod tests {
    use super::super::test_util::{read_all, reader, utc};
    use super::*;
    use crate::format::lines::MAX_LINE;
    use crate::frame::Id;

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
        assert_eq!((r.other_events(), r.skipped()), (1, 0));
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
    fn trigger_blocks_of_one_measurement_count_from_its_start() {
        // CANoe 15, start/stop triggers: the second block is dated 37.62 s after
        // the first, and its offsets count from the start of the measurement
        let text = "date Tue Feb 8 12:35:03.548 pm 2022\nbase hex  timestamps absolute\ninternal events logged\n// version 15.3.0\nBegin TriggerBlock Tue Feb 8 12:35:03.548 pm 2022\n   0.000000 Start of measurement\n   1.000000 1  1               Tx   d 2 0A 0B\n  29.150000 TriggerEvent: TriggerBlock[Logging] Stop DirectLogging\nEnd TriggerBlock\nBegin TriggerBlock Tue Feb 8 12:35:41.168 pm 2022\n  37.620000 TriggerEvent: TriggerBlock[Logging] Start DirectLogging\n  38.000000 1  1               Tx   d 2 0A 0B\nEnd TriggerBlock\n";
        let mut r = reader(text.as_bytes());
        let t0 = utc(2022, 2, 8, 12, 35, 3, 548);
        let a = r.read().unwrap().unwrap();
        let b = r.read().unwrap().unwrap();
        assert_eq!(a.timestamp.as_nanos(), t0 + 1_000_000_000);
        assert_eq!(b.timestamp.as_nanos(), t0 + 38_000_000_000);
        assert_eq!(r.measurement_start(), Some(Timestamp(t0)));
        // no header date: the first block's date is the start
        let v = read_all(
            text.replacen("date Tue Feb 8 12:35:03.548 pm 2022\n", "", 1)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            v[1].timestamp.as_nanos() - v[0].timestamp.as_nanos(),
            37_000_000_000
        );
        // a first block starting late (a start trigger at 20 s): its offsets
        // count from the header's date too
        let late = "date Tue Feb 8 12:35:03.548 pm 2022\nbase hex  timestamps absolute\nBegin TriggerBlock Tue Feb 8 12:35:23.548 pm 2022\n  20.000000 log trigger event\n  20.5 1 1 Rx d 0\nEnd TriggerBlock\n";
        let v = read_all(late.as_bytes()).unwrap();
        assert_eq!(v[0].timestamp.as_nanos(), t0 + 20_500_000_000);
        // python-can's files: the block is dated at the first message, offset 0
        let pc = "date Tue Feb 8 12:35:03.548 pm 2022\nbase hex  timestamps absolute\nBegin Triggerblock Tue Feb 8 12:36:03.548 pm 2022\n 0.000000 Start of measurement\n 0.000000 1  B6              Rx   d 0\n 0.5 1  B6              Rx   d 0\nEnd TriggerBlock\n";
        let v = read_all(pc.as_bytes()).unwrap();
        assert_eq!(v[0].timestamp.as_nanos(), t0 + 60_000_000_000);
        assert_eq!(v[1].timestamp.as_nanos(), t0 + 60_500_000_000);
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
        assert_eq!((r.other_events(), r.skipped()), (9, 0));
        assert!(r.take_warnings().is_empty());
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
        let e = err("\u{1}\u{2}garbage\n\u{3}more\n");
        assert!(e.contains("line 1") && e.contains("Vector ASC"), "{e}");
        assert!(e.ends_with("(no frame read; 2 line(s) skipped)"), "{e}");
        let e = err("LOGG\u{0}\u{0}\u{0}");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn bad_lines_are_skipped_and_counted() {
        // a DLC above F, too few bytes, an FD payload on a classic line
        // (CSS Electronics' `d 9`..`d 15`), a line without a timestamp
        let text = "\u{1}junk before the header\ndate Fri Feb 14 08:51:20 am 2020\nbase hex  timestamps absolute\n   1.0 1 123 Rx d 8 12 34 56 78 90 AB CD EF\n   1.1 1 123 Rx d 11 12 34 56 78 90 AB CD EF 12 34 56 78 90 AB CD EF 12 34 56 78\n   1.2 1 123 Rx d 8 01 02\n   1.3 1 123 Rx d 9 00 01 02 03 04 05 06 07 08 09 0A 0B\nnot an ASC line\n   1.4 1 12345678x Rx d 2 12 34\n   1.5 1 1 Rx d 1 01 Length = 2 BitCount = 3 ID = 1\n";
        let mut r = reader(text.as_bytes());
        let mut ids = Vec::new();
        while let Some(x) = r.read().unwrap() {
            ids.push(x.frame.id().raw());
        }
        assert_eq!(ids, [0x123, 0x1234_5678, 1]);
        assert_eq!(r.skipped(), 5);
        let w = r.take_warnings();
        assert_eq!(w.len(), 6, "{w:?}");
        for (w, (line, what)) in w.iter().zip([
            (1, "is this a Vector ASC log?"),
            (5, "DLC '11' is out of range (0 to F)"),
            (6, "expected 8 data bytes, found 2"),
            (
                7,
                "DLC 9 gives 8 data byte(s) on a classic line, but it has 12",
            ),
            (
                8,
                "'not an ASC line' is neither an ASC header line nor an event",
            ),
        ]) {
            assert!(w.starts_with(&format!("t.asc: line {line}: ")), "{w}");
            assert!(w.contains(what) && w.ends_with("; skipped"), "{w}");
        }
        assert_eq!(w[5], "t.asc: 5 line(s) skipped");
        // python-can's 64-byte classic message, `d 40` and all its bytes, is no mismatch
        // (read as python-can reads it, the bytes past 8 dropped with a warning)
        let mut r = reader(format!("   1.0 1 1 Rx d 40{}\n", " 5A".repeat(64)).as_bytes());
        let a = r.read().unwrap().unwrap();
        assert_eq!((a.frame.dlc(), a.frame.len()), (15, 8));
        assert!(r.read().unwrap().is_none());
        assert_eq!(
            r.take_warnings(),
            ["t.asc: line 1: 'd 40' with 64 data bytes: kept as python-can reads it, DLC 15 and the first 8 bytes"]
        );
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
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("line 2") && w[0].contains("cut off"), "{w:?}");
        assert_eq!(w[1], "t.asc: 1 line(s) skipped");
        assert_eq!(r.skipped(), 1);
    }

    #[test]
    fn over_long_line_is_an_error() {
        let mut text = b"   1.0 1 1 Rx d 1 01 ".to_vec();
        text.resize(MAX_LINE + 10, b'A');
        let e = read_all(&text).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("longer"), "{e}");
    }
}
