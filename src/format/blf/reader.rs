//! BLF reading: a thread walks the top-level objects and hands containers to a
//! small pool of inflaters; the caller's thread parses the object stream in order.
//!
//! The pipeline is bounded (a few containers in flight), so memory stays constant
//! whatever the file size. The parser allocates nothing per frame: it works on the
//! inflated container bytes in place and only copies the tail of an object that
//! continues in the next container.

use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use flate2::{Decompress, FlushDecompress, Status};

use super::{
    systemtime_to_nanos, u16_at, u32_at, u64_at, FileHeader, CAN_ERROR, CAN_ERROR_EXT,
    CAN_FD_ERROR_64, CAN_FD_MESSAGE, CAN_FD_MESSAGE_64, CAN_MESSAGE, CAN_MESSAGE2, HEADER_SIZE,
    ID_EXT, LOG_CONTAINER, MAX_CONTAINER, OBJ_SIGNATURE, RESTORE_POINT,
};
use crate::error::{Error, Position, Result};
use crate::format::{read_err, Input, RecordReader};
use crate::frame::{
    dlc_to_len, fd_padded_len, len_to_dlc, Channel, Direction, FdFlags, Frame, FrameError, Id,
    Record, Timestamp,
};

/// Bytes of a CAN object the decoder looks at (every fixed part and 64 data bytes
/// fit); the rest of a larger object is skipped.
const DECODE_LIMIT: usize = 512;
/// Free bytes before each container's payload, where the parser puts the tail
/// of an object that started in the previous container (never more than
/// DECODE_LIMIT bytes), so that no container is copied whole.
const HEADROOM: usize = DECODE_LIMIT;
/// Container buffers kept for reuse.
const POOL_SIZE: usize = 16;
/// Largest buffer kept for reuse: real containers hold 128 KiB; a hostile file
/// of highly compressed 64 MiB containers must not leave 16 of them parked.
const POOL_MAX_CAPACITY: usize = 4 << 20;

/// Spent container buffers, reused so that big buffers are not allocated (and
/// page-faulted in) for every container.
type Pool = Arc<Mutex<Vec<Vec<u8>>>>;

/// A buffer from the pool holding HEADROOM zero bytes.
fn take_buf(pool: &Pool) -> Vec<u8> {
    let mut v = pool
        .lock()
        .ok()
        .and_then(|mut p| p.pop())
        .unwrap_or_default();
    v.clear();
    v.resize(HEADROOM, 0);
    v
}

fn give_back(pool: &Pool, v: Vec<u8>) {
    if v.capacity() == 0 || v.capacity() > POOL_MAX_CAPACITY {
        return;
    }
    if let Ok(mut p) = pool.lock() {
        if p.len() < POOL_SIZE {
            p.push(v);
        }
    }
}

/// Inflated (or stored) container bytes, in file order.
struct Piece {
    /// File offset of the container.
    offset: u64,
    /// Stored (method 0): payload offsets map straight to file offsets.
    stored: bool,
    /// HEADROOM free bytes, then the payload.
    data: Vec<u8>,
    warning: Option<String>,
    /// An error that comes after `data` (a corrupt zlib stream after some output).
    error: Option<Error>,
}

enum Item {
    Ready(Piece),
    Pending(Receiver<Piece>),
    Warning(String),
    Error(Error),
}

struct Job {
    offset: u64,
    compressed: Vec<u8>,
    declared: u64,
    truncated: Option<String>,
    reply: SyncSender<Piece>,
}

/// Reads BLF.
pub struct Reader {
    path: PathBuf,
    items: Option<Receiver<Item>>,
    buf: Vec<u8>,
    spare: Vec<u8>,
    pool: Pool,
    pos: usize,
    /// Bytes of the current (skipped) object still to drop.
    skip: u64,
    start_ns: i64,
    /// Where in `buf` the newest container's bytes begin, and that container.
    seg_base: usize,
    seg_offset: u64,
    seg_stored: bool,
    pending_error: Option<Error>,
    warnings: crate::format::bytes::Warnings,
    bad_versions: u32,
    /// Objects whose headerSize field is smaller than their header version's
    /// header (warned about once).
    bad_header_sizes: u32,
    unknown_types: u32,
    objects: u64,
    done: bool,
}

use crate::format::bytes::{impl_fused, read_full, Fused};

