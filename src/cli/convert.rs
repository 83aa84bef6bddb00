//! `can-convert`: converts logs between formats (by extension, or named with
//! `--input-format`/`--output-format` for stdin/stdout), with id filters and a
//! time window, and a progress bar on a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::Parser;

use super::args::{byte_bar, format_arg, format_parser, Verbosity};
use super::logger::writer_options;
use super::UsageError;
use crate::filter::FilterSet;
use crate::format;
use crate::frame::Timestamp;
use crate::pipe::{Driver, LogSource, Sink, Source, Stages, Step, TimePoint, Window, WriterSink};

/// Convert CAN logs between formats.
#[derive(Parser, Debug)]
#[command(name = "can-convert", version, long_about = None)]
#[command(
    after_help = format!("Formats by extension: {}; any but .db may \
be gzip-compressed (.gz). '-' is stdin/stdout and needs --input-format/--output-format.\n\n\
--start/--end take seconds from the first frame (e.g. 10.5) or an absolute UTC time \
(2026-11-24T10:00:00Z).\n\n\
Examples:\n  \
    can-convert trace.blf trace.asc\n  \
    can-convert --filter 7E8:7F8 --start 10 --end 20 car.log diag.jsonl\n  \
    can-convert --output-format jsonl trace.blf - | jq .id", format::extensions_text())
)]
pub struct Cli {
    /// Input log ('-' = stdin)
    #[arg(value_name = "IN")]
    pub input: PathBuf,

    /// Output log ('-' = stdout)
    #[arg(value_name = "OUT")]
    pub output: PathBuf,

    /// Input format when the file name does not tell it
    #[arg(long, value_name = "FORMAT", value_parser = format_parser())]
    pub input_format: Option<String>,

    /// Output format when the file name does not tell it
    #[arg(long, value_name = "FORMAT", value_parser = format_parser())]
    pub output_format: Option<String>,

    /// Overwrite an existing output file
    #[arg(long, conflicts_with = "append")]
    pub force: bool,

    /// Append to an existing output file
    #[arg(short = 'a', long)]
    pub append: bool,

    #[arg(long = "format-opt", value_name = "KEY=VALUE",
          help = format!("Output format option (repeatable): {}", format::options_help()))]
    pub format_opt: Vec<String>,

    /// Keep only frames matching ID:MASK, drop ID~MASK (comma lists, repeatable)
    #[arg(long, value_name = "FILTERS")]
    pub filter: Vec<String>,

    /// Drop frames before this time
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,

    /// Drop frames at or after this time
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,

    /// Never show a progress bar
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub verbosity: Verbosity,
}

/// Parses `--start`/`--end`.
pub fn parse_time_point(s: &str) -> Result<TimePoint> {
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            bail!(UsageError(format!("time '{s}' must be 0 or more seconds")));
        }
        return Ok(TimePoint::Relative((secs * 1e9).round() as i64));
    }
    let t = humantime::parse_rfc3339_weak(s).map_err(|e| {
        UsageError(format!(
            "time '{s}': {e} (give seconds from the first frame, or 2026-11-24T10:00:00Z)"
        ))
    })?;
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(TimePoint::Absolute(Timestamp::from_parts(
        d.as_secs() as i64,
        d.subsec_nanos(),
    )))
}

/// Shows a progress bar over the input's bytes while the records go by.
struct Progress<'a> {
    inner: WriterSink,
    bar: Option<indicatif::ProgressBar>,
    bytes: &'a AtomicU64,
    seen: u64,
}

impl Progress<'_> {
    #[cold]
    fn show(&self) {
        if let Some(b) = &self.bar {
            b.set_position(self.bytes.load(Ordering::Relaxed));
            b.set_message(format!("{} frames", self.seen));
        }
    }
}

impl Sink for Progress<'_> {
    #[inline]
    fn write(&mut self, from: usize, record: &crate::frame::Record) -> crate::Result<bool> {
        self.seen += 1;
        if self.seen % 65536 == 0 {
            self.show();
        }
        self.inner.write(from, record)
    }

    fn finish(&mut self) -> crate::Result<()> {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.inner.finish()
    }
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.verbosity.init_logging("can-convert");
    let in_fmt = format_arg(cli.input_format.as_deref())?;
    let out_fmt = format_arg(cli.output_format.as_deref())?;

    format::resolve_format(&cli.input, in_fmt)?;
    let (of, _) = format::resolve_format(&cli.output, out_fmt)?;
    if of.info().needs_file && cli.output.as_os_str() == "-" {
        return Err(crate::Error::NeedsFile {
            format: of.info().help,
            action: "written to",
        }
        .into());
    }
    if cli.input.as_os_str() != "-"
        && cli.input.canonicalize().ok().is_some()
        && cli.input.canonicalize().ok() == cli.output.canonicalize().ok()
    {
        bail!(UsageError("input and output are the same file".into()));
    }
    let start = cli.start.as_deref().map(parse_time_point).transpose()?;
    let end = cli.end.as_deref().map(parse_time_point).transpose()?;
    let window = (start.is_some() || end.is_some())
        .then(|| Window::new(start, end).map_err(UsageError))
        .transpose()?;
    let mut filters = FilterSet::default();
    for f in &cli.filter {
        filters.extend_from_str(f)?;
    }

    let bytes = Arc::new(AtomicU64::new(0));
    let reader = format::open_reader_counted(&cli.input, in_fmt, Some(bytes.clone()))?;
    let opts = writer_options(&cli.format_opt, cli.force, cli.append)?;
    let writer = format::create_writer(&cli.output, out_fmt, &opts)?;

    let total = std::fs::metadata(&cli.input).map(|m| m.len()).unwrap_or(0);
    let bar = (!cli.no_progress
        && cli.verbosity.chatty()
        && std::io::stderr().is_terminal()
        && total > 4 << 20)
        .then(|| byte_bar(total, "{bar:40} {bytes}/{total_bytes} {msg} ({eta} left)"));
    let mut sink = Progress {
        inner: WriterSink::new(writer, &cli.output),
        bar,
        bytes: &bytes,
        seen: 0,
    };
    let stages = Stages {
        filters,
        window,
        ..Stages::default()
    };
    let mut driver = Driver::new(stages);
    // Count every record and finish the output even after a read error, so
    // the frames before the damage are kept in a well-formed file.
    let mut source = LogSource::new(reader, &cli.input);
    let stepped = (|| loop {
        if driver.step(&mut source, &mut sink, Duration::from_millis(200))? == Step::Done {
            return Ok::<(), crate::Error>(());
        }
    })();
    let written = driver.summary().written;
    if let Err(e) = stepped {
        let _ = source.finish();
        let _ = sink.finish();
        return Err(anyhow::Error::new(e).context(format!(
            "converting {} ({written} frame(s) written to {} before the error)",
            cli.input.display(),
            cli.output.display()
        )));
    }
    let s = driver.finish(&mut source, &mut sink)?;
    if s.source.skipped > 0 {
        log::info!(
            "{} frame(s) read, {} written, {} line(s) skipped",
            s.read,
            s.written,
            s.source.skipped
        );
    } else {
        log::info!("{} frame(s) read, {} written", s.read, s.written);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_points() {
        assert_eq!(
            parse_time_point("1.5").unwrap(),
            TimePoint::Relative(1_500_000_000)
        );
        assert_eq!(
            parse_time_point("2023-11-14T22:13:20Z").unwrap(),
            TimePoint::Absolute(Timestamp::from_parts(1_700_000_000, 0))
        );
        assert!(parse_time_point("-1").is_err());
        assert!(parse_time_point("yesterday").is_err());
    }
}
