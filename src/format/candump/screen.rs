//! candump's screen output, which people paste into `.log` files: one line per
//! frame as `candump can0` prints it to a terminal, read here from the format
//! can-utils' `candump.c` and `lib.c` (`snprintf_long_canframe`) produce:
//!
//! ```text
//!  (1733324400.123456)  can0  RX B -  123  [12]  01 02 03 04 05 06 07 08 09 0A 0B 0C
//! └ -t a|A|z|d, optional ┘└ name ┘└ -x ┘└id┘└len┘└ data ────────────────────────────
//! ```
//!
//! * **Time** (`-t`): `(1733324400.123456)` absolute (`-t a`, the seconds padded
//!   to 10 digits), `(2026-12-04 15:00:00.123456)` absolute with the date
//!   (`-t A`, the capturing machine's local time, read as UTC as the other
//!   formats' wall clocks are), `(000.010000)` relative (`-t z` since the first
//!   frame, `-t d` since the one before; the seconds padded to 3 digits); 6 or 9
//!   (`-N`) decimals. No `-t`, no time.
//! * **Interface**, right-aligned to the longest name seen.
//! * **`-x`**: `RX` or `TX`, then `B`/`-` (bit rate switch) and `E`/`-` (error
//!   state indicator) for FD frames (`- -` on classic ones). CAN XL frames
//!   (`S`/`R` in these columns, a 4-digit `[0012]` length) are not read.
//! * **Identifier**: 3 hex digits (11-bit), 8 (29-bit, or an error frame when
//!   0x20000000 is set).
//! * **Length**: `[N]` a classic frame of N bytes, `[NN]` (always two digits) a
//!   CAN FD frame, `{H}` a classic frame's raw DLC in hex (`-8`).
//! * **Then** the data bytes in hex (`-i`: 8 binary digits each; `-S`: one token,
//!   the bytes in reverse order separated by a backquote), `remote request` for
//!   a remote frame, `ERRORFRAME` after an error frame's data, the data as ASCII
//!   in quotes (`-a`); colours (`-c`) are escape sequences, dropped. With `-e`,
//!   the error frame's meaning follows on lines that start with a tab.
//!
//! The screen has no place for the FD flags without `-x`: an FD frame then has
//! neither BRS nor ESI.

use crate::format::civil::days_from_civil;
use crate::frame::hex;
use crate::frame::text::CAN_ERR_FLAG;
use crate::frame::{len_to_dlc, Direction, FdFlags, Frame, Id, Timestamp};

/// The time column of a screen line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Time {
    /// No `-t`.
    None,
    /// `-t a` or `-t A`.
    Absolute(Timestamp),
    /// `-t z` or `-t d`: nanoseconds since the first frame or the one before.
    Relative(i64),
}

/// One frame of candump's screen output.
#[derive(Debug)]
pub(super) struct ScreenLine<'a> {
    pub(super) time: Time,
    pub(super) iface: &'a str,
    pub(super) frame: Frame,
    pub(super) direction: Direction,
}

