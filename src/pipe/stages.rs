//! The stages between a source and a sink, the same for every tool: id and
//! error-class filters, leaving out error frames, a time window, and channel
//! numbering for formats that number channels.

use crate::filter::FilterSet;
use crate::frame::{Channel, Record, Timestamp};

/// What every record goes through, in this order: filters, error frames,
/// window, numbering.
#[derive(Clone, Debug, Default)]
pub struct Stages {
    /// Id filters and error classes (`--filter`); empty passes all.
    pub filters: FilterSet,
    /// Leave out error frames (can-player without `--error-frames`).
    pub drop_error_frames: bool,
    /// Only records in this time window (`--start`, `--end`).
    pub window: Option<Window>,
    /// Named channels turned into numbers (BLF, ASC, TRC output).
    pub numbering: Option<Numbering>,
}

impl Stages {
    /// Stages that only filter.
    pub fn filtering(filters: FilterSet) -> Stages {
        Stages {
            filters,
            ..Stages::default()
        }
    }

    /// True if `rec` goes on (perhaps with its channel renumbered).
    #[inline]
    pub fn pass(&mut self, rec: &mut Record) -> bool {
        if !self.filters.is_empty() && !self.filters.matches(&rec.frame) {
            return false;
        }
        if self.drop_error_frames && rec.frame.is_error() {
            return false;
        }
        if let Some(w) = self.window.as_mut() {
            if !w.contains(rec.timestamp) {
                return false;
            }
        }
        if let Some(n) = self.numbering.as_mut() {
            let number = n.number(&rec.channel);
            rec.channel = Channel::Number(number);
        }
        true
    }

    /// Records the window left out.
    pub fn outside_window(&self) -> u64 {
        self.window.as_ref().map_or(0, |w| w.before + w.after)
    }

    /// A warning when the window let nothing through although records came.
    pub fn window_warning(&self) -> Option<String> {
        let w = self.window.as_ref()?;
        if w.inside > 0 || w.before + w.after == 0 {
            return None;
        }
        let span = match (w.first_seen, w.last_seen) {
            (Some(a), Some(b)) => format!(
                " (the records span {:.6} s to {:.6} s after the first)",
                0.0,
                (b.as_nanos() - a.as_nanos()) as f64 / 1e9
            ),
            _ => String::new(),
        };
        Some(format!(
            "no record was inside the time window: {} before --start, {} at or after --end{span}",
            w.before, w.after
        ))
    }
}

/// A point of a time window: relative to the first record, or absolute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimePoint {
    /// Nanoseconds after the first record.
    Relative(i64),
    /// An absolute time.
    Absolute(Timestamp),
}

impl TimePoint {
    fn resolve(self, first: Timestamp) -> i64 {
        match self {
            TimePoint::Relative(ns) => first.as_nanos() + ns,
            TimePoint::Absolute(t) => t.as_nanos(),
        }
    }
}

/// Keeps records with `start <= t < end`; relative points count from the
/// first record seen.
#[derive(Clone, Debug, Default)]
pub struct Window {
    start: Option<TimePoint>,
    end: Option<TimePoint>,
    resolved: Option<(Option<i64>, Option<i64>)>,
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    before: u64,
    inside: u64,
    after: u64,
}

impl Window {
    /// A window, refused when it cannot hold anything: `start` at or after
    /// `end` when both are relative or both absolute.
    pub fn new(start: Option<TimePoint>, end: Option<TimePoint>) -> Result<Window, String> {
        let empty = match (start, end) {
            (Some(TimePoint::Relative(a)), Some(TimePoint::Relative(b))) => a >= b,
            (Some(TimePoint::Absolute(a)), Some(TimePoint::Absolute(b))) => a >= b,
            _ => false,
        };
        if empty {
            return Err("--start must be before --end".into());
        }
        Ok(Window {
            start,
            end,
            ..Window::default()
        })
    }

    fn contains(&mut self, t: Timestamp) -> bool {
        let first = *self.first_seen.get_or_insert(t);
        self.last_seen = Some(t);
        let (lo, hi) = *self.resolved.get_or_insert_with(|| {
            (
                self.start.map(|p| p.resolve(first)),
                self.end.map(|p| p.resolve(first)),
            )
        });
        let ns = t.as_nanos();
        if lo.is_some_and(|lo| ns < lo) {
            self.before += 1;
            false
        } else if hi.is_some_and(|hi| ns >= hi) {
            self.after += 1;
            false
        } else {
            self.inside += 1;
            true
        }
    }
}

/// Numbers channels for formats that number them (BLF, ASC, TRC): the
/// channels given (`-c can0 -c can1`) are 1, 2, ... in the order given; other
/// names (interfaces seen through `-c any`) get the next numbers as they first
/// appear. Records that already carry a number keep it.
#[derive(Clone, Debug, Default)]
pub struct Numbering {
    /// Channel names by number - 1.
    known: Vec<Channel>,
}

impl Numbering {
    /// Numbering with these names first, in order.
    pub fn new<S: AsRef<str>>(given: &[S]) -> Numbering {
        let mut n = Numbering::default();
        for g in given {
            n.number(&Channel::name(g.as_ref()));
        }
        n
    }

    /// The number of `channel`.
    pub fn number(&mut self, channel: &Channel) -> u32 {
        if let Channel::Number(n) = channel {
            return *n;
        }
        match self.known.iter().position(|c| c == channel) {
            Some(i) => i as u32 + 1,
            None => {
                self.known.push(channel.clone());
                self.known.len() as u32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_numbered_in_the_order_given_then_as_seen() {
        let name = Channel::name;
        let mut n = Numbering::new(&["vcan1", "vcan0"]);
        assert_eq!(n.number(&name("vcan1")), 1);
        assert_eq!(n.number(&name("vcan0")), 2);
        assert_eq!(n.number(&name("can7")), 3);
        assert_eq!(n.number(&name("can5")), 4);
        assert_eq!(n.number(&name("can7")), 3);
        assert_eq!(n.number(&Channel::Number(9)), 9);
        let mut n = Numbering::new::<&str>(&[]);
        assert_eq!(n.number(&name("vcan9")), 1);
        assert_eq!(n.number(&name("vcan3")), 2);
    }

    #[test]
    fn windows() {
        let s = |x: i64| Timestamp::from_micros(x * 1_000_000);
        let mut w = Window::new(
            Some(TimePoint::Relative(1_000_000_000)),
            Some(TimePoint::Relative(3_000_000_000)),
        )
        .unwrap();
        let kept: Vec<bool> = (10..15).map(|t| w.contains(s(t))).collect();
        assert_eq!(kept, [false, true, true, false, false]);
        assert!(Window::new(
            Some(TimePoint::Relative(5_000_000_000)),
            Some(TimePoint::Relative(5_000_000_000))
        )
        .is_err());
        assert!(Window::new(
            Some(TimePoint::Absolute(s(20))),
            Some(TimePoint::Absolute(s(10)))
        )
        .is_err());
        // past the end of the log: nothing inside, a warning
        let mut st = Stages {
            window: Some(Window::new(Some(TimePoint::Relative(100_000_000_000)), None).unwrap()),
            ..Stages::default()
        };
        let mut r = Record::new(s(1), crate::frame::text::parse_frame("001#").unwrap());
        assert!(!st.pass(&mut r));
        assert!(st.window_warning().unwrap().contains("no record"));
    }
}
