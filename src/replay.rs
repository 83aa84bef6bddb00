//! The player's scheduler: turns log timestamps into wall-clock due times and
//! waits for them precisely, so replay keeps microsecond timing without
//! drifting: every due time is computed from the start, never from the
//! previous frame's actual send time.
//!
//! # Waiting
//!
//! A wait sleeps on an absolute deadline of the monotonic clock
//! (`clock_nanosleep` with `TIMER_ABSTIME`, the thread's timer slack cut to
//! 1 ns), so a late wake-up never shifts later frames. On an idle machine the
//! kernel wakes a sleeper some microseconds late (under emulation, a
//! millisecond or more); the waiter learns how late (a moving average that
//! rises fast and falls slowly) and
//! sleeps that much less, spinning the last stretch (at most 10 ms). When a
//! spin still ends more than [`SPIN_PAYS_BELOW`] late, another process had
//! the core: spinning only takes CPU from it, so the next 64 waits sleep to
//! the due time without spinning. This keeps the player as tight as a spin loop when idle and no
//! worse than a plain sleeper (python-can's player) when two busy loops
//! compete for the cores.
//!
//! [`Lateness`] collects how late each frame went out, for the player's
//! report (p50, p99, max).

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::frame::Timestamp;
use crate::pipe::Stop as StopFlag;

/// The longest single sleep, so a stop request is noticed quickly.
const MAX_SLEEP: Duration = Duration::from_millis(50);
/// A spin that still ends later than this after the due time was preempted:
/// spinning does not pay then.
pub const SPIN_PAYS_BELOW: Duration = Duration::from_micros(200);
/// The most a waiter spins before a due time.
const MAX_SPIN: Duration = Duration::from_millis(10);
/// After a spin that did not pay, this many waits only sleep.
const SPIN_BACKOFF: u32 = 64;

thread_local! {
    /// Moving average of how late wake-ups came, in ns.
    static OVERSLEEP_NS: Cell<f64> = const { Cell::new(20_000.0) };
    /// Waits left that only sleep, after a spin was preempted.
    static NO_SPIN: Cell<u32> = const { Cell::new(0) };
    static SLACK_SET: Cell<bool> = const { Cell::new(false) };
}

/// The monotonic clock now, as a timespec, and the `Instant` read with it.
fn monotonic_now() -> (libc::timespec, Instant) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts, Instant::now())
}