/// Parses a screen line (without colour codes; see [`strip_colours`]).
/// `Ok(None)` when the line does not have the shape of one at all (so another
/// reading may be tried), `Err` when it has it but does not read.
pub(super) fn parse(line: &[u8]) -> Result<Option<ScreenLine<'_>>, String> {
    let mut s = line.trim_ascii();
    let mut time = Time::None;
    if let Some(rest) = s.strip_prefix(b"(") {
        let Some(close) = rest.iter().position(|&c| c == b')') else {
            return Ok(None);
        };
        let Some(t) = parse_time(&rest[..close]) else {
            return Ok(None);
        };
        time = t;
        s = &rest[close + 1..];
    }
    let mut toks = s
        .split(|c| c.is_ascii_whitespace())
        .filter(|t| !t.is_empty());
    let Some(iface) = toks.next() else {
        return Ok(None);
    };
    let mut next = toks.next();
    let mut direction = Direction::Rx;
    let mut flags = FdFlags::default();
    let mut xl = false;
    if let Some(d @ (b"RX" | b"TX")) = next {
        direction = if d == b"TX" {
            Direction::Tx
        } else {
            Direction::Rx
        };
        match (toks.next(), toks.next()) {
            (Some(a @ (b"-" | b"B" | b"S")), Some(b @ (b"-" | b"E" | b"R"))) => {
                flags = FdFlags {
                    brs: a == b"B",
                    esi: b == b"E",
                };
                xl = a == b"S" || b == b"R";
            }
            _ => return Ok(None),
        }
        next = toks.next();
    }
    let (Some(id_tok), Some(len_tok)) = (next, toks.next()) else {
        return Ok(None);
    };
    if !matches!(id_tok.len(), 3 | 8) || !id_tok.iter().all(u8::is_ascii_hexdigit) {
        return Ok(None);
    }
    let len = match len_tok {
        [b'[', n @ .., b']'] if !n.is_empty() && n.iter().all(u8::is_ascii_digit) => {
            Len::Bracket(n)
        }
        [b'{', h, b'}'] if h.is_ascii_hexdigit() => Len::RawDlc(hex::digit(*h).unwrap_or(0)),
        _ => return Ok(None),
    };
    // From here on the line is candump's screen output: what does not read is an error.
    let Ok(iface) = std::str::from_utf8(iface) else {
        return Err("the interface name is not UTF-8".into());
    };
    if xl || matches!(len, Len::Bracket(n) if n.len() == 4) {
        return Err("a CAN XL frame: not supported".into());
    }
    let raw = hex::u32(id_tok).ok_or("bad identifier")?;
    // (n, fd, raw DLC)
    let (n, fd, dlc) = match len {
        Len::Bracket(&[d]) => (usize::from(d - b'0'), false, d - b'0'),
        Len::Bracket(&[a, b]) => {
            let n = usize::from((a - b'0') * 10 + (b - b'0'));
            let dlc = len_to_dlc(n).ok_or(format!("[{n:02}] is not a CAN FD length"))?;
            (n, true, dlc)
        }
        Len::Bracket(n) => {
            return Err(format!(
                "length '[{}]' is neither [N] nor [NN]",
                String::from_utf8_lossy(n)
            ))
        }
        Len::RawDlc(d) => (usize::from(d.min(8)), false, d),
    };
    if !fd && n > 8 {
        return Err(format!("[{n}]: a classic frame has at most 8 bytes"));
    }
    let err = id_tok.len() == 8 && raw & CAN_ERR_FLAG != 0;
    let id = match id_tok.len() {
        3 => Id::standard(raw),
        _ if err => Id::extended(raw & !CAN_ERR_FLAG),
        _ => Id::extended(raw),
    }
    .map_err(|e| e.to_string())?;
    let mut rest = toks.peekable();
    if rest.peek() == Some(&&b"remote"[..]) {
        rest.next();
        if rest.next() != Some(b"request") || rest.next().is_some() || fd || err {
            return Err("a remote request line is '... [N]  remote request'".into());
        }
        let frame = Frame::remote(id, dlc).map_err(|e| e.to_string())?;
        return Ok(Some(ScreenLine {
            time,
            iface,
            frame,
            direction,
        }));
    }
    let mut data = [0u8; 64];
    let mut got = 0;
    while got < n {
        let Some(tok) = rest.next() else { break };
        if tok.contains(&b'`') {
            // -S: the bytes in reverse order, backquote between
            for b in tok.split(|&c| c == b'`').rev() {
                if got == n {
                    return Err(format!("more than {n} data bytes"));
                }
                data[got] = data_byte(b)?;
                got += 1;
            }
        } else {
            data[got] = data_byte(tok)?;
            got += 1;
        }
    }
    if got < n {
        return Err(format!("{n} data bytes announced, {got} found"));
    }
    match rest.next() {
        None => {}
        Some(b"ERRORFRAME") if err => {}
        // -a: the data as ASCII, in quotes (backquotes with -S)
        Some([b'\'' | b'`', ..]) => {}
        Some(t) => {
            return Err(format!(
                "'{}' after {n} data bytes",
                String::from_utf8_lossy(&t[..t.len().min(20)])
            ))
        }
    }
    let data = &data[..n];
    let frame = if err {
        Frame::error(raw & !CAN_ERR_FLAG, data)
    } else if fd {
        Frame::fd(id, data, flags)
    } else if dlc > 8 {
        Frame::data_with_dlc(id, data, dlc)
    } else {
        Frame::data(id, data)
    }
    .map_err(|e| e.to_string())?;
    Ok(Some(ScreenLine {
        time,
        iface,
        frame,
        direction,
    }))
}

