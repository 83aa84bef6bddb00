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

use super::args::{open_bus, parse_duration, parse_rate, Limits, LiveArgs};
use super::UsageError;
use crate::bus::PeriodicTask;
use crate::frame::text::parse_frame;
use crate::frame::Frame;
use crate::pipe::{
    BusSink, Driver, FramesSource, GenSpec, GeneratorSource, LinesSource, Source, Stages, Stop,
};

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
    can-send -i udp_multicast -c 239.74.163.2 18FF0102##11122334455667788\n  \
    can-send --generate -g 10 -I i -L 8 -D r --count 1000     # like cangen\n  \
    can-send --generate --rate 5000 -e --fd-frames --brs --duration 10s")]
pub struct Cli {
    /// Frames to send; none or '-' reads frames (or candump log lines) from stdin
    #[arg(value_name = "FRAME")]
    pub frames: Vec<String>,

    /// Send one frame every DURATION (e.g. 100ms), cycling through the list
    #[arg(short = 'p', long, value_name = "DURATION", value_parser = parse_duration)]
    pub period: Option<Duration>,

    /// With frames from stdin: send candump log lines at their relative times
    /// (`candump -L can0 | can-send --timed -` replays as it goes)
    #[arg(long)]
    pub timed: bool,

    #[command(flatten)]
    pub generate: GenerateArgs,

    #[command(flatten)]
    pub live: LiveArgs,
}

/// `--generate`: frames made up as can-utils' cangen makes them.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Generator (like cangen)")]
pub struct GenerateArgs {
    /// Generate frames instead of sending FRAMEs: one every --gap (200ms by
    /// default, as cangen), until --count, --duration or Ctrl-C
    #[arg(long, conflicts_with_all = ["frames", "period"])]
    pub generate: bool,

    /// Ids: r random, i incrementing, or a fixed hex id
    #[arg(
        short = 'I',
        long = "id-mode",
        value_name = "r|i|HEX",
        default_value = "r",
        requires = "generate"
    )]
    pub id: String,

    /// Payload lengths: r random, i incrementing, or a fixed byte count
    #[arg(
        short = 'L',
        long = "len-mode",
        value_name = "r|i|BYTES",
        default_value = "r",
        requires = "generate"
    )]
    pub len: String,

    /// Payloads: r random, i a frame counter, or fixed hex bytes (repeated to the length)
    #[arg(
        short = 'D',
        long = "data-mode",
        value_name = "r|i|HEX",
        default_value = "r",
        requires = "generate"
    )]
    pub data: String,

    /// 29-bit ids
    #[arg(short = 'e', long, requires = "generate")]
    pub extended: bool,

    /// CAN FD frames (the bus must carry FD: --fd on socketcan)
    #[arg(long = "fd-frames", requires = "generate")]
    pub fd_frames: bool,

    /// Bit-rate switch on the CAN FD frames
    #[arg(long, requires = "fd_frames")]
    pub brs: bool,

    /// Remote frames
    #[arg(short = 'R', long, requires = "generate", conflicts_with = "fd_frames")]
    pub remote: bool,

    /// Time between frames: a duration (1ms, 250us) or, as cangen, milliseconds; 0 = as fast as the bus takes them
    #[arg(short = 'g', long, value_name = "GAP", value_parser = parse_gap, requires = "generate")]
    pub gap: Option<Duration>,

    /// Frames per second instead of a gap (e.g. 5000 or 5000/s)
    #[arg(long, value_name = "N", value_parser = parse_rate, conflicts_with = "gap", requires = "generate")]
    pub rate: Option<f64>,

    /// Seed of the random parts (the same seed gives the same frames) [default: the time]
    #[arg(long, value_name = "N", requires = "generate")]
    pub seed: Option<u64>,
}

/// cangen's `-g`: a bare number is milliseconds.
fn parse_gap(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(ms) if ms.is_finite() && ms >= 0.0 => Ok(Duration::from_secs_f64(ms / 1000.0)),
        Ok(_) => Err(format!("'{s}': the gap must be 0 or more")),
        Err(_) => parse_duration(s),
    }
}

