//! [`BusSource`]: one or several buses as one stream of records.
//!
//! One bus is read by the calling thread (no hand-over per frame). Several
//! buses are read by a thread each into one bounded queue; with a reorder
//! window (the logger's choice) their records are held that long and handed
//! over in timestamp order, without one (a bridge, a viewer) at once. A full
//! queue makes the readers wait (the kernel buffers meanwhile), so no frame is
//! dropped here.
//!
//! Buses outlive their interfaces where the backend says an error is an
//! outage ([`Bus::outage`], SocketCAN): one taken down is waited for on the
//! same socket, one deleted is opened again every second; each outage is
//! reported as a gap with its start, end and length. Frames the backend
//! reports lost are warned about with running totals. After a stop, what the
//! buses already queued before it is still handed over ([`Source::drain`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Next, Source, SourceReport, Stop, Until};
use crate::bus::{self, Bus, BusSettings, Outage};
use crate::error::{Error, Result};
use crate::frame::{Record, Timestamp};

/// How often a vanished (deleted) interface is looked for again.
const REOPEN_EVERY: Duration = Duration::from_secs(1);
/// Dropped-frame warnings are grouped so an overloaded bus is not a flood of them.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);
/// After a stop, the longest time spent handing over what the buses hold.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// The most records held for reordering (beyond it, the oldest goes out at once).
const REORDER_MAX: usize = 65_536;
/// How long a reader thread waits per receive, so that it notices a stop.
const THREAD_WAIT: Duration = Duration::from_millis(100);

/// How a [`BusSource`] reads its buses.
#[derive(Clone, Copy, Debug, Default)]
pub struct BusSourceOptions {
    /// How long a bus may hold frames back to hand them over in batches
    /// ([`Bus::set_receive_latency`]): a logger writing a file takes 100 ms,
    /// a viewer or bridge none.
    pub latency: Duration,
    /// With several buses: how long records are held to be handed over in
    /// timestamp order (cover `latency`); zero hands them over as they come.
    pub reorder: Duration,
}

/// `2026-11-25 00:12:03.123456 UTC`.
fn utc(t: Timestamp) -> String {
    let secs = t.secs();
    let (y, m, d) = crate::format::civil::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06} UTC",
        s / 3600,
        s / 60 % 60,
        s % 60,
        t.subsec_nanos() / 1000
    )
}

/// True if network interface `name` is administratively up (from sysfs); true
/// when that cannot be read, so that only a frame decides then.
fn interface_up(name: &str) -> bool {
    match std::fs::read_to_string(format!("/sys/class/net/{name}/flags")) {
        Ok(text) => {
            let t = text.trim().trim_start_matches("0x");
            u32::from_str_radix(t, 16).map_or(true, |f| f & 1 != 0)
        }
        Err(_) => true,
    }
}

/// Reads one bus, riding out outages and counting drops.
struct Reader {
    settings: BusSettings,
    bus: Option<Box<dyn Bus>>,
    report: SourceReport,
    /// Start of the current outage (wall clock and monotonic).
    outage_since: Option<(Timestamp, Instant)>,
    last_reopen: Option<Instant>,
    unreported_drops: u64,
    last_drop_report: Option<Instant>,
    latency: Duration,
    /// Drops of every bus of the source, as they are learnt (for a status line).
    dropped: Arc<AtomicU64>,
}

impl Reader {
    fn new(
        mut bus: Box<dyn Bus>,
        settings: BusSettings,
        latency: Duration,
        dropped: Arc<AtomicU64>,
    ) -> Reader {
        bus.set_receive_latency(latency);
        Reader {
            settings,
            latency,
            dropped,
            bus: Some(bus),
            report: SourceReport::default(),
            outage_since: None,
            last_reopen: None,
            unreported_drops: 0,
            last_drop_report: None,
        }
    }

    fn end_outage(&mut self) {
        let Some((at, since)) = self.outage_since.take() else {
            return;
        };
        let took = since.elapsed();
        self.report.gaps += 1;
        self.report.gap_time += took;
        log::warn!(
            "'{}' is back: no frames could be received from {} to {} ({:.3} s)",
            self.settings.channel,
            utc(at),
            utc(Timestamp::now()),
            took.as_secs_f64()
        );
    }

