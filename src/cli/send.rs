//! `can-send`: sends frames written in can-utils' syntax, once, periodically
//! (one frame per period, cycling through the list, as python-can's
//! `send_periodic` with a list), or from stdin (bare frames or candump log lines).
//!
//! With `--period` on SocketCAN (frames given as arguments, at most 256, all
//! classic or all FD) the kernel's broadcast manager sends them, so the period is
//! kept by a kernel timer; elsewhere a user-space loop schedules each frame from
//! the start time (no drift).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::args::{open_bus, parse_duration, BusArgs, Limits, Verbosity};
use super::UsageError;
use crate::bus::PeriodicTask;
use crate::frame::text::parse_frame;
use crate::frame::Frame;
use crate::pipe::{BusSink, Driver, FramesSource, LinesSource, Source, Stages, Stop};

/// Send CAN frames: `can-send 123#DEADBEEF`, `can-send --period 100ms 1F334455##1AABB`,
/// `candump -L ... | can-send -`.
#[derive(Parser, Debug)]
#[command(name = "can-send", version, long_about = None)]
#[command(mut_arg("count", |a| a.help(
    "Send N frames in all, cycling through the list (default: each frame once, or forever \
with --period)"
)))]
#[command(mut_arg("duration", |a| a.help(
    "Stop after this long; needs --period (e.g. 10s, 5m, 1h30m)"
)))]
#[command(after_help = "FRAME syntax (as cansend):\n  \
    123#DEADBEEF          11-bit id, 4 data bytes ('.' may separate bytes)\n  \
    1F334455#11.22        29-bit id (8 hex digits)\n  \
    123#R  123#R4         remote frame, with requested length\n  \
    123##1DEADBEEF        CAN FD, flags nibble (1 = BRS, 2 = ESI) then data\n  \
    123#1122334455667788_E  classic 8 bytes with raw DLC 14\n  \
    20000080#0000000000000000  error frame (error class in the id)\n\n\
Examples:\n  \
    can-send 123#DEADBEEF\n  \
    can-send --period 10ms --count 100 100#01 200#02\n  \
    can-send -i udp_multicast -c 239.74.163.2 18FF0102##11122334455667788")]
pub struct Cli {
    /// Frames to send; none or '-' reads frames (or candump log lines) from stdin
    #[arg(value_name = "FRAME")]
    pub frames: Vec<String>,

    /// Send one frame every DURATION (e.g. 100ms), cycling through the list
    #[arg(short = 'p', long, value_name = "DURATION", value_parser = parse_duration)]
    pub period: Option<Duration>,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-send");
    if cli.limits.duration.is_some() && cli.period.is_none() {
        bail!(UsageError("--duration needs --period".into()));
    }
    if cli.period == Some(Duration::ZERO) {
        bail!(UsageError("--period must be more than 0".into()));
    }
    let stdin = cli.frames.is_empty() || cli.frames.iter().any(|f| f == "-");
    if stdin && cli.frames.len() > 1 {
        bail!(UsageError("'-' (stdin) cannot be mixed with frames".into()));
    }
    if stdin && cli.period.is_some() {
        bail!(UsageError(
            "--period cycles through frames given as arguments, not stdin".into()
        ));
    }
    let frames: Vec<Frame> = if stdin {
        Vec::new()
    } else {
        cli.frames
            .iter()
            .map(|s| {
                parse_frame(s)
                    .map_err(|e| anyhow::Error::new(UsageError(format!("frame '{s}': {e}"))))
            })
            .collect::<Result<_>>()?
    };
    let filters = cli.bus.filters()?;
    // --filter selects what is sent; the bus itself receives nothing.
    let mut settings = cli.bus.settings_one()?;
    settings.filters = Default::default();
    let mut bus = open_bus(&settings)?;
    // It never receives: a virtual channel queues nothing for it.
    bus.set_send_only();
    for f in &frames {
        if f.is_fd() && !bus.is_fd() {
            return Err(crate::Error::NotFd {
                interface: settings.interface.clone(),
                channel: settings.channel.clone(),
                frame: f.to_string(),
            }
            .into());
        }
    }
    let stop = Stop::install();
    let name = format!("{} '{}'", settings.interface, settings.channel);
    if let Some(period) = cli.period {
        let kept: Vec<Frame> = frames
            .iter()
            .filter(|f| filters.matches(f))
            .cloned()
            .collect();
        if kept.is_empty() {
            bail!(UsageError(
                "--filter lets none of the frames through".into()
            ));
        }
        if let Some(task) = start_periodic(&mut bus, &kept, period, &cli.limits)? {
            let what = format!("{} frame(s) every {period:?} on {name}", kept.len());
            return wait_periodic(task, period, &stop, &what);
        }
    }
    let mut source: Box<dyn Source> = if stdin {
        Box::new(LinesSource::new(
            Box::new(std::io::BufReader::new(std::io::stdin())),
            "stdin",
        ))
    } else {
        let source = FramesSource::new(frames, cli.period, stop.clone());
        // --count N sends N frames in all, cycling through the list.
        Box::new(if cli.limits.count.is_some() {
            source.cycling()
        } else {
            source
        })
    };
    let mut sink = BusSink::new(bus);
    let s = Driver::new(Stages::filtering(filters))
        .count(cli.limits.count)
        .duration(cli.limits.duration)
        .stop(stop)
        .run(source.as_mut(), &mut sink)?;
    if s.read > 0 && s.written == 0 && s.ended_by == crate::pipe::EndedBy::End {
        log::warn!("--filter let none of the {} frame(s) through", s.read);
    }
    if s.read == 0 && stdin {
        log::warn!("no frames to send: stdin had none");
    }
    log::info!("{} frame(s) sent on {name}", s.written);
    Ok(())
}

