//! Argument groups every tool shares (bus options, verbosity) and the glue that
//! turns them into library settings, so no clap type reaches the core.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::bus::{self, Bus, BusSettings};
use crate::cli::UsageError;
use crate::config::{self, CliBus};

/// Which bus to open. Unset options come from the environment
/// (`CAN_INTERFACE`, `CAN_CHANNEL`, `CAN_BITRATE`, `CAN_CONFIG`), then the config
/// file's profile, then its `[default]` table, then `virtual` / `vcan0`.
#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "Bus options")]
pub struct BusArgs {
    /// Interface [default: virtual]
    #[arg(short = 'i', long, alias = "bustype", value_name = "INTERFACE",
          value_parser = interface_parser())]
    pub interface: Option<String>,

    /// Channel: a virtual bus name, a multicast group, a network interface
    /// [default: vcan0]; repeatable where a tool reads several buses. As in
    /// candump, filters may follow a comma: `-c can0,123:7FF`
    #[arg(short = 'c', long, value_name = "CHANNEL")]
    pub channel: Vec<String>,

    /// Nominal bitrate in bit/s, where the interface sets it
    #[arg(short = 'b', long, value_name = "BITRATE")]
    pub bitrate: Option<u32>,

    /// Configure the interface for CAN FD
    #[arg(long)]
    pub fd: bool,

    /// CAN FD data-phase bitrate in bit/s
    #[arg(long, alias = "data_bitrate", value_name = "BITRATE")]
    pub data_bitrate: Option<u32>,

    #[arg(long = "bus-opt", value_name = "KEY=VALUE", value_parser = parse_key_value,
          help = format!("Backend option (repeatable): {}", bus::options_help()))]
    pub bus_opt: Vec<(String, String)>,

    /// Only frames matching ID:MASK, none matching ID~MASK, error classes #MASK
    /// (comma lists, repeatable; 3 hex digits = 11-bit id, 8 = 29-bit)
    #[arg(long, value_name = "FILTERS")]
    pub filter: Vec<String>,

    /// Config file [default: $XDG_CONFIG_HOME/cankit/config.toml, /etc/cankit/config.toml]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Use this profile of the config file
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Ignore the config file and the CAN_* environment variables
    #[arg(long)]
    pub no_config: bool,
}

/// `-i` values: the backend registry's names, with their help.
fn interface_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        bus::BACKENDS
            .iter()
            .map(|b| clap::builder::PossibleValue::new(b.name).help(b.help)),
    )
}

/// `--format`/`--input-format`/`--output-format` values: the format
/// registry's names and aliases, with their help.
pub fn format_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(crate::format::FORMATS.iter().map(|f| {
        clap::builder::PossibleValue::new(f.name)
            .aliases(f.aliases.iter().copied())
            .help(f.help)
    }))
}

/// The format a `--format` value (checked by [`format_parser`]) names.
pub fn format_arg(name: Option<&str>) -> Result<Option<crate::format::Format>> {
    Ok(name.map(crate::format::Format::parse).transpose()?)
}

