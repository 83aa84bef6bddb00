//! BUSMASTER CAN logs (read only). They use the `.log` suffix like candump
//! logs, so the candump reader hands a file over to this one when its first
//! line starts with `***BUSMASTER`.
//!
//! The header is a block of `***...***` lines: the version, `PROTOCOL CAN`,
//! `START DATE AND TIME dd:mm:yyyy hh:mm:ss:mmm` (may be empty), the number
//! base (`HEX` or `DEC`) and the time mode (`SYSTEM`, `ABSOLUTE` or `RELATIVE
//! MODE`). Message lines are
//! `<time> <Tx|Rx> <channel> <id> <type> <dlc> <data bytes>`, for example
//! `17:27:45:532 Rx 1 0x158 s 8 00 00 00 00 00 00 00 28`, where the type is `s`
//! / `x` (11/29-bit), `sr` / `xr` (remote), `s-fd` / `x-fd` (CAN FD), and a line
//! whose type starts with `ERR` is an error frame.
//!
//! Times: the last time field is a fraction of a second (`532` = 0.532 s,
//! `0970` = 0.0970 s). In system mode the time is the wall clock time of day;
//! with a start date it is placed on that date (a time going back by more than
//! 12 h starts the next day), without one it counts from midnight. In absolute
//! mode it is the time since the start of the measurement (BUSMASTER's connect),
//! added to the start date and time of the first logging session when there is
//! one: a later session in the same file (`[START LOGGING SESSION]` again, with
//! its own start date) keeps counting from there when its first time is nearer
//! to its distance from the first session's start than to zero, else (a new
//! measurement, or BUSMASTER's "reset time stamp" option) counts from its own
//! start date. A first session that began well after the connect is dated by
//! its own start (the file does not say when the connect was). In relative mode
//! each time is the gap to the previous message. Like PEAK's start time, the
//! wall clock is taken as UTC.
//!
//! The channel is `Channel::Number` as written (1-based). The DLC is always
//! decimal; ids and data follow the number base. J1939 and LIN logs are refused.
//! A new header block (a second logging session) resets the settings.