    /// Waits up to `timeout` for the next record. Outages are handled here
    /// (`Ok(None)`); any other receive error is returned.
    fn next(&mut self, timeout: Duration) -> Result<Option<Record>> {
        let Some(bus) = self.bus.as_mut() else {
            // Deleted: look for it again every second, staying responsive to a stop.
            if let Some(t) = self.last_reopen {
                let left = REOPEN_EVERY.saturating_sub(t.elapsed());
                if !left.is_zero() {
                    std::thread::sleep(left.min(timeout).min(Duration::from_millis(50)));
                    return Ok(None);
                }
            }
            self.last_reopen = Some(Instant::now());
            match bus::open(&self.settings) {
                Ok(mut b) => {
                    b.set_receive_latency(self.latency);
                    self.bus = Some(b);
                    self.end_outage();
                }
                Err(e) => log::debug!("reopening '{}': {e}", self.settings.channel),
            }
            return Ok(None);
        };
        let got = match bus.recv(Some(timeout)) {
            Ok(got) => {
                // Frames queued before the interface went down still arrive:
                // the outage ends only once the interface is up again.
                if self.outage_since.is_some() && interface_up(&self.settings.channel) {
                    self.end_outage();
                }
                got
            }
            Err(e) => match bus.outage(&e) {
                Some(kind) => {
                    self.begin_outage(kind);
                    None
                }
                None => return Err(e),
            },
        };
        if let Some(b) = self.bus.as_mut() {
            let d = b.take_dropped();
            if d > 0 {
                self.note_drops(d);
            }
        }
        Ok(got)
    }

    fn begin_outage(&mut self, kind: Outage) {
        let first = self.outage_since.is_none();
        if first {
            self.outage_since = Some((Timestamp::now(), Instant::now()));
        }
        let at = self.outage_since.map(|s| utc(s.0)).unwrap_or_default();
        let name = self.settings.channel.clone();
        match kind {
            Outage::Down if first => log::warn!(
                "'{name}' went down at {at}; still running, receiving resumes when it is up"
            ),
            Outage::Down => {}
            Outage::Gone => {
                log::warn!(
                    "'{name}' was deleted (down since {at}); trying to open it again every second"
                );
                if let Some(mut old) = self.bus.take() {
                    let d = old.take_dropped();
                    self.note_drops(d);
                    let _ = old.close();
                }
                self.last_reopen = Some(Instant::now());
            }
        }
    }

    /// Counts frames the backend lost; warns at most once a second.
    fn note_drops(&mut self, d: u64) {
        self.report.dropped += d;
        self.dropped.fetch_add(d, Ordering::Relaxed);
        self.unreported_drops += d;
        if self.unreported_drops > 0
            && self
                .last_drop_report
                .is_none_or(|t| t.elapsed() >= DROP_REPORT_EVERY)
        {
            self.report_drops("so far");
        }
    }

    fn report_drops(&mut self, total: &str) {
        log::warn!(
            "the kernel dropped {} frame(s) on '{}' (receive queue full); {} {total}",
            self.unreported_drops,
            self.settings.channel,
            self.report.dropped
        );
        self.unreported_drops = 0;
        self.last_drop_report = Some(Instant::now());
    }

    /// After a stop at `until`: hands what the bus already holds to `each`, up
    /// to the first frame that arrived after the stop, for at most
    /// [`DRAIN_LIMIT`]. `each` returns false to end early.
    fn drain(
        &mut self,
        until: Timestamp,
        each: &mut dyn FnMut(Record) -> Result<bool>,
    ) -> Result<()> {
        let end = Instant::now() + DRAIN_LIMIT;
        loop {
            if Instant::now() >= end {
                log::warn!(
                    "'{}': gave up after {} s taking the frames queued before the stop",
                    self.settings.channel,
                    DRAIN_LIMIT.as_secs()
                );
                break;
            }
            let Ok(Some(rec)) = self.next(Duration::ZERO) else {
                break;
            };
            // A frame after the stop ends it; a timestamp on another clock
            // (hardware time) is not compared.
            let after = rec.timestamp.0 - until.0;
            if after > 0 && after < 3_600_000_000_000 {
                break;
            }
            if !each(rec)? {
                break;
            }
        }
        Ok(())
    }

