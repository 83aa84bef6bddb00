//! `can-logger`: records one or more buses to a log file (any format, chosen by
//! extension) or to stdout as candump log lines, until Ctrl-C, `--count` or
//! `--duration`.
//!
//! Each bus is read by its own thread into one bounded queue; the main thread
//! writes. A full queue makes the readers wait (the backends buffer meanwhile),
//! so no frame is dropped by the logger itself. The file is flushed at least once
//! a second, so a killed logger loses at most the last second.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::args::{open_bus, parse_duration, BusArgs, Verbosity};
use super::{StopFlag, UsageError};
use crate::bus::Bus;
use crate::format::{self, Format, RecordWriter, WriterOptions};
use crate::frame::{Channel, Record};

/// Record CAN traffic to a file or stdout.
#[derive(Parser, Debug)]
#[command(name = "can-logger", version, long_about = None)]
#[command(
    after_help = "Formats by extension: .blf .asc .log (candump) .csv .db (SQLite) .trc .jsonl, \
optionally .gz. Without -f, candump log lines go to stdout.\n\n\
Examples:\n  \
    can-logger                              # default virtual bus vcan0 to stdout\n  \
    can-logger -i virtual -c demo -f demo.log\n  \
    can-logger -i socketcan -c can0 -c can1 -f trace.blf --duration 10m\n  \
    can-logger --filter 7E8:7F8 -f diag.asc"
)]
pub struct Cli {
    /// Log file; '-' or none writes candump lines to stdout
    #[arg(
        short = 'f',
        long = "file",
        visible_alias = "file-name",
        value_name = "FILE"
    )]
    pub file: Option<PathBuf>,

    /// Output format when the file name does not tell it (blf, asc, log, csv, db, trc, jsonl)
    #[arg(long = "format", value_name = "FORMAT")]
    pub format: Option<String>,

    /// Overwrite an existing file
    #[arg(long, conflicts_with = "append")]
    pub force: bool,

    /// Append to an existing file
    #[arg(short = 'a', long)]
    pub append: bool,

    /// Format option (repeatable), e.g. --format-opt compression=9, digits=9
    #[arg(long = "format-opt", value_name = "KEY=VALUE")]
    pub format_opt: Vec<String>,

    /// Stop after N frames
    #[arg(short = 'n', long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this long (e.g. 10s, 5m)
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

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

/// Parses a `--format`/`--input-format` name.
pub fn format_arg(name: Option<&str>) -> Result<Option<Format>> {
    match name {
        None => Ok(None),
        Some(n) => Format::from_name(n).map(Some).ok_or_else(|| {
            UsageError(format!("unknown format '{n}' (known: {})", Format::names())).into()
        }),
    }
}

/// True for formats that number channels (1-based) rather than name them.
pub fn numbers_channels(f: Format) -> bool {
    matches!(f, Format::Blf | Format::Asc | Format::Trc)
}

enum Msg {
    Record(Record),
    Failed(usize, anyhow::Error),
}

fn reader_thread(
    idx: usize,
    mut bus: Box<dyn Bus>,
    numbered: bool,
    tx: SyncSender<Msg>,
    stop: StopFlag,
) {
    let channel = Channel::Number(idx as u32 + 1);
    while !stop.is_set() {
        match bus.recv(Some(Duration::from_millis(100))) {
            Ok(Some(mut rec)) => {
                if numbered {
                    rec.channel = channel.clone();
                }
                if tx.send(Msg::Record(rec)).is_err() {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => {
                let name = bus.channel().to_string();
                let _ = tx.send(Msg::Failed(
                    idx,
                    anyhow::Error::new(e).context(format!("receiving on '{name}'")),
                ));
                break;
            }
        }
    }
    let _ = bus.close();
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-logger");
    let explicit = format_arg(cli.format.as_deref())?;
    let path = cli.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let to_stdout = path.as_os_str() == "-";
    let fmt = if to_stdout {
        explicit.unwrap_or(Format::Candump)
    } else {
        format::resolve_format(&path, explicit)
            .map_err(|e| UsageError(e.to_string()))?
            .0
    };
    if fmt == Format::Sqlite && to_stdout {
        bail!(UsageError(
            "SQLite cannot be written to stdout; give -f FILE.db".into()
        ));
    }
    let opts = writer_options(&cli.format_opt, cli.force, cli.append)?;
    let settings = cli.bus.settings_all()?;
    let mut buses = Vec::new();
    for s in &settings {
        buses.push(open_bus(s)?);
    }
    let mut writer: Box<dyn RecordWriter> = format::create_writer(&path, Some(fmt), &opts)
        .with_context(|| format!("opening {}", path.display()))?;
    let names: Vec<String> = settings
        .iter()
        .map(|s| format!("{} '{}'", s.interface, s.channel))
        .collect();
    log::info!(
        "recording {} to {}",
        names.join(", "),
        if to_stdout {
            "stdout".to_string()
        } else {
            path.display().to_string()
        }
    );

    let stop = StopFlag::install();
    let (tx, rx) = mpsc::sync_channel::<Msg>(8192);
    let numbered = numbers_channels(fmt);
    let mut threads = Vec::new();
    for (i, bus) in buses.into_iter().enumerate() {
        let (tx, stop) = (tx.clone(), stop.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("rx-{i}"))
                .spawn(move || reader_thread(i, bus, numbered, tx, stop))
                .context("starting a receive thread")?,
        );
    }
    drop(tx);

    let start = Instant::now();
    let end = cli.duration.map(|d| start + d);
    let mut count: u64 = 0;
    let mut last_flush = Instant::now();
    let mut failure = None;
    // On stdout, lines are flushed when the bus goes quiet (and at least every second).
    let mut pending_stdout = false;
    let flush_every = Duration::from_millis(if to_stdout { 50 } else { 1000 });
    loop {
        if stop.is_set() || cli.count.is_some_and(|n| count >= n) {
            break;
        }
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            break;
        }
        let wait = end
            .map(|e| e.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(200))
            .min(Duration::from_millis(200));
        match rx.recv_timeout(wait) {
            Ok(Msg::Record(rec)) => {
                writer.write(&rec)?;
                count += 1;
                pending_stdout = to_stdout;
            }
            Ok(Msg::Failed(i, e)) => {
                failure = Some(e.context(names[i].clone()));
                break;
            }
            Err(RecvTimeoutError::Timeout) => {
                if pending_stdout {
                    writer.flush()?;
                    pending_stdout = false;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() >= flush_every {
            writer.flush()?;
            last_flush = Instant::now();
        }
    }
    // Frames already received are written too: a stop never drops them.
    stop.set();
    if failure.is_none() {
        for msg in rx.iter() {
            if cli.count.is_some_and(|n| count >= n) {
                break;
            }
            if let Msg::Record(rec) = msg {
                writer.write(&rec)?;
                count += 1;
            }
        }
    }
    drop(rx);
    for t in threads {
        let _ = t.join();
    }
    let finished = writer.finish();
    if let Some(e) = failure {
        finished.ok();
        return Err(e);
    }
    finished.with_context(|| format!("finishing {}", path.display()))?;
    log::info!("{count} frame(s) recorded");
    Ok(())
}
