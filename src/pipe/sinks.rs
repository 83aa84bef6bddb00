//! Sinks: a log writer ([`WriterSink`]) and one or several buses
//! ([`BusSink`], routed by input or by the record's channel).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::forward::Forward;
use super::Sink;
use crate::bus::{Bus, BusSettings, Outage};
use crate::error::{Error, Result};
use crate::format::RecordWriter;
use crate::frame::{Channel, Record};

/// A log writer; while recording, flushed at least every so often (so a
/// killed process loses at most that much) and, for a live view on stdout,
/// whenever the source goes quiet. Converting a file flushes only at the end
/// (and reads no clock per record).
pub struct WriterSink {
    writer: Box<dyn RecordWriter>,
    path: PathBuf,
    last_flush: Instant,
    flush_every: Option<Duration>,
    flush_when_idle: bool,
    pending: bool,
}

impl WriterSink {
    /// Writes to `writer`, opened on `path` (for messages).
    pub fn new(writer: Box<dyn RecordWriter>, path: &Path) -> WriterSink {
        WriterSink {
            writer,
            path: path.to_path_buf(),
            last_flush: Instant::now(),
            flush_every: None,
            flush_when_idle: false,
            pending: false,
        }
    }

    /// Flushes at least every `every` (a logger: 1 s).
    pub fn flush_every(mut self, every: Duration) -> WriterSink {
        self.flush_every = Some(every);
        self
    }

    /// Flushes whenever the source has nothing (stdout watched by a person
    /// or a pipe), and at least every `every`.
    pub fn live(mut self, every: Duration) -> WriterSink {
        self.flush_when_idle = true;
        self.flush_every(every)
    }

    /// The writer's bound of its output so far ([`RecordWriter::size_bound`]).
    pub fn size_bound(&self) -> Option<u64> {
        self.writer.size_bound()
    }

    fn flush_due(&self) -> bool {
        self.flush_every
            .is_some_and(|every| self.last_flush.elapsed() >= every)
    }

    fn flush(&mut self) -> Result<()> {
        self.pending = false;
        self.last_flush = Instant::now();
        self.writer.flush().map_err(|e| self.context(e))
    }

    #[cold]
    fn context(&self, e: Error) -> Error {
        naming(e, &self.path, "writing")
    }
}

impl Sink for WriterSink {
    #[inline]
    fn write(&mut self, _from: usize, record: &Record) -> Result<bool> {
        self.writer.write(record).map_err(|e| self.context(e))?;
        self.pending = true;
        if self.flush_due() {
            self.flush()?;
        }
        Ok(true)
    }

    fn idle(&mut self) -> Result<()> {
        if (self.pending && self.flush_when_idle) || self.flush_due() {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.writer
            .finish()
            .map_err(|e| naming(e, &self.path, "finishing"))
    }
}

/// `what path: e`, unless `e` names the file already (the writers' errors
/// do: `writing x.log: ...`, `writing stdout: ...`) or is a broken pipe.
#[cold]
pub(super) fn naming(e: Error, path: &Path, what: &str) -> Error {
    let text = e.to_string();
    if e.is_broken_pipe() || path == Path::new("-") || text.contains(&*path.to_string_lossy()) {
        e
    } else {
        Error::io_context(format!("{what} {}", path.display()), e)
    }
}

/// canplayer's `--map TO=FROM` routes, parsed once: which bus (an index)
/// plays the frames logged on a channel. FROM is compared with the channel as
/// a log writes it (`can0`, or `2` for a numbered channel), so `vcan0=2` takes
/// the frames of channel number 2 and of an interface named `2`; a record
/// without a channel matches no route. The per-frame lookup allocates nothing.
#[derive(Debug, Default)]
pub struct Routes {
    by_name: HashMap<Box<str>, usize>,
    by_number: HashMap<u32, usize>,
    /// FROM as given, and whether a record matched it.
    given: Vec<(String, bool)>,
}

impl Routes {
    /// Routes the channel written `from` to bus `target`; a later route for
    /// the same FROM replaces an earlier one.
    pub fn add(&mut self, from: &str, target: usize) {
        self.by_name.insert(from.into(), target);
        // Only the decimal form a number is written in ("2", not "02" or "+2").
        if let Some(n) = from.parse::<u32>().ok().filter(|n| n.to_string() == from) {
            self.by_number.insert(n, target);
        }
        if !self.given.iter().any(|(f, _)| f == from) {
            self.given.push((from.to_string(), false));
        }
    }

