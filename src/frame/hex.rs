//! Hexadecimal text, both ways, for every text format of the crate (candump
//! logs, ASC, TRC, CSV, JSON Lines, BUSMASTER) and the compact frame syntax.
//!
//! Reading goes through one 256-entry table, so a digit costs one load and no
//! branch on its case; writing takes a [`Case`] and copies each byte's two
//! digits from a 256-entry table, appending to a buffer or filling a slice.
//! Nothing allocates beyond the buffer it is given.
//!
//! The parsers say what they accept exactly (how many digits, an optional `0x`),
//! since the formats differ there; a caller picks the one its format means.

/// The case of written digits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Case {
    /// `0123456789ABCDEF`.
    Upper,
    /// `0123456789abcdef`.
    Lower,
}

const UPPER: &[u8; 16] = b"0123456789ABCDEF";
const LOWER: &[u8; 16] = b"0123456789abcdef";

/// The two digits of every byte value in one case.
const fn pair_table(digits: &[u8; 16]) -> [[u8; 2]; 256] {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [digits[i >> 4], digits[i & 15]];
        i += 1;
    }
    t
}

static UPPER_PAIRS: [[u8; 2]; 256] = pair_table(UPPER);
static LOWER_PAIRS: [[u8; 2]; 256] = pair_table(LOWER);

impl Case {
    /// The digit of the low 4 bits of `v`.
    #[inline]
    pub(crate) fn digit(self, v: u8) -> u8 {
        self.digits()[(v & 15) as usize]
    }

    #[inline]
    fn digits(self) -> &'static [u8; 16] {
        match self {
            Case::Upper => UPPER,
            Case::Lower => LOWER,
        }
    }

    /// A byte's two digits: one load per byte written.
    #[inline]
    fn pairs(self) -> &'static [[u8; 2]; 256] {
        match self {
            Case::Upper => &UPPER_PAIRS,
            Case::Lower => &LOWER_PAIRS,
        }
    }
}

/// Marks a byte that is no hex digit in [`VALUE`].
const NOT_HEX: u8 = 0xFF;

/// The value of every byte as a hex digit (either case), [`NOT_HEX`] for others.
static VALUE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
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

// ---------------------------------------------------------------------------
// Reading

/// The value of one hex digit (`0-9`, `a-f`, `A-F`).
#[inline]
pub(crate) fn digit(c: u8) -> Option<u8> {
    match VALUE[c as usize] {
        NOT_HEX => None,
        v => Some(v),
    }
}

/// The byte of two hex digits, high one first.
#[inline]
pub(crate) fn pair(hi: u8, lo: u8) -> Option<u8> {
    let (h, l) = (VALUE[hi as usize], VALUE[lo as usize]);
    // a digit is at most 0x0F, so the OR is NOT_HEX exactly when one is not a digit
    if h | l == NOT_HEX {
        None
    } else {
        Some(h << 4 | l)
    }
}

/// A byte written as exactly two hex digits (`0A`, `ff`).
#[inline]
pub(crate) fn byte2(tok: &[u8]) -> Option<u8> {
    match tok {
        [h, l] => pair(*h, *l),
        _ => None,
    }
}

/// A byte written as one or two hex digits (`A`, `0A`).
#[inline]
pub(crate) fn byte(tok: &[u8]) -> Option<u8> {
    match tok {
        [l] => digit(*l),
        [h, l] => pair(*h, *l),
        _ => None,
    }
}

/// Hex digit pairs without separators (`DEADBEEF`) decoded into `out`; the
/// number of bytes, or `None` for an odd count, a non-digit or more bytes than
/// `out` holds.
#[inline]
pub(crate) fn decode(s: &[u8], out: &mut [u8]) -> Option<usize> {
    let n = s.len() / 2;
    if s.len() % 2 != 0 || n > out.len() {
        return None;
    }
    for (o, p) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = pair(p[0], p[1])?;
    }
    Some(n)
}

/// A number of 1 to 8 hex digits.
#[inline]
pub(crate) fn u32(tok: &[u8]) -> Option<u32> {
    if tok.is_empty() || tok.len() > 8 {
        return None;
    }
    let mut v = 0u32;
    for &c in tok {
        v = v << 4 | digit(c)? as u32;
    }
    Some(v)
}

/// A number of 1 to 8 hex digits after an optional `0x` or `0X`.
#[inline]
pub(crate) fn u32_prefixed(tok: &[u8]) -> Option<u32> {
    match tok {
        [b'0', b'x' | b'X', rest @ ..] => u32(rest),
        _ => u32(tok),
    }
}

// ---------------------------------------------------------------------------
// Writing

/// Appends `bytes` as hex digit pairs without separators (`DEADBEEF`).
#[inline]
pub(crate) fn push_bytes(buf: &mut Vec<u8>, bytes: &[u8], case: Case) {
    let start = buf.len();
    buf.resize(start + 2 * bytes.len(), 0);
    let pairs = case.pairs();
    for (o, &b) in buf[start..].chunks_exact_mut(2).zip(bytes) {
        o.copy_from_slice(&pairs[b as usize]);
    }
}

/// Writes `bytes` as ` HH` each (a space before every pair) to the start of
/// `out`; returns the length written, `3 * bytes.len()`.
///
/// Panics when `out` is shorter than that (a caller sizes its line buffer).
#[inline]
pub(crate) fn put_spaced(out: &mut [u8], bytes: &[u8], case: Case) -> usize {
    let n = 3 * bytes.len();
    let pairs = case.pairs();
    for (o, &b) in out[..n].chunks_exact_mut(3).zip(bytes) {
        o[0] = b' ';
        o[1..].copy_from_slice(&pairs[b as usize]);
    }
    n
}

