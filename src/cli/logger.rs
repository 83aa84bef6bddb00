//! `can-logger`: records one or more buses to a log file (any format, chosen by
//! extension) or to stdout as candump log lines, until Ctrl-C, `--count` or
//! `--duration`.
//!
//! One bus is read and written by the main thread (no hand-over per frame).
//! Several buses are read by a thread each into one bounded queue, and the main
//! thread writes their records in timestamp order (held up to 200 ms to sort
//! them). A full queue makes the readers wait (the kernel buffers meanwhile), so
//! no frame is dropped by the logger itself. The file is flushed at least once
//! a second, so a killed logger loses at most the last second. Into a file,
//! buses may hold frames back up to 100 ms to hand them over in batches (one
//! wake-up for many frames; timestamps are still the arrival times).
//!
//! On SocketCAN the logger outlives its interfaces: one taken down is waited for
//! on the same socket, one deleted is opened again every second; each outage is
//! reported on stderr as a gap with its start, end and length. Frames the kernel
//! dropped (socket queue overflow) are reported as warnings with running totals,
//! and the run ends with a summary line (a warning when anything was lost).
//! Formats that number channels (BLF, ASC, TRC) get the `-c` channels as 1, 2, ...
//! in the order given; interfaces seen through `-c any` are numbered as they
//! first appear.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::args::{open_bus, BusArgs, Limits, Verbosity};
use super::{StopFlag, UsageError};
use crate::bus::{Bus, BusSettings};
use crate::format::{self, Format, RecordWriter, WriterOptions};
use crate::frame::{Channel, Record, Timestamp};

/// Record CAN traffic to a file or stdout.
#[derive(Parser, Debug)]
#[command(name = "can-logger", version, long_about = None)]
#[command(
    after_help = "Formats by extension: .blf .asc .log (candump) .csv .db (SQLite) .trc .jsonl, \
optionally .gz. Without -f, candump log lines go to stdout.\n\n\
Examples:\n  \
    can-logger                              # default virtual bus vcan0 to stdout\n  \
    can-logger -i virtual -c demo -f demo.log\n  \
    can-logger -i socketcan -c can0 -c can1 -f trace.blf --duration 10m\n  \
    can-logger --filter 7E8:7F8 -f diag.asc"
)]
pub struct Cli {
    /// Log file; '-' or none writes candump lines to stdout
    #[arg(
        short = 'f',
        long = "file",
        visible_alias = "file-name",
        value_name = "FILE"
    )]
    pub file: Option<PathBuf>,

    /// Output format when the file name does not tell it (blf, asc, log, csv, db, trc, jsonl)
    #[arg(long = "format", value_name = "FORMAT")]
    pub format: Option<String>,

    /// Overwrite an existing file
    #[arg(long, conflicts_with = "append")]
    pub force: bool,

    /// Append to an existing file
    #[arg(short = 'a', long)]
    pub append: bool,

    /// Format option (repeatable), e.g. --format-opt compression=9, digits=9
    #[arg(long = "format-opt", value_name = "KEY=VALUE")]
    pub format_opt: Vec<String>,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// Parses `--format-opt` values into writer options.
pub fn writer_options(items: &[String], force: bool, append: bool) -> Result<WriterOptions> {
    let mut opts = WriterOptions {
        force,
        append,
        ..WriterOptions::default()
    };
    for kv in items {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--format-opt '{kv}' is not KEY=VALUE")))?;
        opts.options.insert(k.to_string(), v.to_string());
    }
    Ok(opts)
}

/// Parses a `--format`/`--input-format` name.
pub fn format_arg(name: Option<&str>) -> Result<Option<Format>> {
    match name {
        None => Ok(None),
        Some(n) => Format::from_name(n).map(Some).ok_or_else(|| {
            UsageError(format!("unknown format '{n}' (known: {})", Format::names())).into()
        }),
    }
}

/// True for formats that number channels (1-based) rather than name them.
pub fn numbers_channels(f: Format) -> bool {
    matches!(f, Format::Blf | Format::Asc | Format::Trc)
}

enum Msg {
    /// A record from the bus with this index.
    Record(usize, Record),
    Failed(usize, anyhow::Error),
}

/// What one reader thread saw besides frames, for the final summary.
#[derive(Default)]
struct ReaderStats {
    /// Frames the backend reported lost (the kernel's socket-queue overflows).
    dropped: u64,
    /// Times the interface went away (down or deleted) and came back.
    gaps: u32,
    /// Their total length.
    gap_time: Duration,
}

