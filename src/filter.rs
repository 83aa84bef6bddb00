//! Id filters in can-utils' and python-can's syntax: `ID:MASK` passes frames whose
//! id matches `ID` on the bits set in `MASK`, `ID~MASK` rejects them, `#ERRMASK`
//! selects which error classes pass. Lists are comma-separated (`123:7FF,200~700`).
//!
//! As in candump, an id written with 8 hex digits is a 29-bit id and matches only
//! extended frames; one written with up to 3 digits is an 11-bit id and matches
//! only standard frames. The mask may also carry the kernel's flag bits
//! (`0x40000000` RTR) to tell remote frames apart.
//!
//! Semantics: a frame passes when it matches at least one pass filter (or there
//! is none) and matches no reject filter. This differs from the kernel's bare
//! CAN_RAW_FILTER, where every filter is OR-ed, so that `--filter 100~7FF,200~7FF`
//! means "everything but 0x100 and 0x200" as a user reads it. Backends that push
//! filters down to the kernel keep these semantics (see the socketcan backend).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::frame::{Frame, Id, Kind};

/// The kernel's extended-frame flag in a `can_id`.
pub const CAN_EFF_FLAG: u32 = 0x8000_0000;
/// The kernel's remote-frame flag in a `can_id`.
pub const CAN_RTR_FLAG: u32 = 0x4000_0000;

/// One id filter, in the kernel's `can_filter` terms (flag bits included).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IdFilter {
    /// The id with `CAN_EFF_FLAG` for 29-bit filters.
    pub can_id: u32,
    /// The mask, with `CAN_EFF_FLAG` so that the width must match.
    pub can_mask: u32,
    /// True for `ID~MASK`.
    pub invert: bool,
}

impl IdFilter {
    /// True if `frame`'s id matches `can_id` under `can_mask` (ignoring `invert`).
    pub fn matches(&self, frame: &Frame) -> bool {
        (kernel_id(frame) & self.can_mask) == (self.can_id & self.can_mask)
    }
}

/// A frame's id in the kernel's `can_id` form (EFF and RTR flags included).
pub fn kernel_id(frame: &Frame) -> u32 {
    let mut v = frame.id().raw();
    if let Id::Extended(_) = frame.id() {
        v |= CAN_EFF_FLAG;
    }
    if frame.kind() == Kind::Remote {
        v |= CAN_RTR_FLAG;
    }
    v
}

/// A set of filters; the empty set passes everything.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct FilterSet {
    /// Pass filters (`ID:MASK`), OR-ed.
    pub pass: Vec<IdFilter>,
    /// Reject filters (`ID~MASK`).
    pub reject: Vec<IdFilter>,
    /// Which error classes pass (`#MASK`); `None` lets every error frame through.
    pub error_mask: Option<u32>,
}

impl FilterSet {
    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.pass.is_empty() && self.reject.is_empty() && self.error_mask.is_none()
    }

    /// True if `frame` passes.
    pub fn matches(&self, frame: &Frame) -> bool {
        if frame.kind() == Kind::Error {
            return match self.error_mask {
                None => true,
                Some(m) => frame.id().raw() & m != 0,
            };
        }
        (self.pass.is_empty() || self.pass.iter().any(|f| f.matches(frame)))
            && !self.reject.iter().any(|f| f.matches(frame))
    }

    /// Adds the filters of a comma-separated list.
    pub fn extend_from_str(&mut self, text: &str) -> Result<(), Error> {
        // Commas as candump writes lists, white space as python-can's
        // `--filter 100:7FF 200:7FF` arrives when quoted.
        for item in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            if let Some(m) = item.strip_prefix('#') {
                let mask = parse_hex(item, m)?;
                self.error_mask = Some(self.error_mask.unwrap_or(0) | mask);
                continue;
            }
            let (id_text, mask_text, invert) = if let Some((a, b)) = item.split_once(':') {
                (a, b, false)
            } else if let Some((a, b)) = item.split_once('~') {
                (a, b, true)
            } else {
                return Err(bad(item, "expected ID:MASK, ID~MASK or #ERRMASK"));
            };
            let id_text = id_text.trim_start_matches("0x");
            let id = parse_hex(item, id_text)?;
            let mask = parse_hex(item, mask_text.trim_start_matches("0x"))?;
            let extended = match id_text.len() {
                1..=3 => false,
                8 => true,
                _ => {
                    return Err(bad(
                        item,
                        "the id must have up to 3 hex digits (11-bit) or 8 (29-bit)",
                    ))
                }
            };
            let limit = if extended { 0x1FFF_FFFF } else { 0x7FF };
            if id > limit {
                return Err(bad(item, "the id does not fit its width"));
            }
            let f = IdFilter {
                can_id: id | if extended { CAN_EFF_FLAG } else { 0 },
                can_mask: mask | CAN_EFF_FLAG,
                invert,
            };
            if invert {
                self.reject.push(f);
            } else {
                self.pass.push(f);
            }
        }
        Ok(())
    }
}

