//! Log files: the [`RecordReader`] and [`RecordWriter`] traits every format
//! implements, [`Format`] chosen from a file name (with transparent `.gz`), and
//! [`open_reader`] / [`create_writer`] that wire a path or stdin/stdout to the
//! right implementation.
//!
//! Readers and writers are streams: they hold one buffer, never the whole file,
//! so memory stays constant whatever the file size.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::frame::Record;

pub mod asc;
pub mod blf;
pub mod busmaster;
pub mod candump;
mod channels;
pub(crate) mod civil;
pub mod csv;
pub mod jsonl;
pub mod lines;
mod output;
pub mod sqlite;
pub mod trc;

pub use channels::ChannelNumbers;
pub use output::{create_file, create_output_file, FileAccess, OutputFile};

/// A stream of records read from a log.
pub trait RecordReader: Send {
    /// The next record, `Ok(None)` at the end of the log.
    fn read(&mut self) -> Result<Option<Record>>;

    /// Warnings collected so far that did not stop reading (a truncated last
    /// line, a skipped unknown object), taken once.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// A sink of records.
pub trait RecordWriter: Send {
    /// Writes one record.
    fn write(&mut self, record: &Record) -> Result<()>;

    /// Pushes buffered records to the file, so that a killed process keeps them.
    fn flush(&mut self) -> Result<()>;

    /// Completes the file (trailers, statistics) and flushes it. Must be called;
    /// a writer dropped without it leaves a readable but possibly unfinished file.
    fn finish(&mut self) -> Result<()>;
}

/// Iterates a reader: `for rec in records(&mut *reader) { ... }`.
pub fn records(reader: &mut dyn RecordReader) -> impl Iterator<Item = Result<Record>> + '_ {
    std::iter::from_fn(move || reader.read().transpose())
}

/// A log format.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Format {
    /// Vector binary logging format (`.blf`).
    Blf,
    /// Vector ASCII log (`.asc`).
    Asc,
    /// can-utils candump log (`.log`).
    Candump,
    /// python-can CSV (`.csv`).
    Csv,
    /// python-can SQLite database (`.db`, `.sqlite`).
    Sqlite,
    /// PEAK trace (`.trc`).
    Trc,
    /// JSON Lines (`.jsonl`), the schema in the README.
    Jsonl,
}

impl Format {
    /// Every format, in help order.
    pub const ALL: &'static [Format] = &[
        Format::Blf,
        Format::Asc,
        Format::Candump,
        Format::Csv,
        Format::Sqlite,
        Format::Trc,
        Format::Jsonl,
    ];

    /// The name used by `--input-format` / `--output-format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Blf => "blf",
            Format::Asc => "asc",
            Format::Candump => "log",
            Format::Csv => "csv",
            Format::Sqlite => "db",
            Format::Trc => "trc",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format for a name as `--input-format` takes it (also accepts the
    /// usual extensions and aliases).
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "blf" => Some(Format::Blf),
            "asc" => Some(Format::Asc),
            "log" | "candump" => Some(Format::Candump),
            "csv" => Some(Format::Csv),
            "db" | "sqlite" | "sqlite3" => Some(Format::Sqlite),
            "trc" => Some(Format::Trc),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// The format of a file name and whether it is gzip-compressed
    /// (`x.asc.gz` is ASC inside gzip).
    pub fn from_path(path: &Path) -> Option<(Format, bool)> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let (stem, gz) = match name.strip_suffix(".gz") {
            Some(s) => (s.to_string(), true),
            None => (name, false),
        };
        let ext = Path::new(&stem).extension()?.to_str()?;
        Format::from_name(ext).map(|f| (f, gz))
    }

    /// A list of known format names for messages.
    pub fn names() -> String {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where a writer's bytes go and how to treat an existing file.
#[derive(Clone, Debug, Default)]
pub struct WriterOptions {
    /// Overwrite an existing file.
    pub force: bool,
    /// Append to an existing file (where the format allows it).
    pub append: bool,
    /// Format-specific settings (`compression=6`, `layout=rich`, `digits=9`).
    pub options: std::collections::BTreeMap<String, String>,
}

/// The input a reader works on: a file or stdin, maybe gzip-compressed.
pub struct Input {
    /// The path, or `-` for stdin.
    pub path: PathBuf,
    /// Buffered bytes.
    pub reader: Box<dyn BufRead + Send>,
}

/// Opens `path` (or stdin for `-`) for reading, decompressing gzip when `gz`.
pub fn open_input(path: &Path, gz: bool) -> Result<Input> {
    open_input_counted(path, gz, None)
}

/// Counts the bytes read through it (for progress bars).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Like [`open_input`], adding the raw (compressed) bytes read to `count`.
pub fn open_input_counted(path: &Path, gz: bool, count: Option<Arc<AtomicU64>>) -> Result<Input> {
    let mut raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?)
    };
    if let Some(count) = count {
        raw = Box::new(Counting { inner: raw, count });
    }
    let reader: Box<dyn BufRead + Send> = if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, raw)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, raw))
    };
    Ok(Input {
        path: path.to_path_buf(),
        reader,
    })
}

