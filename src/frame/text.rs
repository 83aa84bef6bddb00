//! can-utils' compact frame syntax (`123#DEADBEEF`, `123#R4`, `123##1AABB`,
//! `123#1122334455667788_E`, error frames `20000080#...`) and candump log lines
//! (`(1700000000.123456) can0 123#DEADBEEF R`), parsed and printed as `cansend`,
//! `candump -L` and `canplayer` do.
//!
//! Where can-utils silently truncates (a 9th classic byte, an FD length that has
//! no DLC), we reject: a frame that was typed wrong should not be sent as another.

use super::hex::{self, Case};
use super::{dlc_to_len, Direction, FdFlags, Frame, FrameError, Id, Kind, Timestamp};

/// Error class flag in a can-utils / kernel `can_id`.
pub const CAN_ERR_FLAG: u32 = 0x2000_0000;

/// Why a frame or log line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// No `#` separates the id from the data.
    #[error("missing '#' between identifier and data")]
    MissingHash,
    /// The id is not 3 or 8 hex digits.
    #[error("identifier '{0}' must be 3 hex digits (11-bit) or 8 hex digits (29-bit)")]
    BadIdLength(String),
    /// A character that is not a hex digit.
    #[error("'{0}' is not a hex number")]
    NotHex(String),
    /// An odd number of hex digits in the payload.
    #[error("odd number of hex digits in data '{0}'")]
    OddData(String),
    /// A bad remote-frame length.
    #[error("remote frame length must be a single digit 0-8, got '{0}'")]
    BadRemoteLen(String),
    /// A bad raw DLC suffix.
    #[error("raw DLC suffix '_{0}' needs 8 data bytes and a value 9-F")]
    BadRawDlc(String),
    /// A bad FD flags nibble.
    #[error("CAN FD frame needs one hex flags digit after '##'")]
    BadFdFlags,
    /// CAN XL is not supported.
    #[error("CAN XL frames (5-digit identifiers) are not supported")]
    CanXl,
    /// The frame itself is invalid.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A log line not in `(sec.frac) iface frame` form.
    #[error("not a candump log line: {0}")]
    BadLogLine(&'static str),
}

fn parse_hex_u32(s: &str) -> Result<u32, TextError> {
    hex::u32(s.as_bytes()).ok_or_else(|| TextError::NotHex(s.to_string()))
}

/// Parses hex byte pairs with optional `.` separators between bytes into `out`;
/// returns the byte count. Fails on odd digits, junk, or more than `max` bytes
/// (reported as a length error for the caller to phrase).
fn parse_data(s: &str, out: &mut [u8; 64]) -> Result<usize, TextError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        if b[i] == b'.' {
            i += 1;
            continue;
        }
        let hi = hex::digit(b[i]).ok_or_else(|| TextError::NotHex(s.to_string()))?;
        let lo = match b.get(i + 1) {
            Some(&c) if c != b'.' => {
                hex::digit(c).ok_or_else(|| TextError::NotHex(s.to_string()))?
            }
            _ => return Err(TextError::OddData(s.to_string())),
        };
        if n == out.len() {
            return Err(FrameError::BadFdLength(n + 1).into());
        }
        out[n] = (hi << 4) | lo;
        n += 1;
        i += 2;
    }
    Ok(n)
}