/// Splits candump's `can0,123:7FF,#40` habit into the channel and its filters.
fn channel_and_filters(c: &str) -> Result<(&str, Option<&str>)> {
    match c.split_once(',') {
        None => Ok((c, None)),
        Some((chan, filters)) => {
            if let Err(e) = filters.parse::<crate::filter::FilterSet>() {
                bail!(UsageError(format!(
                    "-c '{c}': after the channel, candump's filter list is expected ({e}); \
                     or give filters with --filter"
                )));
            }
            Ok((chan, Some(filters)))
        }
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl BusArgs {
    /// The command-line part of the settings, for one channel.
    pub fn cli_bus(&self, channel: Option<&str>) -> CliBus {
        CliBus {
            interface: self.interface.clone(),
            channel: channel.map(str::to_string),
            bitrate: self.bitrate,
            fd: self.fd,
            data_bitrate: self.data_bitrate,
            options: self.bus_opt.clone(),
            filters: self.filter.clone(),
            config: self.config.clone(),
            profile: self.profile.clone(),
            no_config: self.no_config,
        }
    }

    /// Settings for one `-c` value (with candump-style filters after a
    /// comma), or the configured channel.
    fn settings_for(&self, channel: Option<&str>) -> Result<BusSettings> {
        let Some(c) = channel else {
            return Ok(config::resolve(&self.cli_bus(None), &process_env)?);
        };
        let (chan, filters) = channel_and_filters(c)?;
        let mut cli = self.cli_bus(Some(chan));
        cli.filters.extend(filters.map(str::to_string));
        Ok(config::resolve(&cli, &process_env)?)
    }

    /// Settings for every channel given (`-c a -c b`), or the one configured.
    pub fn settings_all(&self) -> Result<Vec<BusSettings>> {
        if self.channel.is_empty() {
            return Ok(vec![self.settings_for(None)?]);
        }
        self.channel
            .iter()
            .map(|c| self.settings_for(Some(c)))
            .collect()
    }

    /// Settings for a tool that uses one bus; more than one `-c` is a usage error.
    pub fn settings_one(&self) -> Result<BusSettings> {
        if self.channel.len() > 1 {
            bail!(UsageError(
                "this tool takes one channel (-c); give it once".into()
            ));
        }
        self.settings_for(self.channel.first().map(String::as_str))
    }

    /// The filters of `--filter` alone (for tools that filter what they send
    /// or read from a file rather than what a bus receives).
    pub fn filters(&self) -> Result<crate::filter::FilterSet> {
        let mut set = crate::filter::FilterSet::default();
        for f in &self.filter {
            set.extend_from_str(f)?;
        }
        Ok(set)
    }

    /// Resolves a `can-bridge` style bus word (`INTERFACE:CHANNEL[,K=V]` or a profile).
    pub fn settings_for_spec(&self, spec: &str) -> Result<BusSettings> {
        let cli = config::parse_bus_spec(spec, &self.cli_bus(None))?;
        Ok(config::resolve(&cli, &process_env)?)
    }
}

/// Opens a bus with a message that names it.
pub fn open_bus(settings: &BusSettings) -> Result<Box<dyn Bus>> {
    bus::open(settings).with_context(|| {
        format!(
            "opening {} channel '{}'",
            settings.interface, settings.channel
        )
    })
}

/// Set while a tool keeps a status line on stderr: a log message clears it
/// first (the tool draws it again after).
pub static STATUS_LINE: AtomicBool = AtomicBool::new(false);

/// What every live tool (can-logger, can-send, can-bridge) ends its options
/// with: how long to run, which bus, how much to say.
#[derive(Args, Clone, Debug, Default)]
pub struct LiveArgs {
    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// `-v` / `-q`.
#[derive(Args, Clone, Copy, Debug, Default)]
#[command(next_help_heading = "Output")]
pub struct Verbosity {
    /// More messages on stderr (repeat for more)
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Fewer messages on stderr (-q: errors only, -qq: nothing)
    #[arg(short = 'q', long = "quiet", action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
}

impl Verbosity {
    /// Sets up logging to stderr at the chosen level (`RUST_LOG` overrides).
    pub fn init_logging(&self, tool: &'static str) {
        let level = match (self.verbose, self.quiet) {
            (_, q) if q >= 2 => log::LevelFilter::Off,
            (_, 1) => log::LevelFilter::Error,
            (0, _) => log::LevelFilter::Warn,
            (1, _) => log::LevelFilter::Info,
            (2, _) => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        };
        let mut b = env_logger::Builder::new();
        b.filter_level(level)
            .format(move |buf, record| {
                use std::io::Write;
                let lvl = super::exit::severity(record.level());
                if STATUS_LINE.load(Ordering::Relaxed) {
                    write!(buf, "\r\x1b[K")?;
                }
                writeln!(buf, "{tool}: {lvl}: {}", record.args())
            })
            .parse_env("RUST_LOG");
        let _ = b.try_init();
    }

    /// True unless `-q`.
    pub fn chatty(&self) -> bool {
        self.quiet == 0
    }
}

/// `--count` / `--duration`: when a tool that runs until Ctrl-C stops by itself.
/// A tool whose count or duration means something narrower rewords the help
/// with `mut_arg` (e.g. can-bridge counts forwarded frames).
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct Limits {
    /// Stop after N frames
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this long (e.g. 10s, 5m, 1h30m)
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

impl Limits {
    /// True once `n` frames reach `--count`.
    pub fn count_reached(&self, n: u64) -> bool {
        self.count.is_some_and(|c| n >= c)
    }

    /// The instant `--duration` ends, counted from `start`.
    pub fn deadline(&self, start: std::time::Instant) -> Option<std::time::Instant> {
        self.duration.map(|d| start + d)
    }
}

/// A progress bar over `total` bytes with this indicatif template, ticking
/// on its own.
pub fn byte_bar(total: u64, template: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(total);
    b.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b.enable_steady_tick(Duration::from_millis(200));
    b
}

/// `--rate 5000` or `5000/s`: frames per second.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim_end_matches("/s").parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "'{s}' is not a rate in frames per second (e.g. 5000 or 5000/s)"
        )),
    }
}