enum Len<'a> {
    /// The digits between `[` and `]`.
    Bracket(&'a [u8]),
    /// `{H}`.
    RawDlc(u8),
}

/// A data byte: two hex digits, or eight binary ones (`-i`).
fn data_byte(tok: &[u8]) -> Result<u8, String> {
    match tok.len() {
        2 => hex::byte2(tok),
        8 if tok.iter().all(|&c| c == b'0' || c == b'1') => {
            Some(tok.iter().fold(0u8, |v, &c| v << 1 | (c - b'0')))
        }
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "bad data byte '{}'",
            String::from_utf8_lossy(&tok[..tok.len().min(20)])
        )
    })
}

/// The text between the parentheses: `sec.frac` (10 or more digits of seconds:
/// absolute, fewer: relative) or `YYYY-MM-DD HH:MM:SS.frac`.
fn parse_time(t: &[u8]) -> Option<Time> {
    if t.len() > 12 && t[4] == b'-' && t[10] == b' ' {
        // -t A: 2026-12-04 15:00:00.123456
        let (date, time) = (&t[..10], &t[11..]);
        let num = |s: &[u8]| -> Option<i64> {
            if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(s).ok()?.parse().ok()
        };
        let (y, mo, d) = (num(&date[..4])?, num(&date[5..7])?, num(&date[8..10])?);
        if date[7] != b'-' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        let (hms, frac) = split_frac(time)?;
        if hms.len() != 8 || hms[2] != b':' || hms[5] != b':' {
            return None;
        }
        let (h, mi, s) = (num(&hms[..2])?, num(&hms[3..5])?, num(&hms[6..8])?);
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let days = days_from_civil(y, mo as u32, d as u32);
        let secs = days * 86_400 + h * 3600 + mi * 60 + s;
        return Some(Time::Absolute(Timestamp(
            secs.checked_mul(1_000_000_000)?.checked_add(frac)?,
        )));
    }
    let (sec, frac) = split_frac(t)?;
    if sec.is_empty() || sec.len() > 12 || !sec.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs: i64 = std::str::from_utf8(sec).ok()?.parse().ok()?;
    let ns = secs.checked_mul(1_000_000_000)?.checked_add(frac)?;
    Some(if sec.len() >= 10 {
        Time::Absolute(Timestamp(ns))
    } else {
        Time::Relative(ns)
    })
}

/// `X.ffffff` into `X` and the fraction in nanoseconds (1 to 9 digits).
fn split_frac(t: &[u8]) -> Option<(&[u8], i64)> {
    let dot = t.iter().position(|&c| c == b'.')?;
    let f = &t[dot + 1..];
    if f.is_empty() || f.len() > 9 || !f.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in f {
        v = v * 10 + i64::from(c - b'0');
    }
    for _ in f.len()..9 {
        v *= 10;
    }
    Some((&t[..dot], v))
}

