//! The channel numbers of the formats that store a number, not a name (BLF,
//! ASC, TRC): one rule, so that a log converted to any of them gives the same
//! numbers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::frame::Channel;

/// Gives each record's channel the 1-based number a BLF, ASC or TRC file stores
/// (Vector and PEAK tools count channels from 1). One per file written:
///
/// * `Channel::Number(n)` is `n` (a log read from a numbered format keeps its
///   numbers);
/// * no channel is 1;
/// * `canK` and `vcanK` (K in decimal digits) are K+1, as interfaces count from
///   0: `can0` is 1, `vcan3` is 4 (the candump writer turns number n back into
///   `can<n-1>`);
/// * any other name gets the lowest number that no name before it was given, in
///   order of first appearance, and keeps it for the whole file: `foo`, `bar`,
///   `vcan3` are 1, 2, 4; `can1`, `foo`, `bar` are 2, 1, 3.
///
/// Why not count other names from 1 regardless of `canK` (as the BLF writer
/// did): `can0`, `demo` would both be 1, two buses merged into one. Why not use
/// a name's trailing digits (as the TRC writer did): `foo`, `bar` would both be
/// 1 too. A `canK` that comes after another name can still meet that name's
/// number (`foo`, `can0` are 1, 1): a stream cannot see what comes later, and
/// `canK` stays K+1 in every file.
#[derive(Debug, Default)]
pub struct ChannelNumbers {
    /// The first [`FEW`] names seen and their numbers, searched in order: a log
    /// has a few channels, and comparing a few names (often the same `Arc`)
    /// is cheaper than hashing one.
    few: Vec<(Arc<str>, u32)>,
    /// The numbers of the names after those.
    more: HashMap<Arc<str>, u32>,
    /// Every number given to a name.
    used: HashSet<u32>,
    /// No number below this one is free.
    lowest_free: u32,
    /// Index in `few` of the last name looked up (runs of one channel are common).
    last: usize,
}

/// Names kept in the list searched in order.
const FEW: usize = 16;

impl ChannelNumbers {
    /// No channel seen yet.
    pub fn new() -> ChannelNumbers {
        ChannelNumbers::default()
    }

    /// The number of `channel`, following the rule above.
    pub fn number(&mut self, channel: &Channel) -> u32 {
        let name = match channel {
            Channel::None => return 1,
            Channel::Number(n) => return *n,
            Channel::Name(name) => name,
        };
        let same = |(s, _): &(Arc<str>, u32)| Arc::ptr_eq(s, name) || **s == **name;
        if let Some(e) = self.few.get(self.last).filter(|e| same(e)) {
            return e.1;
        }
        if let Some(i) = self.few.iter().position(same) {
            self.last = i;
            return self.few[i].1;
        }
        if let Some(&n) = self.more.get(name) {
            return n;
        }
        let n = match interface_index(name) {
            Some(k) => k.saturating_add(1),
            None => self.lowest_free(),
        };
        self.used.insert(n);
        if self.few.len() < FEW {
            self.last = self.few.len();
            self.few.push((name.clone(), n));
        } else {
            self.more.insert(name.clone(), n);
        }
        n
    }

    /// The lowest number from 1 no name was given (numbers are never given
    /// back, so the search starts where the last one ended).
    fn lowest_free(&mut self) -> u32 {
        let mut n = self.lowest_free.max(1);
        while n < u32::MAX && self.used.contains(&n) {
            n += 1;
        }
        self.lowest_free = n;
        n
    }
}

/// K for `canK` / `vcanK`.
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    let digits = name
        .strip_prefix("vcan")
        .or_else(|| name.strip_prefix("can"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(chans: &[Channel]) -> Vec<u32> {
        let mut c = ChannelNumbers::new();
        chans.iter().map(|ch| c.number(ch)).collect()
    }

    fn names(names: &[&str]) -> Vec<u32> {
        numbers(&names.iter().map(|n| Channel::name(n)).collect::<Vec<_>>())
    }

    #[test]
    fn the_rule_of_the_doc_comment() {
        assert_eq!(names(&["foo", "bar", "vcan3"]), [1, 2, 4]);
        assert_eq!(names(&["can1", "foo", "bar"]), [2, 1, 3]);
        assert_eq!(names(&["can0", "demo"]), [1, 2]);
        assert_eq!(names(&["foo", "can0"]), [1, 1]);
        assert_eq!(
            numbers(&[Channel::None, Channel::Number(7), Channel::Number(0)]),
            [1, 7, 0]
        );
    }

    #[test]
    fn a_name_keeps_its_number() {
        let got = names(&[
            "can1", "foo", "bar", "vcan0", "foo", "can", "bar", "can1", "vcan", "x", "foo",
        ]);
        assert_eq!(got, [2, 1, 3, 1, 1, 4, 3, 2, 5, 6, 1]);
    }

    #[test]
    fn interface_names_need_decimal_digits() {
        assert_eq!(
            names(&[
                "can007",
                "vcan10",
                "can4294967295",
                "can4294967296",
                "cana",
                "slcan0"
            ]),
            // can4294967296 does not fit: another name, as are cana and slcan0
            [8, 11, u32::MAX, 1, 2, 3]
        );
    }

    #[test]
    fn many_names_stay_fast_and_distinct() {
        let mut c = ChannelNumbers::new();
        let all: Vec<Arc<str>> = (0..20_000).map(|i| Arc::from(format!("bus{i}"))).collect();
        for (i, name) in all.iter().enumerate() {
            assert_eq!(c.number(&Channel::Name(name.clone())), i as u32 + 1);
        }
        for (i, name) in all.iter().enumerate().rev() {
            assert_eq!(c.number(&Channel::Name(name.clone())), i as u32 + 1);
        }
    }
}
