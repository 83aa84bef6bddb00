//! `can-player`: replays a log onto a bus with its original timing (or faster,
//! slower, with a fixed gap), like python-can's `can.player` and can-utils'
//! `canplayer`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Parser;

use super::args::{
    byte_bar, format_arg, format_parser, open_bus, parse_duration, BusArgs, Limits, Verbosity,
};
use super::UsageError;
use crate::format;
use crate::pipe::{BusSink, Driver, EndedBy, Gate, ReplaySource, Routes, Sink, Stages, Stop};
use crate::replay::Timing;

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
    #[arg(long, value_name = "FORMAT", value_parser = format_parser())]
    pub input_format: Option<String>,

    /// Playback speed factor (2 = twice as fast)
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub speed: f64,

    /// Ignore the log's timestamps and send as fast as possible
    #[arg(long)]
    pub ignore_timestamps: bool,

    /// Ignore the log's timestamps and send with this fixed gap (e.g. 1ms; a bare
    /// number is seconds, as python-can's player takes it)
    #[arg(short = 'g', long, value_name = "DURATION", value_parser = parse_seconds)]
    pub gap: Option<Duration>,

    /// Shorten gaps longer than this (e.g. 1s; a bare number is seconds)
    #[arg(short = 's', long = "skip", value_name = "DURATION", value_parser = parse_seconds)]
    pub skip: Option<Duration>,

    /// Play the log this many times (0 = forever)
    #[arg(short = 'l', long = "loop", default_value_t = 1, value_name = "N")]
    pub loops: u64,

    #[command(flatten)]
    pub limits: Limits,

    /// Interactive, as canplayer -i (here -i names the interface): each frame
    /// is shown and sent when Enter is pressed (q and Enter stops); the log's
    /// timing is not kept
    #[arg(long, conflicts_with_all = ["gap", "ignore_timestamps"])]
    pub interactive: bool,

    /// Never show a progress bar
    #[arg(long)]
    pub no_progress: bool,

    /// Ask for real-time scheduling (SCHED_FIFO; needs root or CAP_SYS_NICE) so
    /// that busy processes do not delay the frames; says so when refused
    #[arg(long)]
    pub realtime: bool,

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

/// The bus sink with a progress bar over the log's bytes (on a terminal).
struct Progress {
    inner: BusSink,
    bar: Option<indicatif::ProgressBar>,
    bytes: Arc<AtomicU64>,
    sent: u64,
}

impl Sink for Progress {
    fn write(&mut self, from: usize, record: &crate::frame::Record) -> crate::Result<bool> {
        let taken = self.inner.write(from, record)?;
        self.sent += 1;
        if self.sent % 64 == 0 {
            if let Some(b) = &self.bar {
                b.set_position(self.bytes.load(Ordering::Relaxed));
                b.set_message(format!("{} frames sent", self.sent));
            }
        }
        Ok(taken)
    }

    fn finish(&mut self) -> crate::Result<()> {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.inner.finish()
    }
}

/// canplayer's `-i`: shows each frame and waits for Enter (read on a thread
/// of its own, so Ctrl-C still stops the player at once); `q` stops.
fn interactive_gate(stop: Stop) -> Gate {
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut shown = false;
    Box::new(
        move |rec: &crate::frame::Record, until: std::time::Instant| {
            if !shown {
                eprint!(
                    "can-player: next {} (Enter sends, q and Enter stops) ",
                    rec.frame
                );
                shown = true;
            }
            let wait = until.saturating_duration_since(std::time::Instant::now());
            match lines.recv_timeout(wait) {
                Ok(l) if l.trim() == "q" => {
                    stop.set();
                    false
                }
                Ok(_) => {
                    shown = false;
                    true
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    stop.set();
                    false
                }
            }
        },
    )
}