/// How often a vanished (deleted) interface is looked for again.
const REOPEN_EVERY: Duration = Duration::from_secs(1);
/// Dropped-frame warnings are grouped so an overloaded bus is not a flood of them.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);
/// After a stop, the longest time spent recording what the buses already hold.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How long a bus may hold frames back when recording into a file
/// ([`Bus::set_receive_latency`]): fewer wake-ups on a busy bus.
const BATCH_LATENCY: Duration = Duration::from_millis(100);

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

/// How a receive error is handled: a socketcan interface that went down or
/// away is waited for; anything else ends the logger.
enum Outage {
    /// `ENETDOWN`: the socket stays bound; frames resume when it is up again.
    Down,
    /// `ENODEV`: the interface was deleted; the bus must be opened again.
    Gone,
}

#[cfg(target_os = "linux")]
fn outage(settings: &BusSettings, e: &crate::Error) -> Option<Outage> {
    use crate::bus::socketcan::{is_interface_down, is_interface_gone};
    if settings.interface != "socketcan" {
        None
    } else if is_interface_down(e) {
        Some(Outage::Down)
    } else if is_interface_gone(e) {
        Some(Outage::Gone)
    } else {
        None
    }
}

#[cfg(not(target_os = "linux"))]
fn outage(_settings: &BusSettings, _e: &crate::Error) -> Option<Outage> {
    None
}

/// Reads one bus, riding out interface outages: an interface taken down is
/// waited for on the same socket (warned once); a deleted one is opened again
/// every second. Each outage is reported as a gap with its start, end and
/// length; frames the kernel dropped are reported with running totals.
struct Reader {
    settings: BusSettings,
    bus: Option<Box<dyn Bus>>,
    stats: ReaderStats,
    /// Start of the current outage (wall clock and monotonic).
    outage_since: Option<(Timestamp, Instant)>,
    last_reopen: Option<Instant>,
    unreported_drops: u64,
    last_drop_report: Option<Instant>,
    /// How long the bus may hold frames back to hand them over in batches.
    latency: Duration,
}

