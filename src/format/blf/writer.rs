//! BLF writing: objects are collected into a container buffer, which is
//! compressed and written whole when the next object would pass 128 KiB, on
//! `flush` and on `finish`. Containers are compressed by a small pool of threads
//! (a few in flight, written in order), since deflate is what a fast conversion
//! waits for. After each container the header statistics are rewritten in place
//! (when the output is a file), so the file on disk is always complete up to its
//! last written container.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use flate2::{Compress, Compression, FlushCompress, Status};

use super::reader::{count_objects, scan_containers};
use super::{
    nanos_to_systemtime, systemtime_to_nanos, FileHeader, ABSOLUTE_MIN_SECS, CAN_ERROR_EXT,
    CAN_FD_ERROR_64, CAN_FD_MESSAGE, CAN_FD_MESSAGE_64, CAN_MESSAGE, HEADER_SIZE, ID_EXT,
    LOG_CONTAINER, OBJ_SIGNATURE,
};
use crate::error::{Error, Result};
use crate::format::{
    create_output_file, write_err, ChannelNumbers, FileAccess, Output, OutputFile, RecordWriter,
    WriterOptions,
};
use crate::frame::{Channel, Direction, Frame, Record};

/// Uncompressed bytes per container (Vector's default).
const CONTAINER_SIZE: usize = 128 * 1024;
/// Room for the largest object we write (CAN_FD_MESSAGE_64 with 64 bytes: 136).
const MAX_OBJECT: usize = 160;

enum Sink {
    /// A seekable file: the header is kept up to date.
    File(File),
    /// stdout or a gzip stream: the provisional header stays.
    Stream(Box<dyn Write + Send>),
}

/// Writes BLF.
pub struct Writer {
    path: PathBuf,
    sink: Sink,
    /// The compressor pool (none for level 0: stored containers).
    pool: Option<DeflatePool>,
    /// Containers being compressed, oldest first.
    in_flight: VecDeque<Receiver<Deflated>>,
    /// zlib level (0: stored).
    level: u32,
    /// The flushing thread's own compressor, for a partial container when
    /// none is in flight (a periodic flush): no hand-over to the pool.
    inline: Option<(Compress, Vec<u8>)>,
    /// Spent buffers for the next containers.
    spare: Vec<Vec<u8>>,
    stream: Vec<u8>,
    header_bytes: [u8; HEADER_SIZE],
    header: FileHeader,
    start_ns: Option<i64>,
    last_ns: i64,
    file_len: u64,
    /// A stream output's header waits for the start time (the first record).
    header_pending: bool,
    /// The number of each record's channel.
    channels: ChannelNumbers,
    finished: bool,
}

/// The `compression=N` option: 0-9, default 6.
fn level(opts: &WriterOptions) -> Result<u32> {
    match opts.options.get("compression") {
        None => Ok(6),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if n <= 9 => Ok(n),
            _ => Err(Error::bad_option_value(
                "the blf format",
                "compression",
                v,
                "a level from 0 (stored) to 9",
            )),
        },
    }
}

impl Writer {
    fn build(path: PathBuf, sink: Sink, level: u32) -> Writer {
        let header = FileHeader {
            header_size: HEADER_SIZE as u32,
            file_size: HEADER_SIZE as u64,
            uncompressed_size: HEADER_SIZE as u64,
            ..FileHeader::default()
        };
        Writer {
            path,
            sink,
            pool: (level > 0).then(|| DeflatePool::new(level)),
            in_flight: VecDeque::new(),
            level,
            inline: None,
            spare: Vec::new(),
            stream: Vec::with_capacity(CONTAINER_SIZE + MAX_OBJECT),
            header_bytes: header.to_bytes(level as u8),
            header,
            start_ns: None,
            last_ns: i64::MIN,
            file_len: 0,
            header_pending: false,
            channels: ChannelNumbers::new(),
            finished: false,
        }
    }