use super::civil::{continues_measurement, days_from_civil};
use super::lines::{split_spans, LineReader};
use super::trc::parse_dec;
use super::Input;
use crate::error::Result;
use crate::frame::hex;
use crate::frame::{dlc_to_len, Channel, Direction, Frame, Id, Record, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TimeMode {
    System,
    Absolute,
    Relative,
}

/// Reads a BUSMASTER log.
pub struct Reader {
    lines: LineReader,
    hex: bool,
    mode: TimeMode,
    /// Start date (ns of its midnight) and time of day (ns), when given.
    start_day_ns: Option<i64>,
    start_tod_ns: i64,
    /// Absolute mode: the start of the measurement the times count from (ns
    /// since the epoch, `None` without a start date), and whether a session
    /// began whose first message has not yet said if it continues it.
    measurement_ns: Option<i64>,
    new_session: bool,
    /// System mode: the day offset added after midnight roll-overs.
    day_ns: i64,
    last_tod_ns: Option<i64>,
    /// Relative mode: the running time.
    running_ns: i64,
    toks: Vec<(usize, usize)>,
}

const DAY_NS: i64 = 86_400_000_000_000;

impl Reader {
    /// A reader over `input`, which must start with BUSMASTER's header line
    /// (`***BUSMASTER Ver ...***`; see [`Reader::is_header`]).
    pub fn new(input: Input) -> Result<Reader> {
        let mut lines = LineReader::new(input);
        if !lines.next_line()? || !Reader::is_header(lines.line()) {
            return Err(lines.error("not a BUSMASTER log: no '***BUSMASTER' header"));
        }
        Ok(Reader {
            lines,
            hex: true,
            mode: TimeMode::System,
            start_day_ns: None,
            start_tod_ns: 0,
            measurement_ns: None,
            new_session: true,
            day_ns: 0,
            last_tod_ns: None,
            running_ns: 0,
            toks: Vec::with_capacity(80),
        })
    }

    /// True if `line` is the first line of a BUSMASTER log.
    pub fn is_header(line: &[u8]) -> bool {
        let t = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let t = t.trim_ascii_start();
        t.len() >= 12 && t[..12].eq_ignore_ascii_case(b"***BUSMASTER")
    }

    fn header_line(&mut self, t: &[u8]) -> std::result::Result<(), String> {
        let inner = t.trim_ascii();
        let inner = inner.strip_prefix(b"***").unwrap_or(inner);
        let inner = inner.strip_suffix(b"***").unwrap_or(inner).trim_ascii();
        let text = String::from_utf8_lossy(inner);
        let up = text.to_ascii_uppercase();
        match up.as_str() {
            "HEX" => self.hex = true,
            "DEC" => self.hex = false,
            "SYSTEM MODE" => self.mode = TimeMode::System,
            "ABSOLUTE MODE" => self.mode = TimeMode::Absolute,
            "RELATIVE MODE" => self.mode = TimeMode::Relative,
            "[START LOGGING SESSION]" => {
                self.start_day_ns = None;
                self.start_tod_ns = 0;
                self.new_session = true;
                self.day_ns = 0;
                self.last_tod_ns = None;
                self.running_ns = 0;
            }
            _ => {
                if let Some(p) = up.strip_prefix("PROTOCOL") {
                    let p = p.trim();
                    if p != "CAN" {
                        return Err(format!("BUSMASTER {p} logs are not supported, only CAN"));
                    }
                } else if let Some(rest) = up.strip_prefix("START DATE AND TIME") {
                    let rest = rest.trim();
                    if !rest.is_empty() {
                        if let Err(m) = self.start_date(rest) {
                            // times then count from midnight, as without a date
                            self.lines.skip(m);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// `dd:mm:yyyy hh:mm:ss:mmm` of a `START DATE AND TIME` line.
    fn start_date(&mut self, rest: &str) -> std::result::Result<(), String> {
        let (date, time) = rest.split_once(' ').ok_or("bad start date and time")?;
        let d: Vec<&str> = date.split(':').collect();
        let (day, mon, year) = match d.as_slice() {
            [a, b, c] => (
                a.parse::<u32>().ok(),
                b.parse::<u32>().ok(),
                c.parse::<i64>().ok(),
            ),
            _ => (None, None, None),
        };
        let (Some(day @ 1..=31), Some(mon @ 1..=12), Some(year @ 1..=9999)) = (day, mon, year)
        else {
            return Err(format!("bad start date '{date}'"));
        };
        let day_ns = days_from_civil(year, mon, day)
            .checked_mul(DAY_NS)
            .filter(|ns| ns.abs() < i64::MAX / 2)
            .ok_or_else(|| format!("start date '{date}' is out of range"))?;
        let tod =
            parse_time(time.trim().as_bytes()).ok_or_else(|| format!("bad start time '{time}'"))?;
        self.start_day_ns = Some(day_ns);
        self.start_tod_ns = tod;
        Ok(())
    }

    fn tok(&self, i: usize) -> &[u8] {
        let (s, e) = self.toks[i];
        &self.lines.line()[s..e]
    }

    fn num(&self, tok: &[u8], what: &str) -> std::result::Result<u32, String> {
        let v = if self.hex {
            hex::u32_prefixed(tok)
        } else {
            parse_dec(tok)
        };
        v.ok_or_else(|| format!("bad {what} '{}'", String::from_utf8_lossy(tok)))
    }

    fn message(&mut self) -> std::result::Result<Record, String> {
        split_spans(self.lines.line(), &mut self.toks);
        let n = self.toks.len();
        if n < 5 {
            return Err(format!(
                "{n} fields, a BUSMASTER message line has at least 5"
            ));
        }
        let tod = parse_time(self.tok(0))
            .ok_or_else(|| format!("bad time '{}'", String::from_utf8_lossy(self.tok(0))))?;
        let direction = match self.tok(1) {
            b"Rx" | b"RX" | b"rx" => Direction::Rx,
            b"Tx" | b"TX" | b"tx" => Direction::Tx,
            o => {
                return Err(format!(
                    "direction must be Rx or Tx, not '{}'",
                    String::from_utf8_lossy(o)
                ))
            }
        };
        let ch = parse_dec(self.tok(2))
            .ok_or_else(|| format!("bad channel '{}'", String::from_utf8_lossy(self.tok(2))))?;
        let ty = self.tok(4);
        let frame = if ty.len() >= 3 && ty[..3].eq_ignore_ascii_case(b"ERR") {
            Frame::error(0, &[0; 8]).map_err(|e| e.to_string())?
        } else {
            let raw = self.num(self.tok(3), "id")?;
            let (ext, remote, fd) = match ty {
                b"s" => (false, false, false),
                b"x" => (true, false, false),
                b"sr" => (false, true, false),
                b"xr" => (true, true, false),
                b"s-fd" => (false, false, true),
                b"x-fd" => (true, false, true),
                o => {
                    return Err(format!(
                        "unknown message type '{}' (known: s x sr xr s-fd x-fd ERR)",
                        String::from_utf8_lossy(o)
                    ))
                }
            };
            let id = Id::new(raw, ext).map_err(|e| e.to_string())?;
            if n < 6 {
                return Err("no DLC".into());
            }
            let dlc = parse_dec(self.tok(5))
                .filter(|&d| d <= 64)
                .ok_or_else(|| format!("bad DLC '{}'", String::from_utf8_lossy(self.tok(5))))?
                as u8;
            let count = n - 6;
            if remote {
                Frame::remote(id, dlc.min(15)).map_err(|e| e.to_string())?
            } else {
                let want = if fd && dlc <= 15 && dlc as usize != count {
                    dlc_to_len(dlc)
                } else {
                    dlc as usize
                };
                if count != want || count > 64 {
                    return Err(format!("DLC {dlc} but {count} data bytes"));
                }
                let mut buf = [0u8; 64];
                for (k, slot) in buf.iter_mut().take(count).enumerate() {
                    let t = self.tok(6 + k);
                    *slot = if self.hex {
                        hex::byte(t)
                    } else {
                        parse_dec(t).and_then(|v| u8::try_from(v).ok())
                    }
                    .ok_or_else(|| format!("bad data byte '{}'", String::from_utf8_lossy(t)))?;
                }
                if fd {
                    Frame::fd(id, &buf[..count], Default::default())
                } else {
                    Frame::data(id, &buf[..count])
                }
                .map_err(|e| e.to_string())?
            }
        };
        let base = self.start_day_ns.unwrap_or(0);
        let ns = match self.mode {
            TimeMode::System => {
                if let Some(last) = self.last_tod_ns {
                    if tod + DAY_NS / 2 < last {
                        self.day_ns = self.day_ns.saturating_add(DAY_NS);
                    }
                }
                self.last_tod_ns = Some(tod);
                base.saturating_add(tod).saturating_add(self.day_ns)
            }
            TimeMode::Absolute => {
                if std::mem::take(&mut self.new_session) {
                    let start = self.start_day_ns.map(|d| d + self.start_tod_ns);
                    match (self.measurement_ns, start) {
                        (Some(m), Some(s)) if continues_measurement(s, m, tod) => {}
                        _ => self.measurement_ns = start,
                    }
                }
                self.measurement_ns.unwrap_or(0).saturating_add(tod)
            }
            TimeMode::Relative => {
                self.running_ns = self.running_ns.saturating_add(tod);
                base.saturating_add(self.start_tod_ns)
                    .saturating_add(self.running_ns)
            }
        };
        Ok(Record {
            timestamp: Timestamp::from_nanos(ns),
            channel: Channel::Number(ch),
            direction,
            frame,
        })
    }
}

/// `hh:mm:ss:frac` to nanoseconds (the fraction's digits are decimals of a second).
fn parse_time(t: &[u8]) -> Option<i64> {
    let mut parts = t.split(|&c| c == b':');
    let h = parse_dec(parts.next()?)? as i64;
    let m = parse_dec(parts.next()?)? as i64;
    let s = parse_dec(parts.next()?)? as i64;
    let f = parts.next()?;
    if parts.next().is_some() || f.is_empty() || f.len() > 9 || h > 999_999 || m > 59 || s > 60 {
        return None;
    }
    let mut ns = parse_dec(f)? as i64;
    for _ in f.len()..9 {
        ns *= 10;
    }
    Some(((h * 60 + m) * 60 + s) * 1_000_000_000 + ns)
}

impl super::RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        while self.lines.next_line()? {
            let t = self.lines.line().trim_ascii();
            if t.is_empty() {
                continue;
            }
            if t.starts_with(b"***") {
                let t = t.to_vec();
                if let Err(m) = self.header_line(&t) {
                    return Err(self.lines.error(m));
                }
                continue;
            }
            let parsed = self.message();
            if let Some(r) = self.lines.keep(parsed) {
                return Ok(Some(r));
            }
        }
        self.lines.finish()
    }

    crate::line_reader_methods!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;

    fn read_all(text: &str) -> Result<Vec<Record>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.log");
        std::fs::write(&path, text).unwrap();
        // through open_reader: a .log file, recognised by its content
        let mut r = crate::format::open_reader(&path, None)?;
        crate::format::records(&mut *r).collect()
    }

    const HEAD: &str = "***BUSMASTER Ver 3.2.2***\r\n***PROTOCOL CAN***\r\n***NOTE: PLEASE DO NOT EDIT THIS DOCUMENT***\r\n***[START LOGGING SESSION]***\r\n";

    #[test]
    fn reads_every_kind_and_mode() {
        let v = read_all(&format!(
            "{HEAD}***START DATE AND TIME 24:11:2026 23:59:59:000***\r\n***HEX***\r\n***SYSTEM MODE***\r\n\
23:59:59:0970 Rx 1 0x136 x 8 13 24 C2 A1 00 00 90 FF\r\n\
23:59:59:9990 Tx 2 0x100 sr 4\r\n\
00:00:00:0010 Rx 1 0x7FF s-fd 12 01 02 03 04 05 06 07 08 09 0A 0B 0C\r\n\
00:00:00:0020 Rx 1 0 ERROR_FRAME\r\n\
***END DATE AND TIME 25:11:2026 00:00:01:000***\r\n***[STOP LOGGING SESSION]***\r\n"
        ))
        .unwrap();
        assert_eq!(v.len(), 4);
        let day = days_from_civil(2026, 11, 24) * DAY_NS;
        assert_eq!(v[0].timestamp.as_nanos(), day + 86_399_097_000_000);
        assert_eq!(
            v[0].frame,
            parse_frame("00000136#1324C2A1000090FF").unwrap()
        );
        assert_eq!(v[0].channel, Channel::Number(1));
        assert_eq!(v[1].direction, Direction::Tx);
        assert_eq!(v[1].frame, parse_frame("100#R4").unwrap());
        assert_eq!(v[2].timestamp.as_nanos(), day + DAY_NS + 1_000_000);
        assert!(v[2].frame.is_fd() && v[2].frame.len() == 12);
        assert!(v[3].frame.is_error());

        let v = read_all(&format!(
            "{HEAD}***START DATE AND TIME ***\r\n***DEC***\r\n***RELATIVE MODE***\r\n\
00:00:01:500 Rx 1 256 s 2 1 255\r\n00:00:00:250 Rx 1 256 s 0\r\n"
        ))
        .unwrap();
        assert_eq!(v[0].frame, parse_frame("100#01FF").unwrap());
        assert_eq!(v[1].timestamp.as_nanos(), 1_750_000_000);
    }

    #[test]
    fn later_sessions_of_one_measurement_count_from_its_start() {
        // absolute mode: times count from the connect; the second session
        // starts 357 s after the first (its own start date), its times too
        let session = |date: &str, lines: &str| {
            format!("***[START LOGGING SESSION]***\r\n***START DATE AND TIME {date}***\r\n***HEX***\r\n***ABSOLUTE MODE***\r\n{lines}***END DATE AND TIME ***\r\n***[STOP LOGGING SESSION]***\r\n")
        };
        let head = "***BUSMASTER Ver 3.2.2***\r\n***PROTOCOL CAN***\r\n";
        let text = format!(
            "{head}{}{}",
            session("24:11:2026 10:00:00:000", "00:00:01:500 Rx 1 0x100 s 0\r\n"),
            session("24:11:2026 10:05:57:000", "00:05:57:250 Rx 1 0x101 s 0\r\n")
        );
        let v = read_all(&text).unwrap();
        let start = days_from_civil(2026, 11, 24) * DAY_NS + 36_000_000_000_000;
        assert_eq!(v[0].timestamp.as_nanos(), start + 1_500_000_000);
        assert_eq!(
            v[1].timestamp.as_nanos(),
            start + 357_250_000_000,
            "not 357 s late"
        );
        // a session whose times start again near 0 (another measurement, or
        // 'reset time stamp') counts from its own start date
        let text = format!(
            "{head}{}{}",
            session("24:11:2026 10:00:00:000", "00:00:01:500 Rx 1 0x100 s 0\r\n"),
            session("25:11:2026 10:00:00:000", "00:00:00:250 Rx 1 0x101 s 0\r\n")
        );
        let v = read_all(&text).unwrap();
        assert_eq!(v[1].timestamp.as_nanos(), start + DAY_NS + 250_000_000);
    }

    #[test]
    fn errors_name_the_line() {
        let e = read_all(&format!(
            "{HEAD}***HEX***\r\n10:00:00:000 Rx 1 0x158 s 8 00 00\r\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("b.log: line 6") && e.contains("DLC 8 but 2"),
            "{e}"
        );
        let e = read_all("***BUSMASTER Ver 3.2.2***\n***PROTOCOL J1939***\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("J1939"), "{e}");
        let e = read_all(&format!("{HEAD}10:00:00:000 Qx 1 0x158 s 0\r\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 5") && e.contains("Qx"), "{e}");
    }
}