impl Reader {
    /// A reader over an opened input: reads the header, then starts the
    /// container threads.
    pub fn new(input: Input) -> Result<Reader> {
        let path = input.path;
        let mut src = input.reader;
        let mut head = [0u8; HEADER_SIZE];
        let n = read_full(&mut src, &mut head).map_err(|e| read_err(&path, e))?;
        if n < 4 || &head[0..4] != super::FILE_SIGNATURE {
            return Err(Error::format(
                Position::Byte(0),
                "not a BLF file: it does not start with LOGG",
            )
            .in_file(&path));
        }
        if n < HEADER_SIZE {
            return Err(Error::format(
                Position::Byte(n as u64),
                format!("the file ends inside its {HEADER_SIZE}-byte header"),
            )
            .in_file(&path));
        }
        let header = FileHeader::parse(&head)
            .ok_or_else(|| Error::format(Position::Byte(0), "not a BLF file").in_file(&path))?;
        let mut warnings = crate::format::bytes::Warnings::default();
        let mut offset = HEADER_SIZE as u64;
        if (header.header_size as usize) < HEADER_SIZE {
            warnings.push(
                &path,
                format!(
                    "header size {} is below {HEADER_SIZE}; reading objects from byte {HEADER_SIZE}",
                    header.header_size
                ),
            );
        } else if header.header_size as usize > HEADER_SIZE {
            let extra = header.header_size as u64 - HEADER_SIZE as u64;
            let got = io::copy(&mut (&mut src).take(extra), &mut io::sink())
                .map_err(|e| read_err(&path, e))?;
            offset += got;
        }
        let start_ns = systemtime_to_nanos(&header.start).unwrap_or(0);

        // Two inflaters keep up with the parser; with the queue depth below and
        // MAX_CONTAINER this bounds the containers in flight, and so memory.
        let inflaters = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 2);
        let depth = 2 * inflaters + 2;
        let (item_tx, item_rx) = sync_channel::<Item>(depth);
        let (job_tx, job_rx) = sync_channel::<Job>(depth);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let pool: Pool = Arc::default();
        let spawn_err = |e| Error::io("starting a BLF reader thread", e);
        for i in 0..inflaters {
            let rx = Arc::clone(&job_rx);
            let pool = Arc::clone(&pool);
            std::thread::Builder::new()
                .name(format!("blf-inflate-{i}"))
                .spawn(move || inflate_worker(&rx, &pool))
                .map_err(spawn_err)?;
        }
        let read_pool = Arc::clone(&pool);
        std::thread::Builder::new()
            .name("blf-read".into())
            .spawn(move || {
                if let Err(e) = top_level(src, offset, &item_tx, &job_tx, &read_pool) {
                    let _ = item_tx.send(Item::Error(e));
                }
            })
            .map_err(spawn_err)?;