    /// A writer over an opened, non-seekable output (stdout, gzip): the header
    /// statistics stay provisional, as python-can leaves them there.
    pub fn new(out: Output, opts: &WriterOptions) -> Result<Writer> {
        let level = level(opts)?;
        if out.appending {
            return Err(Error::Unsupported(format!(
                "{}: appending to a BLF file needs a plain (not compressed) file",
                out.path.display()
            )));
        }
        let mut w = Writer::build(out.path, Sink::Stream(out.writer), level);
        w.header_pending = true;
        Ok(w)
    }

    /// Creates (or with `opts.append` continues) a BLF file, keeping its header
    /// statistics current.
    pub fn create(path: &Path, opts: &WriterOptions) -> Result<Writer> {
        let level = level(opts)?;
        let OutputFile { file, appending } = create_output_file(path, opts, FileAccess::Random)?;
        if appending {
            let len = file
                .metadata()
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
                .len();
            return Writer::continue_file(path, file, len, level);
        }
        let mut w = Writer::build(path.to_path_buf(), Sink::File(file), level);
        let head = w.header_bytes;
        w.raw_write(&head)?;
        Ok(w)
    }

    /// Appending: keeps the header (start time, application bytes), drops a
    /// cut-off tail after the last complete container and continues there.
    fn continue_file(path: &Path, mut file: File, len: u64, level: u32) -> Result<Writer> {
        let rerr = |e| Error::io(format!("reading {}", path.display()), e);
        let mut head = [0u8; HEADER_SIZE];
        file.seek(SeekFrom::Start(0)).map_err(rerr)?;
        let n = file.read(&mut head).map_err(rerr)?;
        let header = if n == HEADER_SIZE {
            FileHeader::parse(&head)
        } else {
            None
        };
        let Some(mut header) = header else {
            return Err(Error::format(
                crate::error::Position::Byte(0),
                "cannot append: not a BLF file (no LOGG header)",
            )
            .in_file(path));
        };
        let hsize = (header.header_size as u64).max(HEADER_SIZE as u64);
        file.seek(SeekFrom::Start(hsize)).map_err(rerr)?;
        let (end, containers) =
            scan_containers(&mut io::BufReader::new(&mut file), hsize, len).map_err(rerr)?;
        if end < len {
            file.set_len(end).map_err(|e| write_err(path, e))?;
        }
        if header.file_size != end || end != len {
            // a file whose writer was killed: recount what it holds
            header.object_count = count_objects(path)?.min(u32::MAX as u64) as u32;
        }
        header.uncompressed_size = hsize + containers;
        header.file_size = end;
        file.seek(SeekFrom::Start(end))
            .map_err(|e| write_err(path, e))?;
        let start = systemtime_to_nanos(&header.start);
        let mut w = Writer::build(path.to_path_buf(), Sink::File(file), level);
        w.start_ns = match start {
            Some(s) => Some(s),
            None if header.object_count > 0 => Some(0),
            None => None,
        };
        w.last_ns = systemtime_to_nanos(&header.stop).unwrap_or(i64::MIN);
        w.file_len = end;
        w.header_bytes = head;
        w.header = header;
        w.update_header()?;
        Ok(w)
    }

    fn raw_write(&mut self, bytes: &[u8]) -> Result<()> {
        let r = match &mut self.sink {
            Sink::File(f) => f.write_all(bytes),
            Sink::Stream(s) => s.write_all(bytes),
        };
        r.map_err(|e| write_err(&self.path, e))?;
        self.file_len += bytes.len() as u64;
        Ok(())
    }

    /// Writes a stream output's header, once the start time is known.
    fn write_pending_header(&mut self) -> Result<()> {
        if self.header_pending {
            self.header_pending = false;
            self.header.patch(&mut self.header_bytes);
            let head = self.header_bytes;
            self.raw_write(&head)?;
        }
        Ok(())
    }

    /// Rewrites the header statistics in place (files only).
    fn update_header(&mut self) -> Result<()> {
        let Sink::File(f) = &mut self.sink else {
            return Ok(());
        };
        self.header.file_size = self.file_len;
        self.header.patch(&mut self.header_bytes);
        let path = &self.path;
        f.seek(SeekFrom::Start(0))
            .and_then(|_| f.write_all(&self.header_bytes))
            .and_then(|_| f.seek(SeekFrom::Start(self.file_len)))
            .map(|_| ())
            .map_err(|e| write_err(path, e))
    }

