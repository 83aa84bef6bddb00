//! Tokens, numbers and fields of ASC lines, read straight from the bytes.

use super::NS_PER_SEC;
use crate::frame::{hex, Id, CANFD_MAX_LEN};

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// Whitespace-separated tokens of a line, without allocating.
#[derive(Clone)]
pub(super) struct Tokens<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Tokens<'a> {
    pub(super) fn new(s: &'a [u8]) -> Tokens<'a> {
        Tokens { s, i: 0 }
    }

    #[inline]
    pub(super) fn next_token(&mut self) -> Option<&'a [u8]> {
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

    pub(super) fn peek(&self) -> Option<&'a [u8]> {
        self.clone().next_token()
    }

    /// True at the very end of the line (not even a blank is left).
    #[inline]
    pub(super) fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
}

/// A token for an error message (lossy, shortened).
pub(super) fn show(tok: &[u8]) -> String {
    let t = &tok[..tok.len().min(40)];
    let mut s = String::from_utf8_lossy(t).into_owned();
    if tok.len() > 40 {
        s.push('…');
    }
    s
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
        if k + 1 < n && seg[p + 2] != b' ' {
            return None;
        }
        *o = hex::pair(seg[p], seg[p + 1])?;
    }
    Some(end)
}

/// An unsigned number in base 16 or 10; `None` when empty, not a number or
/// above `u32::MAX`.
#[inline]
pub(super) fn parse_num(tok: &[u8], hex: bool) -> Option<u32> {
    if tok.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in tok {
        let d = if hex {
            hex::digit(c)? as u32
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
pub(super) fn parse_byte(tok: &[u8], hex: bool) -> Option<u8> {
    if hex && tok.len() == 2 {
        // the common case, fast
        return hex::pair(tok[0], tok[1]);
    }
    parse_num(tok, hex).and_then(|v| u8::try_from(v).ok())
}

/// The flags column: hex, with or without `0x`.
pub(super) fn parse_flags(tok: &[u8]) -> Option<u32> {
    let t = tok
        .strip_prefix(b"0x")
        .or_else(|| tok.strip_prefix(b"0X"))
        .unwrap_or(tok);
    parse_num(t, true)
}

pub(super) fn is_channel_token(tok: &[u8]) -> bool {
    !tok.is_empty() && tok.iter().all(u8::is_ascii_digit)
}

pub(super) fn parse_channel(tok: &[u8]) -> std::result::Result<u32, String> {
    parse_num(tok, false).ok_or_else(|| format!("channel '{}' is not a number", show(tok)))
}

/// An id token `123`, `18EBFF00x`: the shape only (digits of the base, optional `x`).
pub(super) fn looks_like_id(tok: &[u8], hex: bool) -> bool {
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

pub(super) fn parse_id(tok: &[u8], hex: bool) -> std::result::Result<Id, String> {
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
pub(super) enum Dir {
    Rx,
    Tx,
    TxRq,
}

pub(super) fn parse_dir(tok: &[u8]) -> Option<Dir> {
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

pub(super) fn is_error_frame(tok: &[u8]) -> bool {
    tok.len() >= 10 && tok[..10].eq_ignore_ascii_case(b"ErrorFrame")
}

/// The digits after a decimal point (`501`, `5010000001`) as nanoseconds;
/// digits beyond the ninth are dropped. `None` when one is not a digit.
pub(super) fn fraction_ns(frac: &[u8]) -> Option<i64> {
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
    Some(ns)
}

/// Decimal seconds (`2.501000`, `2.5010`, `13`) to nanoseconds; any number of
/// fraction digits (beyond 9 they are dropped). `None` when malformed or too large.
pub(super) fn parse_seconds(tok: &[u8]) -> Option<i64> {
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
    secs.checked_mul(NS_PER_SEC)?
        .checked_add(fraction_ns(frac)?)
}

/// The `ID = <dec>[x]` trailing field of a classic line, if present and valid.
pub(super) fn trailing_id(mut t: Tokens<'_>) -> Option<Id> {
    while let Some(tok) = t.next_token() {
        if tok == b"ID" && t.next_token() == Some(b"=") {
            return parse_id(t.next_token()?, false).ok();
        }
    }
    None
}

pub(super) fn parse_bit(tok: &[u8], what: &str) -> std::result::Result<bool, String> {
    match tok {
        b"0" => Ok(false),
        b"1" => Ok(true),
        _ => Err(format!(
            "CANFD line: {what} must be 0 or 1, not '{}'",
            show(tok)
        )),
    }
}

pub(super) fn parse_fd_dlc(tok: Option<&[u8]>, hex: bool) -> std::result::Result<u8, String> {
    let tok = tok.ok_or("CANFD line ends before the DLC")?;
    // a single hex digit in Vector files; under `base dec` try decimal first
    parse_num(tok, hex)
        .or_else(|| parse_num(tok, true))
        .filter(|&d| d <= 15)
        .map(|d| d as u8)
        .ok_or_else(|| format!("DLC '{}' is not 0-15", show(tok)))
}

/// A CAN FD line's data length field and that many data bytes after it.
pub(super) fn read_fd_data(
    t: &mut Tokens<'_>,
    hex: bool,
) -> std::result::Result<([u8; CANFD_MAX_LEN], usize), String> {
    let ltok = t
        .next_token()
        .ok_or("CANFD line ends before the data length")?;
    let len = parse_num(ltok, false)
        .filter(|&l| l as usize <= CANFD_MAX_LEN)
        .ok_or_else(|| format!("data length '{}' is not 0-64", show(ltok)))? as usize;
    let mut data = [0u8; CANFD_MAX_LEN];
    read_bytes(t, &mut data[..len], hex)?;
    Ok((data, len))
}

pub(super) fn read_bytes(
    t: &mut Tokens<'_>,
    out: &mut [u8],
    hex: bool,
) -> std::result::Result<(), String> {
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
