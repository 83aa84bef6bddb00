//! The dates of `date` and `Begin Triggerblock` lines, read and written.

use super::lexer::{fraction_ns, parse_num, Tokens};
use super::{NS_PER_SEC, SECS_PER_DAY};
use crate::format::civil::{civil_from_days, days_from_civil, days_in_month};

const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

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
    let ns = fraction_ns(frac)?;
    (m < 60 && s <= 60).then_some((h, m, s, ns))
}

/// The date of a `date` or `Begin Triggerblock` line (the tokens after the
/// keyword): `[weekday] month day HH:MM:SS[.fff] [am|pm] year`, read as UTC.
/// Nanoseconds since the epoch.
pub(super) fn parse_date(mut t: Tokens<'_>) -> Option<i64> {
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

/// `Tue Nov 14 10:13:20.001 pm 2023` (UTC, milliseconds).
pub(super) fn put_date(buf: &mut Vec<u8>, ns: i64) {
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

#[cfg(test)]
mod tests {
    use super::super::lexer::show;
    use super::super::test_util::utc;
    use super::*;

    fn date(s: &str) -> Option<i64> {
        parse_date(Tokens::new(s.as_bytes()))
    }

    #[test]
    fn dates_in_every_seen_form() {
        let want = utc(2017, 9, 30, 15, 6, 13, 191);
        assert_eq!(date("Sam Sep 30 15:06:13.191 2017"), Some(want));
        assert_eq!(date("Sat Sep 30 03:06:13.191 PM 2017"), Some(want));
        assert_eq!(date("Sat Sep 30 03:06:13.191 pm 2017"), Some(want));
        let m = utc(2021, 3, 2, 8, 0, 0, 0);
        for (text, want) in [
            (
                "Thu Apr 28 10:44:52.480 am 2022",
                utc(2022, 4, 28, 10, 44, 52, 480),
            ),
            (
                "Tue May 27 12:09:35.000 am 2014",
                utc(2014, 5, 27, 0, 9, 35, 0),
            ),
            ("Mon Mar 7 01:21:51 pm 2005", utc(2005, 3, 7, 13, 21, 51, 0)),
            ("Don Nov 24 15:30:43 2005", utc(2005, 11, 24, 15, 30, 43, 0)),
            ("Fre Okt 12 11:21:07 2007", utc(2007, 10, 12, 11, 21, 7, 0)),
            ("Die Dez 21 11:29:01 2004", utc(2004, 12, 21, 11, 29, 1, 0)),
            // python-can's unpadded milliseconds read as a decimal fraction
            (
                "Tue Nov 14 22:13:20.1 2023",
                utc(2023, 11, 14, 22, 13, 20, 100),
            ),
            // Mär in UTF-8 (cp1252 below), Mai
            ("Die Mär 2 08:00:00 2021", m),
            ("Mit Mai 5 08:00:00 2021", utc(2021, 5, 5, 8, 0, 0, 0)),
            // no weekday
            ("Nov 14 22:13:20 2023", utc(2023, 11, 14, 22, 13, 20, 0)),
        ] {
            assert_eq!(date(text), Some(want), "{text}");
        }
        assert_eq!(
            parse_date(Tokens::new(b"Die M\xe4r 2 08:00:00 2021")),
            Some(m)
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
