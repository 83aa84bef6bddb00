//! `can-convert`: converts logs between formats (by extension, or named with
//! `--input-format`/`--output-format` for stdin/stdout), with id filters and a
//! time window, and a progress bar on a terminal.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::Parser;

use super::args::{byte_bar, format_arg, format_parser, Verbosity};
use super::logger::writer_options;
use super::UsageError;
use crate::dbc::export::{Layout, SignalWriter};
use crate::dbc::Dbc;
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
    can-convert --output-format jsonl trace.blf - | jq .id\n  \
    can-convert --dbc car.dbc --decode trace.blf signals.jsonl\n  \
    can-convert --dbc car.dbc --decode --format-opt layout=wide trace.blf signals.csv", format::extensions_text())
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

    /// DBC file for --decode (repeatable; a later file's message replaces an
    /// earlier one with the same id)
    #[arg(long, value_name = "FILE")]
    pub dbc: Vec<PathBuf>,

    /// Write decoded signals instead of frames: JSON Lines (one object per
    /// frame) or CSV (a row per signal; one column per signal with
    /// --format-opt layout=wide)
    #[arg(long)]
    pub decode: bool,

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
struct Progress<'a, S: Sink> {
    inner: S,
    bar: Option<indicatif::ProgressBar>,
    bytes: &'a AtomicU64,
    seen: u64,
}

impl<S: Sink> Progress<'_, S> {
    #[cold]
    fn show(&self) {
        if let Some(b) = &self.bar {
            b.set_position(self.bytes.load(Ordering::Relaxed));
            b.set_message(format!("{} frames", self.seen));
        }
    }
}

impl<S: Sink> Sink for Progress<'_, S> {
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

    let opts = writer_options(&cli.format_opt, cli.force, cli.append)?;
    let decoder = if cli.decode || !cli.dbc.is_empty() {
        Some(decode_output(&cli, of, &opts)?)
    } else {
        None
    };
    let bytes = Arc::new(AtomicU64::new(0));
    let reader = format::open_reader_counted(&cli.input, in_fmt, Some(bytes.clone()))?;

    let total = std::fs::metadata(&cli.input).map(|m| m.len()).unwrap_or(0);
    let bar = (!cli.no_progress
        && cli.verbosity.chatty()
        && std::io::stderr().is_terminal()
        && total > 4 << 20)
        .then(|| byte_bar(total, "{bar:40} {bytes}/{total_bytes} {msg} ({eta} left)"));
    let stages = Stages {
        filters,
        window,
        ..Stages::default()
    };
    let source = LogSource::new(reader, &cli.input);
    match decoder {
        Some(d) => {
            let sink = Progress {
                inner: DecodeSink {
                    writer: d,
                    output: cli.output.clone(),
                },
                bar,
                bytes: &bytes,
                seen: 0,
            };
            let (s, sink) = drive(&cli, stages, source, sink)?;
            let w = &sink.inner.writer;
            log::info!(
                "{} frame(s) read, {} decoded ({} signal values)",
                s.read,
                w.frames,
                w.values
            );
            report_unmatched(w);
            Ok(())
        }
        None => {
            let writer = format::create_writer(&cli.output, out_fmt, &opts)?;
            let sink = Progress {
                inner: WriterSink::new(writer, &cli.output),
                bar,
                bytes: &bytes,
                seen: 0,
            };
            let (s, _) = drive(&cli, stages, source, sink)?;
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
    }
}

/// Runs the pipe to its end; after a read error the output is still finished.
fn drive<S: Sink>(
    cli: &Cli,
    stages: Stages,
    mut source: LogSource,
    mut sink: S,
) -> Result<(crate::pipe::Summary, S)> {
    let mut driver = Driver::new(stages);
    // Count every record and finish the output even after a read error, so
    // the frames before the damage are kept in a well-formed file.
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
    Ok((s, sink))
}

/// Checks the --decode options and opens the signal writer.
fn decode_output(
    cli: &Cli,
    of: format::Format,
    opts: &format::WriterOptions,
) -> Result<SignalWriter<Box<dyn Write>>> {
    if !cli.decode {
        bail!(UsageError(
            "--dbc in can-convert is used with --decode".into()
        ));
    }
    if cli.dbc.is_empty() {
        bail!(UsageError("--decode needs a DBC file (--dbc FILE)".into()));
    }
    let mut layout = match of {
        format::Format::Jsonl => Layout::Jsonl,
        format::Format::Csv => Layout::CsvLong,
        other => bail!(UsageError(format!(
            "--decode writes signals as JSON Lines (.jsonl) or CSV (.csv), not {}",
            other.name()
        ))),
    };
    for (k, v) in &opts.options {
        match (k.as_str(), v.as_str(), layout) {
            ("layout", "long", Layout::CsvLong) => {}
            ("layout", "wide", Layout::CsvLong) => layout = Layout::CsvWide,
            ("layout", _, Layout::CsvLong) => {
                return Err(
                    crate::Error::bad_option_value("decoded CSV", k, v, "long, wide").into(),
                )
            }
            _ => {
                let known: &[&str] = if layout == Layout::Jsonl {
                    &[]
                } else {
                    &["layout"]
                };
                return Err(crate::Error::unknown_option("decoded output", k, known).into());
            }
        }
    }
    if cli.append && layout != Layout::Jsonl {
        bail!(UsageError(
            "--append with --decode works for JSON Lines only (a CSV has one header)".into()
        ));
    }
    let mut dbc = Dbc::default();
    for f in &cli.dbc {
        dbc.merge(Dbc::open(f)?);
    }
    let gz = cli.output.to_string_lossy().ends_with(".gz");
    let out: Box<dyn Write> = if cli.output.as_os_str() == "-" {
        Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        ))
    } else {
        let f = format::output::create_output_file(
            &cli.output,
            opts,
            format::output::FileAccess::Sequential,
        )?;
        let w = std::io::BufWriter::with_capacity(1 << 16, f.file);
        if gz {
            Box::new(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::new(6),
            ))
        } else {
            Box::new(w)
        }
    };
    SignalWriter::new(dbc, layout, out)
        .map_err(|e| crate::Error::io(format!("writing {}", cli.output.display()), e).into())
}

/// Warns about the frames no DBC message matched, the most frequent ids first.
fn report_unmatched(w: &SignalWriter<Box<dyn Write>>) {
    let n = w.unmatched_frames();
    if n == 0 {
        return;
    }
    let mut ids: Vec<_> = w.unmatched.iter().collect();
    ids.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = ids
        .iter()
        .take(10)
        .map(|((id, ext), c)| {
            if *ext {
                format!("{id:08X} ({c})")
            } else {
                format!("{id:03X} ({c})")
            }
        })
        .collect();
    log::warn!(
        "{n} frame(s) matched no DBC message and were not written: {} id(s), {}{}",
        ids.len(),
        shown.join(", "),
        if ids.len() > 10 { ", ..." } else { "" }
    );
}

/// Decodes each record into the signal writer.
struct DecodeSink {
    writer: SignalWriter<Box<dyn Write>>,
    output: PathBuf,
}

impl Sink for DecodeSink {
    #[inline]
    fn write(&mut self, _from: usize, record: &crate::frame::Record) -> crate::Result<bool> {
        self.writer
            .write(record)
            .map_err(|e| crate::Error::io(format!("writing {}", self.output.display()), e))?;
        Ok(true)
    }

    fn finish(&mut self) -> crate::Result<()> {
        self.writer
            .flush()
            .map_err(|e| crate::Error::io(format!("writing {}", self.output.display()), e))
    }
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
