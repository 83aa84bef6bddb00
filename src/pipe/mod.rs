//! The pipe every tool is: a [`Source`] of records, the same [`Stages`] for
//! every tool (id filters, error frames, time window, channel numbering), a
//! [`Sink`], and one [`Driver`] that owns the stop request, the `--count` and
//! `--duration` limits and the end-of-run [`Summary`].
//!
//! ```text
//!  source                      stages                          sink
//!  buses (merged by time) ─┐   filter ─ error frames ─ window  ┌─ a bus (or one per --map)
//!  a log (replayed)        ├──▶        ─ channel numbers ─────▶├─ a log writer / stdout / rotated files
//!  frame specs, stdin      ┘                                   └─ the viewer's model
//!                   driver: stop (Ctrl-C), --count, --duration, summary
//! ```
//!
//! | tool | source | sink |
//! | --- | --- | --- |
//! | can-logger | [`BusSource`] (one or several buses) | [`RotatingSink`] ([`WriterSink`] on stdout) |
//! | can-player | [`ReplaySource`] | [`BusSink`] (routed by `--map`) |
//! | can-convert | [`LogSource`] | [`WriterSink`] |
//! | can-bridge | [`BusSource`] (both ends) | [`BusSink`] (to the other end) |
//! | can-viewer | [`BusSource`] or [`LogSource`] | the viewer's model |
//! | can-send | [`FramesSource`], [`LinesSource`] or [`GeneratorSource`] | [`BusSink`] |
//!
//! A tool is a choice of source and sink plus its own few options, so an
//! option that a stage implements (`--filter`, `--count`, `--duration`) works
//! the same in every tool that takes it.
//!
//! ```
//! use cankit::format::{self, Format, WriterOptions};
//! use cankit::frame::{text::parse_frame, Channel, Record, Timestamp};
//! use cankit::pipe::{Driver, LogSource, Stages, WriterSink};
//! # let dir = std::env::temp_dir().join(format!("cankit-doc-pipe-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let log = dir.join("in.log");
//! # std::fs::write(&log, "(1.000000) can0 123#11\n(1.500000) can0 456#22\n(2.000000) can0 123#33\n").unwrap();
//! // Keep only id 0x123 of a candump log, written as ASC.
//! let reader = format::open_reader(&log, None).unwrap();
//! let out = dir.join("out.asc");
//! let writer = format::create_writer(&out, None, &WriterOptions { force: true, ..Default::default() }).unwrap();
//! let mut stages = Stages::default();
//! stages.filters.extend_from_str("123:7FF").unwrap();
//! let summary = Driver::new(stages)
//!     .run(&mut LogSource::new(reader, &log), &mut WriterSink::new(writer, &out))
//!     .unwrap();
//! assert_eq!((summary.read, summary.written), (3, 2));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::frame::{Record, Timestamp};

mod buses;
mod forward;
mod generate;
mod rotate;
mod sinks;
mod sources;
mod stages;
mod stop;

pub use buses::{BusSource, BusSourceOptions};
pub use forward::{Forward, IdMap, RateLimit};
pub use generate::{GenSpec, GeneratorSource, Mode};
pub use rotate::{file_stamp, FileNames, FileStats, RotatingSink, Rotation};
pub use sinks::{BusSink, Routes, WriterSink};
pub use sources::{FramesSource, Gate, LinesSource, LogSource, ReplaySource};
pub use stages::{Numbering, Stages, TimePoint, Window};
pub use stop::Stop;

/// How long a [`Source::next`] may wait: a wait from now, or a fixed instant
/// (the end of a `--duration`). The clock is read only by sources that wait,
/// so reading a log costs no clock read per record.
#[derive(Clone, Copy, Debug)]
pub struct Until {
    wait: Duration,
    at: Option<Instant>,
}

impl Until {
    /// Waiting up to `wait` from when it is asked.
    pub fn after(wait: Duration) -> Until {
        Until { wait, at: None }
    }

