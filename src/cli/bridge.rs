//! `can-bridge`: forwards frames from one bus to another (and back with
//! `--both-ways`), e.g. a SocketCAN interface onto a `udp_multicast` group, or
//! two virtual channels. Buses never deliver their own sends, so forwarding both
//! ways makes no echo loop.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Parser;

use super::args::{open_bus, parse_duration, parse_rate, LiveArgs};
use super::UsageError;
use crate::filter::FilterSet;
use crate::frame::Record;
use crate::pipe::{
    BusSink, BusSource, BusSourceOptions, Driver, Forward, IdMap, RateLimit, Sink, Stages, Stop,
};

fn parse_serve(s: &str) -> std::result::Result<crate::bus::socketcand::server::ServeSpec, String> {
    crate::bus::socketcand::server::ServeSpec::parse(s)
}

/// The rules of one direction from its options.
fn rules(filters: &[String], maps: &[String], rate: Option<f64>) -> Result<Forward> {
    let mut set = FilterSet::default();
    for f in filters {
        set.extend_from_str(f)?;
    }
    let map = maps
        .iter()
        .map(|m| IdMap::parse(m).map_err(UsageError))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Forward {
        filters: set,
        map,
        limit: rate.map(RateLimit::new),
        ..Forward::default()
    })
}

/// A [`BusSink`] that prints its counts every `every` (checked on idle and
/// every 1,024 frames, so no clock is read per frame).
struct WithStats {
    inner: BusSink,
    every: Option<Duration>,
    names: [String; 2],
    both_ways: bool,
    last: Instant,
    since: u64,
}

impl WithStats {
    fn report(&mut self, word: &str) {
        let failed = self.inner.failed().to_vec();
        let sent = self.inner.sent();
        let rules = self.inner.rules();
        let mut parts = Vec::new();
        // Input 0 goes to bus 0 (--to), input 1 to bus 1 (--from).
        for (i, (a, b)) in [(0, 1), (1, 0)].into_iter().enumerate() {
            let Some(r) = rules.get(i) else { continue };
            if i == 1 && !self.both_ways {
                continue;
            }
            parts.push(format!(
                "{} -> {}: {} forwarded, {} filtered, {} dropped by the rate limit, {} not sent \
                 (bus unavailable)",
                self.names[a],
                self.names[b],
                sent.get(i).copied().unwrap_or(0),
                r.filtered,
                r.dropped,
                failed.get(i).copied().unwrap_or(0)
            ));
        }
        eprintln!("can-bridge: {word}: {}", parts.join("; "));
    }

    fn tick(&mut self) {
        if let Some(every) = self.every {
            if self.last.elapsed() >= every {
                self.last = Instant::now();
                self.report("stats");
            }
        }
    }
}

impl Sink for WithStats {
    fn write(&mut self, from: usize, record: &Record) -> crate::Result<bool> {
        let taken = self.inner.write(from, record)?;
        self.since += 1;
        if self.since % 1024 == 0 {
            self.tick();
        }
        Ok(taken)
    }

    fn idle(&mut self) -> crate::Result<()> {
        self.tick();
        self.inner.idle()
    }

    fn finish(&mut self) -> crate::Result<()> {
        self.inner.finish()
    }
}

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
to frames read from either side; --filter-to, --map-id and --rate-limit to the frames going \
to --to, --filter-from and --map-id-back to those going back to --from.\n\n\
Examples:\n  \
    can-bridge --from virtual:a --to virtual:b --both-ways\n  \
    can-bridge --from socketcan:can0 --to udp_multicast:239.74.163.2\n  \
    can-bridge --from socketcan:can0 --serve socketcand:127.0.0.1:29536\n  \
    can-bridge --from socketcan:can0 --to socketcan:can1 --map-id 100:700=300 --rate-limit 1000/s --stats 5s"
)]
pub struct Cli {
    /// Source bus
    #[arg(long, value_name = "BUS")]
    pub from: Option<String>,