/// Parses one frame in can-utils' compact syntax, as `cansend` accepts it.
pub fn parse_frame(s: &str) -> Result<Frame, TextError> {
    let s = s.trim();
    let hash = s.find('#').ok_or(TextError::MissingHash)?;
    let (id_text, rest) = (&s[..hash], &s[hash + 1..]);
    let raw = parse_hex_u32(id_text).map_err(|_| {
        if id_text.len() == 5 {
            TextError::CanXl
        } else if id_text.is_empty() || id_text.len() > 8 {
            TextError::BadIdLength(id_text.to_string())
        } else {
            TextError::NotHex(id_text.to_string())
        }
    })?;
    enum Width {
        Std,
        Ext,
        Err,
    }
    let width = match id_text.len() {
        3 => Width::Std,
        8 if raw & CAN_ERR_FLAG != 0 && raw < 0x4000_0000 => Width::Err,
        8 => Width::Ext,
        5 => return Err(TextError::CanXl),
        _ => return Err(TextError::BadIdLength(id_text.to_string())),
    };
    let id = match width {
        Width::Std => Id::standard(raw)?,
        Width::Ext => Id::extended(raw)?,
        Width::Err => Id::Extended(raw & !CAN_ERR_FLAG),
    };
    let mut buf = [0u8; 64];

    // CAN FD: "##<flags><data>"
    if let Some(fd) = rest.strip_prefix('#') {
        if matches!(width, Width::Err) {
            return Err(TextError::BadFdFlags);
        }
        let flags = fd
            .as_bytes()
            .first()
            .and_then(|&c| hex::digit(c))
            .ok_or(TextError::BadFdFlags)?;
        let n = parse_data(&fd[1..], &mut buf)?;
        return Ok(Frame::fd(id, &buf[..n], FdFlags::from_nibble(flags))?);
    }

    // Remote: "R[len[_rawdlc]]"
    if let Some(r) = rest.strip_prefix(['R', 'r']) {
        if matches!(width, Width::Err) {
            return Err(TextError::BadRemoteLen(r.to_string()));
        }
        let (len_text, raw_dlc) = match r.split_once('_') {
            Some((l, d)) => (l, Some(d)),
            None => (r, None),
        };
        let len = match len_text {
            "" => 0,
            t if t.len() == 1 && matches!(t.as_bytes()[0], b'0'..=b'8') => t.as_bytes()[0] - b'0',
            t => return Err(TextError::BadRemoteLen(t.to_string())),
        };
        let dlc = match raw_dlc {
            None => len,
            Some(d) => parse_raw_dlc(d, len as usize)?,
        };
        return Ok(Frame::remote(id, dlc)?);
    }

    let (data_text, raw_dlc) = match rest.split_once('_') {
        Some((d, x)) => (d, Some(x)),
        None => (rest, None),
    };
    let n = parse_data(data_text, &mut buf).map_err(|e| match e {
        TextError::Frame(FrameError::BadFdLength(n)) => FrameError::ClassicTooLong(n).into(),
        e => e,
    })?;
    if n > 8 {
        return Err(FrameError::ClassicTooLong(n).into());
    }
    let dlc = match raw_dlc {
        None => n as u8,
        Some(d) => parse_raw_dlc(d, n)?,
    };
    Ok(match width {
        Width::Err => Frame::error_with_dlc(id.raw(), &buf[..n], dlc)?,
        _ => Frame::data_with_dlc(id, &buf[..n], dlc)?,
    })
}

fn parse_raw_dlc(d: &str, len: usize) -> Result<u8, TextError> {
    let v = match d.as_bytes() {
        [c] => hex::digit(*c),
        _ => None,
    };
    match v {
        Some(v @ 9..=15) if len == 8 => Ok(v),
        _ => Err(TextError::BadRawDlc(d.to_string())),
    }
}

/// Appends the compact syntax of `frame` to `out`, as `candump -L` prints it
/// (uppercase hex, no separators). FD flags are printed without the FDF bit
/// (`##1` for BRS), which every reader accepts. A remote or error frame that a
/// Vector log marks as FD is printed as its classic form: the syntax has no place
/// for the mark.
pub fn write_frame(out: &mut Vec<u8>, frame: &Frame) {
    match frame.kind() {
        Kind::Error => hex::push_u32(out, frame.id().raw() | CAN_ERR_FLAG, 8, Case::Upper),
        _ => match frame.id() {
            Id::Standard(v) => hex::push_u32(out, v as u32, 3, Case::Upper),
            Id::Extended(v) => hex::push_u32(out, v, 8, Case::Upper),
        },
    }
    out.push(b'#');
    match frame.kind() {
        Kind::Remote => {
            out.push(b'R');
            let dlc = frame.dlc();
            if (1..=8).contains(&dlc) {
                out.push(b'0' + dlc);
            } else if dlc > 8 {
                out.extend_from_slice(b"8_");
                out.push(Case::Upper.digit(dlc));
            }
            return;
        }
        Kind::Data if frame.is_fd() => {
            out.push(b'#');
            out.push(Case::Upper.digit(frame.fd_flags().unwrap_or_default().nibble()));
        }
        _ => {}
    }
    hex::push_bytes(out, frame.data_bytes(), Case::Upper);
    if !frame.is_fd() && frame.len() == 8 && frame.dlc() > 8 {
        out.push(b'_');
        out.push(Case::Upper.digit(frame.dlc()));
    }
}