/// Resolves the format of `path`, preferring an explicit one.
pub fn resolve_format(path: &Path, explicit: Option<Format>) -> Result<(Format, bool)> {
    let by_name = Format::from_path(path);
    match (explicit, by_name) {
        (Some(f), Some((_, gz))) => Ok((f, gz)),
        (Some(f), None) => Ok((f, path.to_string_lossy().ends_with(".gz"))),
        (None, Some(x)) => Ok(x),
        (None, None) => Err(Error::UnknownFormat(format!(
            "{}: cannot tell the format from the file name (known: {}); name it with --input-format/--output-format",
            path.display(),
            Format::names()
        ))),
    }
}

/// Opens a reader for `path` (`-` = stdin, which needs `format`).
pub fn open_reader(path: &Path, format: Option<Format>) -> Result<Box<dyn RecordReader>> {
    open_reader_counted(path, format, None)
}

/// Like [`open_reader`], adding the bytes read from the file to `count`
/// (for a progress bar; SQLite files are not counted).
pub fn open_reader_counted(
    path: &Path,
    format: Option<Format>,
    count: Option<Arc<AtomicU64>>,
) -> Result<Box<dyn RecordReader>> {
    let (format, gz) = resolve_format(path, format)?;
    if format == Format::Sqlite {
        return Ok(Box::new(sqlite::Reader::open(path)?));
    }
    let input = open_input_counted(path, gz, count)?;
    Ok(match format {
        Format::Blf => Box::new(blf::Reader::new(input)?),
        Format::Asc => Box::new(asc::Reader::new(input)?),
        Format::Candump => {
            // BUSMASTER logs share the .log suffix: the content decides.
            let mut input = input;
            let head = input
                .reader
                .fill_buf()
                .map_err(|e| read_err(&input.path, e))?;
            if busmaster::Reader::is_header(head) {
                Box::new(busmaster::Reader::new(input)?)
            } else {
                Box::new(candump::Reader::new(input))
            }
        }
        Format::Csv => Box::new(csv::Reader::new(input)?),
        Format::Sqlite => unreachable!("handled above"),
        Format::Trc => Box::new(trc::Reader::new(input)?),
        Format::Jsonl => Box::new(jsonl::Reader::new(input)),
    })
}

/// The byte sink a writer works on.
pub struct Output {
    /// The path, or `-` for stdout.
    pub path: PathBuf,
    /// True when appending to a file that already has content.
    pub appending: bool,
    /// Buffered bytes (gzip-compressed when the name ends in `.gz`).
    pub writer: Box<dyn Write + Send>,
}

/// Opens `path` (or stdout for `-`) for writing. Refuses to replace an existing
/// file unless `force` or `append`.
pub fn open_output(path: &Path, gz: bool, opts: &WriterOptions) -> Result<Output> {
    if path == Path::new("-") {
        return Ok(Output {
            path: path.to_path_buf(),
            appending: false,
            writer: Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
        });
    }
    let OutputFile { file, appending } = create_output_file(path, opts, FileAccess::Sequential)?;
    let writer: Box<dyn Write + Send> = if gz {
        Box::new(flate2::write::GzEncoder::new(
            BufWriter::with_capacity(1 << 16, file),
            flate2::Compression::default(),
        ))
    } else {
        Box::new(BufWriter::with_capacity(1 << 16, file))
    };
    Ok(Output {
        path: path.to_path_buf(),
        appending,
        writer,
    })
}

/// Creates a writer for `path` (`-` = stdout, which needs `format`).
pub fn create_writer(
    path: &Path,
    format: Option<Format>,
    opts: &WriterOptions,
) -> Result<Box<dyn RecordWriter>> {
    let (format, gz) = resolve_format(path, format)?;
    if format == Format::Sqlite {
        return Ok(Box::new(sqlite::Writer::create(path, opts)?));
    }
    if format == Format::Blf && !gz && path != Path::new("-") {
        // a seekable file: the header statistics are rewritten in place
        return Ok(Box::new(blf::Writer::create(path, opts)?));
    }
    let out = open_output(path, gz, opts)?;
    Ok(match format {
        Format::Blf => Box::new(blf::Writer::new(out, opts)?),
        Format::Asc => Box::new(asc::Writer::new(out, opts)?),
        Format::Candump => Box::new(candump::Writer::new(out, opts)?),
        Format::Csv => Box::new(csv::Writer::new(out, opts)?),
        Format::Sqlite => unreachable!("handled above"),
        Format::Trc => Box::new(trc::Writer::new(out, opts)?),
        Format::Jsonl => Box::new(jsonl::Writer::new(out)),
    })
}

/// Maps an I/O error while writing into a library error naming the file.
pub(crate) fn write_err(path: &Path, e: io::Error) -> Error {
    Error::io(format!("writing {}", path.display()), e)
}

/// Maps an I/O error while reading into a library error naming the file.
pub(crate) fn read_err(path: &Path, e: io::Error) -> Error {
    Error::io(format!("reading {}", path.display()), e)
}