    /// True when no route is set.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The bus for frames logged on `channel`, if it is mapped.
    pub fn target(&self, channel: &Channel) -> Option<usize> {
        match channel {
            Channel::None => None,
            Channel::Number(n) => self.by_number.get(n).copied(),
            Channel::Name(name) => self.by_name.get(&**name).copied(),
        }
    }

    fn note_used(&mut self, channel: &Channel) {
        if self.given.iter().all(|g| g.1) {
            return;
        }
        let text = channel.to_string();
        for g in self.given.iter_mut().filter(|g| !g.1) {
            if g.0 == text {
                g.1 = true;
            }
        }
    }

    /// The FROM channels no record came from.
    pub fn unused(&self) -> Vec<&str> {
        self.given
            .iter()
            .filter(|g| !g.1)
            .map(|g| g.0.as_str())
            .collect()
    }
}

enum Route {
    /// Every record to bus 0.
    One,
    /// Input `i` to bus `targets[i]` (a bridge sends each side to the other),
    /// through the rules of input `i` where there are some.
    ByInput(Vec<usize>, Vec<Forward>),
    /// By the record's channel; unmapped channels are not sent.
    ByChannel(Routes),
}

/// One or several buses to send records on.
///
/// A failed send ends the run unless the sink was told otherwise:
/// [`BusSink::keep_going`] counts failed sends and goes on (can-send),
/// [`BusSink::reconnecting`] rides out an outage of a bus (its interface down
/// or deleted, [`Bus::outage`]), counting the frames it could not send and
/// opening a deleted one again every second (can-bridge). Sends the backend
/// retried after a full transmit queue are counted too
/// ([`Bus::take_send_retries`]).
pub struct BusSink {
    buses: Vec<Option<Box<dyn Bus>>>,
    route: Route,
    /// Frames sent on each bus.
    sent: Vec<u64>,
    /// Frames that could not be sent, per bus.
    failed: Vec<u64>,
    /// Sends retried after a full transmit queue, per bus.
    retries: Vec<u64>,
    keep_going: bool,
    /// Failed sends in a row (keep_going gives up at [`FAILED_IN_A_ROW`]).
    in_a_row: u64,
    /// Settings to open each bus again after an outage (reconnecting).
    settings: Vec<BusSettings>,
    /// Per bus: the outage's start and the last attempt to open it again.
    outages: Vec<Option<(Instant, Option<Instant>)>>,
}

/// With [`BusSink::keep_going`], this many failed sends in a row (nothing
/// gets through) end the run.
const FAILED_IN_A_ROW: u64 = 1000;
/// How often a deleted bus is looked for again.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

impl BusSink {
    /// Sends every record on `bus`.
    pub fn new(bus: Box<dyn Bus>) -> BusSink {
        BusSink::with(vec![bus], Route::One)
    }

    /// Sends the records of input `i` on `buses[targets[i]]`.
    pub fn by_input(buses: Vec<Box<dyn Bus>>, targets: Vec<usize>) -> BusSink {
        BusSink::with(buses, Route::ByInput(targets, Vec::new()))
    }

    fn with(buses: Vec<Box<dyn Bus>>, route: Route) -> BusSink {
        let n = buses.len();
        BusSink {
            buses: buses.into_iter().map(Some).collect(),
            route,
            sent: vec![0; n],
            failed: vec![0; n],
            retries: vec![0; n],
            keep_going: false,
            in_a_row: 0,
            settings: Vec::new(),
            outages: vec![None; n],
        }
    }

    /// Counts a failed send (with a warning for the first few) and goes on,
    /// rather than ending the run; [`FAILED_IN_A_ROW`] failures in a row
    /// still end it.
    pub fn keep_going(mut self) -> BusSink {
        self.keep_going = true;
        self
    }

    /// Rides out outages of the buses ([`Bus::outage`]): frames are counted
    /// as failed while a bus is down, and a deleted one is opened again
    /// every second with `settings[i]` (one per bus, in order).
    pub fn reconnecting(mut self, settings: Vec<BusSettings>) -> BusSink {
        self.settings = settings;
        self
    }

    /// Frames that could not be sent on each bus.
    pub fn failed(&self) -> &[u64] {
        &self.failed
    }