    /// Closes the bus and reports what is still unreported.
    fn finish(&mut self) -> SourceReport {
        if let Some(mut b) = self.bus.take() {
            // Closing may learn of drops after the last frame received.
            let _ = b.close();
            let d = b.take_dropped();
            self.report.dropped += d;
            self.dropped.fetch_add(d, Ordering::Relaxed);
            self.unreported_drops += d;
        }
        if self.unreported_drops > 0 {
            self.report_drops("in all");
        }
        if let Some((at, since)) = self.outage_since.take() {
            self.report.gaps += 1;
            self.report.gap_time += since.elapsed();
            log::warn!(
                "'{}' was still unavailable at the end (since {}, {:.3} s)",
                self.settings.channel,
                utc(at),
                since.elapsed().as_secs_f64()
            );
        }
        std::mem::take(&mut self.report)
    }
}

enum Msg {
    Record(usize, Record),
    Failed(usize, Error),
}

/// The thread that reads one of several buses into the shared queue.
fn reader_thread(idx: usize, mut reader: Reader, tx: SyncSender<Msg>, stop: Stop) -> SourceReport {
    while !stop.is_set() {
        match reader.next(THREAD_WAIT) {
            Ok(Some(rec)) => {
                if tx.send(Msg::Record(idx, rec)).is_err() {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => {
                let _ = tx.send(Msg::Failed(idx, e));
                return reader.finish();
            }
        }
    }
    // Stopped: what the kernel already queued for us is handed over too.
    let _ = reader.drain(Timestamp::now(), &mut |rec| {
        Ok(tx.send(Msg::Record(idx, rec)).is_ok())
    });
    reader.finish()
}

/// Records of several buses, put back in timestamp order.
#[derive(Default)]
struct Reorder {
    heap: BinaryHeap<Reverse<Held>>,
    seq: u64,
    window: Duration,
}

struct Held {
    timestamp: Timestamp,
    seq: u64,
    arrived: Instant,
    idx: usize,
    rec: Record,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.timestamp, self.seq) == (other.timestamp, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.timestamp, self.seq).cmp(&(other.timestamp, other.seq))
    }
}

impl Reorder {
    fn push(&mut self, idx: usize, rec: Record) {
        self.seq += 1;
        self.heap.push(Reverse(Held {
            timestamp: rec.timestamp,
            seq: self.seq,
            arrived: Instant::now(),
            idx,
            rec,
        }));
    }

    /// The earliest record, if it has waited long enough (or `all`).
    fn pop(&mut self, all: bool) -> Option<(usize, Record)> {
        let top = self.heap.peek()?;
        if all || self.heap.len() > REORDER_MAX || top.0.arrived.elapsed() >= self.window {
            self.heap.pop().map(|Reverse(h)| (h.idx, h.rec))
        } else {
            None
        }
    }

    /// How long until the earliest record may go.
    fn due_in(&self) -> Option<Duration> {
        self.heap
            .peek()
            .map(|t| self.window.saturating_sub(t.0.arrived.elapsed()))
    }
}

enum Inner {
    Direct(Box<Reader>),
    Threads {
        rx: Option<Receiver<Msg>>,
        threads: Vec<std::thread::JoinHandle<SourceReport>>,
        held: Reorder,
        stop: Stop,
    },
}

/// One or several open buses as one [`Source`]; the record's input index is
/// the bus's position in the list given.
pub struct BusSource {
    inner: Inner,
    names: Vec<String>,
    slot: Option<Record>,
    dropped: Arc<AtomicU64>,
}

