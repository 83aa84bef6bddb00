//! Sources that are not buses: a log read as fast as it reads
//! ([`LogSource`]), a log replayed with its timing ([`ReplaySource`]), frames
//! given as arguments ([`FramesSource`]) and lines streamed from a reader such
//! as stdin ([`LinesSource`]).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{Next, Source, SourceReport, Stop, Until};
use crate::error::{Error, Result};
use crate::format::RecordReader;
use crate::frame::text::{parse_frame, parse_log_line};
use crate::frame::{Channel, Frame, Record, Timestamp};
use crate::replay::{sleep_until, Lateness, Scheduler, Timing};

/// A log, record by record, as fast as it reads. Reader warnings are logged
/// when the log ends.
pub struct LogSource {
    reader: Box<dyn RecordReader>,
    path: PathBuf,
    slot: Option<Record>,
}

impl LogSource {
    /// Reads `reader`, which was opened on `path` (for messages).
    pub fn new(reader: Box<dyn RecordReader>, path: &Path) -> LogSource {
        LogSource {
            reader,
            path: path.to_path_buf(),
            slot: None,
        }
    }
}

impl LogSource {
    #[cold]
    fn failed(&self, e: Error) -> Error {
        Error::io_context(format!("reading {}", self.path.display()), e)
    }
}

impl Source for LogSource {
    #[inline]
    fn next(&mut self, _until: Until) -> Result<Next<'_>> {
        match self.reader.read() {
            Ok(Some(rec)) => Ok(Next::Record(0, self.slot.insert(rec))),
            Ok(None) => Ok(Next::End),
            Err(e) => Err(self.failed(e)),
        }
    }

    fn finish(&mut self) -> Result<SourceReport> {
        let warnings = self.reader.take_warnings();
        for w in &warnings {
            log::warn!("{w}");
        }
        Ok(SourceReport {
            skipped: self.reader.skipped(),
            ..SourceReport::default()
        })
    }
}

/// Decides, for a replay, whether the record may go now (canplayer's
/// interactive `-i`): called with the record and the end of the current
/// wait; true sends it, false asks again at the next step.
pub type Gate = Box<dyn FnMut(&Record, Instant) -> bool + Send>;

/// Opens the log again for each pass of a replay.
pub type Reopen = Box<dyn FnMut() -> Result<Box<dyn RecordReader>> + Send>;

/// A log replayed with its own timing ([`Timing`]: speed, fixed gap, gaps
/// cut short), `passes` times (0 = forever). Each record is handed over when
/// it is due; the clock starts when the first record is in hand, so a slow
/// first read does not bunch the first frames.
pub struct ReplaySource {
    reopen: Reopen,
    reader: Option<Box<dyn RecordReader>>,
    path: PathBuf,
    timing: Timing,
    passes: u64,
    pass: u64,
    sched: Option<Scheduler>,
    pending: Option<(Record, Instant)>,
    slot: Option<Record>,
    stop: Stop,
    lateness: Lateness,
    gate: Option<Gate>,
}

impl ReplaySource {
    /// Replays the log `open` opens (called once per pass), named `path` in
    /// messages. `stop` interrupts a wait for a due time.
    pub fn new(
        mut open: Reopen,
        path: &Path,
        timing: Timing,
        passes: u64,
        stop: Stop,
    ) -> Result<ReplaySource> {
        let reader = open()?;
        Ok(ReplaySource {
            reopen: open,
            reader: Some(reader),
            path: path.to_path_buf(),
            timing,
            passes,
            pass: 1,
            sched: None,
            pending: None,
            slot: None,
            stop,
            lateness: Lateness::default(),
            gate: None,
        })
    }

    /// Hands each record over only when `gate` says so, ignoring the log's
    /// timing (canplayer's interactive mode).
    pub fn gated(mut self, gate: Gate) -> ReplaySource {
        self.gate = Some(gate);
        self
    }

    /// How late the records were handed over after their due times.
    pub fn lateness(&self) -> &Lateness {
        &self.lateness
    }

    /// The next record and its due time, reading (and reopening) the log.
    fn fill(&mut self) -> Result<bool> {
        while self.pending.is_none() {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(false);
            };
            match reader.read() {
                Ok(Some(rec)) => {
                    let due = self
                        .sched
                        .get_or_insert_with(|| Scheduler::new(self.timing, Instant::now()))
                        .due(rec.timestamp);
                    self.pending = Some((rec, due));
                }
                Ok(None) => {
                    for w in reader.take_warnings() {
                        log::warn!("{w}");
                    }
                    if self.passes != 0 && self.pass >= self.passes {
                        self.reader = None;
                        return Ok(false);
                    }
                    self.pass += 1;
                    // Each pass starts its own clock.
                    self.sched = None;
                    self.reader = Some((self.reopen)()?);
                }
                Err(e) => {
                    return Err(Error::io_context(
                        format!("reading {}", self.path.display()),
                        e,
                    ))
                }
            }
        }
        Ok(true)
    }
}