    /// Waiting until `at`.
    pub fn at(at: Instant) -> Until {
        Until {
            wait: Duration::ZERO,
            at: Some(at),
        }
    }

    /// The instant the wait ends.
    pub fn instant(&self) -> Instant {
        self.at.unwrap_or_else(|| Instant::now() + self.wait)
    }
}

/// What a [`Source`] produced.
#[derive(Debug)]
pub enum Next<'a> {
    /// A record, with the index of the input it came from (the bus of a
    /// merged source; 0 for single sources). It stays in the source (no copy
    /// per record); the stages may change it before the sink takes it.
    Record(usize, &'a mut Record),
    /// Nothing within the wait.
    Idle,
    /// The source is exhausted (end of the log, the frame list sent).
    End,
}

/// Where records come from.
pub trait Source {
    /// The next record, waiting until `until` at most for it. A source that
    /// hands records over at due times (a replay, a period) hands over none
    /// due at or after it (the end of a `--duration`).
    fn next(&mut self, until: Until) -> Result<Next<'_>>;

    /// After a stop requested at `until`: hands over what the source already
    /// holds (frames queued in the kernel before the stop) to `each`, which
    /// returns false to end early. Sources with nothing queued do nothing.
    fn drain(
        &mut self,
        _until: Timestamp,
        _each: &mut dyn FnMut(usize, Record) -> Result<bool>,
    ) -> Result<()> {
        Ok(())
    }

    /// Ends the source (closing buses) and reports what it saw besides
    /// records. Warnings are also logged as they happen.
    fn finish(&mut self) -> Result<SourceReport> {
        Ok(SourceReport::default())
    }
}

/// What a source saw besides records, for the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceReport {
    /// Frames the backends reported lost (a kernel queue overflow).
    pub dropped: u64,
    /// Times an interface went away and came back (or was still away at the end).
    pub gaps: u32,
    /// Their total length.
    pub gap_time: Duration,
    /// Records or lines the source skipped (with a warning).
    pub skipped: u64,
}

/// Where records go.
pub trait Sink {
    /// Takes a record from input `from`. Returns false if the record was not
    /// taken (a `--map` that routes its channel nowhere), so it is not counted.
    fn write(&mut self, from: usize, record: &Record) -> Result<bool>;

    /// Called when the source had nothing for a while: a chance to flush.
    fn idle(&mut self) -> Result<()> {
        Ok(())
    }

    /// Completes the output (file trailers, closing buses).
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Counts and times of a finished run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Records the source produced.
    pub read: u64,
    /// Records the sink took (after the stages).
    pub written: u64,
    /// Records the stages removed (filters, error frames, the window).
    pub filtered: u64,
    /// From the first step to the end.
    pub elapsed: Duration,
    /// Why the run ended.
    pub ended_by: EndedBy,
    /// What the source reported.
    pub source: SourceReport,
    /// Records before the time window opened and after it closed.
    pub outside_window: u64,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EndedBy {
    /// The source was exhausted.
    #[default]
    End,
    /// `--count` was reached.
    Count,
    /// `--duration` ran out.
    Duration,
    /// A stop was requested (Ctrl-C, SIGTERM, the caller).
    Stop,
}

/// The longest single wait on the source, so that a stop is noticed quickly.
const LONGEST_WAIT: Duration = Duration::from_millis(200);

/// Runs a source into a sink through the stages, until the source ends, a
/// limit is reached or a stop is requested.
#[derive(Debug)]
pub struct Driver {
    stages: Stages,
    count: Option<u64>,
    duration: Option<Duration>,
    stop: Stop,
    started: Option<Instant>,
    deadline: Option<Instant>,
    longest_wait: Duration,
    summary: Summary,
    ended: Option<EndedBy>,
}

/// What one [`Driver::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A record went to the sink.
    Wrote,
    /// A record was produced and not written (filtered, unmapped).
    Skipped,
    /// Nothing arrived within the wait.
    Idle,
    /// The run is over; call [`Driver::finish`].
    Done,
}

