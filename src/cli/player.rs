//! `can-player`: replays a log onto a bus with its original timing (or faster,
//! slower, with a fixed gap), like python-can's `can.player` and can-utils'
//! `canplayer`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::args::{open_bus, parse_duration, BusArgs, Limits, Verbosity};
use super::logger::format_arg;
use super::{StopFlag, UsageError};
use crate::bus::Bus;
use crate::format::open_reader;
use crate::frame::Channel;
use crate::replay::{sleep_until, Scheduler, Timing};

/// Replay a CAN log onto a bus.
#[derive(Parser, Debug)]
#[command(name = "can-player", version, long_about = None)]
#[command(mut_arg("count", |a| a.help("Stop after sending N frames (over all --loop passes)")))]
#[command(
    after_help = "Every frame goes to the bus given with -i/-c, whatever channel it was \
logged on, unless --map says otherwise. In --map, FROM is the logged channel as a \
log writes it: an interface name (can0), or a channel number for BLF, ASC and TRC (1, 2, ...).\n\n\
Examples:\n  \
    can-player trace.log\n  \
    can-player -i socketcan -c can0 --speed 2 trace.blf\n  \
    can-player -c vcan0 --map vcan1=can1 --map vcan0=can0 two-buses.log\n  \
    can-player -i socketcan --map can0=1 --map can1=2 --duration 5m trace.asc"
)]
pub struct Cli {
    /// The log to replay ('-' = stdin, with --input-format)
    #[arg(value_name = "FILE")]
    pub input: PathBuf,

    /// Input format when the file name does not tell it
    #[arg(long, value_name = "FORMAT")]
    pub input_format: Option<String>,

    /// Playback speed factor (2 = twice as fast)
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub speed: f64,

    /// Ignore the log's timestamps and send as fast as possible
    #[arg(long)]
    pub ignore_timestamps: bool,

    /// Ignore the log's timestamps and send with this fixed gap (e.g. 1ms)
    #[arg(short = 'g', long, value_name = "DURATION", value_parser = parse_duration)]
    pub gap: Option<Duration>,

    /// Shorten gaps longer than this (e.g. 1s)
    #[arg(short = 's', long = "skip", value_name = "DURATION", value_parser = parse_duration)]
    pub skip: Option<Duration>,

    /// Play the log this many times (0 = forever)
    #[arg(short = 'l', long = "loop", default_value_t = 1, value_name = "N")]
    pub loops: u64,

    #[command(flatten)]
    pub limits: Limits,

    /// Also send error frames (skipped by default)
    #[arg(long)]
    pub error_frames: bool,

    /// Send frames logged on channel FROM to channel TO of the interface (canplayer's
    /// TO=FROM; repeatable; frames of unmapped channels are skipped)
    #[arg(long, value_name = "TO=FROM")]
    pub map: Vec<String>,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// The `--map` routes, parsed once: which bus (an index) plays the frames
/// logged on a channel. FROM is compared with the channel as it is written
/// (`can0`, or `2` for a numbered channel), so `--map vcan0=2` takes the frames
/// of channel number 2 and of an interface named `2`; a record without a
/// channel matches no route. The per-frame lookup allocates nothing.
#[derive(Debug, Default)]
struct Routes {
    by_name: HashMap<Box<str>, usize>,
    by_number: HashMap<u32, usize>,
}

impl Routes {
    /// Routes the channel written `from` to bus `target`; a later route for
    /// the same FROM replaces an earlier one.
    fn add(&mut self, from: &str, target: usize) {
        self.by_name.insert(from.into(), target);
        // Only the decimal form a number is written in ("2", not "02" or "+2").
        if let Some(n) = from.parse::<u32>().ok().filter(|n| n.to_string() == from) {
            self.by_number.insert(n, target);
        }
    }

    fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The bus for frames logged on `channel`, if it is mapped.
    fn target(&self, channel: &Channel) -> Option<usize> {
        match channel {
            Channel::None => None,
            Channel::Number(n) => self.by_number.get(n).copied(),
            Channel::Name(name) => self.by_name.get(&**name).copied(),
        }
    }
}

/// Splits a `--map TO=FROM` value.
fn parse_map(m: &str) -> Result<(&str, &str), UsageError> {
    m.split_once('=')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| UsageError(format!("--map '{m}' is not TO=FROM")))
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-player");
    if !(cli.speed > 0.0 && cli.speed.is_finite()) {
        bail!(UsageError("--speed must be a positive number".into()));
    }
    let fmt = format_arg(cli.input_format.as_deref())?;
    let mut reader = open_reader(&cli.input, fmt).map_err(|e| {
        if matches!(e, crate::Error::UnknownFormat(_)) {
            anyhow::Error::new(UsageError(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })?;

    // Routing: one bus, or one per --map target.
    let settings = cli.bus.settings_one()?;
    let mut buses: Vec<Box<dyn Bus>> = Vec::new();
    let mut routes = Routes::default();
    if cli.map.is_empty() {
        buses.push(open_bus(&settings)?);
    } else {
        let mut targets: HashMap<String, usize> = HashMap::new();
        for m in &cli.map {
            let (to, from) = parse_map(m)?;
            let idx = match targets.get(to) {
                Some(&i) => i,
                None => {
                    let mut s = settings.clone();
                    s.channel = to.to_string();
                    buses.push(open_bus(&s)?);
                    targets.insert(to.to_string(), buses.len() - 1);
                    buses.len() - 1
                }
            };
            routes.add(from, idx);
        }
    }
    let stop = StopFlag::install();
    for b in &buses {
        log::info!("playing {} onto {}", cli.input.display(), b.channel());
    }

    let timing = Timing {
        speed: cli.speed,
        fixed_gap: if cli.ignore_timestamps {
            Some(Duration::ZERO)
        } else {
            cli.gap
        },
        max_gap: cli.skip,
    };
    let end = cli.limits.deadline(Instant::now());
    let mut sent: u64 = 0;
    let mut pass = 0u64;
    'outer: while cli.loops == 0 || pass < cli.loops {
        if pass > 0 {
            reader = open_reader(&cli.input, fmt)?;
        }
        pass += 1;
        // The clock starts when the first record is in hand: a slow first read
        // (opening a compressed container, a cold cache) must not make the
        // first frames late and bunched.
        let mut sched: Option<Scheduler> = None;
        while let Some(rec) = reader
            .read()
            .with_context(|| format!("reading {}", cli.input.display()))?
        {
            if cli.limits.count_reached(sent)
                || stop.is_set()
                || end.is_some_and(|e| Instant::now() >= e)
            {
                break 'outer;
            }
            let due = sched
                .get_or_insert_with(|| Scheduler::new(timing, Instant::now()))
                .due(rec.timestamp);
            if rec.frame.is_error() && !cli.error_frames {
                continue;
            }
            let target = if routes.is_empty() {
                0
            } else {
                match routes.target(&rec.channel) {
                    Some(i) => i,
                    None => continue,
                }
            };
            // --duration ends the replay on time, not at the next frame due.
            let past_end = end.is_some_and(|e| due >= e);
            if !sleep_until(end.map_or(due, |e| due.min(e)), &stop) || past_end {
                break 'outer;
            }
            buses[target]
                .send(&rec.frame)
                .with_context(|| format!("sending {} to {}", rec.frame, buses[target].channel()))?;
            log::debug!("sent {}", rec.frame);
            sent += 1;
        }
        for w in reader.take_warnings() {
            log::warn!("{w}");
        }
    }
    log::info!("{sent} frame(s) sent");
    for b in &mut buses {
        b.close()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(maps: &[&str]) -> Routes {
        let mut targets: Vec<&str> = Vec::new();
        let mut r = Routes::default();
        for m in maps {
            let (to, from) = parse_map(m).unwrap();
            let idx = targets.iter().position(|t| *t == to).unwrap_or_else(|| {
                targets.push(to);
                targets.len() - 1
            });
            r.add(from, idx);
        }
        r
    }

    #[test]
    fn map_routes_by_channel_name() {
        let r = routes(&["vcan0=can0", "vcan1=can1"]);
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
        let r = routes(&["vcan0=1", "vcan1=2", "vcan1=4294967295"]);
        assert_eq!(r.target(&Channel::Number(1)), Some(0));
        assert_eq!(r.target(&Channel::Number(2)), Some(1));
        assert_eq!(r.target(&Channel::Number(u32::MAX)), Some(1));
        assert_eq!(r.target(&Channel::Number(3)), None);
        assert_eq!(r.target(&Channel::None), None);
        // as before, FROM is the channel as written: an interface named "2" matches too
        assert_eq!(r.target(&Channel::name("2")), Some(1));
        assert_eq!(r.target(&Channel::name("can1")), None);
    }

    #[test]
    fn map_numbers_only_in_the_form_they_are_written() {
        // Channel 2 is written "2": "02" and "+2" name interfaces, not numbers.
        let r = routes(&["a=02", "b=+2", "c=4294967296"]);
        assert_eq!(r.target(&Channel::Number(2)), None);
        assert_eq!(r.target(&Channel::name("02")), Some(0));
        assert_eq!(r.target(&Channel::name("+2")), Some(1));
        assert_eq!(r.target(&Channel::name("4294967296")), Some(2));
        assert_eq!(r.target(&Channel::Number(0)), None);
    }

    #[test]
    fn a_later_map_for_the_same_channel_wins() {
        let r = routes(&["a=1", "b=can0", "c=1", "c=can0"]);
        assert_eq!(r.target(&Channel::Number(1)), Some(2));
        assert_eq!(r.target(&Channel::name("can0")), Some(2));
        assert_eq!(r.target(&Channel::name("1")), Some(2));
    }

    #[test]
    fn map_values_must_be_to_equals_from() {
        for bad in ["vcan0", "=can0", "vcan0=", "="] {
            assert!(parse_map(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_map("a=b=c").unwrap(), ("a", "b=c"));
    }

    #[test]
    fn count_and_duration_flags() {
        let cli = Cli::try_parse_from(["can-player", "-n", "5", "-d", "1h30m", "x.log"]).unwrap();
        assert_eq!(cli.limits.count, Some(5));
        assert_eq!(cli.limits.duration, Some(Duration::from_secs(5400)));
        let cli = Cli::try_parse_from(["can-player", "--count", "7", "x.log"]).unwrap();
        assert_eq!(cli.limits.count, Some(7));
        assert_eq!(cli.limits.duration, None);
    }
}
