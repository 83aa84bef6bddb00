//! `can-bridge`: forwards frames from one bus to another (and back with
//! `--both-ways`), e.g. a SocketCAN interface onto a `udp_multicast` group, or
//! two virtual channels. Buses never deliver their own sends, so forwarding both
//! ways makes no echo loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;

use super::args::{open_bus, BusArgs, Limits, Verbosity};
use super::StopFlag;
use crate::bus::Bus;

/// Forward CAN frames between two buses.
#[derive(Parser, Debug)]
#[command(name = "can-bridge", version, long_about = None)]
#[command(mut_arg("count", |a| a.help("Stop after forwarding N frames (both directions together)")))]
#[command(
    after_help = "BUS is INTERFACE:CHANNEL[,KEY=VALUE...] or the name of a config profile. \
Without --from, the bus of -i/-c (or the configured default) is the source. --filter applies \
to frames read from either side.\n\n\
Examples:\n  \
    can-bridge --from virtual:a --to virtual:b --both-ways\n  \
    can-bridge --from socketcan:can0 --to udp_multicast:239.74.163.2"
)]
pub struct Cli {
    /// Source bus
    #[arg(long, value_name = "BUS")]
    pub from: Option<String>,

    /// Destination bus
    #[arg(long, value_name = "BUS")]
    pub to: String,

    /// Also forward from --to back to --from
    #[arg(long)]
    pub both_ways: bool,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

fn forward(
    mut from: Box<dyn Bus>,
    mut to: Box<dyn Bus>,
    stop: StopFlag,
    count: Arc<AtomicU64>,
    limit: Option<u64>,
) -> Result<()> {
    let (a, b) = (from.channel().to_string(), to.channel().to_string());
    while !stop.is_set() {
        let Some(rec) = from
            .recv(Some(Duration::from_millis(100)))
            .with_context(|| format!("receiving on '{a}'"))?
        else {
            continue;
        };
        if limit.is_some_and(|n| count.load(Ordering::Relaxed) >= n) {
            break;
        }
        to.send(&rec.frame)
            .with_context(|| format!("forwarding {} to '{b}'", rec.frame))?;
        log::debug!("{a} -> {b}: {}", rec.frame);
        let n = count.fetch_add(1, Ordering::Relaxed) + 1;
        if limit.is_some_and(|l| n >= l) {
            stop.set();
        }
    }
    Ok(())
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-bridge");
    let from_settings = match &cli.from {
        Some(spec) => cli.bus.settings_for_spec(spec)?,
        None => cli.bus.settings_one()?,
    };
    let to_settings = cli.bus.settings_for_spec(&cli.to)?;
    let from = open_bus(&from_settings)?;
    let to = open_bus(&to_settings)?;
    let stop = StopFlag::install();
    log::info!(
        "bridging {}:{} {} {}:{}",
        from_settings.interface,
        from_settings.channel,
        if cli.both_ways { "<->" } else { "->" },
        to_settings.interface,
        to_settings.channel
    );
    let count = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    if cli.both_ways {
        let (back_from, back_to) = (to.try_clone()?, from.try_clone()?);
        let (s, c, l) = (stop.clone(), count.clone(), cli.limits.count);
        threads.push(std::thread::spawn(move || {
            forward(back_from, back_to, s, c, l)
        }));
    }
    let (s, c, l) = (stop.clone(), count.clone(), cli.limits.count);
    threads.push(std::thread::spawn(move || forward(from, to, s, c, l)));
    let end = cli.limits.deadline(Instant::now());
    while !stop.is_set() && threads.iter().all(|t| !t.is_finished()) {
        if end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.set();
    let mut result = Ok(());
    for t in threads {
        match t.join() {
            Ok(Err(e)) if result.is_ok() => result = Err(e),
            Ok(_) => {}
            Err(_) => result = Err(anyhow::anyhow!("a forwarding thread crashed")),
        }
    }
    log::info!("{} frame(s) forwarded", count.load(Ordering::Relaxed));
    result
}