fn bad(text: &str, reason: &str) -> Error {
    Error::Filter {
        text: text.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_hex(item: &str, s: &str) -> Result<u32, Error> {
    u32::from_str_radix(s, 16).map_err(|_| bad(item, &format!("'{s}' is not a hex number")))
}

impl FromStr for FilterSet {
    type Err = Error;
    fn from_str(s: &str) -> Result<FilterSet, Error> {
        let mut f = FilterSet::default();
        f.extend_from_str(s)?;
        Ok(f)
    }
}

impl fmt::Display for FilterSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        for (list, sep) in [(&self.pass, ':'), (&self.reject, '~')] {
            for x in list {
                let ext = x.can_id & CAN_EFF_FLAG != 0;
                let id = x.can_id & !CAN_EFF_FLAG;
                let mask = x.can_mask & !CAN_EFF_FLAG;
                if ext {
                    items.push(format!("{id:08X}{sep}{mask:X}"));
                } else {
                    items.push(format!("{id:03X}{sep}{mask:X}"));
                }
            }
        }
        if let Some(m) = self.error_mask {
            items.push(format!("#{m:X}"));
        }
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;

    fn passes(filters: &str, frame: &str) -> bool {
        let set: FilterSet = filters.parse().unwrap();
        set.matches(&parse_frame(frame).unwrap())
    }

    #[test]
    fn empty_passes_all() {
        assert!(passes("", "123#11"));
        assert!(passes("", "12345678#"));
    }

    #[test]
    fn pass_filters() {
        assert!(passes("123:7FF", "123#11"));
        assert!(!passes("123:7FF", "124#11"));
        assert!(passes("120:7F0", "12F#"));
        assert!(!passes("120:7F0", "130#"));
        // 3 digits: 11-bit only, even if a 29-bit id has the same low bits
        assert!(!passes("123:7FF", "00000123#11"));
        // 8 digits: 29-bit only
        assert!(passes("00000123:1FFFFFFF", "00000123#11"));
        assert!(!passes("00000123:1FFFFFFF", "123#11"));
        // lists are OR-ed
        assert!(passes("100:7FF,200:7FF", "200#"));
        assert!(!passes("100:7FF,200:7FF", "300#"));
    }

    #[test]
    fn reject_filters() {
        assert!(!passes("123~7FF", "123#11"));
        assert!(passes("123~7FF", "124#11"));
        // two rejects remove both ids, keep the rest
        assert!(!passes("100~7FF,200~7FF", "100#"));
        assert!(!passes("100~7FF,200~7FF", "200#"));
        assert!(passes("100~7FF,200~7FF", "300#"));
        // pass range minus one id
        assert!(passes("100:700,123~7FF", "1FF#"));
        assert!(!passes("100:700,123~7FF", "123#"));
        assert!(!passes("100:700,123~7FF", "200#"));
    }

    #[test]
    fn remote_flag_in_mask() {
        // mask with RTR bit: only data frames of 0x123
        assert!(passes("123:400007FF", "123#11"));
        assert!(!passes("123:400007FF", "123#R"));
    }

    #[test]
    fn error_mask() {
        assert!(passes("123:7FF", "20000080#"));
        assert!(passes("#80", "20000080#"));
        assert!(!passes("#40", "20000080#"));
    }

    #[test]
    fn lists_by_comma_or_white_space() {
        assert!(passes("100:7FF 200:7FF", "200#"));
        assert!(passes("100:7FF,\t200:7FF", "200#"));
        assert!(!passes("100:7FF 200:7FF", "300#"));
    }

    #[test]
    fn rejects_bad_text() {
        for bad in ["123", "xyz:7FF", "123:zz", "1234:7FF", "800:7FF", "123-7FF"] {
            assert!(bad.parse::<FilterSet>().is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn display_round_trips() {
        let s: FilterSet = "123:7FF,00000123~1FFFFFFF,#80".parse().unwrap();
        assert_eq!(s.to_string(), "123:7FF,00000123~1FFFFFFF,#80");
        assert_eq!(s.to_string().parse::<FilterSet>().unwrap(), s);
    }
}