    /// Sends retried after a full transmit queue on each bus.
    pub fn retries(&mut self) -> &[u64] {
        for (i, b) in self.buses.iter_mut().enumerate() {
            if let Some(b) = b {
                self.retries[i] += b.take_send_retries();
            }
        }
        &self.retries
    }

    /// A failed send of `frame` on bus `target`: counted and `Ok(false)`
    /// where the sink goes on, else the error.
    #[cold]
    fn send_failed(
        &mut self,
        target: usize,
        frame: &crate::frame::Frame,
        e: Error,
    ) -> Result<bool> {
        let name = self.buses[target]
            .as_ref()
            .map(|b| b.channel().to_string())
            .unwrap_or_default();
        let outage = self.buses[target].as_ref().and_then(|b| b.outage(&e));
        if let (Some(kind), Some(_)) = (outage, self.settings.get(target)) {
            self.failed[target] += 1;
            if self.outages[target].is_none() {
                self.outages[target] = Some((Instant::now(), None));
                log::warn!(
                    "'{name}' is unavailable ({e}); still running, frames for it are counted \
                     as not sent until it is back"
                );
            }
            if kind == Outage::Gone {
                if let Some(mut old) = self.buses[target].take() {
                    self.retries[target] += old.take_send_retries();
                    let _ = old.close();
                }
            }
            return Ok(false);
        }
        let e = Error::io_context(format!("sending {frame} on '{name}'"), e);
        if !self.keep_going {
            return Err(e);
        }
        self.failed[target] += 1;
        self.in_a_row += 1;
        let n = self.failed[target];
        if n <= 5 || n.is_power_of_two() {
            log::warn!("{e} (failed send #{n}; going on)");
        }
        if self.in_a_row >= FAILED_IN_A_ROW {
            return Err(Error::io_context(
                format!("giving up after {FAILED_IN_A_ROW} failed sends in a row"),
                e,
            ));
        }
        Ok(false)
    }

    /// Opens bus `target` again if it was deleted and a second has passed
    /// since the last attempt; true if it is there.
    fn reopen(&mut self, target: usize) -> bool {
        if self.buses[target].is_some() {
            return true;
        }
        let Some(settings) = self.settings.get(target) else {
            return false;
        };
        let Some((_, last)) = &mut self.outages[target] else {
            return false;
        };
        if last.is_some_and(|t| t.elapsed() < REOPEN_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        match crate::bus::open(settings) {
            Ok(mut b) => {
                // A handle of its own, used only to send.
                b.set_send_only();
                self.buses[target] = Some(b);
                true
            }
            Err(e) => {
                log::debug!("reopening '{}': {e}", settings.channel);
                false
            }
        }
    }

    /// A send went through on `target`: ends its outage, if any.
    fn sent_ok(&mut self, target: usize) {
        self.sent[target] += 1;
        self.in_a_row = 0;
        if let Some((since, _)) = self.outages[target].take() {
            let name = self.buses[target]
                .as_ref()
                .map(|b| b.channel().to_string())
                .unwrap_or_default();
            log::warn!(
                "'{name}' is back after {:.3} s; {} frame(s) could not be sent to it so far",
                since.elapsed().as_secs_f64(),
                self.failed[target]
            );
        }
    }

    /// Adds per-input rules (filters, id rewriting, a rate limit) to a sink
    /// made by [`BusSink::by_input`]: `rules[i]` for the records of input `i`.
    pub fn with_rules(mut self, rules: Vec<Forward>) -> BusSink {
        if let Route::ByInput(_, r) = &mut self.route {
            *r = rules;
        }
        self
    }

    /// The per-input rules and what they held back.
    pub fn rules(&self) -> &[Forward] {
        match &self.route {
            Route::ByInput(_, r) => r,
            _ => &[],
        }
    }

    /// Frames sent on each bus, in the order the buses were given.
    pub fn sent(&self) -> &[u64] {
        &self.sent
    }

    /// Sends each record on the bus its channel is routed to; records of
    /// other channels are not sent (and not counted).
    pub fn by_channel(buses: Vec<Box<dyn Bus>>, routes: Routes) -> BusSink {
        BusSink::with(buses, Route::ByChannel(routes))
    }

    /// The `--map` FROM channels no record came from (empty without routes).
    pub fn unused_routes(&self) -> Vec<&str> {
        match &self.route {
            Route::ByChannel(r) => r.unused(),
            _ => Vec::new(),
        }
    }
}

impl Sink for BusSink {
    fn write(&mut self, from: usize, record: &Record) -> Result<bool> {
        let mut rewritten = None;
        let target = match &mut self.route {
            Route::One => 0,
            Route::ByInput(t, rules) => {
                let Some(&i) = t.get(from) else {
                    return Ok(false);
                };
                if let Some(r) = rules.get_mut(from) {
                    match r.pass(&record.frame) {
                        Some(f) => rewritten = Some(f),
                        None => return Ok(false),
                    }
                }
                i
            }
            Route::ByChannel(r) => match r.target(&record.channel) {
                Some(i) => {
                    r.note_used(&record.channel);
                    i
                }
                None => return Ok(false),
            },
        };
        if target >= self.buses.len() {
            return Ok(false);
        }
        if !self.reopen(target) {
            // Deleted and not back yet.
            self.failed[target] += 1;
            return Ok(false);
        }
        let frame = rewritten.as_ref().unwrap_or(&record.frame);
        let Some(bus) = self.buses[target].as_mut() else {
            return Ok(false);
        };
        match bus.send(frame) {
            Ok(()) => {
                self.sent_ok(target);
                Ok(true)
            }
            Err(e) => self.send_failed(target, frame, e),
        }
    }