impl Source for ReplaySource {
    fn next(&mut self, until: Until) -> Result<Next<'_>> {
        let until = until.instant();
        if !self.fill()? {
            return Ok(Next::End);
        }
        if let Some(gate) = self.gate.as_mut() {
            let go = match &self.pending {
                Some((rec, _)) => gate(rec, until),
                None => false,
            };
            return Ok(match self.pending.take() {
                Some((rec, _)) if go => Next::Record(0, self.slot.insert(rec)),
                other => {
                    self.pending = other;
                    Next::Idle
                }
            });
        }
        let due = self.pending.as_ref().map_or(until, |p| p.1);
        if due >= until {
            sleep_until(until, &self.stop);
            return Ok(Next::Idle);
        }
        if !sleep_until(due, &self.stop) {
            return Ok(Next::Idle);
        }
        self.lateness
            .add(Instant::now().saturating_duration_since(due));
        Ok(match self.pending.take() {
            Some((rec, _)) => Next::Record(0, self.slot.insert(rec)),
            None => Next::Idle,
        })
    }
}

/// Waits until the `n`th tick of `period` counted from `start` (so ticks do
/// not drift), but not past `until`: true when the tick came, false when the
/// wait ended first (or a stop came).
pub(crate) fn wait_nth(
    start: Instant,
    period: Duration,
    n: u64,
    until: Until,
    stop: &Stop,
) -> bool {
    let until = until.instant();
    let due = start + period.saturating_mul(n.min(u32::MAX as u64) as u32);
    if due >= until {
        sleep_until(until, stop);
        return false;
    }
    sleep_until(due, stop)
}

/// Frames given as arguments: each once, or cycling through the list (with a
/// period, one every period: python-can's `send_periodic` with a list; or as
/// fast as the sink takes them, until a `--count`). Every due time counts
/// from the start, so the period does not drift.
pub struct FramesSource {
    frames: Vec<Frame>,
    period: Option<Duration>,
    cycle: bool,
    next: u64,
    start: Option<Instant>,
    slot: Option<Record>,
    stop: Stop,
}

impl FramesSource {
    /// The frames, once each (`period` none) or cyclically.
    pub fn new(frames: Vec<Frame>, period: Option<Duration>, stop: Stop) -> FramesSource {
        FramesSource {
            frames,
            cycle: period.is_some(),
            period,
            next: 0,
            start: None,
            slot: None,
            stop,
        }
    }
}

impl FramesSource {
    /// Cycles through the list even without a period (a `--count` ends it).
    pub fn cycling(mut self) -> FramesSource {
        self.cycle = true;
        self
    }
}

impl Source for FramesSource {
    fn next(&mut self, until: Until) -> Result<Next<'_>> {
        let n = self.frames.len() as u64;
        if n == 0 || (!self.cycle && self.next >= n) {
            return Ok(Next::End);
        }
        if let Some(p) = self.period {
            let start = *self.start.get_or_insert_with(Instant::now);
            if !wait_nth(start, p, self.next, until, &self.stop) {
                return Ok(Next::Idle);
            }
        }
        let frame = self.frames[(self.next % n) as usize];
        self.next += 1;
        let rec = Record::new(Timestamp::now(), frame);
        Ok(Next::Record(0, self.slot.insert(rec)))
    }
}

/// Lines as they arrive from a reader (stdin): can-utils frames
/// (`123#DEADBEEF`) or candump log lines (`(1.0) can0 123#DE`). Blank lines
/// and comments (`#`, `//`) are passed over; any other line that is not a
/// frame is an error naming its line number.
pub struct LinesSource {
    rx: Receiver<(u64, std::io::Result<String>)>,
    name: String,
    skipped: u64,
    slot: Option<Record>,
    /// With `--timed`: the scheduler of the log lines' times, and the record
    /// waiting for its due time.
    timed: bool,
    sched: Option<Scheduler>,
    pending: Option<(Record, Instant)>,
    stop: Stop,
}