        Ok(Reader {
            path,
            items: Some(item_rx),
            buf: Vec::new(),
            spare: Vec::new(),
            pool,
            pos: 0,
            skip: 0,
            start_ns,
            seg_base: 0,
            seg_offset: offset,
            seg_stored: true,
            pending_error: None,
            warnings,
            bad_versions: 0,
            bad_header_sizes: 0,
            unknown_types: 0,
            objects: 0,
            done: false,
        })
    }

    /// Objects seen in the stream so far (restore points excluded), as the
    /// header's objectCount counts them.
    pub(crate) fn objects_seen(&self) -> u64 {
        self.objects
    }

    fn warn(&mut self, msg: String) {
        self.warnings.push(&self.path, msg);
    }

    /// Where `pos` is, for messages: an exact byte offset inside stored
    /// containers, else the container's offset (and the offset in its payload).
    fn locate(&self, pos: usize) -> (Position, String) {
        if pos < self.seg_base {
            let p = Position::Byte(self.seg_offset);
            return (
                p,
                format!("the end of the container before byte {}", self.seg_offset),
            );
        }
        let rel = (pos - self.seg_base) as u64;
        if self.seg_stored {
            let at = self.seg_offset + 32 + rel;
            (Position::Byte(at), format!("byte {at}"))
        } else {
            (
                Position::Byte(self.seg_offset),
                format!("offset {rel} of the container at byte {}", self.seg_offset),
            )
        }
    }

    /// Appends the next container's bytes; false at the end of the file.
    fn refill(&mut self) -> Result<bool> {
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        loop {
            let Some(rx) = self.items.as_ref() else {
                return Ok(false);
            };
            let item = match rx.recv() {
                Ok(i) => i,
                Err(_) => {
                    self.items = None;
                    return Ok(false);
                }
            };
            let piece = match item {
                Item::Warning(w) => {
                    self.warn(w);
                    continue;
                }
                Item::Error(e) => {
                    self.items = None;
                    return Err(e);
                }
                Item::Ready(p) => p,
                Item::Pending(prx) => match prx.recv() {
                    Ok(p) => p,
                    Err(_) => {
                        self.items = None;
                        return Err(Error::format(
                            Position::Byte(self.seg_offset),
                            "internal error: a BLF inflater thread stopped",
                        ));
                    }
                },
            };
            if let Some(w) = piece.warning {
                self.warn(w);
            }
            self.pending_error = piece.error;
            let mut data = piece.data;
            let empty = data.len() <= HEADROOM;
            let tail = self.buf.len() - self.pos;
            if data.len() < HEADROOM {
                data.resize(HEADROOM, 0); // only from a bug; keep the layout
            }
            if tail <= HEADROOM {
                // the unfinished object goes into the headroom: no big copy
                data[HEADROOM - tail..HEADROOM].copy_from_slice(&self.buf[self.pos..]);
                let old = std::mem::replace(&mut self.buf, data);
                give_back(&self.pool, old);
                self.pos = HEADROOM - tail;
                self.seg_base = HEADROOM;
            } else {
                self.spare.clear();
                self.spare.extend_from_slice(&self.buf[self.pos..]);
                self.spare.extend_from_slice(&data[HEADROOM..]);
                std::mem::swap(&mut self.buf, &mut self.spare);
                give_back(&self.pool, data);
                self.pos = 0;
                self.seg_base = tail;
            }
            self.seg_offset = piece.offset;
            self.seg_stored = piece.stored;
            if empty && self.pending_error.is_none() {
                continue;
            }
            return Ok(true);
        }
    }

    /// The end of the stream: warns about a cut-off last object.
    fn end(&mut self) -> Result<Option<Record>> {
        self.done = true;
        if self.skip > 0 {
            let missing = self.skip;
            self.warn(format!(
                "the file ends inside an object ({missing} bytes missing); it was cut off"
            ));
        } else if self.buf[self.pos..].iter().any(|&b| b != 0) {
            let left = self.buf.len() - self.pos;
            let (_, desc) = self.locate(self.pos);
            self.warn(format!(
                "the file ends inside an object at {desc} ({left} bytes left); it was cut off"
            ));
        }
        Ok(None)
    }

    /// Skips to the next `LOBJ` in the buffer (padding or damage).
    fn resync(&mut self) {
        let start = self.pos;
        let b = &self.buf[start..];
        let found = b[1..]
            .windows(4)
            .position(|w| w == OBJ_SIGNATURE)
            .map(|i| i + 1);
        let skip_to = match found {
            Some(i) => start + i,
            None => self.buf.len() - 3, // an `LOBJ` may straddle the next container
        };
        let garbage = self.buf[start..skip_to].iter().any(|&b| b != 0);
        if garbage {
            let (_, desc) = self.locate(start);
            let n = skip_to - start;
            self.warn(format!(
                "skipped {n} bytes of unknown data at {desc} looking for the next object"
            ));
        }
        self.pos = skip_to;
    }

    fn read_inner(&mut self) -> Result<Option<Record>> {
        loop {
            let avail = self.buf.len() - self.pos;
            if self.skip > 0 {
                let n = self.skip.min(avail as u64) as usize;
                self.pos += n;
                self.skip -= n as u64;
                if self.skip > 0 && !self.refill()? {
                    return self.end();
                }
                continue;
            }
            if avail < 16 {
                if !self.refill()? {
                    return self.end();
                }
                continue;
            }
            let b = &self.buf[self.pos..];
            if &b[0..4] != OBJ_SIGNATURE {
                self.resync();
                continue;
            }
            let hsize = u16_at(b, 4) as usize;
            let osize = u32_at(b, 8) as usize;
            let otype = u32_at(b, 12);
            if hsize < 16 || osize < hsize {
                let (p, desc) = self.locate(self.pos);
                return Err(Error::format(
                    p,
                    format!(
                        "object of type {otype} at {desc} has size {osize}, smaller than its {hsize}-byte header: the file is corrupt"
                    ),
                ));
            }
            let decodable = matches!(
                otype,
                CAN_MESSAGE
                    | CAN_ERROR
                    | CAN_ERROR_EXT
                    | CAN_MESSAGE2
                    | CAN_FD_MESSAGE
                    | CAN_FD_MESSAGE_64
                    | CAN_FD_ERROR_64
            );
            let want = if decodable {
                osize.min(DECODE_LIMIT)
            } else {
                16
            };
            if avail < want {
                if !self.refill()? {
                    return self.end();
                }
                continue;
            }
            let at = self.pos;
            let decoded = if !decodable {
                Decoded::Skip
            } else {
                match body_offset(u16_at(b, 6), hsize) {
                    Err(v) => Decoded::BadVersion(v),
                    Ok((body_at, fits)) => {
                        if !fits {
                            self.bad_header_sizes += 1;
                            if self.bad_header_sizes == 1 {
                                let (_, desc) = self.locate(at);
                                let version = u16_at(&self.buf[at..], 6);
                                self.warn(format!(
                                    "object at {desc} has header version {version}, whose header is {body_at} bytes long, but its headerSize field says {hsize}; reading it (and any more like it) by the version"
                                ));
                            }
                        }
                        let b = &self.buf[at..];
                        decode(otype, &b[..want], body_at, osize, self.start_ns)
                    }
                }
            };
            if osize <= avail {
                self.pos += osize;
            } else {
                self.skip = (osize - avail) as u64;
                self.pos = self.buf.len();
            }
            if otype != RESTORE_POINT {
                self.objects += 1;
            }
            // Vector's type numbers end at 131; anything else is unknown or damage
            if (otype == 0 || otype > 131) && otype != RESTORE_POINT {
                self.unknown_types += 1;
                if self.unknown_types == 1 {
                    let (_, desc) = self.locate(at);
                    self.warn(format!(
                        "object at {desc} has unknown type {otype}: skipped (and any more like it)"
                    ));
                }
            }
            match decoded {
                Decoded::Record(r) => return Ok(Some(r)),
                Decoded::Skip => {}
                Decoded::Short => {
                    let (_, desc) = self.locate(at);
                    self.warn(format!(
                        "object of type {otype} at {desc} is too short ({osize} bytes): skipped"
                    ));
                }
                Decoded::BadVersion(v) => {
                    self.bad_versions += 1;
                    if self.bad_versions == 1 {
                        let (_, desc) = self.locate(at);
                        self.warn(format!(
                            "object at {desc} has unknown header version {v}: skipped (and any more like it)"
                        ));
                    }
                }
                Decoded::Unrepresentable(e) => {
                    let (_, desc) = self.locate(at);
                    self.warn(format!("object at {desc} skipped: {e}"));
                }
                Decoded::Malformed(why) => {
                    let (_, desc) = self.locate(at);
                    self.warn(format!("object of type {otype} at {desc} skipped: {why}"));
                }
            }
        }
    }
}