impl Driver {
    /// A driver with these stages, no limits and its own stop flag.
    pub fn new(stages: Stages) -> Driver {
        Driver {
            stages,
            count: None,
            duration: None,
            stop: Stop::new(),
            started: None,
            deadline: None,
            longest_wait: LONGEST_WAIT,
            summary: Summary::default(),
            ended: None,
        }
    }

    /// Stops after `n` records written (`--count`).
    pub fn count(mut self, n: Option<u64>) -> Driver {
        self.count = n;
        self
    }

    /// Stops after this long from the first step (`--duration`).
    pub fn duration(mut self, d: Option<Duration>) -> Driver {
        self.duration = d;
        self
    }

    /// Watches this stop flag (e.g. one from [`Stop::install`]).
    pub fn stop(mut self, stop: Stop) -> Driver {
        self.stop = stop;
        self
    }

    /// Waits at most this long on the source per step (default 200 ms); a
    /// sink that flushes when idle (stdout) wants shorter waits.
    pub fn longest_wait(mut self, wait: Duration) -> Driver {
        self.longest_wait = wait.max(Duration::from_millis(1));
        self
    }

    /// The stop flag this driver watches.
    pub fn stop_flag(&self) -> &Stop {
        &self.stop
    }

    /// Counts so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// One step: waits up to `wait` (capped by the limits) for a record and
    /// writes it if the stages let it through.
    #[inline]
    pub fn step<S: Source + ?Sized, K: Sink + ?Sized>(
        &mut self,
        source: &mut S,
        sink: &mut K,
        wait: Duration,
    ) -> Result<Step> {
        if self.ended.is_some() {
            return Ok(Step::Done);
        }
        if self.started.is_none() {
            let now = Instant::now();
            self.started = Some(now);
            self.deadline = self.duration.map(|d| now + d);
        }
        // The clock is read per step only when a --duration needs it.
        let until = match self.deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    self.ended = Some(EndedBy::Duration);
                    return Ok(Step::Done);
                }
                Until::at(d.min(now + wait))
            }
            None => Until::after(wait),
        };
        if let Some(why) = self.limit_reached(None) {
            self.ended = Some(why);
            return Ok(Step::Done);
        }
        match source.next(until)? {
            Next::Record(from, rec) => {
                self.summary.read += 1;
                self.take(from, rec, sink)
            }
            Next::Idle => {
                sink.idle()?;
                if let Some(why) = self.limit_reached(Some(Instant::now())) {
                    self.ended = Some(why);
                    return Ok(Step::Done);
                }
                Ok(Step::Idle)
            }
            Next::End => {
                self.ended = Some(EndedBy::End);
                Ok(Step::Done)
            }
        }
    }

    #[inline]
    fn take<K: Sink + ?Sized>(
        &mut self,
        from: usize,
        rec: &mut Record,
        sink: &mut K,
    ) -> Result<Step> {
        if !self.stages.pass(rec) {
            self.summary.filtered += 1;
            return Ok(Step::Skipped);
        }
        if sink.write(from, rec)? {
            self.summary.written += 1;
            if self.count.is_some_and(|n| self.summary.written >= n) {
                self.ended = Some(EndedBy::Count);
            }
            Ok(Step::Wrote)
        } else {
            Ok(Step::Skipped)
        }
    }

    fn limit_reached(&self, now: Option<Instant>) -> Option<EndedBy> {
        if self.stop.is_set() {
            Some(EndedBy::Stop)
        } else if self.count.is_some_and(|n| self.summary.written >= n) {
            Some(EndedBy::Count)
        } else if self.deadline.zip(now).is_some_and(|(d, now)| now >= d) {
            Some(EndedBy::Duration)
        } else {
            None
        }
    }

    /// Steps until the run is over, then [`Driver::finish`]es it.
    pub fn run<S: Source + ?Sized, K: Sink + ?Sized>(
        mut self,
        source: &mut S,
        sink: &mut K,
    ) -> Result<Summary> {
        let result = (|| {
            while self.step(source, sink, self.longest_wait)? != Step::Done {}
            Ok(())
        })();
        match result {
            Ok(()) => self.finish(source, sink),
            Err(e) => {
                // Keep what was written in a well-formed file, then report.
                let _ = source.finish();
                let _ = sink.finish();
                Err(e)
            }
        }
    }

    /// Ends the run: after a stop, what the source already holds is written
    /// too (within `--count`); then the source and the sink are finished.
    pub fn finish<S: Source + ?Sized, K: Sink + ?Sized>(
        mut self,
        source: &mut S,
        sink: &mut K,
    ) -> Result<Summary> {
        let ended = self.ended.unwrap_or(EndedBy::Stop);
        let drained = if matches!(ended, EndedBy::Stop | EndedBy::Duration) {
            let until = Timestamp::now();
            let mut err = None;
            let r = source.drain(until, &mut |from, mut rec| {
                if self.count.is_some_and(|n| self.summary.written >= n) {
                    return Ok(false);
                }
                self.summary.read += 1;
                match self.take(from, &mut rec, sink) {
                    Ok(_) => Ok(true),
                    Err(e) => {
                        err = Some(e);
                        Ok(false)
                    }
                }
            });
            match err {
                Some(e) => Err(e),
                None => r,
            }
        } else {
            Ok(())
        };
        let report = source.finish();
        let finished = sink.finish();
        drained?;
        self.summary.source = report?;
        finished?;
        self.summary.ended_by = ended;
        self.summary.elapsed = self.started.map(|s| s.elapsed()).unwrap_or_default();
        self.summary.outside_window = self.stages.outside_window();
        if let Some(w) = self.stages.window_warning() {
            log::warn!("{w}");
        }
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;
    use crate::frame::Channel;

    struct Vec2(Vec<Record>, Option<Record>);
    impl Source for Vec2 {
        fn next(&mut self, _until: Until) -> Result<Next<'_>> {
            Ok(if self.0.is_empty() {
                Next::End
            } else {
                Next::Record(0, self.1.insert(self.0.remove(0)))
            })
        }
    }
    #[derive(Default)]
    struct Collect(Vec<Record>, bool);
    impl Sink for Collect {
        fn write(&mut self, _from: usize, r: &Record) -> Result<bool> {
            self.0.push(r.clone());
            Ok(true)
        }
        fn finish(&mut self) -> Result<()> {
            self.1 = true;
            Ok(())
        }
    }

    fn recs(specs: &[&str]) -> Vec<Record> {
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Record::new(
                    Timestamp::from_micros(i as i64 * 1000),
                    parse_frame(s).unwrap(),
                )
                .with_channel(Channel::name("can0"))
            })
            .collect()
    }

    #[test]
    fn filters_count_and_summary() {
        let mut stages = Stages::default();
        stages.filters.extend_from_str("123:7FF").unwrap();
        let mut sink = Collect::default();
        let s = Driver::new(stages)
            .count(Some(2))
            .run(
                &mut Vec2(recs(&["123#01", "456#02", "123#03", "123#04"]), None),
                &mut sink,
            )
            .unwrap();
        assert_eq!(sink.0.len(), 2);
        assert!(sink.1, "sink finished");
        assert_eq!(s.read, 3);
        assert_eq!(s.written, 2);
        assert_eq!(s.filtered, 1);
        assert_eq!(s.ended_by, EndedBy::Count);
    }

    #[test]
    fn a_set_stop_ends_before_the_first_record() {
        let stop = Stop::new();
        stop.set();
        let mut sink = Collect::default();
        let s = Driver::new(Stages::default())
            .stop(stop)
            .run(&mut Vec2(recs(&["123#01"]), None), &mut sink)
            .unwrap();
        assert_eq!(s.written, 0);
        assert_eq!(s.ended_by, EndedBy::Stop);
    }
}