/// Parses a humantime duration (`100ms`, `1s`, `2m`, `1h 30m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("'{s}': {e} (examples: 250us, 100ms, 2s, 1m)"))
}

/// Parses a size in bytes: a number (a fraction too) and a unit, `kB MB GB
/// TB` for powers of 1000 and `K M G T` or `KiB MiB GiB TiB` for powers of
/// 1024, as GNU split reads them; case is ignored, `B` or nothing is bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!("'{s}': expected a size such as 500kB, 10MB (10^6 bytes), 10M or 10MiB (2^20 bytes), 1GiB or a number of bytes")
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "k" | "kib" => 1 << 10,
        "mb" => 1_000_000,
        "m" | "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "g" | "gib" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "t" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() || frac.contains('.') || frac.len() > 12 {
        return Err(bad());
    }
    let digits = |d: &str| -> Result<u64, String> {
        if d.is_empty() {
            Ok(0)
        } else {
            d.parse::<u64>().map_err(|_| bad())
        }
    };
    let scale = 10u128.pow(frac.len() as u32);
    // below one unit: fits
    let part = (digits(frac)? as u128 * unit as u128 / scale) as u64;
    let bytes = digits(whole)?
        .checked_mul(unit)
        .and_then(|b| b.checked_add(part))
        .ok_or_else(bad)?;
    if bytes == 0 {
        return Err(format!("'{s}': a size must be at least 1 byte"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (text, want) in [
            ("123", 123),
            ("10MB", 10_000_000),
            ("10mb", 10_000_000),
            ("10M", 10 << 20),
            ("10MiB", 10 << 20),
            ("1GiB", 1 << 30),
            ("1GB", 1_000_000_000),
            ("500kB", 500_000),
            ("500K", 500 << 10),
            ("2 KiB", 2048),
            ("1.5MB", 1_500_000),
            ("0.5KiB", 512),
            ("64B", 64),
        ] {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        for bad in [
            "",
            "MB",
            "10XB",
            "1.2.3MB",
            "-5MB",
            "0",
            "0.0001B",
            "99999999999TB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_values() {
        assert_eq!(
            parse_key_value("port=1").unwrap(),
            ("port".to_string(), "1".to_string())
        );
        assert!(parse_key_value("port").is_err());
        assert!(parse_key_value("=1").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms").unwrap().as_millis(), 100);
        assert!(parse_duration("fast").is_err());
        // the forms the --duration help shows
        assert_eq!(parse_duration("10s").unwrap().as_secs(), 10);
        assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
    }

    #[test]
    fn limits() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            limits: Limits,
        }
        let t = T::try_parse_from(["t", "-n", "3", "--duration", "1h30m"]).unwrap();
        assert_eq!(t.limits.count, Some(3));
        assert_eq!(t.limits.duration, Some(Duration::from_secs(5400)));
        assert!(!t.limits.count_reached(2));
        assert!(t.limits.count_reached(3));
        let start = std::time::Instant::now();
        assert_eq!(
            t.limits.deadline(start),
            Some(start + Duration::from_secs(5400))
        );
        let none = T::try_parse_from(["t"]).unwrap().limits;
        assert!(!none.count_reached(u64::MAX));
        assert_eq!(none.deadline(start), None);
        assert!(T::try_parse_from(["t", "-d", "soon"]).is_err());
    }
}