/// Appends `bytes` as ` HH` each (a space before every pair).
#[inline]
pub(crate) fn push_spaced(buf: &mut Vec<u8>, bytes: &[u8], case: Case) {
    let start = buf.len();
    buf.resize(start + 3 * bytes.len(), 0);
    put_spaced(&mut buf[start..], bytes, case);
}

/// The hex digits of `v`, at least `width` of them (zero-padded), written to the
/// end of `tmp`; returns where they start. `tmp` needs room for 8 digits.
#[inline]
pub(crate) fn u32_digits(mut v: u32, width: usize, case: Case, tmp: &mut [u8]) -> usize {
    let digits = case.digits();
    let end = tmp.len();
    let mut i = end;
    loop {
        i -= 1;
        tmp[i] = digits[(v & 15) as usize];
        v >>= 4;
        if v == 0 && end - i >= width {
            return i;
        }
    }
}

/// Appends the hex digits of `v`, at least `width` of them (zero-padded):
/// `push_u32(buf, 0x7E8, 8, Case::Upper)` gives `000007E8`, width 1 gives `7E8`.
#[inline]
pub(crate) fn push_u32(buf: &mut Vec<u8>, v: u32, width: usize, case: Case) {
    let mut tmp = [0u8; 8];
    let i = u32_digits(v, width.min(8), case, &mut tmp);
    buf.extend_from_slice(&tmp[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_both_ways() {
        for b in 0..=255u8 {
            let up = format!("{b:02X}");
            let low = format!("{b:02x}");
            let mut v = Vec::new();
            push_bytes(&mut v, &[b], Case::Upper);
            push_bytes(&mut v, &[b], Case::Lower);
            assert_eq!(v, format!("{up}{low}").as_bytes());
            for t in [&up, &low] {
                let t = t.as_bytes();
                assert_eq!(pair(t[0], t[1]), Some(b));
                assert_eq!(byte2(t), Some(b));
                assert_eq!(byte(t), Some(b));
            }
            let c = b as char;
            assert_eq!(digit(b), c.to_digit(16).map(|d| d as u8), "{b:#x}");
            if b < 16 {
                assert_eq!(
                    [Case::Upper.digit(b), Case::Lower.digit(b)],
                    [up.as_bytes()[1], low.as_bytes()[1]]
                );
                assert_eq!(byte(&low.as_bytes()[1..]), Some(b));
                assert_eq!(byte2(&low.as_bytes()[1..]), None);
            }
        }
    }

    #[test]
    fn non_digits_are_refused() {
        for bad in [
            b'g', b'G', b' ', b'x', b'/', b':', b'@', b'`', 0, 0xFF, 0xB0,
        ] {
            assert_eq!(digit(bad), None, "{bad:#x}");
            assert_eq!(pair(b'0', bad), None, "{bad:#x}");
            assert_eq!(pair(bad, b'0'), None, "{bad:#x}");
        }
        assert_eq!(byte(b""), None);
        assert_eq!(byte(b"123"), None);
        assert_eq!(byte2(b"1"), None);
    }

    #[test]
    fn decodes_runs_of_pairs() {
        let mut out = [0u8; 4];
        assert_eq!(decode(b"", &mut out), Some(0));
        assert_eq!(decode(b"DEADbeef", &mut out), Some(4));
        assert_eq!(out, [0xDE, 0xAD, 0xBE, 0xEF]);
        assert_eq!(decode(b"DEA", &mut out), None);
        assert_eq!(decode(b"DEADBEEF00", &mut out), None);
        assert_eq!(decode(b"DEADBEEG", &mut out), None);
        assert_eq!(decode(b"DE AD", &mut out), None);
    }

    #[test]
    fn numbers_of_one_to_eight_digits() {
        assert_eq!(u32(b"0"), Some(0));
        assert_eq!(u32(b"7e8"), Some(0x7E8));
        assert_eq!(u32(b"FFFFFFFF"), Some(u32::MAX));
        assert_eq!(u32(b"000000001"), None);
        assert_eq!(u32(b""), None);
        assert_eq!(u32(b"0x10"), None);
        assert_eq!(u32(b"+10"), None);
        assert_eq!(u32_prefixed(b"0x10"), Some(0x10));
        assert_eq!(u32_prefixed(b"0X1fffffff"), Some(0x1FFF_FFFF));
        assert_eq!(u32_prefixed(b"10"), Some(0x10));
        assert_eq!(u32_prefixed(b"0x"), None);
        assert_eq!(u32_prefixed(b"0x123456789"), None);
    }

    #[test]
    fn writes_numbers_and_spaced_bytes() {
        let mut v = Vec::new();
        push_u32(&mut v, 0x7E8, 8, Case::Upper);
        v.push(b'|');
        push_u32(&mut v, 0x7E8, 1, Case::Lower);
        v.push(b'|');
        push_u32(&mut v, 0, 1, Case::Upper);
        v.push(b'|');
        push_u32(&mut v, 0x1FFF_FFFF, 3, Case::Upper);
        v.push(b'|');
        push_u32(&mut v, u32::MAX, 8, Case::Lower);
        v.push(b'|');
        push_spaced(&mut v, &[0x0A, 0xFF, 0x10], Case::Upper);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "000007E8|7e8|0|1FFFFFFF|ffffffff| 0A FF 10"
        );
        let mut tmp = [b'.'; 9];
        let i = u32_digits(0xABC, 4, Case::Lower, &mut tmp[..8]);
        assert_eq!(&tmp[i..], b"0abc.");
        let mut line = [0u8; 8];
        assert_eq!(put_spaced(&mut line, &[1, 2], Case::Lower), 6);
        assert_eq!(&line[..6], b" 01 02");
    }
}