/// A duration (`1ms`), or a bare number of seconds as python-can's player
/// takes `-g 0.001` and `-s 1`.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(Duration::from_secs_f64(secs)),
        Ok(_) => Err(format!("'{s}' must be 0 or more seconds")),
        Err(_) => parse_duration(s),
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
    format::resolve_format(&cli.input, fmt)?;
    let filters = cli.bus.filters()?;

    // Routing: one bus, or one per --map target. The filters select what is
    // sent; the buses themselves receive nothing.
    let mut settings = cli.bus.settings_one()?;
    settings.filters = Default::default();
    let mut buses: Vec<Box<dyn crate::bus::Bus>> = Vec::new();
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
    if cli.realtime {
        match crate::replay::set_realtime() {
            Ok(()) => log::info!("real-time scheduling (SCHED_FIFO) on"),
            Err(e) => log::warn!(
                "--realtime: the real-time scheduler was refused ({e}; it needs root or \
                 CAP_SYS_NICE): playing at normal priority"
            ),
        }
    }
    let stop = Stop::install();
    for b in &mut buses {
        // It never receives: a virtual channel queues nothing for it.
        b.set_send_only();
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
    let input = cli.input.clone();
    if cli.interactive && cli.input.as_os_str() == "-" {
        bail!(UsageError(
            "-i reads Enter from stdin: the log cannot come from stdin too".into()
        ));
    }
    let bytes = Arc::new(AtomicU64::new(0));
    let counter = bytes.clone();
    let mut source = ReplaySource::new(
        Box::new(move || {
            // Each pass counts its own bytes, for the progress bar.
            counter.store(0, Ordering::Relaxed);
            format::open_reader_counted(&input, fmt, Some(counter.clone()))
        }),
        &cli.input,
        timing,
        cli.loops,
        stop.clone(),
    )?;
    if cli.interactive {
        source = source.gated(interactive_gate(stop.clone()));
    }
    let buses_sink = if routes.is_empty() {
        BusSink::new(buses.remove(0))
    } else {
        BusSink::by_channel(buses, routes)
    };
    let total = std::fs::metadata(&cli.input).map(|m| m.len()).unwrap_or(0);
    let bar = (!cli.no_progress
        && !cli.interactive
        && cli.verbosity.chatty()
        && std::io::stderr().is_terminal()
        && total > 0)
        .then(|| {
            byte_bar(
                total,
                "{bar:40} {bytes}/{total_bytes} {msg} ({elapsed} played)",
            )
        });
    let mut sink = Progress {
        inner: buses_sink,
        bar,
        bytes,
        sent: 0,
    };
    let stages = Stages {
        filters,
        drop_error_frames: !cli.error_frames,
        ..Stages::default()
    };
    let s = Driver::new(stages)
        .count(cli.limits.count)
        .duration(cli.limits.duration)
        .stop(stop)
        .run(&mut source, &mut sink)?;
    if s.ended_by == EndedBy::End {
        for from in sink.inner.unused_routes() {
            log::warn!(
                "--map: no frame of channel '{from}' was in {} (its channels are written as \
                 in the log: an interface name, or 1, 2, ... for BLF, ASC and TRC)",
                cli.input.display()
            );
        }
    }
    if s.read > 0 && s.written == 0 && s.ended_by == EndedBy::End {
        log::warn!(
            "none of the {} frame(s) read was sent (filters, error frames, --map)",
            s.read
        );
    }
    log::info!("{} frame(s) sent", s.written);
    let retries: u64 = sink.inner.retries().iter().sum();
    if retries > 0 {
        log::warn!("{retries} send(s) found the transmit queue full and were retried after a wait");
    }
    let l = source.lateness();
    if l.count() > 0 && !cli.ignore_timestamps {
        log::info!(
            "timing: {} frame(s) handed to the bus after their due time by p50 {} µs, p99 {} µs, max {:.0} µs",
            l.count(),
            l.quantile_us(0.5),
            l.quantile_us(0.99),
            l.max_us()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_values_must_be_to_equals_from() {
        for bad in ["vcan0", "=can0", "vcan0=", "="] {
            assert!(parse_map(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_map("a=b=c").unwrap(), ("a", "b=c"));
    }

    #[test]
    fn python_can_gap_and_skip_in_seconds() {
        let cli = Cli::try_parse_from(["can-player", "-g", "0.001", "-s", "1", "x.log"]).unwrap();
        assert_eq!(cli.gap, Some(Duration::from_millis(1)));
        assert_eq!(cli.skip, Some(Duration::from_secs(1)));
        let cli = Cli::try_parse_from(["can-player", "-g", "250us", "x.log"]).unwrap();
        assert_eq!(cli.gap, Some(Duration::from_micros(250)));
        assert!(Cli::try_parse_from(["can-player", "-g", "-1", "x.log"]).is_err());
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
