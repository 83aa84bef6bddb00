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
pub(crate) mod bytes;
pub mod candump;
pub(crate) mod channels;
pub(crate) mod civil;
pub mod csv;
pub mod jsonl;
pub mod lines;
pub mod mf4;
pub(crate) mod output;
pub mod pcapng;
pub mod sqlite;
pub mod trc;

pub use channels::ChannelNumbers;
pub use output::{create_file, create_output_file, FileAccess, GuardedFile, OutputFile};

/// A stream of records read from a log.
pub trait RecordReader: Send {
    /// The next record, `Ok(None)` at the end of the log.
    fn read(&mut self) -> Result<Option<Record>>;

    /// Warnings collected so far that did not stop reading (a truncated last
    /// line, a skipped unknown object), taken once.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Lines (or objects) skipped so far because they did not read, each
    /// counted and the first few named in the warnings.
    fn skipped(&self) -> u64 {
        0
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

    /// At most how many bytes the output would hold if it were finished now:
    /// what is written, what the writer still holds (a compressing writer
    /// counts it at deflate's worst case, [`deflate_bound`]) and what `finish`
    /// would add. Counted before the gzip of a `.gz` output, which the caller
    /// bounds itself. Rotation by size ([`crate::pipe::RotatingSink`]) rotates
    /// on it, flushing first when a flush would make it smaller (a compressed
    /// container written, a transaction committed). `None`: the writer cannot
    /// tell, and rotation by size refuses the format.
    fn size_bound(&self) -> Option<u64> {
        None
    }
}

/// The most bytes deflate (zlib or gzip framing included, sync flushes at
/// either end) turns `n` bytes into: zlib's `deflateBound` (a stored block
/// costs 5 bytes per block of at least 16 KiB) with room to spare.
pub fn deflate_bound(n: u64) -> u64 {
    n + n / 1024 + 64
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
    /// pcapng packet capture of SocketCAN frames (`.pcapng`; classic `.pcap` is read too).
    Pcapng,
    /// ASAM MDF 4 bus logging (`.mf4`).
    Mf4,
}

/// How a format is read.
#[derive(Clone, Copy, Debug)]
pub enum ReadFn {
    /// From a stream of bytes (a file, stdin, gzip, a fuzzer's buffer).
    Stream(fn(Input) -> Result<Box<dyn RecordReader>>),
    /// Only from a real file (SQLite, MF4).
    File(fn(&Path) -> Result<Box<dyn RecordReader>>),
}

/// One format: its names, help, what it can hold and how to read and write
/// it. [`FORMATS`] lists them all; `--help` texts, completions,
/// [`Format::from_path`], [`open_reader`], [`create_writer`] and the error
/// listing the known names derive from it. Adding a format is one module in
/// `src/format/`, a [`Format`] variant and one entry there.
#[derive(Clone, Copy, Debug)]
pub struct FormatInfo {
    /// The format.
    pub format: Format,
    /// The name `--input-format`/`--output-format` take, also its usual extension.
    pub name: &'static str,
    /// Other names and extensions that mean it.
    pub aliases: &'static [&'static str],
    /// One line for `--help`.
    pub help: &'static str,
    /// Channels are numbers (1-based) rather than names.
    pub numbers_channels: bool,
    /// Needs a real file: no stdin/stdout, no gzip.
    pub needs_file: bool,
    /// The `--format-opt` keys its writer takes, each with one line of help.
    pub options: &'static [(&'static str, &'static str)],
    /// Reads it.
    pub read: ReadFn,
    /// Creates a writer on `path` (`-` = stdout), gzip-compressed if the flag says so.
    pub create: fn(&Path, bool, &WriterOptions) -> Result<Box<dyn RecordWriter>>,
}