impl_fused!(Reader, done, |r| r
    .read_inner()
    .inspect_err(|_| r.items = None)
    .map_err(|e| e.in_file(&r.path)));

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        self.next_fused()
    }

    fn take_warnings(&mut self) -> Vec<String> {
        self.warnings.take(&self.path)
    }
}

/// What one object gave.
enum Decoded {
    Record(Record),
    Skip,
    Short,
    BadVersion(u16),
    Unrepresentable(FrameError),
    /// Fields that contradict each other (a DLC and a byte count that disagree).
    Malformed(String),
}

/// An identifier from a BLF id field (bit 31 = 29-bit). An 11-bit-flagged id
/// above 0x7FF cannot be a standard id; it is read as a 29-bit one.
fn make_id(raw: u32) -> Id {
    let v = raw & 0x1FFF_FFFF;
    if raw & ID_EXT != 0 || v > 0x7FF {
        Id::Extended(v)
    } else {
        Id::Standard(v as u16)
    }
}

/// Calls `f` with the first `len` (at most 64) payload bytes: `stored` of them
/// from `src` (as far as it reaches), the rest zero. Borrows `src` when it holds
/// them all, the common case.
fn with_payload<T>(src: &[u8], stored: usize, len: usize, f: impl FnOnce(&[u8]) -> T) -> T {
    let len = len.min(64);
    if stored >= len && src.len() >= len {
        return f(&src[..len]);
    }
    let mut buf = [0u8; 64];
    let n = stored.min(len).min(src.len());
    buf[..n].copy_from_slice(&src[..n]);
    f(&buf[..len])
}

/// A frame from an FD-capable object (types 100 and 101); `data` holds the
/// valid bytes (at most 64).
fn fd_like(
    id: Id,
    remote: bool,
    edl: bool,
    flags: FdFlags,
    dlc: u8,
    data: &[u8],
) -> Result<Frame, FrameError> {
    if remote {
        let f = Frame::remote(id, dlc.min(15))?;
        return Ok(if edl { f.with_fd_flags(flags) } else { f });
    }
    let valid = data.len();
    if !edl {
        return Frame::data_stored(id, &data[..valid.min(8)], dlc);
    }
    if len_to_dlc(valid).is_some() {
        return Frame::fd(id, data, flags);
    }
    // a length CAN FD cannot carry: zero-pad to the next valid one
    let mut buf = [0u8; 64];
    buf[..valid].copy_from_slice(data);
    Frame::fd(id, &buf[..fd_padded_len(valid).unwrap_or(64)], flags)
}

/// Why the DLC, validDataBytes and stored bytes of an FD-capable object
/// (types 100 and 101) cannot describe one frame, or `None` when they agree.
///
/// They agree when an FD frame's DLC is the smallest that holds
/// validDataBytes (the DLC's length itself, or python-can's rounding up of a
/// length CAN FD cannot carry, 13 bytes with DLC 10), when a classic frame's
/// validDataBytes is its DLC capped at 8, and always for remote frames (which
/// carry no data). A raw DLC above 15 counts as 15, as everywhere in this
/// reader.
fn payload_mismatch(
    remote: bool,
    edl: bool,
    dlc: u8,
    valid: usize,
    stored: usize,
) -> Option<String> {
    if remote {
        return None;
    }
    if valid > 64 {
        return Some(format!("validDataBytes {valid} is above 64"));
    }
    if stored < valid {
        return Some(format!(
            "validDataBytes {valid} but the object holds {stored} data bytes"
        ));
    }
    let agree = if edl {
        fd_padded_len(valid) == Some(dlc_to_len(dlc))
    } else {
        valid == (dlc.min(15) as usize).min(8)
    };
    if agree {
        return None;
    }
    let kind = if edl { "FD" } else { "classic" };
    let means = if edl {
        dlc_to_len(dlc)
    } else {
        (dlc.min(15) as usize).min(8)
    };
    Some(format!(
        "{kind} frame with DLC {dlc} ({means} bytes) and validDataBytes {valid} disagree"
    ))
}

