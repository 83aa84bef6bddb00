//! `can-logger`: records one or more buses to a log file (any format, chosen by
//! extension) or to stdout as candump log lines, until Ctrl-C, `--count` or
//! `--duration`: the library's [`BusSource`] into a [`RotatingSink`] (one
//! file, or a series with `-s`/`--rotate-every`) or, on stdout, a
//! [`WriterSink`].
//!
//! Formats that number channels (BLF, ASC, TRC) get the `-c` channels as 1, 2,
//! ... in the order given; interfaces seen through `-c any` are numbered as
//! they first appear.
//!
//! On a terminal (stderr, unless `-q`, and not when the candump lines go to
//! the same terminal) a status line is redrawn four times a second: frames,
//! their rate, bytes written, frames dropped, and the frames of each bus. At
//! the end one line sums the run up (frames, files, bytes, drops, gaps); `-q`
//! leaves it out.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use super::args::{
    format_arg, format_parser, open_bus, parse_duration, parse_size, LiveArgs, STATUS_LINE,
};
use super::UsageError;
use crate::dbc::export::write_text;
use crate::dbc::Dbc;
use crate::format::{self, Format, WriterOptions};
use crate::frame::text::write_log_line;
use crate::frame::{Record, Timestamp};
use crate::pipe::{
    BusSource, BusSourceOptions, Driver, FileNames, Numbering, RotatingSink, Rotation, Sink,
    Source, Stages, Step, Stop, Summary, WriterSink,
};

/// Record CAN traffic to a file or stdout.
#[derive(Parser, Debug)]
#[command(name = "can-logger", version, long_about = None)]
// python-can's habit: `--filter 100:7FF 200:7FF` (this tool takes no
// positional argument that the list could swallow).
#[command(mut_arg("filter", |a| a.num_args(1..)))]
#[command(
    after_help = format!("Formats by extension: {}, optionally .gz (not .db). \
Without -f, candump log lines go to stdout.\n\n\
Rotation: with -s or --rotate-every the log is a series of files, each complete \
on its own, named by the UTC time it starts: -f trace.blf writes \
trace_2026-12-04T15-00-00.blf, ... (a counter such as _001 follows when two start \
in the same second). A {{}} in the name is replaced by that time; a name with \
%Y %m %d %H %M %S is expanded instead (UTC). An existing file is never \
replaced (the next counter is taken) unless --force.\n\n\
Examples:\n  \
    can-logger                              # default virtual bus vcan0 to stdout\n  \
    can-logger -i virtual -c demo -f demo.log\n  \
    can-logger -i socketcan -c can0 -c can1 -f trace.blf --duration 10m\n  \
    can-logger --filter 7E8:7F8 -f diag.asc\n  \
    can-logger -c can0 -f trace.blf -s 100MB --keep 20\n  \
    can-logger -c can0 -f 'can0_%Y%m%d_%H.asc' --rotate-every 1h", format::extensions_text())
)]
#[command(group = clap::ArgGroup::new("rotation").multiple(true).args(["file_size", "rotate_every"]))]
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

    /// As candump -l: log to candump-YYYY-MM-DD_HHMMSS.log (local time) in
    /// the current folder
    #[arg(short = 'l', long = "candump-name", conflicts_with = "file")]
    pub candump_name: bool,

    /// Start a new file before this one grows past SIZE: bytes, or kB MB GB
    /// (powers of 1000: 10MB is 10,000,000 bytes) or K M G, KiB MiB GiB
    /// (powers of 1024: 10M and 10MiB are 10,485,760 bytes)
    #[arg(short = 's', long = "file-size", alias = "file_size", value_name = "SIZE",
          value_parser = parse_size, conflicts_with = "append")]
    pub file_size: Option<u64>,

    /// Start a new file at every multiple of DURATION in UTC: 1h on the hour,
    /// 15m at :00, :15, :30 and :45, 1d at midnight UTC (whole seconds)
    #[arg(long = "rotate-every", value_name = "DURATION", value_parser = parse_rotation_time,
          conflicts_with = "append")]
    pub rotate_every: Option<Duration>,

    /// With -s or --rotate-every: keep only the newest N files of this run,
    /// deleting its older ones (never a file it did not write)
    #[arg(long, value_name = "N", requires = "rotation",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub keep: Option<u64>,

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

    /// DBC file (repeatable) to decode with: on stdout, each frame a DBC
    /// message matches is followed by an indented line of its signals
    /// (`  Name: Signal=value unit, Other=Label (raw)`)
    #[arg(long, value_name = "DBC")]
    pub dbc: Vec<PathBuf>,

    #[command(flatten)]
    pub live: LiveArgs,
}