    /// Destination bus
    #[arg(
        long,
        value_name = "BUS",
        required_unless_present = "serve",
        conflicts_with = "serve"
    )]
    pub to: Option<String>,

    /// Serve the --from bus to socketcand clients instead of bridging to
    /// --to (both ways): socketcand:[HOST][:PORT][,max_clients=N,queue=N,name=BUS,fdframe=on];
    /// HOST defaults to 127.0.0.1, PORT to 29536
    #[arg(long, value_name = "SPEC", value_parser = parse_serve)]
    pub serve: Option<crate::bus::socketcand::server::ServeSpec>,

    /// Also forward from --to back to --from
    #[arg(long)]
    pub both_ways: bool,

    /// Only frames passing these filters go to --to (as --filter; repeatable)
    #[arg(long, value_name = "FILTERS")]
    pub filter_to: Vec<String>,

    /// Only frames passing these filters go back to --from (with --both-ways)
    #[arg(long, value_name = "FILTERS", requires = "both_ways")]
    pub filter_from: Vec<String>,

    /// Rewrite ids going to --to: FROM=TO, or FROM:MASK=TO to move the bits of
    /// MASK (hex; 3 digits 11-bit, 8 digits 29-bit; repeatable, first match wins)
    #[arg(long, value_name = "FROM[:MASK]=TO")]
    pub map_id: Vec<String>,

    /// Rewrite ids going back to --from (as --map-id; with --both-ways)
    #[arg(long, value_name = "FROM[:MASK]=TO", requires = "both_ways")]
    pub map_id_back: Vec<String>,

    /// At most N frames a second in each direction (e.g. 1000 or 1000/s);
    /// frames over it are dropped and counted
    #[arg(long, value_name = "N", value_parser = parse_rate)]
    pub rate_limit: Option<f64>,

    /// Print what was forwarded, filtered and dropped on stderr this often (e.g. 5s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub stats: Option<Duration>,

    #[command(flatten)]
    pub live: LiveArgs,
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.live.verbosity.init_logging("can-bridge");
    let from_settings = match &cli.from {
        Some(spec) => cli.live.bus.settings_for_spec(spec)?,
        None => cli.live.bus.settings_one()?,
    };
    let (to_settings, served) = match (&cli.serve, &cli.to) {
        (Some(spec), _) => {
            let server = crate::bus::socketcand::server::SocketcandServer::start(spec.clone())?;
            let settings = crate::bus::BusSettings::new(
                "socketcand-server",
                crate::bus::Bus::channel(&server),
            );
            (settings, Some(Box::new(server) as Box<dyn crate::bus::Bus>))
        }
        (None, Some(to)) => (cli.live.bus.settings_for_spec(to)?, None),
        (None, None) => bail!(UsageError("--to or --serve is needed".into())),
    };
    let both_ways = cli.both_ways || served.is_some();
    if from_settings.interface == to_settings.interface
        && from_settings.channel == to_settings.channel
    {
        bail!(UsageError(format!(
            "--from and --to are the same bus ({} '{}'): every frame would be forwarded onto \
             the bus it came from",
            to_settings.interface, to_settings.channel
        )));
    }
    let names = (
        format!("{}:{}", from_settings.interface, from_settings.channel),
        format!("{}:{}", to_settings.interface, to_settings.channel),
    );
    let from = open_bus(&from_settings)?;
    let to = match served {
        Some(s) => s,
        None => open_bus(&to_settings)?,
    };
    let stop = Stop::install();
    log::info!(
        "bridging {}:{} {} {}:{}",
        from_settings.interface,
        from_settings.channel,
        if both_ways { "<->" } else { "->" },
        to_settings.interface,
        to_settings.channel
    );
    // Input 0 (--from) goes to bus 0 (--to); input 1 (--to) back to bus 1.
    let senders = vec![to.try_clone()?, from.try_clone()?];
    let send_settings = vec![to_settings.clone(), from_settings.clone()];
    let mut inputs = vec![(from, from_settings)];
    if both_ways {
        inputs.push((to, to_settings));
    }
    let mut source = BusSource::new(inputs, BusSourceOptions::default())?;
    let forward = vec![
        rules(&cli.filter_to, &cli.map_id, cli.rate_limit)?,
        rules(&cli.filter_from, &cli.map_id_back, cli.rate_limit)?,
    ];
    let mut sink = WithStats {
        // A bus that goes away and comes back: counted, reopened, resumed.
        inner: BusSink::by_input(senders, vec![0, 1])
            .with_rules(forward)
            .reconnecting(send_settings),
        every: cli.stats,
        names: [names.0, names.1],
        both_ways,
        last: Instant::now(),
        since: 0,
    };
    let s = Driver::new(Stages::default())
        .count(cli.live.limits.count)
        .duration(cli.live.limits.duration)
        .stop(stop)
        .run(&mut source, &mut sink)?;
    log::info!("{} frame(s) forwarded", s.written);
    let dropped: u64 = sink.inner.rules().iter().map(|r| r.dropped).sum();
    if dropped > 0 {
        log::warn!("the rate limit dropped {dropped} frame(s)");
    }
    let failed: u64 = sink.inner.failed().iter().sum();
    if failed > 0 {
        log::warn!("{failed} frame(s) could not be sent while a bus was unavailable");
    }
    let retries: u64 = sink.inner.retries().iter().sum();
    if retries > 0 {
        log::warn!("{retries} send(s) found the transmit queue full and were retried after a wait");
    }
    if cli.stats.is_some() {
        sink.report("in all");
    }
    Ok(())
}