/// The end of an FD object's data: its ext data offset (from the object
/// start, 0 = none) or the object's end. An offset inside the fixed part
/// (`fixed_end`) or past the object is an error.
fn ext_data_end(ext_off: usize, fixed_end: usize, osize: usize) -> Result<usize, String> {
    if ext_off == 0 {
        return Ok(osize);
    }
    if ext_off < fixed_end || ext_off > osize {
        return Err(format!(
            "extDataOffset {ext_off} lies outside the data (bytes {fixed_end} to {osize} of the object)"
        ));
    }
    Ok(ext_off)
}

/// Where the body of an object with header `version` and headerSize field
/// `hsize` starts, and whether the field was big enough for that version's
/// header; `Err(version)` for a version we do not know.
///
/// The version says the layout: versions 1 and 3 have a 32-byte header,
/// version 2 a 40-byte one. A field smaller than that cannot be right (some
/// third-party writers put 16, the size of the base header, into version-1
/// objects; python-can reads them by the version too), so the body starts
/// after the version's header. A larger field is trusted: Vector's binlog
/// writes version-1 objects with 40-byte headers (the MOST objects of
/// vector_blf's test files).
fn body_offset(version: u16, hsize: usize) -> Result<(usize, bool), u16> {
    let layout = match version {
        1 | 3 => 32,
        2 => 40,
        v => return Err(v),
    };
    Ok((hsize.max(layout), hsize >= layout))
}

