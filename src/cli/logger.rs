//! `can-logger`: records one or more buses to a log file (any format, chosen by
//! extension) or to stdout as candump log lines, until Ctrl-C, `--count` or
//! `--duration`: the library's [`BusSource`] into a [`WriterSink`].
//!
//! Formats that number channels (BLF, ASC, TRC) get the `-c` channels as 1, 2,
//! ... in the order given; interfaces seen through `-c any` are numbered as
//! they first appear.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use super::args::{format_arg, format_parser, open_bus, BusArgs, Limits, Verbosity};
use super::UsageError;
use crate::format::{self, Format, WriterOptions};
use crate::pipe::{BusSource, BusSourceOptions, Driver, Numbering, Stages, Stop, WriterSink};

/// Record CAN traffic to a file or stdout.
#[derive(Parser, Debug)]
#[command(name = "can-logger", version, long_about = None)]
// python-can's habit: `--filter 100:7FF 200:7FF` (this tool takes no
// positional argument that the list could swallow).
#[command(mut_arg("filter", |a| a.num_args(1..)))]
#[command(
    after_help = format!("Formats by extension: {}, optionally .gz (not .db). \
Without -f, candump log lines go to stdout.\n\n\
Examples:\n  \
    can-logger                              # default virtual bus vcan0 to stdout\n  \
    can-logger -i virtual -c demo -f demo.log\n  \
    can-logger -i socketcan -c can0 -c can1 -f trace.blf --duration 10m\n  \
    can-logger --filter 7E8:7F8 -f diag.asc", format::extensions_text())
)]
pub struct Cli {
    /// Log file; '-' or none writes candump lines to stdout
    #[arg(
        short = 'f',
        long = "file",
        visible_alias = "file-name",
        alias = "file_name",
        value_name = "FILE"
    )]
    pub file: Option<PathBuf>,

    /// Output format when the file name does not tell it
    #[arg(long = "format", value_name = "FORMAT", value_parser = format_parser())]
    pub format: Option<String>,

    /// Overwrite an existing file
    #[arg(long, conflicts_with = "append")]
    pub force: bool,

    /// Append to an existing file
    #[arg(short = 'a', long)]
    pub append: bool,

    #[arg(long = "format-opt", value_name = "KEY=VALUE",
          help = format!("Format option (repeatable): {}", format::options_help()))]
    pub format_opt: Vec<String>,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// Parses `--format-opt` values into writer options.
pub fn writer_options(items: &[String], force: bool, append: bool) -> Result<WriterOptions> {
    let mut opts = WriterOptions {
        force,
        append,
        ..WriterOptions::default()
    };
    for kv in items {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--format-opt '{kv}' is not KEY=VALUE")))?;
        opts.options.insert(k.to_string(), v.to_string());
    }
    Ok(opts)
}

/// How long a bus may hold frames back when recording into a file
/// ([`crate::bus::Bus::set_receive_latency`]): fewer wake-ups on a busy bus.
const BATCH_LATENCY: Duration = Duration::from_millis(100);
/// How long records of several buses are held to be written in timestamp
/// order: it covers [`BATCH_LATENCY`] with 100 ms to spare.
const REORDER_WINDOW: Duration = Duration::from_millis(200);

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-logger");
    let explicit = format_arg(cli.format.as_deref())?;
    let path = cli.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let to_stdout = path.as_os_str() == "-";
    let fmt = if to_stdout {
        explicit.unwrap_or(Format::Candump)
    } else {
        format::resolve_format(&path, explicit)?.0
    };
    if fmt.info().needs_file && to_stdout {
        return Err(crate::Error::NeedsFile {
            format: fmt.info().help,
            action: "written to",
        }
        .into());
    }
    if cli.append && to_stdout {
        return Err(UsageError("--append needs a file (-f FILE)".into()).into());
    }
    let opts = writer_options(&cli.format_opt, cli.force, cli.append)?;
    let settings = cli.bus.settings_all()?;
    let mut buses = Vec::new();
    for s in &settings {
        buses.push((open_bus(s)?, s.clone()));
    }
    let writer = format::create_writer(&path, Some(fmt), &opts)
        .with_context(|| format!("opening {}", path.display()))?;
    // Before saying so: a Ctrl-C right after "recording" finishes the file.
    let stop = Stop::install();
    // Into a file, frames may wait in the kernel's queue a little so that the
    // bus is read in batches (timestamps are taken on arrival); on stdout every
    // frame goes out at once.
    let latency = if to_stdout {
        Duration::ZERO
    } else {
        BATCH_LATENCY
    };
    let mut source = BusSource::new(
        buses,
        BusSourceOptions {
            latency,
            reorder: REORDER_WINDOW,
        },
    )?;
    log::info!(
        "recording {} to {}",
        source.names().join(", "),
        if to_stdout {
            "stdout".to_string()
        } else {
            path.display().to_string()
        }
    );
    let given: Vec<&str> = settings
        .iter()
        .filter(|s| {
            !(s.channel == "any"
                && crate::bus::backend(&s.interface).is_ok_and(|b| b.caps.any_channel))
        })
        .map(|s| s.channel.as_str())
        .collect();
    let stages = Stages {
        numbering: fmt.numbers_channels().then(|| Numbering::new(&given)),
        ..Stages::default()
    };
    let mut sink = WriterSink::new(writer, &path).flush_every(Duration::from_secs(1));
    let mut driver = Driver::new(stages)
        .count(cli.limits.count)
        .duration(cli.limits.duration)
        .stop(stop);
    if to_stdout {
        // Lines go out when the bus goes quiet, and at least every 50 ms.
        sink = sink.live(Duration::from_millis(50));
        driver = driver.longest_wait(Duration::from_millis(20));
    }
    let s = driver.run(&mut source, &mut sink)?;
    let r = &s.source;
    let summary = format!(
        "{} frame(s) recorded in {:.1} s; {} dropped by the kernel; {} gap(s){}",
        s.written,
        s.elapsed.as_secs_f64(),
        r.dropped,
        r.gaps,
        if r.gaps > 0 {
            format!(" totalling {:.3} s", r.gap_time.as_secs_f64())
        } else {
            String::new()
        }
    );
    if r.dropped > 0 || r.gaps > 0 {
        log::warn!("{summary}");
    } else {
        log::info!("{summary}");
    }
    Ok(())
}
