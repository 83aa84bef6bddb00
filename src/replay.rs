//! The player's scheduler: turns log timestamps into wall-clock due times and
//! waits for them precisely (sleep until shortly before, then spin), so replay
//! keeps microsecond timing without drifting: every due time is computed from
//! the start, never from the previous frame's actual send time.

use std::time::{Duration, Instant};

use crate::frame::Timestamp;
use crate::pipe::Stop as StopFlag;

/// How far before a due time the scheduler stops sleeping and starts spinning.
const SPIN_WINDOW: Duration = Duration::from_micros(1500);
/// The longest single sleep, so a stop request is noticed quickly.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// Waits until `due`; returns false if `stop` was set meanwhile.
pub fn sleep_until(due: Instant, stop: &StopFlag) -> bool {
    loop {
        if stop.is_set() {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        let left = due - now;
        if left > SPIN_WINDOW {
            std::thread::sleep((left - SPIN_WINDOW).min(MAX_SLEEP));
        } else {
            std::hint::spin_loop();
            if left > Duration::from_micros(200) {
                std::thread::yield_now();
            }
        }
    }
}

/// Timing rules for a replay.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Playback speed factor (2.0 = twice as fast).
    pub speed: f64,
    /// Ignore the log's timestamps and send with this fixed gap.
    pub fixed_gap: Option<Duration>,
    /// Shorten any gap longer than this to this.
    pub max_gap: Option<Duration>,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            speed: 1.0,
            fixed_gap: None,
            max_gap: None,
        }
    }
}

/// Maps each record's timestamp to the instant it is due.
#[derive(Debug)]
pub struct Scheduler {
    timing: Timing,
    start: Instant,
    last_ts: Option<Timestamp>,
    /// Log time elapsed so far (after gap rules), in nanoseconds.
    offset_ns: f64,
}

impl Scheduler {
    /// A scheduler whose first frame is due at `start`.
    pub fn new(timing: Timing, start: Instant) -> Scheduler {
        Scheduler {
            timing,
            start,
            last_ts: None,
            offset_ns: 0.0,
        }
    }

    /// The instant the record stamped `ts` is due. Timestamps that go backwards
    /// are due at once (after the previous one), never before.
    pub fn due(&mut self, ts: Timestamp) -> Instant {
        let gap_ns = match (self.last_ts, self.timing.fixed_gap) {
            (None, _) => 0.0,
            (Some(_), Some(g)) => g.as_nanos() as f64,
            (Some(prev), None) => {
                let mut g = (ts.as_nanos() - prev.as_nanos()).max(0) as f64;
                if let Some(m) = self.timing.max_gap {
                    g = g.min(m.as_nanos() as f64);
                }
                g / self.timing.speed
            }
        };
        self.last_ts = Some(ts);
        self.offset_ns += gap_ns;
        self.start + Duration::from_nanos(self.offset_ns as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn follows_the_log_without_drift() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(Timing::default(), t0);
        assert_eq!(s.due(Timestamp::from_micros(1_000_000)), t0);
        assert_eq!(s.due(Timestamp::from_micros(1_010_000)), t0 + ms(10));
        assert_eq!(s.due(Timestamp::from_micros(1_030_000)), t0 + ms(30));
        // backwards: due immediately after the previous
        assert_eq!(s.due(Timestamp::from_micros(1_020_000)), t0 + ms(30));
    }

    #[test]
    fn speed_gap_and_skip() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(
            Timing {
                speed: 2.0,
                ..Timing::default()
            },
            t0,
        );
        s.due(Timestamp(0));
        assert_eq!(s.due(Timestamp::from_micros(20_000)), t0 + ms(10));
        let mut s = Scheduler::new(
            Timing {
                fixed_gap: Some(ms(5)),
                ..Timing::default()
            },
            t0,
        );
        s.due(Timestamp(0));
        assert_eq!(s.due(Timestamp::from_micros(900_000)), t0 + ms(5));
        let mut s = Scheduler::new(
            Timing {
                max_gap: Some(ms(100)),
                ..Timing::default()
            },
            t0,
        );
        s.due(Timestamp(0));
        assert_eq!(s.due(Timestamp::from_micros(5_000_000)), t0 + ms(100));
        assert_eq!(s.due(Timestamp::from_micros(5_050_000)), t0 + ms(150));
    }

    #[test]
    fn sleep_until_returns_false_on_stop() {
        let stop = StopFlag::new();
        stop.set();
        assert!(!sleep_until(Instant::now() + ms(1000), &stop));
        let go = StopFlag::new();
        let due = Instant::now() + ms(3);
        assert!(sleep_until(due, &go));
        assert!(Instant::now() >= due);
    }
}