/// Decodes one CAN object; `obj` is its first min(size, DECODE_LIMIT) bytes and
/// its body starts at `hsize` (see [`body_offset`]).
fn decode(otype: u32, obj: &[u8], hsize: usize, osize: usize, start_ns: i64) -> Decoded {
    if obj.len() < hsize || osize < hsize {
        return Decoded::Short;
    }
    // versions 1, 2 and 3 all keep objectFlags at 16 and the timestamp at 24
    let unit_flags = u32_at(obj, 16);
    let raw_ts = u64_at(obj, 24);
    let rel = if unit_flags == 1 {
        raw_ts.saturating_mul(10_000)
    } else {
        raw_ts
    };
    let timestamp = Timestamp(start_ns.saturating_add(i64::try_from(rel).unwrap_or(i64::MAX)));
    let body = &obj[hsize..];
    // the body's bytes at hand: all of it, unless the object is larger than
    // DECODE_LIMIT (no CAN object is; then the fields below run short)
    let body_len = body.len();
    let tx = |t: bool| if t { Direction::Tx } else { Direction::Rx };
    let (channel, direction, frame) = match otype {
        CAN_MESSAGE | CAN_MESSAGE2 => {
            if body.len() < 8 {
                return Decoded::Short;
            }
            let flags = body[2];
            let dlc = body[3];
            let id = make_id(u32_at(body, 4));
            // CAN_MESSAGE2 holds objectSize - headerSize - 16 data bytes (normally 8)
            let stored = if otype == CAN_MESSAGE2 {
                body_len.saturating_sub(16).min(8)
            } else {
                body_len.saturating_sub(8).min(8)
            };
            let n = (dlc as usize).min(8);
            let f = if flags & 0x80 != 0 {
                Frame::remote(id, dlc.min(15))
            } else if stored < n {
                return Decoded::Malformed(format!(
                    "DLC {dlc} needs {n} data bytes, the object holds {stored}"
                ));
            } else {
                Frame::data_stored(id, &body[8..8 + n], dlc)
            };
            (u16_at(body, 0) as u32, tx(flags & 1 != 0), f)
        }
        CAN_FD_MESSAGE => {
            if body.len() < 20 {
                return Decoded::Short;
            }
            let flags = body[2];
            let fd_flags = body[13];
            let remote = flags & 0x80 != 0;
            let edl = fd_flags & 1 != 0;
            let valid = body[14] as usize;
            let stored = body_len - 20;
            if let Some(why) = payload_mismatch(remote, edl, body[3], valid, stored) {
                return Decoded::Malformed(why);
            }
            let f = fd_like(
                make_id(u32_at(body, 4)),
                remote,
                edl,
                FdFlags {
                    brs: fd_flags & 2 != 0,
                    esi: fd_flags & 4 != 0,
                },
                body[3],
                &body[20..20 + if remote { 0 } else { valid }],
            );
            (u16_at(body, 0) as u32, tx(flags & 1 != 0), f)
        }
        CAN_FD_MESSAGE_64 => {
            if body.len() < 40 {
                return Decoded::Short;
            }
            let valid = body[2] as usize;
            let flags = u32_at(body, 12);
            let remote = flags & 0x10 != 0;
            let edl = flags & 0x1000 != 0;
            // data stops at the ext data (offset from the object start) or the
            // end; a remote frame has none to read (Vector's test files fill
            // its extDataOffset with a pattern)
            let end = match ext_data_end(body[35] as usize, hsize + 40, osize) {
                Ok(end) => end,
                Err(_) if remote => osize,
                Err(why) => return Decoded::Malformed(why),
            };
            let stored = end - (hsize + 40);
            // fewer bytes stored than validDataBytes is what CANoe writes
            // (python-can issue 1905): the missing ones are zero
            if let Some(why) = payload_mismatch(remote, edl, body[1], valid, 64) {
                return Decoded::Malformed(why);
            }
            let f = with_payload(&body[40..], stored, if remote { 0 } else { valid }, |d| {
                fd_like(
                    make_id(u32_at(body, 4)),
                    remote,
                    edl,
                    FdFlags {
                        brs: flags & 0x2000 != 0,
                        esi: flags & 0x4000 != 0,
                    },
                    body[1],
                    d,
                )
            });
            (body[0] as u32, tx(body[34] != 0), f)
        }
        CAN_ERROR_EXT => {
            if body.len() < 24 {
                return Decoded::Short;
            }
            let dlc = body[10];
            let n = (dlc as usize).min(8);
            let stored = body_len - 24;
            if stored < n {
                return Decoded::Malformed(format!(
                    "DLC {dlc} needs {n} data bytes, the object holds {stored}"
                ));
            }
            let f = Frame::error_with_dlc(
                u32_at(body, 16) & 0x1FFF_FFFF,
                &body[24..24 + n],
                dlc.min(15),
            );
            // flagsExt bits 12-13: 3 = error while transmitting
            let dir = (u16_at(body, 20) >> 12) & 3 == 3;
            (u16_at(body, 0) as u32, tx(dir), f)
        }
        CAN_ERROR => {
            if body.len() < 2 {
                return Decoded::Short;
            }
            (u16_at(body, 0) as u32, Direction::Rx, Frame::error(0, &[]))
        }
        CAN_FD_ERROR_64 => {
            if body.len() < 44 {
                return Decoded::Short;
            }
            let dlc = body[1];
            let valid = body[2] as usize;
            if valid > 64 {
                return Decoded::Malformed(format!("validDataBytes {valid} is above 64"));
            }
            let end = match ext_data_end(body[10] as usize, hsize + 44, osize) {
                Ok(end) => end,
                Err(why) => return Decoded::Malformed(why),
            };
            let n = valid.min(8);
            let stored = end.min(obj.len()) - (hsize + 44);
            if stored < n {
                return Decoded::Malformed(format!(
                    "validDataBytes {valid} needs {n} data bytes, the object holds {stored}"
                ));
            }
            let ext_flags = u16_at(body, 8);
            let class = u32_at(body, 12) & 0x1FFF_FFFF;
            let d = &body[44..44 + n];
            let f = if dlc.min(15) as usize == n || (dlc > 8 && n == 8) {
                Frame::error_with_dlc(class, d, dlc.min(15))
            } else {
                Frame::error(class, d)
            };
            let f = f.map(|f| {
                if ext_flags & 1 != 0 {
                    f.with_fd_flags(FdFlags {
                        brs: ext_flags & 2 != 0,
                        esi: ext_flags & 4 != 0,
                    })
                } else {
                    f
                }
            });
            let dir = (u16_at(body, 6) >> 12) & 3 == 3;
            (body[0] as u32, tx(dir), f)
        }
        _ => return Decoded::Skip,
    };
    match frame {
        Ok(frame) => Decoded::Record(Record {
            timestamp,
            channel: Channel::Number(channel),
            direction,
            frame,
        }),
        Err(e) => Decoded::Unrepresentable(e),
    }
}

