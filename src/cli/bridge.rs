//! `can-bridge`: forwards frames from one bus to another (and back with
//! `--both-ways`), e.g. a SocketCAN interface onto a `udp_multicast` group, or
//! two virtual channels. Buses never deliver their own sends, so forwarding both
//! ways makes no echo loop.

use anyhow::{bail, Result};
use clap::Parser;

use super::args::{open_bus, BusArgs, Limits, Verbosity};
use super::UsageError;
use crate::pipe::{BusSink, BusSource, BusSourceOptions, Driver, Stages, Stop};

/// Forward CAN frames between two buses.
#[derive(Parser, Debug)]
#[command(name = "can-bridge", version, long_about = None)]
// python-can's habit: `--filter 100:7FF 200:7FF` (this tool takes no
// positional argument that the list could swallow).
#[command(mut_arg("filter", |a| a.num_args(1..)))]
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

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-bridge");
    let from_settings = match &cli.from {
        Some(spec) => cli.bus.settings_for_spec(spec)?,
        None => cli.bus.settings_one()?,
    };
    let to_settings = cli.bus.settings_for_spec(&cli.to)?;
    if from_settings.interface == to_settings.interface
        && from_settings.channel == to_settings.channel
    {
        bail!(UsageError(format!(
            "--from and --to are the same bus ({} '{}'): every frame would be forwarded onto \
             the bus it came from",
            to_settings.interface, to_settings.channel
        )));
    }
    let from = open_bus(&from_settings)?;
    let to = open_bus(&to_settings)?;
    let stop = Stop::install();
    log::info!(
        "bridging {}:{} {} {}:{}",
        from_settings.interface,
        from_settings.channel,
        if cli.both_ways { "<->" } else { "->" },
        to_settings.interface,
        to_settings.channel
    );
    // Input 0 (--from) goes to bus 0 (--to); input 1 (--to) back to bus 1.
    let senders = vec![to.try_clone()?, from.try_clone()?];
    let mut inputs = vec![(from, from_settings)];
    if cli.both_ways {
        inputs.push((to, to_settings));
    }
    let mut source = BusSource::new(inputs, BusSourceOptions::default())?;
    let mut sink = BusSink::by_input(senders, vec![0, 1]);
    let s = Driver::new(Stages::default())
        .count(cli.limits.count)
        .duration(cli.limits.duration)
        .stop(stop)
        .run(&mut source, &mut sink)?;
    log::info!("{} frame(s) forwarded", s.written);
    Ok(())
}