    fn finish(&mut self) -> Result<()> {
        let mut first = Ok(());
        for (i, b) in self.buses.iter_mut().enumerate() {
            let Some(b) = b else { continue };
            self.retries[i] += b.take_send_retries();
            if let Err(e) = b.close() {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(maps: &[(&str, &str)]) -> Routes {
        let mut targets: Vec<&str> = Vec::new();
        let mut r = Routes::default();
        for (to, from) in maps {
            let idx = targets.iter().position(|t| t == to).unwrap_or_else(|| {
                targets.push(to);
                targets.len() - 1
            });
            r.add(from, idx);
        }
        r
    }

    #[test]
    fn map_routes_by_channel_name() {
        let r = routes(&[("vcan0", "can0"), ("vcan1", "can1")]);
        assert_eq!(r.target(&Channel::name("can0")), Some(0));
        assert_eq!(r.target(&Channel::name("can1")), Some(1));
        assert_eq!(r.target(&Channel::name("can2")), None);
        assert_eq!(r.target(&Channel::name("CAN0")), None);
        assert_eq!(r.target(&Channel::None), None);
        // a name is not a number
        assert_eq!(r.target(&Channel::Number(0)), None);
    }

    #[test]
    fn map_routes_by_channel_number() {
        // BLF/ASC/TRC channels are 1-based numbers, written as such in FROM.
        let r = routes(&[("vcan0", "1"), ("vcan1", "2"), ("vcan1", "4294967295")]);
        assert_eq!(r.target(&Channel::Number(1)), Some(0));
        assert_eq!(r.target(&Channel::Number(2)), Some(1));
        assert_eq!(r.target(&Channel::Number(u32::MAX)), Some(1));
        assert_eq!(r.target(&Channel::Number(3)), None);
        // FROM is the channel as written: an interface named "2" matches too
        assert_eq!(r.target(&Channel::name("2")), Some(1));
        assert_eq!(r.target(&Channel::name("can1")), None);
    }

    #[test]
    fn map_numbers_only_in_the_form_they_are_written() {
        let r = routes(&[("a", "02"), ("b", "+2"), ("c", "4294967296")]);
        assert_eq!(r.target(&Channel::Number(2)), None);
        assert_eq!(r.target(&Channel::name("02")), Some(0));
        assert_eq!(r.target(&Channel::name("+2")), Some(1));
        assert_eq!(r.target(&Channel::name("4294967296")), Some(2));
    }

    #[test]
    fn a_later_map_for_the_same_channel_wins() {
        let r = routes(&[("a", "1"), ("b", "can0"), ("c", "1"), ("c", "can0")]);
        assert_eq!(r.target(&Channel::Number(1)), Some(2));
        assert_eq!(r.target(&Channel::name("can0")), Some(2));
        assert_eq!(r.target(&Channel::name("1")), Some(2));
    }

    #[test]
    fn unused_routes_are_reported() {
        let mut r = routes(&[("a", "can0"), ("b", "can5"), ("c", "2")]);
        r.note_used(&Channel::name("can0"));
        r.note_used(&Channel::Number(2));
        assert_eq!(r.unused(), ["can5"]);
    }
}
