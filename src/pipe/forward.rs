//! What a bridge does to the frames of one direction on their way: its own
//! filters, id rewriting (`--map-id FROM[:MASK]=TO`) and a rate limit whose
//! drops are counted ([`Forward`], used by [`super::BusSink::by_input`]).

use std::time::Instant;

use crate::filter::FilterSet;
use crate::frame::{Frame, Id, Kind};

/// One `--map-id FROM[:MASK]=TO`: ids that match `from` on the bits of
/// `mask` take those bits from `to` and keep the others. Without a mask every
/// bit counts (one id becomes another). As in filters, 3 hex digits are an
/// 11-bit id and 8 digits a 29-bit id; the new id keeps the frame's width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    from: u32,
    mask: u32,
    to: u32,
    extended: bool,
}

impl IdMap {
    /// Parses `FROM=TO` or `FROM:MASK=TO` (hex).
    pub fn parse(text: &str) -> Result<IdMap, String> {
        let bad = |why: &str| format!("--map-id '{text}': {why}");
        let (left, to_text) = text
            .split_once('=')
            .ok_or_else(|| bad("expected FROM=TO or FROM:MASK=TO"))?;
        let (from_text, mask_text) = match left.split_once(':') {
            Some((f, m)) => (f, Some(m)),
            None => (left, None),
        };
        let hex = |t: &str| {
            let t = t.trim_start_matches("0x");
            u32::from_str_radix(t, 16)
                .ok()
                .map(|v| (v, t.len()))
                .ok_or_else(|| bad(&format!("'{t}' is not a hex number")))
        };
        let (from, from_len) = hex(from_text)?;
        let (to, to_len) = hex(to_text)?;
        let extended =
            match (from_len, to_len) {
                (1..=3, 1..=3) => false,
                (8, 8) => true,
                _ => return Err(bad(
                    "FROM and TO need the same width: up to 3 hex digits (11-bit) or 8 (29-bit)",
                )),
            };
        let limit = if extended { 0x1FFF_FFFF } else { 0x7FF };
        let mask = match mask_text {
            Some(m) => hex(m)?.0 & limit,
            None => limit,
        };
        if from > limit || to > limit {
            return Err(bad("an id does not fit its width"));
        }
        Ok(IdMap {
            from,
            mask,
            to,
            extended,
        })
    }

    /// The new id of `frame`, if this map applies to it.
    pub fn apply(&self, frame: &Frame) -> Option<Id> {
        let id = frame.id();
        if frame.kind() == Kind::Error || id.is_extended() != self.extended {
            return None;
        }
        let raw = id.raw();
        if raw & self.mask != self.from & self.mask {
            return None;
        }
        Id::new((raw & !self.mask) | (self.to & self.mask), self.extended).ok()
    }
}

/// A token bucket: at most `rate` frames a second, with bursts of up to a
/// tenth of a second's worth (at least one frame).
#[derive(Clone, Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl RateLimit {
    /// At most `rate` frames per second.
    pub fn new(rate: f64) -> RateLimit {
        let burst = (rate / 10.0).max(1.0);
        RateLimit {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// True if one more frame may pass now.
    pub fn admit(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The rules of one direction, and what they did.
#[derive(Clone, Debug, Default)]
pub struct Forward {
    /// Only frames that pass these go on (empty: all).
    pub filters: FilterSet,
    /// Id rewrites; the first that applies wins.
    pub map: Vec<IdMap>,
    /// At most this many frames a second.
    pub limit: Option<RateLimit>,
    /// Frames these filters held back.
    pub filtered: u64,
    /// Frames the rate limit dropped.
    pub dropped: u64,
}

impl Forward {
    /// The frame to send for `frame`, or none when the rules hold it back.
    #[inline]
    pub fn pass(&mut self, frame: &Frame) -> Option<Frame> {
        if !self.filters.is_empty() && !self.filters.matches(frame) {
            self.filtered += 1;
            return None;
        }
        if let Some(l) = self.limit.as_mut() {
            if !l.admit(Instant::now()) {
                self.dropped += 1;
                return None;
            }
        }
        let mapped = self.map.iter().find_map(|m| m.apply(frame));
        Some(match mapped {
            Some(id) => frame.with_id(id),
            None => *frame,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;

    fn map(m: &str, f: &str) -> Option<String> {
        let frame = parse_frame(f).unwrap();
        IdMap::parse(m)
            .unwrap()
            .apply(&frame)
            .map(|id| frame.with_id(id).to_string())
    }

    #[test]
    fn id_maps() {
        assert_eq!(map("100=200", "100#11").as_deref(), Some("200#11"));
        assert_eq!(map("100=200", "101#11"), None);
        // a mask moves a range, keeping the other bits
        assert_eq!(map("100:700=300", "1AB#").as_deref(), Some("3AB#"));
        assert_eq!(map("100:700=300", "2AB#"), None);
        // widths are kept apart, as in filters
        assert_eq!(map("100=200", "00000100#"), None);
        assert_eq!(
            map("18FF0100:1FFFFF00=18FE0200", "18FF0155#01").as_deref(),
            Some("18FE0255#01")
        );
        assert_eq!(map("100=200", "100#R").as_deref(), Some("200#R"));
        for bad in ["100", "100=2000", "xyz=100", "100:zz=200", "800=100"] {
            assert!(IdMap::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_limit_admits_the_rate_and_counts_drops() {
        let mut f = Forward {
            limit: Some(RateLimit::new(100.0)),
            ..Forward::default()
        };
        let frame = parse_frame("123#").unwrap();
        // a burst: the bucket holds a tenth of a second (10 frames)
        let passed = (0..50).filter(|_| f.pass(&frame).is_some()).count();
        assert_eq!(passed, 10);
        assert_eq!(f.dropped, 40);
        let mut l = RateLimit::new(100.0);
        let t0 = Instant::now();
        let mut n = 0;
        for i in 0..1000u64 {
            // 1,000 frames offered over one simulated second
            if l.admit(t0 + std::time::Duration::from_millis(i)) {
                n += 1;
            }
        }
        assert!((100..=111).contains(&n), "{n}");
    }
}