/// Every format, in help order.
pub static FORMATS: &[FormatInfo] = &[
    FormatInfo {
        format: Format::Blf,
        name: "blf",
        aliases: &[],
        help: "Vector binary logging format",
        numbers_channels: true,
        needs_file: false,
        options: &[("compression", "zlib level 0 (stored) to 9, default 6")],
        read: ReadFn::Stream(|i| Ok(Box::new(blf::Reader::new(i)?))),
        create: |p, gz, o| {
            if !gz && p != Path::new("-") {
                // a seekable file: the header statistics are rewritten in place
                return Ok(Box::new(blf::Writer::create(p, o)?));
            }
            Ok(Box::new(blf::Writer::new(open_output(p, gz, o)?, o)?))
        },
    },
    FormatInfo {
        format: Format::Asc,
        name: "asc",
        aliases: &[],
        help: "Vector ASCII log",
        numbers_channels: true,
        needs_file: false,
        options: &[],
        read: ReadFn::Stream(|i| Ok(Box::new(asc::Reader::new(i)?))),
        create: |p, gz, o| Ok(Box::new(asc::Writer::new(open_output(p, gz, o)?, o)?)),
    },
    FormatInfo {
        format: Format::Candump,
        name: "log",
        aliases: &["candump"],
        help: "can-utils candump log (candump -L); BUSMASTER logs are read too",
        numbers_channels: false,
        needs_file: false,
        options: &[
            ("digits", "6 or 9 decimals in the timestamp, default 6"),
            ("direction", "true or false: the R/T suffix, default true"),
        ],
        read: ReadFn::Stream(|mut input| {
            // BUSMASTER logs share the .log suffix: the content decides.
            let head = input
                .reader
                .fill_buf()
                .map_err(|e| read_err(&input.path, e))?;
            if busmaster::Reader::is_header(head) {
                Ok(Box::new(busmaster::Reader::new(input)?))
            } else {
                Ok(Box::new(candump::Reader::new(input)))
            }
        }),
        create: |p, gz, o| Ok(Box::new(candump::Writer::new(open_output(p, gz, o)?, o)?)),
    },
    FormatInfo {
        format: Format::Csv,
        name: "csv",
        aliases: &[],
        help: "python-can CSV",
        numbers_channels: false,
        needs_file: false,
        options: &[("layout", "python (python-can's columns) or rich")],
        read: ReadFn::Stream(|i| Ok(Box::new(csv::Reader::new(i)?))),
        create: |p, gz, o| Ok(Box::new(csv::Writer::new(open_output(p, gz, o)?, o)?)),
    },
    FormatInfo {
        format: Format::Sqlite,
        name: "db",
        aliases: &["sqlite", "sqlite3"],
        help: "python-can SQLite database",
        numbers_channels: false,
        needs_file: true,
        options: &[],
        read: ReadFn::File(|p| Ok(Box::new(sqlite::Reader::open(p)?))),
        create: |p, _, o| Ok(Box::new(sqlite::Writer::create(p, o)?)),
    },
    FormatInfo {
        format: Format::Trc,
        name: "trc",
        aliases: &[],
        help: "PEAK trace",
        numbers_channels: true,
        needs_file: false,
        options: &[],
        read: ReadFn::Stream(|i| Ok(Box::new(trc::Reader::new(i)?))),
        create: |p, gz, o| Ok(Box::new(trc::Writer::new(open_output(p, gz, o)?, o)?)),
    },
    FormatInfo {
        format: Format::Jsonl,
        name: "jsonl",
        aliases: &["ndjson", "json"],
        help: "JSON Lines, one object per frame",
        numbers_channels: false,
        needs_file: false,
        options: &[],
        read: ReadFn::Stream(|i| Ok(Box::new(jsonl::Reader::new(i)))),
        create: |p, gz, o| Ok(Box::new(jsonl::Writer::new(open_output(p, gz, o)?))),
    },
    FormatInfo {
        format: Format::Pcapng,
        name: "pcapng",
        aliases: &["pcap"],
        help:
            "pcapng capture of SocketCAN frames, as Wireshark opens it (classic pcap is read too)",
        numbers_channels: false,
        needs_file: false,
        options: &[],
        read: ReadFn::Stream(|i| Ok(Box::new(pcapng::Reader::new(i)?))),
        create: |p, gz, o| Ok(Box::new(pcapng::Writer::new(open_output(p, gz, o)?, o)?)),
    },
    FormatInfo {
        format: Format::Mf4,
        name: "mf4",
        aliases: &["mdf"],
        help: "ASAM MDF 4 bus logging (CANedge, asammdf, python-can)",
        numbers_channels: true,
        // links are file offsets: read with seeks, patched at the end
        needs_file: true,
        options: &[(
            "compression",
            "0 (none, default) or a deflate level 1-9 (DZ blocks)",
        )],
        read: ReadFn::File(|p| Ok(Box::new(mf4::Reader::open(p)?))),
        create: |p, _, o| Ok(Box::new(mf4::Writer::create(p, o)?)),
    },
];