impl Reader {
    fn new(mut bus: Box<dyn Bus>, settings: BusSettings, latency: Duration) -> Reader {
        bus.set_receive_latency(latency);
        Reader {
            settings,
            latency,
            bus: Some(bus),
            stats: ReaderStats::default(),
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
        self.stats.gaps += 1;
        self.stats.gap_time += took;
        log::warn!(
            "'{}' is back: no frames could be recorded from {} to {} ({:.3} s)",
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
            match crate::bus::open(&self.settings) {
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
            Err(e) => match outage(&self.settings, &e) {
                Some(kind) => {
                    let first = self.outage_since.is_none();
                    if first {
                        self.outage_since = Some((Timestamp::now(), Instant::now()));
                    }
                    let at = self.outage_since.map(|s| utc(s.0)).unwrap_or_default();
                    let name = &self.settings.channel;
                    match kind {
                        Outage::Down if first => log::warn!(
                            "'{name}' went down at {at}; still running, recording resumes when it is up"
                        ),
                        Outage::Down => {}
                        Outage::Gone => {
                            log::warn!(
                                "'{name}' was deleted (down since {at}); trying to open it again every second"
                            );
                            if let Some(mut old) = self.bus.take() {
                                self.note_drops(old.take_dropped());
                                let _ = old.close();
                            }
                            self.last_reopen = Some(Instant::now());
                        }
                    }
                    None
                }
                None => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("receiving on '{}'", self.settings.channel)))
                }
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

    /// Counts frames the backend lost; warns at most once a second.
    fn note_drops(&mut self, d: u64) {
        self.stats.dropped += d;
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
            self.stats.dropped
        );
        self.unreported_drops = 0;
        self.last_drop_report = Some(Instant::now());
    }

    /// After a stop at `until`: hands what the bus already holds to `each` (at
    /// most `limit` records), up to the first frame that arrived after the
    /// stop, for at most [`DRAIN_LIMIT`]. `each` returns false to end early.
    fn drain(
        &mut self,
        until: Timestamp,
        mut limit: u64,
        mut each: impl FnMut(Record) -> Result<bool>,
    ) -> Result<()> {
        let end = Instant::now() + DRAIN_LIMIT;
        while limit > 0 {
            if Instant::now() >= end {
                log::warn!(
                    "'{}': gave up after {} s recording the frames queued before the stop",
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
            limit -= 1;
        }
        Ok(())
    }

    /// Closes the bus and reports what is still unreported.
    fn finish(mut self) -> ReaderStats {
        if let Some(mut b) = self.bus.take() {
            // Closing may learn of drops after the last frame received.
            let _ = b.close();
            let d = b.take_dropped();
            self.stats.dropped += d;
            self.unreported_drops += d;
        }
        if self.unreported_drops > 0 {
            self.report_drops("in all");
        }
        if let Some((at, since)) = self.outage_since {
            self.stats.gaps += 1;
            self.stats.gap_time += since.elapsed();
            log::warn!(
                "'{}' was still unavailable at the end (since {}, {:.3} s)",
                self.settings.channel,
                utc(at),
                since.elapsed().as_secs_f64()
            );
        }
        self.stats
    }
}

/// The thread that reads one of several buses into the shared queue.
fn reader_thread(
    idx: usize,
    mut reader: Reader,
    tx: SyncSender<Msg>,
    stop: StopFlag,
) -> ReaderStats {
    while !stop.is_set() {
        match reader.next(Duration::from_millis(100)) {
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
    // Stopped: what the kernel already queued for us is recorded too.
    let _ = reader.drain(Timestamp::now(), u64::MAX, |rec| {
        Ok(tx.send(Msg::Record(idx, rec)).is_ok())
    });
    reader.finish()
}

/// Where records come from: one bus read by the writing thread itself (no
/// hand-over per frame), or several buses read by threads into one queue.
enum Source {
    Direct(Box<Reader>),
    Threads {
        rx: Receiver<Msg>,
        threads: Vec<std::thread::JoinHandle<ReaderStats>>,
        held: Reorder,
    },
}

/// What [`Source::next`] produced.
enum Event {
    Record(usize, Record),
    Failed(usize, anyhow::Error),
    Timeout,
    Ended,
}

/// How long records of several buses are held to be written in timestamp
/// order: the reader threads hand them over in whatever order they run.
/// It covers [`BATCH_LATENCY`] with 100 ms to spare.
const REORDER_WINDOW: Duration = Duration::from_millis(200);
/// The most records held (beyond it, the oldest goes out at once).
const REORDER_MAX: usize = 65_536;

/// Records of several buses, put back in timestamp order.
#[derive(Default)]
struct Reorder {
    heap: BinaryHeap<Reverse<Held>>,
    seq: u64,
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
        if all || self.heap.len() > REORDER_MAX || top.0.arrived.elapsed() >= REORDER_WINDOW {
            self.heap.pop().map(|Reverse(h)| (h.idx, h.rec))
        } else {
            None
        }
    }

    /// How long until the earliest record may go.
    fn due_in(&self) -> Option<Duration> {
        self.heap
            .peek()
            .map(|t| REORDER_WINDOW.saturating_sub(t.0.arrived.elapsed()))
    }
}

impl Source {
    fn next(&mut self, wait: Duration) -> Event {
        match self {
            Source::Direct(r) => match r.next(wait) {
                Ok(Some(rec)) => Event::Record(0, rec),
                Ok(None) => Event::Timeout,
                Err(e) => Event::Failed(0, e),
            },
            Source::Threads { rx, held, .. } => {
                let end = Instant::now() + wait;
                loop {
                    if let Some((i, rec)) = held.pop(false) {
                        return Event::Record(i, rec);
                    }
                    let left = end.saturating_duration_since(Instant::now());
                    let w = held.due_in().map_or(left, |d| d.min(left));
                    match rx.recv_timeout(w) {
                        Ok(Msg::Record(i, rec)) => held.push(i, rec),
                        Ok(Msg::Failed(i, e)) => return Event::Failed(i, e),
                        Err(RecvTimeoutError::Timeout) => {
                            if Instant::now() >= end {
                                return Event::Timeout;
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            return match held.pop(true) {
                                Some((i, rec)) => Event::Record(i, rec),
                                None => Event::Ended,
                            }
                        }
                    }
                }
            }
        }
    }

    /// After a stop at `until`: the records already received (at most `limit`;
    /// see [`Reader::drain`]).
    fn drain(
        &mut self,
        until: Timestamp,
        limit: u64,
        mut each: impl FnMut(usize, Record) -> Result<()>,
    ) -> Result<()> {
        let mut n = 0;
        match self {
            Source::Direct(r) => {
                r.drain(until, limit, |rec| {
                    each(0, rec)?;
                    Ok(true)
                })?;
            }
            Source::Threads { rx, held, .. } => {
                // The threads end within their receive timeout once stopped.
                for msg in rx.iter() {
                    if let Msg::Record(i, rec) = msg {
                        held.push(i, rec);
                    }
                }
                while n < limit {
                    let Some((i, rec)) = held.pop(true) else {
                        break;
                    };
                    each(i, rec)?;
                    n += 1;
                }
            }
        }
        Ok(())
    }

    /// Ends the readers and sums what they saw.
    fn finish(self) -> ReaderStats {
        match self {
            Source::Direct(r) => r.finish(),
            Source::Threads { rx, threads, .. } => {
                drop(rx);
                let mut stats = ReaderStats::default();
                for t in threads {
                    if let Ok(s) = t.join() {
                        stats.dropped += s.dropped;
                        stats.gaps += s.gaps;
                        stats.gap_time += s.gap_time;
                    }
                }
                stats
            }
        }
    }
}

/// Numbers channels for formats that number them (BLF, ASC, TRC): the channels
/// given with `-c` are 1, 2, ... in the order given; the interfaces a `-c any`
/// bus reports get the next numbers as they first appear.
struct Numbering {
    /// The fixed number of each bus, none for an `any` bus.
    fixed: Vec<Option<u32>>,
    /// Channel names by number - 1.
    known: Vec<Channel>,
}

impl Numbering {
    fn new(settings: &[BusSettings]) -> Numbering {
        let mut known = Vec::new();
        let mut fixed = Vec::new();
        for s in settings {
            if s.interface == "socketcan" && s.channel == "any" {
                fixed.push(None);
            } else {
                known.push(Channel::name(&s.channel));
                fixed.push(Some(known.len() as u32));
            }
        }
        Numbering { fixed, known }
    }

    fn number(&mut self, idx: usize, channel: &Channel) -> u32 {
        if let Some(Some(n)) = self.fixed.get(idx) {
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

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-logger");
    let explicit = format_arg(cli.format.as_deref())?;
    let path = cli.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let to_stdout = path.as_os_str() == "-";
    let fmt = if to_stdout {
        explicit.unwrap_or(Format::Candump)
    } else {
        format::resolve_format(&path, explicit)
            .map_err(|e| UsageError(e.to_string()))?
            .0
    };
    if fmt == Format::Sqlite && to_stdout {
        bail!(UsageError(
            "SQLite cannot be written to stdout; give -f FILE.db".into()
        ));
    }
    let opts = writer_options(&cli.format_opt, cli.force, cli.append)?;
    let settings = cli.bus.settings_all()?;
    let mut buses: Vec<Box<dyn Bus>> = Vec::new();
    for s in &settings {
        buses.push(open_bus(s)?);
    }
    let mut writer: Box<dyn RecordWriter> = format::create_writer(&path, Some(fmt), &opts)
        .with_context(|| format!("opening {}", path.display()))?;
    let names: Vec<String> = settings
        .iter()
        .map(|s| format!("{} '{}'", s.interface, s.channel))
        .collect();
    // Before saying so: a Ctrl-C right after "recording" finishes the file.
    let stop = StopFlag::install();
    log::info!(
        "recording {} to {}",
        names.join(", "),
        if to_stdout {
            "stdout".to_string()
        } else {
            path.display().to_string()
        }
    );

    // Into a file, frames may wait in the kernel's queue a little so that the
    // bus is read in batches (timestamps are taken on arrival); on stdout every
    // frame goes out at once.
    let latency = if to_stdout {
        Duration::ZERO
    } else {
        BATCH_LATENCY
    };
    let mut numbering = numbers_channels(fmt).then(|| Numbering::new(&settings));
    let mut source = if buses.len() == 1 {
        let bus = buses.pop().context("no bus")?;
        Source::Direct(Box::new(Reader::new(bus, settings[0].clone(), latency)))
    } else {
        let (tx, rx) = mpsc::sync_channel::<Msg>(8192);
        let mut threads = Vec::new();
        for (i, bus) in buses.into_iter().enumerate() {
            let (tx, stop) = (tx.clone(), stop.clone());
            let reader = Reader::new(bus, settings[i].clone(), latency);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("rx-{i}"))
                    .spawn(move || reader_thread(i, reader, tx, stop))
                    .context("starting a receive thread")?,
            );
        }
        Source::Threads {
            rx,
            threads,
            held: Reorder::default(),
        }
    };
    let mut write = |writer: &mut Box<dyn RecordWriter>, idx: usize, mut rec: Record| {
        if let Some(n) = numbering.as_mut() {
            rec.channel = Channel::Number(n.number(idx, &rec.channel));
        }
        writer.write(&rec)
    };

    let start = Instant::now();
    let end = cli.limits.duration.map(|d| start + d);
    let mut count: u64 = 0;
    let mut last_flush = Instant::now();
    let mut failure = None;
    // On stdout, lines are flushed when the bus goes quiet (and at least every second).
    let mut pending_stdout = false;
    let flush_every = Duration::from_millis(if to_stdout { 50 } else { 1000 });
    loop {
        if stop.is_set() || cli.limits.count.is_some_and(|n| count >= n) {
            break;
        }
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            break;
        }
        // Short waits while stdout has unflushed lines, so they go out when the bus goes quiet.
        let longest = Duration::from_millis(if pending_stdout { 20 } else { 200 });
        let wait = end
            .map(|e| e.saturating_duration_since(now))
            .unwrap_or(longest)
            .min(longest);
        match source.next(wait) {
            Event::Record(idx, rec) => {
                write(&mut writer, idx, rec)?;
                count += 1;
                pending_stdout = to_stdout;
                if last_flush.elapsed() >= flush_every {
                    writer.flush()?;
                    last_flush = Instant::now();
                }
            }
            Event::Failed(i, e) => {
                failure = Some(e.context(names[i].clone()));
                break;
            }
            Event::Timeout => {
                if pending_stdout {
                    writer.flush()?;
                    pending_stdout = false;
                    last_flush = Instant::now();
                } else if last_flush.elapsed() >= flush_every {
                    writer.flush()?;
                    last_flush = Instant::now();
                }
            }
            Event::Ended => break,
        }
    }
    // Frames already received are written too: a stop never drops them.
    stop.set();
    let stopped_at = Timestamp::now();
    if failure.is_none() {
        let limit = cli
            .limits
            .count
            .map_or(u64::MAX, |n| n.saturating_sub(count));
        source.drain(stopped_at, limit, |idx, rec| {
            write(&mut writer, idx, rec)?;
            count += 1;
            Ok(())
        })?;
    }
    let stats = source.finish();
    let finished = writer.finish();
    if let Some(e) = failure {
        finished.ok();
        return Err(e);
    }
    finished.with_context(|| format!("finishing {}", path.display()))?;
    let summary = format!(
        "{count} frame(s) recorded in {:.1} s; {} dropped by the kernel; {} gap(s){}",
        start.elapsed().as_secs_f64(),
        stats.dropped,
        stats.gaps,
        if stats.gaps > 0 {
            format!(" totalling {:.3} s", stats.gap_time.as_secs_f64())
        } else {
            String::new()
        }
    );
    if stats.dropped > 0 || stats.gaps > 0 {
        log::warn!("{summary}");
    } else {
        log::info!("{summary}");
    }
    Ok(())
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

    #[test]
    fn channels_are_numbered_in_the_order_given_then_as_seen() {
        let s = |c: &str| BusSettings::new("socketcan", c);
        let mut n = Numbering::new(&[s("vcan1"), s("any"), s("vcan0")]);
        let name = Channel::name;
        assert_eq!(n.number(0, &name("vcan1")), 1);
        assert_eq!(n.number(2, &name("vcan0")), 2);
        // Through `any`: a given channel keeps its number, others come next.
        assert_eq!(n.number(1, &name("vcan0")), 2);
        assert_eq!(n.number(1, &name("can7")), 3);
        assert_eq!(n.number(1, &name("can5")), 4);
        assert_eq!(n.number(1, &name("can7")), 3);
        // `any` alone: first seen is 1.
        let mut n = Numbering::new(&[s("any")]);
        assert_eq!(n.number(0, &name("vcan9")), 1);
        assert_eq!(n.number(0, &name("vcan3")), 2);
    }
}