/// The compact syntax of `frame` as a string.
pub fn format_frame(frame: &Frame) -> String {
    let mut v = Vec::with_capacity(24);
    write_frame(&mut v, frame);
    // write_frame only pushes ASCII.
    String::from_utf8(v).unwrap_or_default()
}

/// One parsed candump log line, borrowing the interface name from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// The timestamp in parentheses.
    pub timestamp: Timestamp,
    /// The interface column (`can0`).
    pub interface: &'a str,
    /// The frame.
    pub frame: Frame,
    /// The ` R`/` T` suffix, if present.
    pub direction: Option<Direction>,
}

/// Parses `(sec.frac) iface frame[ R|T]`. The fraction may have 1 to 9 digits
/// (candump writes 6, or 9 with `-N`); leading zeros and extra spaces before the
/// interface (candump's alignment) are accepted; tokens after the direction are
/// ignored, as canplayer does.
pub fn parse_log_line(line: &str) -> Result<LogLine<'_>, TextError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let rest = line
        .strip_prefix('(')
        .ok_or(TextError::BadLogLine("it does not start with '('"))?;
    let close = rest
        .find(')')
        .ok_or(TextError::BadLogLine("no ')' after the timestamp"))?;
    let timestamp = parse_timestamp(&rest[..close])?;
    let mut tokens = rest[close + 1..].split_ascii_whitespace();
    let interface = tokens
        .next()
        .ok_or(TextError::BadLogLine("no interface after the timestamp"))?;
    let frame_text = tokens
        .next()
        .ok_or(TextError::BadLogLine("no frame after the interface"))?;
    let frame = parse_frame(frame_text)?;
    let direction = match tokens.next() {
        Some("R") | Some("r") => Some(Direction::Rx),
        Some("T") | Some("t") => Some(Direction::Tx),
        _ => None,
    };
    Ok(LogLine {
        timestamp,
        interface,
        frame,
        direction,
    })
}

fn parse_timestamp(s: &str) -> Result<Timestamp, TextError> {
    const BAD: TextError = TextError::BadLogLine("timestamp must be seconds.fraction");
    let (sec, frac) = s.split_once('.').ok_or(BAD)?;
    if sec.is_empty()
        || sec.len() > 12
        || frac.is_empty()
        || frac.len() > 9
        || !sec.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(BAD);
    }
    let secs: i64 = sec.parse().map_err(|_| BAD)?;
    if secs > i64::MAX / 1_000_000_000 - 1 {
        return Err(TextError::BadLogLine("timestamp is too large"));
    }
    let mut nanos: u32 = frac.parse().map_err(|_| BAD)?;
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    Ok(Timestamp::from_parts(secs, nanos))
}

/// Appends `(sec.frac) iface frame[ R|T]\n` to `out`, with 6 or 9 fraction digits
/// (other values are treated as 6). A negative timestamp is written as 0.
pub fn write_log_line(
    out: &mut Vec<u8>,
    ts: Timestamp,
    interface: &str,
    frame: &Frame,
    direction: Option<Direction>,
    frac_digits: u8,
) {
    let ts = if ts.as_nanos() < 0 { Timestamp(0) } else { ts };
    out.push(b'(');
    push_decimal_padded(out, ts.secs() as u64, 10);
    out.push(b'.');
    if frac_digits == 9 {
        push_decimal_padded(out, ts.subsec_nanos() as u64, 9);
    } else {
        push_decimal_padded(out, (ts.subsec_nanos() / 1000) as u64, 6);
    }
    out.extend_from_slice(b") ");
    out.extend_from_slice(interface.as_bytes());
    out.push(b' ');
    write_frame(out, frame);
    match direction {
        Some(Direction::Rx) => out.extend_from_slice(b" R"),
        Some(Direction::Tx) => out.extend_from_slice(b" T"),
        None => {}
    }
    out.push(b'\n');
}