    /// Hands the buffered objects to the compressors (or writes them stored),
    /// writing finished containers in order.
    fn write_container(&mut self) -> Result<()> {
        self.write_pending_header()?;
        if self.stream.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(CONTAINER_SIZE + MAX_OBJECT));
        let stream = std::mem::replace(&mut self.stream, next);
        let Some(pool) = &self.pool else {
            let r = self.emit(0, &stream, stream.len());
            self.recycle(stream);
            return r;
        };
        let (reply, done) = sync_channel(1);
        let out = self.spare.pop().unwrap_or_default();
        let depth = pool.depth;
        if !pool.send(Deflate { stream, out, reply }) {
            return Err(self.pool_gone());
        }
        self.in_flight.push_back(done);
        while self.in_flight.len() > depth {
            self.complete_one()?;
        }
        Ok(())
    }

    fn pool_gone(&self) -> Error {
        write_err(
            &self.path,
            io::Error::other("a BLF compressor thread stopped"),
        )
    }

    /// Waits for the oldest container in flight and writes it.
    fn complete_one(&mut self) -> Result<()> {
        let Some(done) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let d = done.recv().map_err(|_| self.pool_gone())?;
        if let Some(e) = d.error {
            return Err(write_err(&self.path, io::Error::other(e)));
        }
        let r = self.emit(2, &d.out, d.stream.len());
        self.recycle(d.stream);
        self.recycle(d.out);
        r
    }

    fn recycle(&mut self, mut v: Vec<u8>) {
        if self.spare.len() < 8 {
            v.clear();
            self.spare.push(v);
        }
    }

    /// Writes one container (header, payload, padding) and the statistics.
    fn emit(&mut self, method: u16, payload: &[u8], uncompressed: usize) -> Result<()> {
        let osize = 32 + payload.len() as u32;
        let mut head = [0u8; 32];
        head[0..4].copy_from_slice(OBJ_SIGNATURE);
        head[4..6].copy_from_slice(&16u16.to_le_bytes());
        head[6..8].copy_from_slice(&1u16.to_le_bytes());
        head[8..12].copy_from_slice(&osize.to_le_bytes());
        head[12..16].copy_from_slice(&LOG_CONTAINER.to_le_bytes());
        head[16..18].copy_from_slice(&method.to_le_bytes());
        head[24..28].copy_from_slice(&(uncompressed as u32).to_le_bytes());
        self.raw_write(&head)?;
        self.raw_write(payload)?;
        let pad = (osize % 4) as usize;
        if pad > 0 {
            self.raw_write(&[0u8; 3][..pad])?;
        }
        self.header.uncompressed_size += 32 + uncompressed as u64;
        self.update_header()
    }

    /// The file's channel number for a record's channel.
    fn channel_number(&mut self, ch: &Channel) -> Result<u32> {
        let n = self.channels.number(ch);
        if n > u16::MAX as u32 {
            return Err(Error::Unsupported(format!(
                "{}: BLF channel numbers stop at 65535, not {n}",
                self.path.display()
            )));
        }
        Ok(n)
    }
}

/// The 32-byte object header v1 with nanosecond time.
fn object_header(out: &mut [u8], size: u32, otype: u32, ts: u64) {
    out[0..4].copy_from_slice(OBJ_SIGNATURE);
    out[4..6].copy_from_slice(&32u16.to_le_bytes());
    out[6..8].copy_from_slice(&1u16.to_le_bytes());
    out[8..12].copy_from_slice(&size.to_le_bytes());
    out[12..16].copy_from_slice(&otype.to_le_bytes());
    out[16..20].copy_from_slice(&2u32.to_le_bytes()); // 1 ns units
    out[24..32].copy_from_slice(&ts.to_le_bytes());
}