impl LinesSource {
    /// Reads `input` on a thread of its own, so that each line is handed over
    /// as soon as it is complete; `name` names it in messages (`stdin`).
    pub fn new(input: Box<dyn BufRead + Send>, name: &str) -> LinesSource {
        let (tx, rx) = mpsc::sync_channel(1024);
        std::thread::spawn(move || {
            let mut input = input;
            let mut n = 0u64;
            loop {
                let mut line = String::new();
                n += 1;
                match input.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        if tx.send((n, Ok(line))).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send((n, Err(e)));
                        break;
                    }
                }
            }
        });
        LinesSource {
            rx,
            name: name.to_string(),
            skipped: 0,
            slot: None,
            timed: false,
            sched: None,
            pending: None,
            stop: Stop::new(),
        }
    }

    /// Sends candump log lines at their relative times (the first at once,
    /// each later one as far after it as the log says); bare frames go at
    /// once. `stop` interrupts a wait.
    pub fn timed(mut self, stop: Stop) -> LinesSource {
        self.timed = true;
        self.stop = stop;
        self
    }

    fn parse(&mut self, n: u64, line: &str) -> Result<Option<Record>> {
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") || (t.starts_with('#') && !t.contains("##")) {
            self.skipped += 1;
            return Ok(None);
        }
        let rec = if t.starts_with('(') {
            parse_log_line(t).map(|l| {
                // The log's own time rides along for --timed; it is replaced
                // by the send time before the record leaves.
                Record::new(l.timestamp, l.frame).with_channel(Channel::name(l.interface))
            })
        } else {
            parse_frame(t).map(|f| Record::new(Timestamp::now(), f))
        };
        rec.map(Some).map_err(|e| {
            Error::io_context(format!("{} line {n}: '{t}'", self.name), Error::Text(e))
        })
    }
}

impl Source for LinesSource {
    fn next(&mut self, until: Until) -> Result<Next<'_>> {
        let until = until.instant();
        loop {
            if let Some((_, due)) = self.pending {
                if due >= until {
                    sleep_until(until, &self.stop);
                    return Ok(Next::Idle);
                }
                if !sleep_until(due, &self.stop) {
                    return Ok(Next::Idle);
                }
                if let Some((mut rec, _)) = self.pending.take() {
                    rec.timestamp = Timestamp::now();
                    return Ok(Next::Record(0, self.slot.insert(rec)));
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((n, Ok(line))) => {
                    let timed_line = line.trim_start().starts_with('(');
                    if let Some(mut rec) = self.parse(n, &line)? {
                        match self.timed && timed_line {
                            true => {
                                // The clock starts with the first timed line.
                                let due = self
                                    .sched
                                    .get_or_insert_with(|| {
                                        Scheduler::new(Timing::default(), Instant::now())
                                    })
                                    .due(rec.timestamp);
                                self.pending = Some((rec, due));
                            }
                            false => {
                                rec.timestamp = Timestamp::now();
                                return Ok(Next::Record(0, self.slot.insert(rec)));
                            }
                        }
                    }
                }
                Ok((n, Err(e))) => {
                    return Err(Error::io(format!("reading {} at line {n}", self.name), e))
                }
                Err(RecvTimeoutError::Timeout) => return Ok(Next::Idle),
                Err(RecvTimeoutError::Disconnected) => return Ok(Next::End),
            }
        }
    }

    fn finish(&mut self) -> Result<SourceReport> {
        Ok(SourceReport::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_arrive_one_by_one_and_bad_lines_name_their_number() {
        let text = "123#11\n\n# comment\n(1.5) can1 456#22 R\nnot a frame\n";
        let mut s = LinesSource::new(Box::new(std::io::Cursor::new(text.to_string())), "stdin");
        let mut got = Vec::new();
        let err = loop {
            match s.next(Until::after(Duration::from_secs(5))) {
                Ok(Next::Record(_, r)) => got.push(r.frame.to_string()),
                Ok(Next::Idle) => continue,
                Ok(Next::End) => panic!("ended before the bad line"),
                Err(e) => break e.to_string(),
            }
        };
        assert_eq!(got, ["123#11", "456#22"]);
        assert!(err.contains("stdin line 5"), "{err}");
    }

    #[test]
    fn frames_once_each_or_cycling_with_a_period() {
        let f = |s: &str| parse_frame(s).unwrap();
        let mut s = FramesSource::new(vec![f("001#"), f("002#")], None, Stop::new());
        let mut n = 0;
        while let Next::Record(..) = s.next(Until::after(Duration::ZERO)).unwrap() {
            n += 1;
        }
        assert_eq!(n, 2);
        let mut s = FramesSource::new(
            vec![f("001#"), f("002#")],
            Some(Duration::from_millis(1)),
            Stop::new(),
        );
        let mut ids = Vec::new();
        while ids.len() < 5 {
            if let Next::Record(_, r) = s.next(Until::after(Duration::from_millis(50))).unwrap() {
                ids.push(r.frame.id().raw());
            }
        }
        assert_eq!(ids, [1, 2, 1, 2, 1]);
    }
}