/// `line` without the escape sequences of candump's colours (`-c`), into `out`.
pub(super) fn strip_colours(line: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < line.len() {
        if line[i] == 0x1b && line.get(i + 1) == Some(&b'[') {
            // ESC [ parameters final-letter
            i += 2;
            while i < line.len() && !line[i].is_ascii_alphabetic() {
                i += 1;
            }
            i += 1;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::format_frame;

    fn one(line: &str) -> (Time, String, String, Direction) {
        let l = parse(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .unwrap_or_else(|| panic!("{line:?}: not screen output"));
        (
            l.time,
            l.iface.to_string(),
            format_frame(&l.frame),
            l.direction,
        )
    }

    #[test]
    fn every_layout_candump_prints() {
        use Direction::{Rx, Tx};
        // the lines as candump 2023+ prints them (lib.c's column arithmetic)
        for (line, time, iface, frame, dir) in [
            (
                "  can0  123   [4]  DE AD BE EF",
                Time::None,
                "can0",
                "123#DEADBEEF",
                Rx,
            ),
            (
                "  can0  12345678   [0] ",
                Time::None,
                "can0",
                "12345678#",
                Rx,
            ),
            (
                " (1733324400.123456)  can0  7FF   [8]  01 02 03 04 05 06 07 08",
                Time::Absolute(Timestamp(1_733_324_400_123_456_000)),
                "can0",
                "7FF#0102030405060708",
                Rx,
            ),
            (
                " (1733324400.123456789)  vcan10  001   [1]  FF",
                Time::Absolute(Timestamp(1_733_324_400_123_456_789)),
                "vcan10",
                "001#FF",
                Rx,
            ),
            (
                " (2026-12-04 15:00:00.123456)  can1  123   [2]  11 22",
                Time::Absolute(Timestamp(1_796_396_400_123_456_000)),
                "can1",
                "123#1122",
                Rx,
            ),
            (
                " (000.010000)  can0  123   [0] ",
                Time::Relative(10_000_000),
                "can0",
                "123#",
                Rx,
            ),
            (
                " (012.500000)   any  123   [0] ",
                Time::Relative(12_500_000_000),
                "any",
                "123#",
                Rx,
            ),
            (
                "  can0  TX - -  123   [1]  AA",
                Time::None,
                "can0",
                "123#AA",
                Tx,
            ),
            (
                "  can0  RX - -  1F334455   [3]  11 22 33",
                Time::None,
                "can0",
                "1F334455#112233",
                Rx,
            ),
            (
                "  can0  123   [4]  remote request",
                Time::None,
                "can0",
                "123#R4",
                Rx,
            ),
            (
                "  can0  123   [0]  remote request",
                Time::None,
                "can0",
                "123#R",
                Rx,
            ),
            (
                "  can0  123  {D}  01 02 03 04 05 06 07 08",
                Time::None,
                "can0",
                "123#0102030405060708_D",
                Rx,
            ),
            (
                "  can0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME",
                Time::None,
                "can0",
                "20000080#0000000000000000",
                Rx,
            ),
            (
                "  can0  20000004   [8]  00 04 00 00 00 00 00 00   ERRORFRAME",
                Time::None,
                "can0",
                "20000004#0004000000000000",
                Rx,
            ),
            (
                "  can0  123   [3]  41 42 00                 'AB.'",
                Time::None,
                "can0",
                "123#414200",
                Rx,
            ),
            (
                "  can0  123   [2]  00000001 11111111",
                Time::None,
                "can0",
                "123#01FF",
                Rx,
            ),
            (
                "  can0  123   [3]  03`02`01",
                Time::None,
                "can0",
                "123#010203",
                Rx,
            ),
        ] {
            let (t, i, f, d) = one(line);
            assert_eq!(
                (t, i.as_str(), f.as_str(), d),
                (time, iface, frame, dir),
                "{line:?}"
            );
        }
    }

    #[test]
    fn fd_frames_and_their_flags() {
        let data: String = (0..64).map(|i| format!(" {i:02X}")).collect();
        let (_, _, f, _) = one(&format!("  can0  123  [64] {data}"));
        assert_eq!(f, format!("123##0{}", data.replace(' ', "")));
        // ##-less: [NN] is FD even at 8 bytes or fewer
        let l = parse(b"  can0  123  [08]  01 02 03 04 05 06 07 08")
            .unwrap()
            .unwrap();
        assert!(l.frame.is_fd() && l.frame.len() == 8 && !l.frame.brs());
        let l = parse(b"  can0  RX B E  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B")
            .unwrap()
            .unwrap();
        assert!(l.frame.is_fd() && l.frame.brs() && l.frame.esi());
        assert_eq!(l.frame.id(), Id::Extended(0x1234_5678));
        let l = parse(b"  can0  TX B -  123  [00] ").unwrap().unwrap();
        assert!(l.frame.is_fd() && l.frame.brs() && l.frame.is_empty());
        assert_eq!(l.direction, Direction::Tx);
    }

    #[test]
    fn other_lines_are_not_screen_output_and_broken_ones_errors() {
        for other in [
            "",
            "(1.000000) can0 123#11",
            "22:20:14:992 Rx 0 0000021A s 8 FE 36 12 FE 69 05 07 AD",
            "DROPCOUNT: dropped 1 CAN frame on 'can0' socket (total drops 1)",
            "  can0  12   [1]  11",
            "  can0  123  [x]  11",
            "  can0  RX Q -  123  [1]  11",
            "(yesterday)  can0  123   [1]  11",
            "\tbus-error",
        ] {
            assert!(matches!(parse(other.as_bytes()), Ok(None)), "{other:?}");
        }
        for (bad, what) in [
            (
                "  can0  123   [4]  DE AD BE",
                "4 data bytes announced, 3 found",
            ),
            ("  can0  123   [2]  DE AD BE", "'BE' after 2 data bytes"),
            ("  can0  123   [9]  00", "at most 8 bytes"),
            ("  can0  123  [13]  00", "not a CAN FD length"),
            ("  can0  123   [2]  0G 00", "bad data byte '0G'"),
            ("  can0  FFFFFFFF   [0] ", "29 bits"),
            (
                "  can0  123  [0004] (00|11:22:12345678) 11 22 33 44",
                "CAN XL",
            ),
            (
                "  can0  RX S -  123  [0004] (00|11:22:12345678) 11 22 33 44",
                "CAN XL",
            ),
            ("  can0  123  [04]  remote request", "remote request"),
        ] {
            let e = parse(bad.as_bytes()).expect_err(bad);
            assert!(e.contains(what), "{bad:?}: {e}");
        }
    }

    #[test]
    fn mangled_lines_never_panic() {
        let lines: &[&[u8]] = &[
            b" (2026-12-04 17:49:25.018714)  vcan0  12345678  [12]  00 01 02 03 04 05 06 07 08 09 0A 0B",
            b" (000.775115)  vcan0  TX B E       123  [00] ",
            b"  vcan0  20000004   [8]  00`00`00`00`00`00`04`00   ERRORFRAME",
            b"  vcan0  123   [4]  11011110 10101101 10111110 11101111",
            b"  vcan0       7FF   [4]  remote request",
            b"  can0  123  {D}  01 02 03 04 05 06 07 08",
        ];
        let mut next = crate::format::test_rng(0x9e37_79b9_7f4a_7c15u64);
        let mut read = 0;
        for _ in 0..20_000 {
            let line = lines[next() as usize % lines.len()];
            let mut m = line.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = next() as usize % m.len();
                match next() % 3 {
                    0 => {
                        let alphabet = b" 0123456789ABCDEF[]{}()`'-:.RXTBE\x1b\xff";
                        m[at] = alphabet[next() as usize % alphabet.len()];
                    }
                    1 => m.truncate(at),
                    _ => m.insert(at, b" 0[]`"[next() as usize % 5]),
                }
                if m.is_empty() {
                    break;
                }
            }
            if let Ok(Some(l)) = parse(&m) {
                assert!(l.frame.data_bytes().len() <= 64);
                read += 1;
            }
        }
        assert!(read > 1000, "only {read} mangled lines still read");
    }

    #[test]
    fn colours_are_dropped() {
        let mut out = Vec::new();
        // as candump -c -ta printed it (can-utils 2020.11)
        strip_colours(
            b" (1796406520.595530)  \x1b[1m\x1b[34mvcan0\x1b[0m       123   [2]  41 42",
            &mut out,
        );
        let (t, i, f, _) = one(std::str::from_utf8(&out).unwrap());
        assert_eq!(t, Time::Absolute(Timestamp(1_796_406_520_595_530_000)));
        assert_eq!((i.as_str(), f.as_str()), ("vcan0", "123#4142"));
        // -c -c -c colours the whole line
        strip_colours(
            b" \x1b[1m\x1b[34m (1.000000)  vcan0  123   [1]  01\x1b[0m",
            &mut out,
        );
        assert_eq!(one(std::str::from_utf8(&out).unwrap()).2, "123#01");
    }
}