/// The reader thread: walks the top-level objects, sends stored containers as
/// they are and zlib ones to the inflaters, in file order.
fn top_level(
    mut src: Box<dyn BufRead + Send>,
    mut offset: u64,
    items: &SyncSender<Item>,
    jobs: &SyncSender<Job>,
    pool: &Pool,
) -> Result<()> {
    let io_err = |e: io::Error| Error::io("reading the BLF file", e);
    let mut outside_warned = false;
    let mut hdr = [0u8; 16];
    'objects: loop {
        let n = read_full(&mut src, &mut hdr).map_err(io_err)?;
        if n == 0 {
            return Ok(());
        }
        // find the next `LOBJ`: padding (zeros) is normal, anything else is damage
        let mut skipped = 0u64;
        let mut garbage = false;
        let mut have = n;
        while have < 16 || &hdr[0..4] != OBJ_SIGNATURE {
            if have < 16 {
                let k = read_full(&mut src, &mut hdr[have..]).map_err(io_err)?;
                if k == 0 {
                    // the file ends: trailing padding is fine, anything else was cut off
                    if hdr[..have].iter().any(|&b| b != 0) || garbage {
                        let _ = items.send(Item::Warning(format!(
                            "the file ends inside an object header at byte {}; it was cut off",
                            offset + skipped
                        )));
                    }
                    return Ok(());
                }
                have += k;
                continue;
            }
            garbage |= hdr[0] != 0;
            hdr.copy_within(1..16, 0);
            have = 15;
            skipped += 1;
        }
        if garbage {
            let _ = items.send(Item::Warning(format!(
                "skipped {skipped} bytes of unknown data at byte {offset} looking for the next object"
            )));
        }
        offset += skipped;
        let obj_at = offset;
        let hsize = u16_at(&hdr, 4) as u64;
        let osize = u32_at(&hdr, 8) as u64;
        let otype = u32_at(&hdr, 12);
        offset += 16;
        if hsize < 16 || osize < hsize.max(16) {
            return Err(Error::format(
                Position::Byte(obj_at),
                format!("object of type {otype} has size {osize}, smaller than its {hsize}-byte header: the file is corrupt"),
            ));
        }
        if otype != LOG_CONTAINER {
            let rest = osize - 16;
            let got = io::copy(&mut (&mut src).take(rest), &mut io::sink()).map_err(io_err)?;
            offset += got;
            if got < rest {
                let _ = items.send(Item::Warning(format!(
                    "the file ends inside the object at byte {obj_at}; it was cut off"
                )));
                return Ok(());
            }
            if matches!(
                otype,
                CAN_MESSAGE | CAN_MESSAGE2 | CAN_FD_MESSAGE | CAN_FD_MESSAGE_64 | CAN_ERROR_EXT
            ) && !outside_warned
            {
                outside_warned = true;
                let _ = items.send(Item::Warning(format!(
                    "CAN object at byte {obj_at} lies outside any log container: skipped (and any more like it)"
                )));
            }
            continue 'objects;
        }
        if osize < 32 {
            return Err(Error::format(
                Position::Byte(obj_at),
                format!("log container has size {osize}, below the 32-byte minimum"),
            ));
        }
        let mut ch = [0u8; 16];
        let k = read_full(&mut src, &mut ch).map_err(io_err)?;
        offset += k as u64;
        if k < 16 {
            let _ = items.send(Item::Warning(format!(
                "the file ends inside the log container header at byte {obj_at}; it was cut off"
            )));
            return Ok(());
        }
        let method = u16_at(&ch, 0);
        let declared = u32_at(&ch, 8) as u64;
        let len = osize - 32;
        if len > MAX_CONTAINER || declared > MAX_CONTAINER {
            return Err(Error::format(
                Position::Byte(obj_at),
                format!(
                    "log container of {len} bytes ({declared} uncompressed) exceeds the {} MiB limit: the file is corrupt",
                    MAX_CONTAINER >> 20
                ),
            ));
        }
        // grows with the bytes actually present, not with the size field
        let mut data = take_buf(pool);
        data.reserve((len as usize).min(1 << 20));
        (&mut src)
            .take(len)
            .read_to_end(&mut data)
            .map_err(io_err)?;
        let got = (data.len() - HEADROOM) as u64;
        offset += got;
        let truncated = got < len;
        let warning = truncated.then(|| {
            format!(
                "the file ends inside the log container at byte {obj_at} ({got} of {len} bytes present); it was cut off"
            )
        });
        let sent = match method {
            0 => items.send(Item::Ready(Piece {
                offset: obj_at,
                stored: true,
                data,
                warning,
                error: None,
            })),
            2 => {
                let (reply, pending) = sync_channel(1);
                if jobs
                    .send(Job {
                        offset: obj_at,
                        compressed: data,
                        declared,
                        truncated: warning,
                        reply,
                    })
                    .is_err()
                {
                    return Ok(());
                }
                items.send(Item::Pending(pending))
            }
            m => items.send(Item::Warning(format!(
                "log container at byte {obj_at} uses unknown compression method {m}: skipped"
            ))),
        };
        if sent.is_err() || truncated {
            return Ok(()); // the reader was dropped, or the file ends here
        }
    }
}

fn inflate_worker(jobs: &Mutex<Receiver<Job>>, pool: &Pool) {
    let mut whole = libdeflater::Decompressor::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let reply = job.reply.clone();
        let _ = reply.send(inflate(job, pool, &mut whole));
    }
}

/// The largest container inflated in one call (python-can and Vector write
/// 128 KiB); bigger ones stream.
const WHOLE_LIMIT: u64 = 8 << 20;