/// The decimal digits of `v`, written at the end of `tmp`.
pub(crate) fn decimal(tmp: &mut [u8; 20], mut v: u64) -> &[u8] {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &tmp[i..]
}

/// Appends `v` in decimal.
#[inline]
pub(crate) fn push_decimal(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(decimal(&mut [0; 20], v));
}

/// Appends `v` in decimal, zero-padded to at least `width` digits.
pub(crate) fn push_decimal_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut tmp = [0; 20];
    let digits = decimal(&mut tmp, v);
    for _ in digits.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(digits);
}

/// The payload length an FD DLC means; re-exported for text-format readers.
pub fn fd_len(dlc: u8) -> usize {
    dlc_to_len(dlc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Frame {
        parse_frame(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn roundtrip(s: &str) {
        assert_eq!(format_frame(&p(s)), s, "round trip of {s}");
    }

    #[test]
    fn classic_frames() {
        let f = p("123#DEADBEEF");
        assert_eq!(f.id(), Id::Standard(0x123));
        assert_eq!(f.data_bytes(), &[0xDE, 0xAD, 0xBE, 0xEF]);
        assert_eq!(f.dlc(), 4);
        let f = p("1F334455#11.22");
        assert_eq!(f.id(), Id::Extended(0x1F33_4455));
        assert_eq!(f.data_bytes(), &[0x11, 0x22]);
        assert_eq!(format_frame(&f), "1F334455#1122");
        assert_eq!(p("123#").len(), 0);
        assert_eq!(p("7a1#deadbeef"), p("7A1#DEADBEEF"));
        assert_eq!(p("123#11.2233.44").data_bytes(), &[0x11, 0x22, 0x33, 0x44]);
        roundtrip("123#DEADBEEF");
        roundtrip("12345678#");
    }

    #[test]
    fn remote_frames() {
        let r = p("123#R");
        assert!(r.is_remote() && r.dlc() == 0);
        assert_eq!(p("123#R4").dlc(), 4);
        assert_eq!(p("123#r7").dlc(), 7);
        assert_eq!(p("123#R8_9").dlc(), 9);
        roundtrip("123#R");
        roundtrip("123#R4");
        roundtrip("123#R8_9");
        assert!(parse_frame("123#R9").is_err());
        assert!(parse_frame("123#R4_9").is_err());
    }

    #[test]
    fn fd_frames() {
        let f = p("123##1DEADBEEF");
        assert!(f.is_fd() && f.brs() && !f.esi());
        assert_eq!(f.data_bytes(), &[0xDE, 0xAD, 0xBE, 0xEF]);
        let f = p("123##3");
        assert!(f.brs() && f.esi() && f.is_empty());
        // candump with FDF set: ##5 = FDF + BRS
        let f = p("123##5AABB");
        assert!(f.brs() && !f.esi());
        assert_eq!(format_frame(&f), "123##1AABB");
        roundtrip("123##0112233");
        roundtrip("1F334455##2AABBCCDDEEFF00112233445566778899");
        let long = format!("123##1{}", "AA".repeat(64));
        assert_eq!(p(&long).len(), 64);
        // 13 bytes has no FD DLC
        assert_eq!(
            parse_frame(&format!("123##1{}", "AA".repeat(13))),
            Err(TextError::Frame(FrameError::BadFdLength(13)))
        );
        assert!(parse_frame(&format!("123##1{}", "AA".repeat(65))).is_err());
        assert_eq!(parse_frame("123##"), Err(TextError::BadFdFlags));
    }

    #[test]
    fn raw_dlc_suffix() {
        let f = p("123#1122334455667788_E");
        assert_eq!((f.len(), f.dlc()), (8, 14));
        roundtrip("123#1122334455667788_E");
        assert!(parse_frame("123#11223344556677_E").is_err());
        assert!(parse_frame("123#1122334455667788_8").is_err());
    }

    #[test]
    fn error_frames() {
        let f = p("20000080#0000000000000000");
        assert!(f.is_error());
        assert_eq!(f.id().raw(), 0x80);
        assert_eq!(f.len(), 8);
        roundtrip("20000080#0000000000000000");
        roundtrip("20000004#0004000000000000");
        assert_eq!(format_frame(&p("20000080#")), "20000080#");
    }

    #[test]
    fn rejects() {
        assert_eq!(
            parse_frame("800#11"),
            Err(TextError::Frame(FrameError::StandardIdTooLarge(0x800)))
        );
        assert!(matches!(
            parse_frame("5FFFFFFF#11"),
            Err(TextError::Frame(FrameError::ExtendedIdTooLarge(_)))
        ));
        assert_eq!(
            parse_frame("123#112233445566778899"),
            Err(TextError::Frame(FrameError::ClassicTooLong(9)))
        );
        assert!(matches!(parse_frame("123#123"), Err(TextError::OddData(_))));
        assert!(matches!(
            parse_frame("123#1.23"),
            Err(TextError::OddData(_))
        ));
        assert!(matches!(
            parse_frame("12#11"),
            Err(TextError::BadIdLength(_))
        ));
        assert!(matches!(
            parse_frame("1234#11"),
            Err(TextError::BadIdLength(_))
        ));
        assert_eq!(parse_frame("12345#11"), Err(TextError::CanXl));
        assert!(matches!(parse_frame("12G#11"), Err(TextError::NotHex(_))));
        assert!(matches!(parse_frame("123#GG"), Err(TextError::NotHex(_))));
        assert_eq!(parse_frame("123"), Err(TextError::MissingHash));
    }

    #[test]
    fn log_lines() {
        let l = parse_log_line("(1700000000.123456) can0 123#DEADBEEF").unwrap();
        assert_eq!(
            l.timestamp,
            Timestamp::from_parts(1_700_000_000, 123_456_000)
        );
        assert_eq!(l.interface, "can0");
        assert_eq!(l.frame, p("123#DEADBEEF"));
        assert_eq!(l.direction, None);
        let l = parse_log_line("(1700000000.123456789)  vcan10 12345678##1AA T\n").unwrap();
        assert_eq!(l.timestamp.subsec_nanos(), 123_456_789);
        assert_eq!(l.interface, "vcan10");
        assert_eq!(l.direction, Some(Direction::Tx));
        let l = parse_log_line("(0000000007.492000) vcan0 4A0#01 R").unwrap();
        assert_eq!(l.timestamp, Timestamp::from_parts(7, 492_000_000));
        assert_eq!(l.direction, Some(Direction::Rx));
        for bad in [
            "",
            "can0 123#11",
            "(1700000000) can0 123#11",
            "(1700000000.12a) can0 123#11",
            "(1700000000.1234567890) can0 123#11",
            "(1700000000.123456) can0",
            "(1606770",
        ] {
            assert!(parse_log_line(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn log_line_output() {
        let f = p("123#DEADBEEF");
        let mut out = Vec::new();
        let ts = Timestamp::from_parts(1_700_000_000, 123_456_789);
        write_log_line(&mut out, ts, "can0", &f, None, 6);
        write_log_line(&mut out, ts, "can1", &f, Some(Direction::Tx), 9);
        write_log_line(
            &mut out,
            Timestamp::from_parts(7, 0),
            "x",
            &f,
            Some(Direction::Rx),
            6,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "(1700000000.123456) can0 123#DEADBEEF\n\
             (1700000000.123456789) can1 123#DEADBEEF T\n\
             (0000000007.000000) x 123#DEADBEEF R\n"
        );
    }
}