/// `--rotate-every`: a duration of whole seconds, at least one.
fn parse_rotation_time(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.subsec_nanos() != 0 || d.as_secs() == 0 {
        return Err(format!(
            "'{s}': give whole seconds, at least 1s (examples: 30s, 15m, 1h, 1d)"
        ));
    }
    Ok(d)
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

/// Where the records go: a file or a series of them, or stdout.
enum Out {
    Files(Box<RotatingSink>),
    Stdout(WriterSink),
}

impl Out {
    /// Bytes written so far: on disk for files, the writer's count on stdout.
    fn bytes(&self) -> u64 {
        match self {
            Out::Files(f) => f.bytes_on_disk(),
            Out::Stdout(w) => w.size_bound().unwrap_or(0),
        }
    }
}

impl Sink for Out {
    #[inline]
    fn write(&mut self, from: usize, record: &Record) -> crate::Result<bool> {
        match self {
            Out::Files(f) => f.write(from, record),
            Out::Stdout(w) => w.write(from, record),
        }
    }

    fn idle(&mut self) -> crate::Result<()> {
        match self {
            Out::Files(f) => f.idle(),
            Out::Stdout(w) => w.idle(),
        }
    }

    fn finish(&mut self) -> crate::Result<()> {
        match self {
            Out::Files(f) => f.finish(),
            Out::Stdout(w) => w.finish(),
        }
    }
}

/// Candump log lines on stdout, each followed by the frame's decoded signals
/// when a DBC message matches it.
struct DecodedLines {
    dbc: Dbc,
    out: std::io::Stdout,
    buf: Vec<u8>,
    decoded: Vec<crate::dbc::Decoded>,
    written: u64,
}

impl DecodedLines {
    fn new(dbc: Dbc) -> DecodedLines {
        DecodedLines {
            dbc,
            out: std::io::stdout(),
            buf: Vec::with_capacity(1 << 16),
            decoded: Vec::new(),
            written: 0,
        }
    }
}

impl format::RecordWriter for DecodedLines {
    fn write(&mut self, r: &Record) -> crate::Result<()> {
        let name = match &r.channel {
            crate::frame::Channel::Name(s) => std::borrow::Cow::Borrowed(&**s),
            other => std::borrow::Cow::Owned(other.to_string()),
        };
        write_log_line(
            &mut self.buf,
            r.timestamp,
            &name,
            &r.frame,
            Some(r.direction),
            6,
        );
        if let Some(m) = self.dbc.message_for(&r.frame) {
            self.decoded.clear();
            m.decode(r.frame.data_bytes(), &mut self.decoded);
            write_text(&mut self.buf, m, &self.decoded);
        }
        if self.buf.len() > 1 << 15 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> crate::Result<()> {
        let mut lock = self.out.lock();
        lock.write_all(&self.buf)
            .and_then(|_| lock.flush())
            .map_err(|e| crate::Error::io("writing to stdout", e))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn finish(&mut self) -> crate::Result<()> {
        self.flush()
    }

    fn size_bound(&self) -> Option<u64> {
        Some(self.written + self.buf.len() as u64)
    }
}

/// Counts what each bus (the record's input) gave, for the status line.
struct PerBus<K> {
    inner: K,
    counts: Vec<u64>,
}

impl<K: Sink> Sink for PerBus<K> {
    #[inline]
    fn write(&mut self, from: usize, record: &Record) -> crate::Result<bool> {
        let took = self.inner.write(from, record)?;
        if took {
            if let Some(c) = self.counts.get_mut(from) {
                *c += 1;
            }
        }
        Ok(took)
    }

    fn idle(&mut self) -> crate::Result<()> {
        self.inner.idle()
    }

    fn finish(&mut self) -> crate::Result<()> {
        self.inner.finish()
    }
}

/// `1234 B`, `12.3 kB`, `1.23 MB`: bytes in SI units (as `-s 10MB` counts).
pub fn human_bytes(n: u64) -> String {
    let units = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if v < 10.0 {
        format!("{v:.2} {}", units[u])
    } else if v < 100.0 {
        format!("{v:.1} {}", units[u])
    } else {
        format!("{v:.0} {}", units[u])
    }
}

/// What the status line shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusFigures {
    /// Frames written.
    pub frames: u64,
    /// Frames per second, over the last refresh.
    pub rate: f64,
    /// Bytes written.
    pub bytes: u64,
    /// Frames the kernel dropped.
    pub dropped: u64,
    /// Each bus's name and frames.
    pub buses: Vec<(String, u64)>,
    /// Files written (when rotating).
    pub files: Option<u64>,
}

/// The status line for `f`, cut to `width` characters.
pub fn status_text(f: &StatusFigures, width: usize) -> String {
    let mut line = format!(
        "recording: {} frames, {:.0}/s, {}",
        f.frames,
        f.rate,
        human_bytes(f.bytes)
    );
    if let Some(n) = f.files {
        line.push_str(&format!(" in {n} file{}", if n == 1 { "" } else { "s" }));
    }
    line.push_str(&format!(", {} dropped", f.dropped));
    if f.buses.len() > 1 || f.buses.first().is_some_and(|b| b.1 != f.frames) {
        let each: Vec<String> = f
            .buses
            .iter()
            .map(|(name, n)| {
                // long names shortened: the end tells buses apart
                let chars: Vec<char> = name.chars().collect();
                let short: String = if chars.len() > 12 {
                    std::iter::once('~')
                        .chain(chars[chars.len() - 11..].iter().copied())
                        .collect()
                } else {
                    name.clone()
                };
                format!("{short} {n}")
            })
            .collect();
        line.push_str(" | ");
        line.push_str(&each.join(", "));
    }
    match line.char_indices().nth(width) {
        Some((i, _)) => line[..i].to_string(),
        None => line,
    }
}

/// The status line on stderr, redrawn four times a second.
struct StatusLine {
    names: Vec<String>,
    next: Instant,
    last: (Instant, u64),
    rate: f64,
}

const STATUS_EVERY: Duration = Duration::from_millis(250);

impl StatusLine {
    fn new(names: Vec<String>) -> StatusLine {
        STATUS_LINE.store(true, Ordering::Relaxed);
        let now = Instant::now();
        StatusLine {
            names,
            next: now,
            last: (now, 0),
            rate: 0.0,
        }
    }

    fn tick(&mut self, written: u64, source: &BusSource, sink: &PerBus<Out>) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + STATUS_EVERY;
        let secs = now.duration_since(self.last.0).as_secs_f64();
        if secs > 0.0 {
            self.rate = (written - self.last.1.min(written)) as f64 / secs;
        }
        self.last = (now, written);
        let figures = StatusFigures {
            frames: written,
            rate: self.rate,
            bytes: sink.inner.bytes(),
            dropped: source.dropped_so_far(),
            buses: self
                .names
                .iter()
                .cloned()
                .zip(sink.counts.iter().copied())
                .collect(),
            files: match &sink.inner {
                Out::Files(f) if f.rotating() => Some(f.stats().files),
                _ => None,
            },
        };
        let width = crossterm::terminal::size().map_or(80, |(w, _)| w as usize);
        let text = status_text(&figures, width.saturating_sub(1).max(20));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{text}\x1b[K");
        let _ = err.flush();
    }

    fn clear(&mut self) {
        STATUS_LINE.store(false, Ordering::Relaxed);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K");
        let _ = err.flush();
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        if STATUS_LINE.load(Ordering::Relaxed) {
            self.clear();
        }
    }
}

/// The end-of-run line: frames, where they went, drops and gaps.
fn summary_text(s: &Summary, out: &Out, path: &Path) -> String {
    let r = &s.source;
    let place = match out {
        Out::Stdout(w) => format!(
            "to stdout ({} bytes)",
            w.size_bound().map_or("?".into(), |b| b.to_string())
        ),
        Out::Files(f) => {
            let st = f.stats();
            let files = if f.rotating() {
                let kept = match st.deleted {
                    0 => String::new(),
                    d => format!(", {} kept", st.files - d),
                };
                format!("{} file(s){kept}", st.files)
            } else {
                path.display().to_string()
            };
            format!("into {files} ({} bytes)", st.bytes_finished)
        }
    };
    format!(
        "{} frame(s) recorded in {:.1} s {place}; {} dropped by the kernel; {} gap(s){}",
        s.written,
        s.elapsed.as_secs_f64(),
        r.dropped,
        r.gaps,
        if r.gaps > 0 {
            format!(" totalling {:.3} s", r.gap_time.as_secs_f64())
        } else {
            String::new()
        }
    )
}

/// candump -l's file name for `t`: `candump-2026-12-04_150000.log`, in local time.
fn candump_file_name(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: tm is plain data that localtime_r fills; secs is a valid time_t.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    if !ok {
        return format!("candump-{secs}.log");
    }
    format!(
        "candump-{:04}-{:02}-{:02}_{:02}{:02}{:02}.log",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Runs the tool.
pub fn run(cli: Cli) -> Result<()> {
    cli.live.verbosity.init_logging("can-logger");
    let explicit = format_arg(cli.format.as_deref())?;
    let path = match (&cli.file, cli.candump_name) {
        (Some(f), _) => f.clone(),
        (None, true) => PathBuf::from(candump_file_name(std::time::SystemTime::now())),
        (None, false) => PathBuf::from("-"),
    };
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
    let rotation = Rotation {
        size: cli.file_size,
        every: cli.rotate_every,
        keep: cli.keep.map(|k| usize::try_from(k).unwrap_or(usize::MAX)),
    };
    if rotation.rotates() && to_stdout {
        return Err(UsageError("-s and --rotate-every need a file (-f FILE)".into()).into());
    }
    // a time pattern the name cannot hold is a mistake on the command line
    FileNames::new(&path, rotation.rotates()).map_err(|e| UsageError(e.to_string()))?;
    let opts = writer_options(&cli.format_opt, cli.force, cli.append)?;
    let settings = cli.live.bus.settings_all()?;
    let mut buses = Vec::new();
    for s in &settings {
        buses.push((open_bus(s)?, s.clone()));
    }
    let dbc = if cli.dbc.is_empty() {
        None
    } else {
        if !to_stdout {
            bail!(UsageError(
                "--dbc decodes on stdout only; to decode a log, use can-convert --dbc FILE --decode"
                    .into()
            ));
        }
        if fmt != Format::Candump || !cli.format_opt.is_empty() {
            bail!(UsageError(
                "--dbc prints candump lines with their signals; it takes no --format or --format-opt"
                    .into()
            ));
        }
        let mut dbc = Dbc::default();
        for f in &cli.dbc {
            dbc.merge(Dbc::open(f)?);
        }
        Some(dbc)
    };
    let out = if to_stdout {
        let writer: Box<dyn format::RecordWriter> = match dbc {
            Some(dbc) => Box::new(DecodedLines::new(dbc)),
            None => format::create_writer(&path, Some(fmt), &opts)?,
        };
        // Lines go out when the bus goes quiet, and at least every 50 ms.
        Out::Stdout(WriterSink::new(writer, &path).live(Duration::from_millis(50)))
    } else {
        let files = RotatingSink::new(&path, fmt, opts, rotation, Timestamp::now())
            .with_context(|| format!("opening {}", path.display()))?
            .flush_every(Duration::from_secs(1))
            .grace(REORDER_WINDOW + BATCH_LATENCY + Duration::from_millis(500));
        Out::Files(Box::new(files))
    };
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
    let target = match &out {
        Out::Stdout(_) => "stdout".to_string(),
        Out::Files(f) => {
            let first = f.current().unwrap_or(&path).display().to_string();
            match (rotation.size, rotation.every) {
                (None, None) => first,
                (size, every) => {
                    let mut why = Vec::new();
                    if let Some(b) = size {
                        why.push(format!("before {b} bytes"));
                    }
                    if let Some(e) = every {
                        why.push(format!("every {} (UTC)", humantime::format_duration(e)));
                    }
                    format!("{first}, a new file {}", why.join(" and "))
                }
            }
        }
    };
    log::info!("recording {} to {target}", source.names().join(", "));
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
    let mut driver = Driver::new(stages)
        .count(cli.live.limits.count)
        .duration(cli.live.limits.duration)
        .stop(stop);
    let wait = if to_stdout {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(100)
    };
    let mut sink = PerBus {
        inner: out,
        counts: vec![0; settings.len()],
    };
    let mut status = (cli.live.verbosity.chatty()
        && std::io::stderr().is_terminal()
        && !(to_stdout && std::io::stdout().is_terminal()))
    .then(|| StatusLine::new(settings.iter().map(|s| s.channel.clone()).collect()));
    let stepped = loop {
        match driver.step(&mut source, &mut sink, wait) {
            Ok(Step::Done) => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
        if let Some(st) = status.as_mut() {
            st.tick(driver.summary().written, &source, &sink);
        }
    };
    if let Some(mut st) = status.take() {
        st.clear();
    }
    if let Err(e) = stepped {
        // Keep what was written in a well-formed file, then report.
        let _ = source.finish();
        let _ = sink.finish();
        return Err(e.into());
    }
    let s = driver.finish(&mut source, &mut sink)?;
    let line = summary_text(&s, &sink.inner, &path);
    if s.source.dropped > 0 || s.source.gaps > 0 {
        log::warn!("{line}");
    } else if cli.live.verbosity.chatty() {
        eprintln!("can-logger: {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_si_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1000), "1.00 kB");
        assert_eq!(human_bytes(12_345), "12.3 kB");
        assert_eq!(human_bytes(123_456), "123 kB");
        assert_eq!(human_bytes(10_000_000), "10.0 MB");
        assert_eq!(human_bytes(u64::MAX), "18447 PB");
    }

    #[test]
    fn the_status_line_is_short_and_cut_to_the_terminal() {
        let mut f = StatusFigures {
            frames: 12_000,
            rate: 1999.6,
            bytes: 1_234_567,
            dropped: 3,
            buses: vec![("can0".into(), 12_000)],
            files: None,
        };
        assert_eq!(
            status_text(&f, 200),
            "recording: 12000 frames, 2000/s, 1.23 MB, 3 dropped"
        );
        f.buses = vec![
            ("can0".into(), 7_000),
            ("a-very-long-virtual-channel".into(), 5_000),
        ];
        f.files = Some(4);
        let full = status_text(&f, 200);
        assert_eq!(
            full,
            "recording: 12000 frames, 2000/s, 1.23 MB in 4 files, 3 dropped \
             | can0 7000, ~ual-channel 5000"
        );
        assert_eq!(status_text(&f, 30), full[..30]);
        assert_eq!(status_text(&f, 30).chars().count(), 30);
    }

    #[test]
    fn sizes_and_rotation_times_are_checked_by_the_parser() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("can-logger").chain(args.iter().copied()))
        };
        let c = parse(&["-f", "x.blf", "-s", "10MB", "--keep", "3"]).unwrap();
        assert_eq!((c.file_size, c.keep), (Some(10_000_000), Some(3)));
        let c = parse(&[
            "-f",
            "x.blf",
            "--file_size",
            "1MiB",
            "--rotate-every",
            "15m",
        ])
        .unwrap();
        assert_eq!(c.file_size, Some(1 << 20));
        assert_eq!(c.rotate_every, Some(Duration::from_secs(900)));
        for bad in [
            &["-f", "x.blf", "--keep", "3"][..],
            &["-f", "x.blf", "-s", "1MB", "--keep", "0"],
            &["-f", "x.blf", "-s", "1MB", "-a"],
            &["-f", "x.blf", "--rotate-every", "1h", "--append"],
            &["-f", "x.blf", "--rotate-every", "1500ms"],
            &["-f", "x.blf", "-s", "ten"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
