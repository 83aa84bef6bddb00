//! `can-send`: sends frames written in can-utils' syntax, once, periodically
//! (one frame per period, cycling through the list, as python-can's
//! `send_periodic` with a list), or from stdin (bare frames or candump log lines).
//!
//! With `--period` on SocketCAN (frames given as arguments, at most 256, all
//! classic or all FD) the kernel's broadcast manager sends them, so the period is
//! kept by a kernel timer; elsewhere a user-space loop schedules each frame from
//! the start time (no drift).

use std::io::BufRead;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::args::{open_bus, parse_duration, BusArgs, Limits, Verbosity};
use super::{StopFlag, UsageError};
use crate::frame::text::{parse_frame, parse_log_line};
use crate::frame::Frame;
use crate::replay::sleep_until;

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

/// Reads frames from stdin lines: bare frames or candump log lines; blank lines
/// and `#` comments are skipped.
fn frames_from_stdin() -> Result<Vec<Frame>> {
    let mut out = Vec::new();
    let stdin = std::io::stdin();
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        let t = line.trim();
        if t.is_empty() || t.starts_with("//") || (t.starts_with('#') && !t.contains("##")) {
            continue;
        }
        let frame = if t.starts_with('(') {
            parse_log_line(t).map(|l| l.frame)
        } else {
            parse_frame(t)
        }
        .with_context(|| format!("stdin line {}: '{t}'", i + 1))?;
        out.push(frame);
    }
    Ok(out)
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
    let frames: Vec<Frame> = if stdin {
        if cli.frames.len() > 1 {
            bail!(UsageError("'-' (stdin) cannot be mixed with frames".into()));
        }
        frames_from_stdin()?
    } else {
        cli.frames
            .iter()
            .map(|s| {
                parse_frame(s)
                    .map_err(|e| anyhow::Error::new(UsageError(format!("frame '{s}': {e}"))))
            })
            .collect::<Result<_>>()?
    };
    if frames.is_empty() {
        log::warn!("no frames to send");
        return Ok(());
    }
    let settings = cli.bus.settings_one()?;
    let mut bus = open_bus(&settings)?;
    for f in &frames {
        if f.is_fd() && !bus.is_fd() {
            bail!(
                "frame {f} is CAN FD but {} channel '{}' is not in FD mode (add --fd)",
                settings.interface,
                settings.channel
            );
        }
    }
    let stop = StopFlag::install();
    let total = match (cli.limits.count, cli.period) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => None,
        (None, None) => Some(frames.len() as u64),
    };
    #[cfg(target_os = "linux")]
    if let Some(period) = cli.period {
        if !stdin && settings.interface == "socketcan" && bcm_fits(&frames) {
            drop(bus);
            return send_by_kernel(
                &settings.channel,
                &frames,
                period,
                total,
                cli.limits.duration,
                &stop,
            );
        }
    }
    let start = Instant::now();
    let end = cli.limits.deadline(start);
    let mut sent: u64 = 0;
    let mut due = start;
    while total.is_none_or(|t| sent < t) && !stop.is_set() {
        if let Some(p) = cli.period {
            if sent > 0 {
                due += p;
                if end.is_some_and(|e| due >= e) {
                    break;
                }
                if !sleep_until(due, &stop) {
                    break;
                }
            }
        }
        let frame = &frames[(sent % frames.len() as u64) as usize];
        bus.send(frame).with_context(|| {
            format!(
                "sending {frame} on {} '{}'",
                settings.interface, settings.channel
            )
        })?;
        log::info!("sent {frame}");
        sent += 1;
    }
    log::info!("{sent} frame(s) sent");
    bus.close()?;
    Ok(())
}

/// True if the kernel's broadcast manager can cycle through `frames`: at most
/// its limit, all classic or all CAN FD.
#[cfg(target_os = "linux")]
fn bcm_fits(frames: &[Frame]) -> bool {
    use crate::bus::socketcan::bcm::MAX_FRAMES;
    let fd = frames.first().is_some_and(Frame::is_fd);
    frames.len() <= MAX_FRAMES && frames.iter().all(|f| f.is_fd() == fd)
}

/// `--period` on SocketCAN: the kernel's broadcast manager sends the frames, so
/// the period does not depend on this process being scheduled. The same frames
/// go out as with the user-space loop: the first at once, then one per period,
/// `total` in all, or as many as are due before `duration` ends, or until
/// Ctrl-C.
#[cfg(target_os = "linux")]
fn send_by_kernel(
    channel: &str,
    frames: &[Frame],
    period: Duration,
    total: Option<u64>,
    duration: Option<Duration>,
    stop: &StopFlag,
) -> Result<()> {
    use crate::bus::socketcan::bcm;
    // Frames due before the end: at 0, p, 2p, ... while k*p < duration.
    let by_duration = duration.map(|d| d.as_nanos().div_ceil(period.as_nanos()).max(1) as u64);
    let count = match (total, by_duration) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if count == Some(0) {
        return Ok(());
    }
    // Counts beyond the kernel's 32-bit counter run uncounted and are stopped here.
    let kernel_count = count.and_then(|n| u32::try_from(n).ok());
    let started = Instant::now();
    let task = bcm::send_periodic(channel, frames, period, kernel_count)
        .with_context(|| format!("starting the periodic send on socketcan '{channel}'"))?;
    log::info!(
        "the kernel sends {} frame(s) every {period:?} on '{channel}'{}",
        frames.len(),
        match count {
            Some(n) => format!(", {n} in all"),
            None => " until stopped".to_string(),
        }
    );
    // Without a kernel count, stop after the last due frame went out.
    let end = match (count, kernel_count) {
        (Some(n), None) => {
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
            .with_context(|| format!("periodic send on socketcan '{channel}'"))?
        {
            log::info!("{} frame(s) sent by the kernel", count.unwrap_or(0));
            return Ok(());
        }
    }
    task.stop()
        .with_context(|| format!("stopping the periodic send on socketcan '{channel}'"))?;
    log::info!(
        "periodic send stopped after {:.3} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