/// Encodes one record as a BLF object into `out`; returns its length with padding.
fn encode(out: &mut [u8; MAX_OBJECT], f: &Frame, channel: u32, tx: bool, ts: u64) -> usize {
    let id = f.id().raw() | if f.id().is_extended() { ID_EXT } else { 0 };
    let b = &mut out[32..];
    let (size, otype) = if f.is_error() {
        let dir_bits: u16 = if tx { 3 << 12 } else { (2 << 12) | 0x20 };
        if f.is_fd() && channel <= 0xFF {
            // CAN_FD_ERROR_64: 44 fixed bytes, then the data
            b[0] = channel as u8;
            b[1] = f.dlc();
            b[2] = f.len() as u8;
            b[6..8].copy_from_slice(&dir_bits.to_le_bytes());
            // FD/BRS/ESI, in both layouts seen in readers (0x01/0x02/0x04 and 0x80/0x40/0x20)
            let ext: u16 = 0x81 | if f.brs() { 0x42 } else { 0 } | if f.esi() { 0x24 } else { 0 };
            b[8..10].copy_from_slice(&ext.to_le_bytes());
            b[12..16].copy_from_slice(&(id | ID_EXT).to_le_bytes());
            b[44..44 + f.len()].copy_from_slice(f.data_bytes());
            (32 + 44 + f.len(), CAN_FD_ERROR_64)
        } else {
            // CAN_ERROR_EXT: 24 fixed bytes and 8 data bytes
            b[0..2].copy_from_slice(&(channel as u16).to_le_bytes());
            b[10] = f.dlc();
            b[16..20].copy_from_slice(&(id | ID_EXT).to_le_bytes());
            b[20..22].copy_from_slice(&dir_bits.to_le_bytes());
            b[24..24 + f.len()].copy_from_slice(f.data_bytes());
            (64, CAN_ERROR_EXT)
        }
    } else if let Some(fd) = f.fd_flags() {
        if channel <= 0xFF {
            // CAN_FD_MESSAGE_64: 40 fixed bytes, then the data
            b[0] = channel as u8;
            b[1] = f.dlc();
            b[2] = f.len() as u8;
            b[4..8].copy_from_slice(&id.to_le_bytes());
            let flags: u32 = 0x1000
                | if f.is_remote() { 0x10 } else { 0 }
                | if fd.brs { 0x2000 } else { 0 }
                | if fd.esi { 0x4000 } else { 0 };
            b[12..16].copy_from_slice(&flags.to_le_bytes());
            b[34] = tx as u8;
            b[40..40 + f.len()].copy_from_slice(f.data_bytes());
            (32 + 40 + f.len(), CAN_FD_MESSAGE_64)
        } else {
            // CAN_FD_MESSAGE keeps a 16-bit channel
            b[0..2].copy_from_slice(&(channel as u16).to_le_bytes());
            b[2] = tx as u8 | if f.is_remote() { 0x80 } else { 0 };
            b[3] = f.dlc();
            b[4..8].copy_from_slice(&id.to_le_bytes());
            b[13] = 1 | (fd.brs as u8) << 1 | (fd.esi as u8) << 2;
            b[14] = f.len() as u8;
            b[20..20 + f.len()].copy_from_slice(f.data_bytes());
            (32 + 88, CAN_FD_MESSAGE)
        }
    } else {
        // CAN_MESSAGE: 16 bytes
        b[0..2].copy_from_slice(&(channel as u16).to_le_bytes());
        b[2] = tx as u8 | if f.is_remote() { 0x80 } else { 0 };
        b[3] = f.dlc();
        b[4..8].copy_from_slice(&id.to_le_bytes());
        b[8..8 + f.len()].copy_from_slice(f.data_bytes());
        (48, CAN_MESSAGE)
    };
    object_header(out, size as u32, otype, ts);
    // python-can and Vector's tools pad each object with size % 4 zero bytes
    size + size % 4
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        if self.finished {
            return Err(Error::write_after_finish(&self.path));
        }
        let ts = r.timestamp.as_nanos();
        let start = match self.start_ns {
            Some(s) => s,
            None => {
                let s = if ts < ABSOLUTE_MIN_SECS * 1_000_000_000 {
                    0 // a relative log: store times as they are, start unknown
                } else {
                    ts - ts.rem_euclid(1_000_000)
                };
                self.start_ns = Some(s);
                if s != 0 {
                    self.header.start = nanos_to_systemtime(s);
                }
                s
            }
        };
        if ts > self.last_ns {
            self.last_ns = ts;
            if start != 0 {
                self.header.stop = nanos_to_systemtime(ts);
            }
        }
        let rel = ts.saturating_sub(start).max(0) as u64;
        let channel = self.channel_number(&r.channel)?;
        let mut obj = [0u8; MAX_OBJECT];
        let n = encode(
            &mut obj,
            &r.frame,
            channel,
            r.direction == Direction::Tx,
            rel,
        );
        if self.stream.len() + n > CONTAINER_SIZE {
            self.write_container()?;
        }
        self.stream.extend_from_slice(&obj[..n]);
        self.header.object_count = self.header.object_count.saturating_add(1);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.level > 0 && self.in_flight.is_empty() && !self.stream.is_empty() {
            self.write_pending_header()?;
            let level = self.level;
            let (mut z, mut out) = self
                .inline
                .take()
                .unwrap_or_else(|| (Compress::new(Compression::new(level), true), Vec::new()));
            let r = deflate(&mut z, &self.stream, &mut out)
                .map_err(|e| write_err(&self.path, io::Error::other(e)))
                .and_then(|_| self.emit(2, &out, self.stream.len()));
            self.inline = Some((z, out));
            r?;
            self.stream.clear();
        }
        self.write_container()?;
        while !self.in_flight.is_empty() {
            self.complete_one()?;
        }
        let r = match &mut self.sink {
            Sink::File(f) => f.flush(),
            Sink::Stream(s) => s.flush(),
        };
        r.map_err(|e| write_err(&self.path, e))
    }

    fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.flush()?;
        self.finished = true;
        Ok(())
    }

    fn size_bound(&self) -> Option<u64> {
        // what is held becomes containers: a 32-byte header, the objects
        // deflated (or stored), up to 3 bytes of padding
        let container = |n: u64| match n {
            0 => 0,
            n => 32 + crate::format::deflate_bound(n) + 3,
        };
        let held = container(self.stream.len() as u64)
            + self.in_flight.len() as u64 * container(CONTAINER_SIZE as u64);
        let header = if self.header_pending {
            HEADER_SIZE as u64
        } else {
            0
        };
        Some(self.file_len + header + held)
    }
}