impl BusSource {
    /// Reads these buses (each with the settings it was opened with, used to
    /// name it and to open it again after an outage).
    pub fn new(
        buses: Vec<(Box<dyn Bus>, BusSettings)>,
        opts: BusSourceOptions,
    ) -> Result<BusSource> {
        let names = buses
            .iter()
            .map(|(_, s)| format!("{} '{}'", s.interface, s.channel))
            .collect();
        let dropped = Arc::new(AtomicU64::new(0));
        let inner = if buses.len() == 1 {
            let Some((bus, settings)) = buses.into_iter().next() else {
                unreachable!("one bus");
            };
            Inner::Direct(Box::new(Reader::new(
                bus,
                settings,
                opts.latency,
                dropped.clone(),
            )))
        } else {
            let (tx, rx) = mpsc::sync_channel::<Msg>(8192);
            let stop = Stop::new();
            let mut threads = Vec::new();
            for (i, (bus, settings)) in buses.into_iter().enumerate() {
                let (tx, stop) = (tx.clone(), stop.clone());
                let reader = Reader::new(bus, settings, opts.latency, dropped.clone());
                let t = std::thread::Builder::new()
                    .name(format!("rx-{i}"))
                    .spawn(move || reader_thread(i, reader, tx, stop))
                    .map_err(|e| Error::io("starting a receive thread", e))?;
                threads.push(t);
            }
            Inner::Threads {
                rx: Some(rx),
                threads,
                held: Reorder {
                    window: opts.reorder,
                    ..Reorder::default()
                },
                stop,
            }
        };
        Ok(BusSource {
            inner,
            names,
            slot: None,
            dropped,
        })
    }

    /// Frames the backends reported lost so far (the summary has the total).
    pub fn dropped_so_far(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// `interface 'channel'` of each bus, for messages.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn failed(&self, idx: usize, e: Error) -> Error {
        let name = self.names.get(idx).cloned().unwrap_or_default();
        Error::io_context(format!("receiving on {name}"), e)
    }
}

impl Source for BusSource {
    fn next(&mut self, until: Until) -> Result<Next<'_>> {
        let until = until.instant();
        let failed = match &mut self.inner {
            Inner::Direct(r) => match r.next(until.saturating_duration_since(Instant::now())) {
                Ok(Some(rec)) => return Ok(Next::Record(0, self.slot.insert(rec))),
                Ok(None) => return Ok(Next::Idle),
                Err(e) => (0, e),
            },
            Inner::Threads { rx, held, .. } => {
                let Some(queue) = rx.as_ref() else {
                    return Ok(Next::End);
                };
                let end = until;
                loop {
                    if let Some((i, rec)) = held.pop(false) {
                        return Ok(Next::Record(i, self.slot.insert(rec)));
                    }
                    let left = end.saturating_duration_since(Instant::now());
                    let w = held.due_in().map_or(left, |d| d.min(left));
                    match queue.recv_timeout(w) {
                        Ok(Msg::Record(i, rec)) => held.push(i, rec),
                        Ok(Msg::Failed(i, e)) => break (i, e),
                        Err(RecvTimeoutError::Timeout) => {
                            if Instant::now() >= end {
                                return Ok(Next::Idle);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            return Ok(match held.pop(true) {
                                Some((i, rec)) => Next::Record(i, self.slot.insert(rec)),
                                None => Next::End,
                            })
                        }
                    }
                }
            }
        };
        Err(self.failed(failed.0, failed.1))
    }

    fn drain(
        &mut self,
        until: Timestamp,
        each: &mut dyn FnMut(usize, Record) -> Result<bool>,
    ) -> Result<()> {
        match &mut self.inner {
            Inner::Direct(r) => r.drain(until, &mut |rec| each(0, rec)),
            Inner::Threads { rx, held, stop, .. } => {
                stop.set();
                // The threads end within their receive timeout once stopped.
                if let Some(queue) = rx.take() {
                    for msg in queue.iter() {
                        if let Msg::Record(i, rec) = msg {
                            held.push(i, rec);
                        }
                    }
                }
                while let Some((i, rec)) = held.pop(true) {
                    if !each(i, rec)? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> Result<SourceReport> {
        match &mut self.inner {
            Inner::Direct(r) => Ok(r.finish()),
            Inner::Threads {
                rx, threads, stop, ..
            } => {
                stop.set();
                rx.take();
                let mut report = SourceReport::default();
                for t in threads.drain(..) {
                    if let Ok(s) = t.join() {
                        report.dropped += s.dropped;
                        report.gaps += s.gaps;
                        report.gap_time += s.gap_time;
                    }
                }
                Ok(report)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        let t = Timestamp::from_parts(1_764_029_523, 123_456_789);
        assert_eq!(utc(t), "2025-11-25 00:12:03.123456 UTC");
        assert_eq!(utc(Timestamp(0)), "1970-01-01 00:00:00.000000 UTC");
    }
}
