//! Sinks: a log writer ([`WriterSink`]) and one or several buses
//! ([`BusSink`], routed by input or by the record's channel).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::forward::Forward;
use super::Sink;
use crate::bus::Bus;
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
pub struct BusSink {
    buses: Vec<Box<dyn Bus>>,
    route: Route,
    /// Frames sent on each bus.
    sent: Vec<u64>,
}

impl BusSink {
    /// Sends every record on `bus`.
    pub fn new(bus: Box<dyn Bus>) -> BusSink {
        BusSink {
            buses: vec![bus],
            route: Route::One,
            sent: vec![0],
        }
    }

    /// Sends the records of input `i` on `buses[targets[i]]`.
    pub fn by_input(buses: Vec<Box<dyn Bus>>, targets: Vec<usize>) -> BusSink {
        BusSink {
            sent: vec![0; buses.len()],
            buses,
            route: Route::ByInput(targets, Vec::new()),
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
        BusSink {
            sent: vec![0; buses.len()],
            buses,
            route: Route::ByChannel(routes),
        }
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
        let Some(bus) = self.buses.get_mut(target) else {
            return Ok(false);
        };
        let frame = rewritten.as_ref().unwrap_or(&record.frame);
        bus.send(frame)
            .map_err(|e| Error::io_context(format!("sending {frame} on '{}'", bus.channel()), e))?;
        self.sent[target] += 1;
        Ok(true)
    }

    fn finish(&mut self) -> Result<()> {
        let mut first = Ok(());
        for b in &mut self.buses {
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