impl GenerateArgs {
    /// The generator's spec and gap.
    fn spec(&self) -> Result<(GenSpec, Option<Duration>)> {
        let hex = |t: &str| u32::from_str_radix(t, 16).ok();
        let bytes = |t: &str| t.parse::<u8>().ok();
        let data = |t: &str| {
            let t = t.replace('.', "");
            (t.len() % 2 == 0 && !t.is_empty())
                .then(|| {
                    (0..t.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
                        .collect::<Option<Vec<u8>>>()
                })
                .flatten()
        };
        let usage = |what: &str, e: String| UsageError(format!("{what}: {e}"));
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
        let spec = GenSpec {
            id: GenSpec::mode(&self.id, hex).map_err(|e| usage("-I/--id-mode", e))?,
            len: GenSpec::mode(&self.len, bytes).map_err(|e| usage("-L/--len-mode", e))?,
            data: GenSpec::mode(&self.data, data).map_err(|e| usage("-D/--data-mode", e))?,
            extended: self.extended,
            fd: self.fd_frames,
            brs: self.brs,
            remote: self.remote,
            seed,
        };
        spec.check()
            .map_err(|e| UsageError(format!("--generate: {e}")))?;
        let gap = match (self.gap, self.rate) {
            (_, Some(r)) => Some(Duration::from_secs_f64(1.0 / r)),
            (Some(g), None) => Some(g),
            (None, None) => Some(Duration::from_millis(200)),
        };
        Ok((spec, gap))
    }
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.live.verbosity.init_logging("can-send");
    if cli.generate.generate {
        return generate(&cli);
    }
    if cli.live.limits.duration.is_some() && cli.period.is_none() {
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
    let filters = cli.live.bus.filters()?;
    // --filter selects what is sent; the bus itself receives nothing.
    let mut settings = cli.live.bus.settings_one()?;
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
        if let Some(task) = start_periodic(&mut bus, &kept, period, &cli.live.limits)? {
            let what = format!("{} frame(s) every {period:?} on {name}", kept.len());
            return wait_periodic(task, period, &stop, &what);
        }
    }
    if cli.timed && !stdin {
        bail!(UsageError(
            "--timed goes with frames from stdin ('-')".into()
        ));
    }
    let mut source: Box<dyn Source> = if stdin {
        let lines = LinesSource::new(Box::new(std::io::BufReader::new(std::io::stdin())), "stdin");
        Box::new(if cli.timed {
            lines.timed(stop.clone())
        } else {
            lines
        })
    } else {
        let source = FramesSource::new(frames, cli.period, stop.clone());
        // --count N sends N frames in all, cycling through the list.
        Box::new(if cli.live.limits.count.is_some() {
            source.cycling()
        } else {
            source
        })
    };
    let mut sink = BusSink::new(bus).keep_going();
    let s = Driver::new(Stages::filtering(filters))
        .count(cli.live.limits.count)
        .duration(cli.live.limits.duration)
        .stop(stop)
        .run(source.as_mut(), &mut sink)?;
    let failed = send_report(&mut sink, &name);
    if s.read > 0 && s.written == 0 && s.ended_by == crate::pipe::EndedBy::End {
        log::warn!("--filter let none of the {} frame(s) through", s.read);
    }
    if s.read == 0 && stdin {
        log::warn!("no frames to send: stdin had none");
    }
    log::info!("{} frame(s) sent on {name}", s.written);
    failed
}

/// Reports sends retried after a full transmit queue; an error counting the
/// sends that failed, if any did.
fn send_report(sink: &mut BusSink, name: &str) -> Result<()> {
    let retries: u64 = sink.retries().iter().sum();
    if retries > 0 {
        log::warn!(
            "{retries} send(s) on {name} found the transmit queue full and were retried after a wait"
        );
    }
    let failed: u64 = sink.failed().iter().sum();
    if failed > 0 {
        bail!("{failed} frame(s) could not be sent on {name}");
    }
    Ok(())
}

/// `--generate`: a [`GeneratorSource`] into the bus.
fn generate(cli: &Cli) -> Result<()> {
    let (spec, gap) = cli.generate.spec()?;
    let filters = cli.live.bus.filters()?;
    let mut settings = cli.live.bus.settings_one()?;
    settings.filters = Default::default();
    let mut bus = open_bus(&settings)?;
    bus.set_send_only();
    if spec.fd && !bus.is_fd() {
        return Err(crate::Error::NotFd {
            interface: settings.interface.clone(),
            channel: settings.channel.clone(),
            frame: "generated CAN FD frames".into(),
        }
        .into());
    }
    let stop = Stop::install();
    let mut source = GeneratorSource::new(spec, gap, stop.clone());
    let mut sink = BusSink::new(bus).keep_going();
    let start = Instant::now();
    let s = Driver::new(Stages::filtering(filters))
        .count(cli.live.limits.count)
        .duration(cli.live.limits.duration)
        .stop(stop)
        .run(&mut source, &mut sink)?;
    let name = format!("{} '{}'", settings.interface, settings.channel);
    let failed = send_report(&mut sink, &name);
    let secs = start.elapsed().as_secs_f64();
    log::info!(
        "{} frame(s) generated on {} '{}' in {secs:.3} s ({:.0} frames/s)",
        s.written,
        settings.interface,
        settings.channel,
        s.written as f64 / secs.max(1e-9)
    );
    failed
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