impl Drop for Writer {
    /// Best effort: a writer dropped without `finish` still writes what it holds.
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish();
        }
    }
}

/// One container to compress; the buffers come back in [`Deflated`].
struct Deflate {
    stream: Vec<u8>,
    out: Vec<u8>,
    reply: SyncSender<Deflated>,
}

struct Deflated {
    stream: Vec<u8>,
    out: Vec<u8>,
    error: Option<flate2::CompressError>,
}

/// Threads compressing containers, each with its own zlib state.
struct DeflatePool {
    jobs: SyncSender<Deflate>,
    /// Containers allowed in flight before the writer waits for the oldest.
    depth: usize,
}

impl DeflatePool {
    fn new(level: u32) -> DeflatePool {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let (jobs, rx) = sync_channel::<Deflate>(threads);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            // a thread that cannot start just leaves the others the work; with
            // none at all, the first container reports the failure
            let _ = std::thread::Builder::new()
                .name(format!("blf-deflate-{i}"))
                .spawn(move || {
                    let mut z = Compress::new(Compression::new(level), true);
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        let Ok(Deflate {
                            stream,
                            mut out,
                            reply,
                        }) = job
                        else {
                            return;
                        };
                        let error = deflate(&mut z, &stream, &mut out).err();
                        let _ = reply.send(Deflated { stream, out, error });
                    }
                });
        }
        DeflatePool {
            jobs,
            depth: 2 * threads,
        }
    }

    /// False when no compressor thread is left.
    fn send(&self, job: Deflate) -> bool {
        self.jobs.send(job).is_ok()
    }
}

/// Compresses `input` as one zlib stream into `out`.
fn deflate(z: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> Result<(), flate2::CompressError> {
    z.reset();
    out.clear();
    out.reserve(input.len() / 2 + 1024);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = (z.total_in() as usize).min(input.len());
        if z.compress_vec(&input[consumed..], out, FlushCompress::Finish)? == Status::StreamEnd {
            return Ok(());
        }
    }
}