/// Frames due before the end: at 0, p, 2p, ... while k*p < duration, capped
/// by `--count`.
fn periodic_count(period: Duration, limits: &Limits) -> Option<u64> {
    let by_duration = limits
        .duration
        .map(|d| d.as_nanos().div_ceil(period.as_nanos()).max(1) as u64);
    match (limits.count, by_duration) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A periodic task, the frames it sends in all, and whether it counts them itself.
type Periodic = (Box<dyn PeriodicTask>, Option<u64>, bool);

/// Hands the cycle to the kernel or device where the backend can
/// ([`crate::bus::Bus::send_periodic`]: SocketCAN's broadcast manager), so the
/// period does not depend on this process being scheduled.
fn start_periodic(
    bus: &mut Box<dyn crate::bus::Bus>,
    frames: &[Frame],
    period: Duration,
    limits: &Limits,
) -> Result<Option<Periodic>> {
    let count = periodic_count(period, limits);
    if count == Some(0) {
        return Ok(None);
    }
    // Counts beyond a 32-bit counter run uncounted and are stopped here.
    let kernel_count = count.and_then(|n| u32::try_from(n).ok());
    let task = bus
        .send_periodic(frames, period, kernel_count)
        .with_context(|| format!("starting the periodic send on '{}'", bus.channel()))?;
    Ok(task.map(|t| (t, count, kernel_count.is_some())))
}

/// Waits for a periodic task started by [`start_periodic`]: the same frames
/// go out as with the user-space loop (the first at once, then one per
/// period), `count` in all, or until Ctrl-C.
fn wait_periodic(
    (task, count, counted): Periodic,
    period: Duration,
    stop: &Stop,
    what: &str,
) -> Result<()> {
    let started = Instant::now();
    log::info!(
        "the kernel sends {what}{}",
        match count {
            Some(n) => format!(", {n} in all"),
            None => " until stopped".to_string(),
        }
    );
    // Without a kernel count, stop after the last due frame went out.
    let end = match (count, counted) {
        (Some(n), false) => {
            Some(started + period.saturating_mul((n - 1).min(u32::MAX as u64) as u32) + period / 2)
        }
        _ => None,
    };
    loop {
        if stop.is_set() || end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        if task
            .wait(Some(Duration::from_millis(100)))
            .with_context(|| format!("periodic send of {what}"))?
        {
            log::info!("{} frame(s) sent by the kernel", count.unwrap_or(0));
            return Ok(());
        }
    }
    task.stop()
        .with_context(|| format!("stopping the periodic send of {what}"))?;
    log::info!(
        "periodic send stopped after {:.3} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