/// Inflates one zlib container, keeping what comes out of a cut-off one (not of
/// a corrupt one).
fn inflate(job: Job, pool: &Pool, whole: &mut libdeflater::Decompressor) -> Piece {
    let Job {
        offset,
        compressed,
        declared,
        truncated,
        ..
    } = job;
    let input_all = &compressed[HEADROOM.min(compressed.len())..];
    let mut out = take_buf(pool);
    // The usual case, a complete container whose header gives the size: one
    // call into a whole-buffer inflater (about twice as fast as streaming).
    // Anything else (a cut-off or corrupt stream, a wrong size) takes the
    // streaming path below, which keeps what it can and says what is wrong.
    // The size is trusted only as far as the compressed bytes at hand make
    // it plausible (as the streaming path's first reservation).
    let plausible = (input_all.len() as u64).saturating_mul(64) + 4096;
    if truncated.is_none() && declared > 0 && declared <= plausible.min(WHOLE_LIMIT) {
        let size = declared as usize;
        out.resize(HEADROOM + size, 0);
        match whole.zlib_decompress(input_all, &mut out[HEADROOM..]) {
            Ok(n) if n == size => {
                give_back(pool, compressed);
                return Piece {
                    offset,
                    stored: false,
                    data: out,
                    warning: None,
                    error: None,
                };
            }
            _ => out.truncate(HEADROOM),
        }
    }
    out.reserve((declared as usize).min(input_all.len().saturating_mul(64) + 4096));
    let mut z = Decompress::new(true);
    let mut warning = truncated;
    let mut error = None;
    loop {
        if out.len() == out.capacity() {
            if (out.len() - HEADROOM) as u64 >= MAX_CONTAINER {
                error = Some(Error::format(
                    Position::Byte(offset),
                    format!(
                        "log container at byte {offset} inflates past the {} MiB limit: the file is corrupt",
                        MAX_CONTAINER >> 20
                    ),
                ));
                break;
            }
            out.reserve(out.len().max(1 << 16));
        }
        let in_before = z.total_in();
        let out_before = z.total_out();
        let input = &input_all[(in_before as usize).min(input_all.len())..];
        match z.decompress_vec(input, &mut out, FlushDecompress::None) {
            Ok(Status::StreamEnd) => {
                let produced = (out.len() - HEADROOM) as u64;
                if warning.is_none() && produced != declared {
                    warning = Some(format!(
                        "log container at byte {offset} holds {produced} bytes, its header says {declared}"
                    ));
                }
                break;
            }
            Ok(_) => {
                let stalled = z.total_in() == in_before && z.total_out() == out_before;
                if stalled && out.len() < out.capacity() {
                    // no progress with room to spare: the input ran out
                    if warning.is_none() {
                        error = Some(Error::format(
                            Position::Byte(offset),
                            format!("log container at byte {offset}: the compressed data ends early: the file is corrupt"),
                        ));
                    }
                    break;
                }
            }
            Err(e) => {
                // deflate notices damage only some way after it: what came out
                // may already be garbage, so none of it is kept
                out.truncate(HEADROOM);
                error = Some(Error::format(
                    Position::Byte(offset),
                    format!("log container at byte {offset} holds corrupt zlib data ({e})"),
                ));
                break;
            }
        }
    }
    give_back(pool, compressed);
    Piece {
        offset,
        stored: false,
        data: out,
        warning,
        error,
    }
}

/// Walks a BLF file's top-level objects (after its header) and returns the
/// offset just after its last complete object (padding included) and the
/// uncompressed size of its containers (32 + payload each), for appending.
pub(crate) fn scan_containers(
    file: &mut dyn Read,
    header_size: u64,
    file_len: u64,
) -> io::Result<(u64, u64)> {
    let mut at = header_size;
    let mut end = at;
    let mut uncompressed = 0u64;
    loop {
        let mut hdr = [0u8; 32];
        if read_full(file, &mut hdr[..16])? < 16 || &hdr[0..4] != OBJ_SIGNATURE {
            return Ok((end, uncompressed));
        }
        let osize = u32_at(&hdr, 8) as u64;
        let otype = u32_at(&hdr, 12);
        if osize < 32 || at + osize > file_len {
            return Ok((end, uncompressed));
        }
        if read_full(file, &mut hdr[16..])? < 16 {
            return Ok((end, uncompressed));
        }
        if otype == LOG_CONTAINER {
            let declared = u32_at(&hdr, 24) as u64;
            uncompressed += 32
                + if u16_at(&hdr, 16) == 0 {
                    osize - 32
                } else {
                    declared
                };
        }
        let pad = (osize % 4).min(file_len - at - osize);
        io::copy(&mut file.take(osize - 32 + pad), &mut io::sink())?;
        at += osize + pad;
        end = at;
    }
}

/// Counts the objects of a BLF file (restore points excluded), for appending to
/// a file whose header statistics were never completed.
pub(crate) fn count_objects(path: &Path) -> Result<u64> {
    let input = crate::format::open_input(path, false)?;
    let mut r = Reader::new(input)?;
    while r.read()?.is_some() {}
    Ok(r.objects_seen())
}
