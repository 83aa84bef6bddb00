//! `can-player`: replays a log onto a bus with its original timing (or faster,
//! slower, with a fixed gap), like python-can's `can.player` and can-utils'
//! `canplayer`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::args::{open_bus, parse_duration, BusArgs, Verbosity};
use super::logger::format_arg;
use super::{StopFlag, UsageError};
use crate::bus::Bus;
use crate::format::open_reader;
use crate::frame::Channel;
use crate::replay::{sleep_until, Scheduler, Timing};

/// Replay a CAN log onto a bus.
#[derive(Parser, Debug)]
#[command(name = "can-player", version, long_about = None)]
#[command(
    after_help = "Every frame goes to the bus given with -i/-c, whatever channel it was \
logged on, unless --map says otherwise.\n\n\
Examples:\n  \
    can-player trace.log\n  \
    can-player -i socketcan -c can0 --speed 2 trace.blf\n  \
    can-player -c vcan0 --map vcan1=can1 --map vcan0=can0 two-buses.log"
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

    /// Stop after N frames
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,

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

fn channel_key(c: &Channel) -> String {
    c.to_string()
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
    let mut routes: HashMap<String, usize> = HashMap::new();
    if cli.map.is_empty() {
        buses.push(open_bus(&settings)?);
    } else {
        let mut targets: HashMap<String, usize> = HashMap::new();
        for m in &cli.map {
            let (to, from) = m
                .split_once('=')
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .ok_or_else(|| UsageError(format!("--map '{m}' is not TO=FROM")))?;
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
            routes.insert(from.to_string(), idx);
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
            if cli.count.is_some_and(|n| sent >= n) || stop.is_set() {
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
                match routes.get(&channel_key(&rec.channel)) {
                    Some(&i) => i,
                    None => continue,
                }
            };
            if !sleep_until(due, &stop) {
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