impl Format {
    /// Every format, in help order.
    pub fn all() -> impl Iterator<Item = Format> {
        FORMATS.iter().map(|f| f.format)
    }

    /// Its registry entry.
    pub fn info(self) -> &'static FormatInfo {
        match FORMATS.iter().find(|f| f.format == self) {
            Some(f) => f,
            None => unreachable!("every format has an entry in FORMATS"),
        }
    }

    /// The name used by `--input-format` / `--output-format`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// True for formats that number channels (1-based) rather than name them.
    pub fn numbers_channels(self) -> bool {
        self.info().numbers_channels
    }

    /// The format for a name as `--input-format` takes it (also accepts the
    /// usual extensions and aliases).
    pub fn from_name(name: &str) -> Option<Format> {
        let name = name.to_ascii_lowercase();
        FORMATS
            .iter()
            .find(|f| f.name == name || f.aliases.contains(&name.as_str()))
            .map(|f| f.format)
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
        FORMATS
            .iter()
            .map(|f| f.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The format named `name`, or an error listing the known ones.
    pub fn parse(name: &str) -> Result<Format> {
        Format::from_name(name).ok_or_else(|| Error::UnknownFormat {
            name: name.to_string(),
            known: Format::names(),
        })
    }
}

/// Every format's `--format-opt` keys with their help, for `--help`.
pub fn options_help() -> String {
    options_text(FORMATS.iter().map(|f| (f.name, f.options)))
}

/// The extensions the formats are known by, for help texts: `.blf .asc ...`.
pub fn extensions_text() -> String {
    FORMATS
        .iter()
        .map(|f| format!(".{}", f.name))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `name: key= (help), ...; name: ...` for registry entries with options.
pub(crate) fn options_text<'a>(
    entries: impl Iterator<Item = (&'a str, &'a [(&'a str, &'a str)])>,
) -> String {
    entries
        .filter(|(_, opts)| !opts.is_empty())
        .map(|(name, opts)| {
            let keys: Vec<String> = opts.iter().map(|(k, h)| format!("{k}= ({h})")).collect();
            format!("{name}: {}", keys.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
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

/// A count of the bytes written through the writers it [`wraps`](ByteCount::wrap),
/// for a [`RecordWriter::size_bound`] (a clone shares the count).
#[derive(Clone, Debug, Default)]
pub struct ByteCount(Arc<AtomicU64>);

impl ByteCount {
    /// The bytes counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// `inner`, counting what is written through it.
    pub fn wrap<W: Write>(&self, inner: W) -> CountingWriter<W> {
        CountingWriter {
            inner,
            count: self.clone(),
        }
    }
}

/// A writer counting its bytes into a [`ByteCount`].
pub struct CountingWriter<W> {
    inner: W,
    count: ByteCount,
}

impl<W: Write> Write for CountingWriter<W> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Like [`open_input`], adding the raw (compressed) bytes read to `count`.
pub fn open_input_counted(path: &Path, gz: bool, count: Option<Arc<AtomicU64>>) -> Result<Input> {
    let mut raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| Error::no_input(path, e))?)
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
        (None, None) => Err(Error::FormatOfPath {
            path: path.to_path_buf(),
            known: Format::names(),
        }),
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
    let info = format.info();
    match info.read {
        ReadFn::File(_) if path == Path::new("-") || gz => Err(Error::NeedsFile {
            format: info.help,
            action: "read from",
        }),
        ReadFn::File(read) => read(path),
        ReadFn::Stream(read) => read(open_input_counted(path, gz, count)?),
    }
}

/// A reader of `format` over `input` (any bytes: a file, stdin, a buffer).
/// Formats that need a real file (SQLite) are refused.
pub fn read_stream(format: Format, input: Input) -> Result<Box<dyn RecordReader>> {
    match format.info().read {
        ReadFn::Stream(read) => read(input),
        ReadFn::File(_) => Err(Error::NeedsFile {
            format: format.info().help,
            action: "read from",
        }),
    }
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
    // A failed write cuts the file back to its last flush (GuardedFile).
    let file = GuardedFile::new(file, path)?;
    let writer: Box<dyn Write + Send> = if gz {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::default(),
        ))
    } else {
        Box::new(file)
    };
    Ok(Output {
        path: path.to_path_buf(),
        appending,
        writer,
    })
}

/// Creates a writer for `path` (`-` = stdout, which needs `format`).
/// Options the format does not take are refused, naming the ones it does.
pub fn create_writer(
    path: &Path,
    format: Option<Format>,
    opts: &WriterOptions,
) -> Result<Box<dyn RecordWriter>> {
    let (format, gz) = resolve_format(path, format)?;
    let info = format.info();
    if info.needs_file && path == Path::new("-") {
        return Err(Error::NeedsFile {
            format: info.help,
            action: "written to",
        });
    }
    for key in opts.options.keys() {
        if !info.options.iter().any(|(k, _)| k == key) {
            let known: Vec<&str> = info.options.iter().map(|(k, _)| *k).collect();
            return Err(Error::unknown_option(
                format!("the {} format", info.name),
                key,
                &known,
            ));
        }
    }
    (info.create)(path, gz, opts)
}

/// Maps an I/O error while writing into a library error naming the file
/// (`-` is stdout).
pub(crate) fn write_err(path: &Path, e: io::Error) -> Error {
    if path == Path::new("-") {
        return Error::io("writing stdout", e);
    }
    Error::io(format!("writing {}", path.display()), e)
}

/// Maps an I/O error while reading into a library error naming the file.
pub(crate) fn read_err(path: &Path, e: io::Error) -> Error {
    Error::io(format!("reading {}", path.display()), e)
}

/// What a writer makes of `records`, written into memory (for tests).
#[cfg(test)]
pub(crate) fn written<W: RecordWriter>(
    path: &str,
    new: impl FnOnce(Output, &WriterOptions) -> Result<W>,
    records: &[Record],
) -> Vec<u8> {
    use std::sync::{Arc, Mutex};
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mem = Arc::new(Mutex::new(Vec::new()));
    let out = Output {
        path: path.into(),
        appending: false,
        writer: Box::new(Shared(mem.clone())),
    };
    let mut w = new(out, &WriterOptions::default()).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
    let v = mem.lock().unwrap().clone();
    v
}

/// A small seeded random number generator for tests (xorshift64).
#[cfg(test)]
pub(crate) fn test_rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// `bytes` as an input named `path` (for tests).
#[cfg(test)]
pub(crate) fn in_memory(path: &str, bytes: &[u8]) -> Input {
    Input {
        path: path.into(),
        reader: Box::new(std::io::Cursor::new(bytes.to_vec())),
    }
}

/// Every record of `bytes`, read as the format `path`'s extension names (for
/// tests).
#[cfg(test)]
pub(crate) fn read_in_memory(path: &str, bytes: &[u8]) -> Result<Vec<Record>> {
    let (format, _) = Format::from_path(Path::new(path)).unwrap();
    let mut r = read_stream(format, in_memory(path, bytes))?;
    records(&mut *r).collect()
}