/// Sleeps until `target` on the monotonic clock (absolute, so a wake-up
/// that comes late does not move the next one).
fn sleep_abs(target: Instant) {
    let (ts_now, now) = monotonic_now();
    let Some(left) = target.checked_duration_since(now) else {
        return;
    };
    let total = ts_now.tv_nsec as u64 + left.subsec_nanos() as u64;
    let ts = libc::timespec {
        tv_sec: ts_now.tv_sec
            + left.as_secs() as libc::time_t
            + (total / 1_000_000_000) as libc::time_t,
        tv_nsec: (total % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: ts is a valid timespec; a null remainder is allowed with TIMER_ABSTIME.
    while unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    } == libc::EINTR
    {}
}

/// Asks the kernel to wake this thread's timers on time (the default slack
/// of 50 µs would make every frame that much late).
fn tighten_timer_slack() {
    SLACK_SET.with(|s| {
        if !s.get() {
            // SAFETY: PR_SET_TIMERSLACK takes an unsigned long; it only affects this thread.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
            s.set(true);
        }
    });
}

/// Waits until `due`; returns false if `stop` was set meanwhile.
pub fn sleep_until(due: Instant, stop: &StopFlag) -> bool {
    tighten_timer_slack();
    loop {
        if stop.is_set() {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        let left = due - now;
        if left > MAX_SLEEP {
            sleep_abs(now + MAX_SLEEP);
            continue;
        }
        let avg = OVERSLEEP_NS.with(Cell::get);
        let skip = NO_SPIN.with(|c| {
            let n = c.get();
            c.set(n.saturating_sub(1));
            n > 0
        });
        let spin = if skip {
            Duration::ZERO
        } else {
            Duration::from_nanos((avg * 1.5) as u64 + 5_000).min(MAX_SPIN)
        };
        if left > spin {
            let target = due - spin;
            sleep_abs(target);
            let late = Instant::now().saturating_duration_since(target).as_nanos() as f64;
            // Learn a longer wake-up latency at once (the first frames of a
            // run should not pay for it), a shorter one slowly.
            let late = late.min(5e6);
            OVERSLEEP_NS.with(|c| {
                let avg = c.get();
                let k = if late > avg { 0.5 } else { 0.1 };
                c.set(avg + (late - avg) * k)
            });
        }
        let spun = Instant::now() < due;
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        // Spun and still late: another process had the core. Spinning only
        // takes CPU from it then; sleep for a while instead.
        if spun && Instant::now().saturating_duration_since(due) > SPIN_PAYS_BELOW {
            NO_SPIN.with(|c| c.set(SPIN_BACKOFF));
        }
        return true;
    }
}

/// Asks for the real-time scheduler (SCHED_FIFO) for this process, so the
/// player wins the CPU from ordinary processes. Fails without root or
/// CAP_SYS_NICE.
pub fn set_realtime() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 50 };
    // SAFETY: param is a valid sched_param; 0 is this process.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// How late frames went out: a histogram in microseconds (up to 100 ms,
/// beyond that one bucket), so the report costs constant memory.
#[derive(Clone, Debug)]
pub struct Lateness {
    buckets: Vec<u64>,
    max_ns: u64,
    n: u64,
}

const LATENESS_BUCKETS: usize = 100_001;

impl Default for Lateness {
    fn default() -> Self {
        Lateness {
            buckets: vec![0; LATENESS_BUCKETS],
            max_ns: 0,
            n: 0,
        }
    }
}

impl Lateness {
    /// Counts one frame sent `late` after its due time.
    pub fn add(&mut self, late: Duration) {
        let ns = late.as_nanos().min(u64::MAX as u128) as u64;
        let us = (ns / 1000).min(LATENESS_BUCKETS as u64 - 1) as usize;
        self.buckets[us] += 1;
        self.max_ns = self.max_ns.max(ns);
        self.n += 1;
    }

    /// Frames counted.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The `q` quantile (0..=1) in microseconds (bucket resolution).
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let want = ((self.n as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (us, c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= want {
                return us as u64;
            }
        }
        (LATENESS_BUCKETS - 1) as u64
    }

    /// The latest, in microseconds.
    pub fn max_us(&self) -> f64 {
        self.max_ns as f64 / 1000.0
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
        // A scheduler that has just placed its first record (stamped 0) at t0.
        let started = |timing: Timing| {
            let mut s = Scheduler::new(timing, t0);
            s.due(Timestamp(0));
            s
        };
        let mut s = started(Timing {
            speed: 2.0,
            ..Timing::default()
        });
        assert_eq!(s.due(Timestamp::from_micros(20_000)), t0 + ms(10));
        let mut s = started(Timing {
            fixed_gap: Some(ms(5)),
            ..Timing::default()
        });
        assert_eq!(s.due(Timestamp::from_micros(900_000)), t0 + ms(5));
        let mut s = started(Timing {
            max_gap: Some(ms(100)),
            ..Timing::default()
        });
        assert_eq!(s.due(Timestamp::from_micros(5_000_000)), t0 + ms(100));
        assert_eq!(s.due(Timestamp::from_micros(5_050_000)), t0 + ms(150));
    }

    #[test]
    fn lateness_quantiles() {
        let mut l = Lateness::default();
        for us in 1..=100u64 {
            l.add(Duration::from_micros(us));
        }
        assert_eq!(l.count(), 100);
        assert_eq!(l.quantile_us(0.5), 50);
        assert_eq!(l.quantile_us(0.99), 99);
        assert_eq!(l.max_us(), 100.0);
        l.add(Duration::from_secs(5));
        assert_eq!(l.quantile_us(1.0), 100_000);
    }

    #[test]
    fn sleep_until_is_never_early() {
        let go = StopFlag::new();
        for us in [50u64, 300, 2000] {
            let due = Instant::now() + Duration::from_micros(us);
            assert!(sleep_until(due, &go));
            assert!(Instant::now() >= due);
        }
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
