//! MF4 reading: the metadata (data groups, channel groups, channels) is read
//! once when opening; then one [`Cursor`] per data group walks its data blocks
//! with its own file handle, and the reader merges the cursors by time.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{
    align8, f64_at, u16_at, u32_at, u64_at, BYTES, CG_VLSD, CN_MASTER, CN_VLSD, DATA_FRAME,
    ERROR_FRAME, FLOAT_BE, FLOAT_LE, HEADER, ID_FINAL, ID_SIZE, ID_UNFINISHED, INT_BE, INT_LE,
    REMOTE_FRAME, SYNC_TIME, UINT_BE, UINT_LE, UNFIN_CYCLES, UNFIN_LAST_DL, UNFIN_LAST_DT,
    ZIP_DEFLATE, ZIP_TRANSPOSED,
};
use crate::error::{Error, Position, Result};
use crate::format::bytes::{impl_fused, Fused};
use crate::format::{read_err, RecordReader};
use crate::frame::{
    dlc_to_len, fd_padded_len, len_to_dlc, Channel, Direction, FdFlags, Frame, FrameError, Id,
    Record, Timestamp,
};

/// Largest metadata block read (a channel, a name, a list header).
const MAX_META: u64 = 1 << 20;
/// Largest inflated DZ block (asammdf writes 4 MiB ones).
const MAX_DZ: u64 = 64 << 20;
/// Bytes of a DT block read at a time.
const CHUNK: u64 = 256 << 10;
/// Channels per channel group looked at; data groups, channel groups and
/// lists followed: bounds for hostile files.
const MAX_CHANNELS: usize = 4096;
const MAX_GROUPS: usize = 65_536;
/// Data groups of CAN frames read at once (each has its own file handle).
const MAX_CAN_GROUPS: usize = 256;
/// Largest fixed record (cg data bytes + invalidation bytes).
const MAX_RECORD: u64 = 16 << 20;
/// Reads `buf.len()` bytes at `at`, or fewer at the end of the file.
fn read_at(file: &mut File, at: u64, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(at))?;
    crate::format::bytes::read_full(file, buf)
}

fn bad(at: u64, msg: impl Into<String>) -> Error {
    Error::format(Position::Byte(at), msg)
}

/// A metadata block: its links and data.
struct Block {
    links: Vec<u64>,
    data: Vec<u8>,
}

/// Reads metadata blocks, remembering where they are.
struct Meta<'a> {
    file: &'a mut File,
    path: &'a Path,
    len: u64,
    known: Vec<u64>,
}

impl Meta<'_> {
    /// The 24-byte header at `at`: id, length and link count, checked against the file.
    fn header(&mut self, at: u64, what: &str) -> Result<([u8; 4], u64, u64)> {
        if at < ID_SIZE || at % 8 != 0 || at.saturating_add(HEADER as u64) > self.len {
            return Err(bad(
                at,
                format!(
                    "the link to the {what} points to byte {at}, outside the file's {} bytes (or unaligned)",
                    self.len
                ),
            ));
        }
        let mut h = [0u8; HEADER];
        let n = read_at(self.file, at, &mut h).map_err(|e| read_err(self.path, e))?;
        if n < HEADER {
            return Err(bad(at, format!("the file ends inside the {what}")));
        }
        let mut id = [0u8; 4];
        id.copy_from_slice(&h[..4]);
        let len = u64_at(&h, 8);
        let links = u64_at(&h, 16);
        if len < HEADER as u64 || links > (len - HEADER as u64) / 8 {
            return Err(bad(
                at,
                format!("the {what} has length {len} and {links} links: the file is corrupt"),
            ));
        }
        if at + len > self.len {
            return Err(bad(
                at,
                format!(
                    "the {what} ({len} bytes) runs past the end of the file ({} bytes): it was cut off",
                    self.len
                ),
            ));
        }
        Ok((id, len, links))
    }

    /// The block at `at`, which must have id `want` (`##CN`).
    fn block(&mut self, at: u64, want: &[u8; 4], what: &str) -> Result<Block> {
        let (id, len, links) = self.header(at, what)?;
        if &id != want {
            return Err(bad(
                at,
                format!(
                    "expected the {what} ({}) at byte {at}, found {}",
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(&id)
                ),
            ));
        }
        if len > MAX_META {
            return Err(bad(
                at,
                format!("the {what} is {len} bytes long, past the {MAX_META}-byte limit"),
            ));
        }
        let mut b = vec![0u8; (len - HEADER as u64) as usize];
        read_at(self.file, at + HEADER as u64, &mut b).map_err(|e| read_err(self.path, e))?;
        let data = b.split_off(links as usize * 8);
        let links = b.chunks_exact(8).map(|c| u64_at(c, 0)).collect();
        self.known.push(at);
        Ok(Block { links, data })
    }

    /// The text of a TX (or MD) block, empty for a null link.
    fn text(&mut self, at: u64) -> Result<String> {
        if at == 0 {
            return Ok(String::new());
        }
        let (id, _, _) = self.header(at, "name")?;
        let id = if &id == b"##MD" { *b"##MD" } else { *b"##TX" };
        let b = self.block(at, &id, "name")?;
        let end = b.data.iter().position(|&c| c == 0).unwrap_or(b.data.len());
        Ok(String::from_utf8_lossy(&b.data[..end]).into_owned())
    }
}

/// How a field's bits are stored.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Uint,
    Int,
    Float,
    Bytes,
}

/// Where a channel's value lies in a record.
#[derive(Clone, Copy, Debug)]
struct Field {
    byte: usize,
    bit: u32,
    bits: u32,
    kind: Kind,
    big_endian: bool,
}

impl Field {
    /// The field of a CN block, checked against the record size.
    fn new(cn: &Block, at: u64, record: usize) -> Result<Field> {
        let d = &cn.data;
        let (dtype, bit, byte, bits) = (d[2], d[3] as u32, u32_at(d, 4) as usize, u32_at(d, 8));
        let (kind, big_endian) = match dtype {
            UINT_LE => (Kind::Uint, false),
            UINT_BE => (Kind::Uint, true),
            INT_LE => (Kind::Int, false),
            INT_BE => (Kind::Int, true),
            FLOAT_LE => (Kind::Float, false),
            FLOAT_BE => (Kind::Float, true),
            BYTES => (Kind::Bytes, false),
            t => return Err(bad(at, format!("channel of data type {t}: not supported"))),
        };
        let ok = match kind {
            Kind::Uint | Kind::Int => {
                (1..=64).contains(&bits)
                    && bit + bits <= 64
                    && (!big_endian || (bit == 0 && bits % 8 == 0))
            }
            Kind::Float => bit == 0 && (bits == 32 || bits == 64),
            Kind::Bytes => bit == 0 && bits % 8 == 0 && bits <= 8 * 1024,
        };
        let f = Field {
            byte,
            bit,
            bits,
            kind,
            big_endian,
        };
        if !ok {
            return Err(bad(
                at,
                format!("channel with bit offset {bit} and {bits} bits of data type {dtype}: not supported"),
            ));
        }
        if f.end() > record {
            return Err(bad(
                at,
                format!(
                    "channel at byte {byte} (+{bits} bits) lies outside its {record}-byte record"
                ),
            ));
        }
        Ok(f)
    }

    /// Bytes of the record the field needs.
    fn end(&self) -> usize {
        self.byte + (self.bit + self.bits).div_ceil(8) as usize
    }

    /// The raw value of an integer field (`rec` holds at least `end()` bytes).
    fn uint(&self, rec: &[u8]) -> u64 {
        let n = (self.bit + self.bits).div_ceil(8) as usize;
        let mut a = [0u8; 8];
        let src = &rec[self.byte..self.byte + n.min(8)];
        let v = if self.big_endian {
            a[8 - src.len()..].copy_from_slice(src);
            u64::from_be_bytes(a)
        } else {
            a[..src.len()].copy_from_slice(src);
            u64::from_le_bytes(a) >> self.bit
        };
        if self.bits >= 64 {
            v
        } else {
            v & ((1u64 << self.bits) - 1)
        }
    }

    /// The value as a number.
    fn number(&self, rec: &[u8]) -> f64 {
        match self.kind {
            Kind::Uint => self.uint(rec) as f64,
            Kind::Int => {
                let v = self.uint(rec);
                let shift = 64 - self.bits;
                (((v << shift) as i64) >> shift) as f64
            }
            Kind::Float => {
                let b = &rec[self.byte..self.end()];
                match (self.bits, self.big_endian) {
                    (32, false) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                    (32, true) => f32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64,
                    (_, false) => f64_at(b, 0),
                    (_, true) => f64::from_bits(u64::from_be_bytes([
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    ])),
                }
            }
            Kind::Bytes => 0.0,
        }
    }

    /// An integer value (floats truncated).
    fn int(&self, rec: &[u8]) -> u64 {
        match self.kind {
            Kind::Uint => self.uint(rec),
            _ => self.number(rec) as u64,
        }
    }

    fn bytes<'r>(&self, rec: &'r [u8]) -> &'r [u8] {
        &rec[self.byte..self.end()]
    }
}

/// A conversion from raw time values to seconds.
#[derive(Clone, Copy, Debug)]
enum Conversion {
    Identity,
    Linear(f64, f64),
    Rational([f64; 6]),
}

impl Conversion {
    fn apply(&self, x: f64) -> f64 {
        match *self {
            Conversion::Identity => x,
            Conversion::Linear(a, b) => a + b * x,
            Conversion::Rational([p1, p2, p3, p4, p5, p6]) => {
                (p1 * x * x + p2 * x + p3) / (p4 * x * x + p5 * x + p6)
            }
        }
    }
}

/// Which of the three frame channels a group holds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum FrameKind {
    Data,
    Remote,
    Error,
}

/// Where a CAN channel group keeps each field.
#[derive(Clone, Debug)]
struct CanLayout {
    kind: FrameKind,
    time: Option<(Field, Conversion)>,
    channel: Option<Field>,
    id: Option<Field>,
    ide: Option<Field>,
    dlc: Option<Field>,
    len: Option<Field>,
    data: Option<Field>,
    dir: Option<Field>,
    edl: Option<Field>,
    brs: Option<Field>,
    esi: Option<Field>,
}

/// A channel group of a data group.
#[derive(Debug)]
struct Group {
    record_id: u64,
    /// Bytes of a fixed record (data + invalidation bytes).
    size: usize,
    vlsd: bool,
    cycles: u64,
    can: Option<CanLayout>,
}

/// One channel of a group, as found in the channel tree.
struct ChannelInfo {
    at: u64,
    name: String,
    cn: Block,
}

/// Walks a channel chain (and compositions below it).
fn channels(
    meta: &mut Meta,
    first: u64,
    depth: u32,
    out: &mut Vec<ChannelInfo>,
    seen: &mut HashSet<u64>,
) -> Result<()> {
    let mut at = first;
    while at != 0 {
        if !seen.insert(at) || out.len() >= MAX_CHANNELS {
            return Err(bad(at, "the channel list loops or is too long"));
        }
        let cn = meta.block(at, b"##CN", "channel")?;
        if cn.links.len() < 8 || cn.data.len() < 24 {
            return Err(bad(at, "channel block too short"));
        }
        let name = meta.text(cn.links[2])?;
        let next = cn.links[0];
        let composition = cn.links[1];
        out.push(ChannelInfo { at, name, cn });
        if composition != 0 && depth < 4 {
            let (id, _, _) = meta.header(composition, "composition")?;
            if &id == b"##CN" {
                channels(meta, composition, depth + 1, out, seen)?;
            }
        }
        at = next;
    }
    Ok(())
}

/// The time conversion of a master channel.
fn conversion(meta: &mut Meta, at: u64) -> Result<Conversion> {
    if at == 0 {
        return Ok(Conversion::Identity);
    }
    let cc = meta.block(at, b"##CC", "conversion")?;
    let d = &cc.data;
    if d.len() < 24 {
        return Err(bad(at, "conversion block too short"));
    }
    let vals = u16_at(d, 6) as usize;
    let val = |i: usize| {
        if vals > i && d.len() >= 24 + 8 * (i + 1) {
            f64_at(d, 24 + 8 * i)
        } else {
            0.0
        }
    };
    match d[0] {
        0 => Ok(Conversion::Identity),
        1 => Ok(Conversion::Linear(val(0), val(1))),
        2 => Ok(Conversion::Rational([
            val(0),
            val(1),
            val(2),
            val(3),
            val(4),
            val(5),
        ])),
        t => Err(bad(
            at,
            format!("time channel with conversion type {t}: not supported"),
        )),
    }
}

/// The bus-logging layout of a channel group, if it is a CAN one.
fn can_layout(meta: &mut Meta, chans: &[ChannelInfo], record: usize) -> Result<Option<CanLayout>> {
    let kind = chans.iter().find_map(|c| match c.name.as_str() {
        DATA_FRAME => Some(FrameKind::Data),
        REMOTE_FRAME => Some(FrameKind::Remote),
        ERROR_FRAME => Some(FrameKind::Error),
        _ => None,
    });
    let Some(kind) = kind else { return Ok(None) };
    let prefix = match kind {
        FrameKind::Data => DATA_FRAME,
        FrameKind::Remote => REMOTE_FRAME,
        FrameKind::Error => ERROR_FRAME,
    };
    let mut l = CanLayout {
        kind,
        time: None,
        channel: None,
        id: None,
        ide: None,
        dlc: None,
        len: None,
        data: None,
        dir: None,
        edl: None,
        brs: None,
        esi: None,
    };
    for c in chans {
        let d = &c.cn.data;
        let (ctype, sync) = (d[0], d[1]);
        if ctype == CN_MASTER && sync == SYNC_TIME && l.time.is_none() {
            let f = Field::new(&c.cn, c.at, record)?;
            if f.kind == Kind::Bytes {
                return Err(bad(c.at, "a time channel of bytes: not supported"));
            }
            let conv = conversion(meta, c.cn.links[4])?;
            l.time = Some((f, conv));
            continue;
        }
        let Some(field) = c
            .name
            .strip_prefix(prefix)
            .and_then(|s| s.strip_prefix('.'))
        else {
            continue;
        };
        let slot = match field {
            "BusChannel" => &mut l.channel,
            "ID" => &mut l.id,
            "IDE" => &mut l.ide,
            "DLC" => &mut l.dlc,
            "DataLength" => &mut l.len,
            "DataBytes" => &mut l.data,
            "Dir" => &mut l.dir,
            "EDL" => &mut l.edl,
            "BRS" => &mut l.brs,
            "ESI" => &mut l.esi,
            _ => continue,
        };
        if ctype == CN_VLSD {
            return Err(bad(
                c.at,
                format!(
                    "{}: variable-length (VLSD) channels are not supported",
                    c.name
                ),
            ));
        }
        let f = Field::new(&c.cn, c.at, record)?;
        let want_bytes = field == "DataBytes";
        if (f.kind == Kind::Bytes) != want_bytes {
            return Err(bad(c.at, format!("{} has an unexpected data type", c.name)));
        }
        *slot = Some(f);
    }
    Ok(Some(l))
}

/// The file's metadata: start time, flags and the data groups to read.
struct DataGroup {
    data: u64,
    rec_id_size: usize,
    groups: Vec<Group>,
}

/// Reads MF4 bus logging files.
pub struct Reader {
    path: PathBuf,
    cursors: Vec<Cursor>,
    heads: Vec<Option<Record>>,
    done: bool,
}

impl Reader {
    /// Opens `path` and reads its metadata.
    pub fn open(path: &Path) -> Result<Reader> {
        Reader::open_inner(path).map_err(|e| e.in_file(path))
    }

    fn open_inner(path: &Path) -> Result<Reader> {
        let mut file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let len = file.metadata().map_err(|e| read_err(path, e))?.len();
        let mut id = [0u8; ID_SIZE as usize];
        let n = read_at(&mut file, 0, &mut id).map_err(|e| read_err(path, e))?;
        let finalized = &id[..8] == ID_FINAL;
        if n < 8 || !(finalized || &id[..8] == ID_UNFINISHED) {
            return Err(bad(0, "not an MDF file: it does not start with 'MDF     '"));
        }
        if n < ID_SIZE as usize {
            return Err(bad(
                n as u64,
                "the file ends inside its 64-byte identification block",
            ));
        }
        let version = u16_at(&id, 28);
        if !(400..500).contains(&version) {
            return Err(bad(
                28,
                format!("MDF version {version}: only MDF 4 is supported"),
            ));
        }
        let mut flags = u16_at(&id, 60);
        if !finalized && flags == 0 {
            // unfinalized without saying what is missing: assume all we handle
            flags = UNFIN_CYCLES | UNFIN_LAST_DT | UNFIN_LAST_DL;
        }
        let unfinished = flags != 0;
        let mut meta = Meta {
            file: &mut file,
            path,
            len,
            known: Vec::new(),
        };
        let hd = meta.block(ID_SIZE, b"##HD", "header block")?;
        if hd.links.is_empty() || hd.data.len() < 8 {
            return Err(bad(ID_SIZE, "header block too short"));
        }
        let start_ns = i64::try_from(u64_at(&hd.data, 0)).unwrap_or(i64::MAX);
        let mut dgs = Vec::new();
        let mut seen = HashSet::new();
        let mut at = hd.links[0];
        let mut cg_total = 0usize;
        while at != 0 {
            if !seen.insert(at) || dgs.len() >= MAX_GROUPS {
                return Err(bad(at, "the data group list loops or is too long"));
            }
            let dg = meta.block(at, b"##DG", "data group")?;
            if dg.links.len() < 4 || dg.data.is_empty() {
                return Err(bad(at, "data group block too short"));
            }
            let rec_id_size = dg.data[0] as usize;
            if ![0, 1, 2, 4, 8].contains(&rec_id_size) {
                return Err(bad(
                    at,
                    format!("record id size {rec_id_size}: must be 0, 1, 2, 4 or 8"),
                ));
            }
            let mut groups = Vec::new();
            let mut cg_at = dg.links[1];
            while cg_at != 0 {
                cg_total += 1;
                if !seen.insert(cg_at) || cg_total > MAX_GROUPS {
                    return Err(bad(cg_at, "the channel group list loops or is too long"));
                }
                let cg = meta.block(cg_at, b"##CG", "channel group")?;
                if cg.links.len() < 6 || cg.data.len() < 32 {
                    return Err(bad(cg_at, "channel group block too short"));
                }
                let d = &cg.data;
                let size = u32_at(d, 24) as u64 + u32_at(d, 28) as u64;
                let vlsd = u16_at(d, 16) & CG_VLSD != 0;
                if size > MAX_RECORD {
                    return Err(bad(
                        cg_at,
                        format!("records of {size} bytes: the file is corrupt"),
                    ));
                }
                let mut chans = Vec::new();
                let mut cseen = HashSet::new();
                if !vlsd {
                    channels(&mut meta, cg.links[1], 0, &mut chans, &mut cseen)?;
                }
                let can = if vlsd {
                    None
                } else {
                    can_layout(&mut meta, &chans, size as usize)?
                };
                groups.push(Group {
                    record_id: u64_at(d, 0),
                    size: size as usize,
                    vlsd,
                    cycles: u64_at(d, 8),
                    can,
                });
                cg_at = cg.links[0];
            }
            if rec_id_size == 0 && groups.len() > 1 {
                return Err(bad(
                    at,
                    "a sorted data group (record id size 0) with several channel groups",
                ));
            }
            if groups.iter().any(|g| g.can.is_some()) && dg.links[2] != 0 {
                if dgs.len() == MAX_CAN_GROUPS {
                    return Err(bad(
                        at,
                        format!(
                            "more than {MAX_CAN_GROUPS} data groups of CAN frames: not supported"
                        ),
                    ));
                }
                dgs.push(DataGroup {
                    data: dg.links[2],
                    rec_id_size,
                    groups,
                });
            }
            at = dg.links[0];
        }
        let mut known = std::mem::take(&mut meta.known);
        known.sort_unstable();
        let known = Arc::new(known);
        let mut cursors = Vec::new();
        for dg in dgs {
            let file = File::open(path)
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            cursors.push(Cursor {
                path: path.to_path_buf(),
                file,
                file_len: len,
                flags,
                unfinished,
                known: Arc::clone(&known),
                start_ns,
                rec_id_size: dg.rec_id_size,
                groups: dg.groups,
                expected: 0,
                seen_records: 0,
                src: Source::Single(dg.data),
                visited: HashSet::new(),
                last_end: None,
                dt: None,
                scratch: Vec::new(),
                inflated: Vec::new(),
                buf: Vec::new(),
                pos: 0,
                buf_stream: 0,
                blk_addr: 0,
                blk_raw: false,
                blk_stream: 0,
                warnings: Default::default(),
                bad_frames: 0,
                done: false,
            });
        }
        for c in &mut cursors {
            c.expected = c
                .groups
                .iter()
                .map(|g| g.cycles)
                .fold(0u64, u64::saturating_add);
        }
        let heads = vec![None; cursors.len()];
        Ok(Reader {
            path: path.to_path_buf(),
            cursors,
            heads,
            done: false,
        })
    }

    fn read_inner(&mut self) -> Result<Option<Record>> {
        if self.cursors.len() == 1 {
            return self.cursors[0].next_fused();
        }
        let mut best: Option<usize> = None;
        for i in 0..self.cursors.len() {
            if self.heads[i].is_none() {
                self.heads[i] = self.cursors[i].next_fused()?;
            }
            if let Some(r) = &self.heads[i] {
                let better = match best.and_then(|b| self.heads[b].as_ref()) {
                    Some(b) => r.timestamp < b.timestamp,
                    None => true,
                };
                if better {
                    best = Some(i);
                }
            }
        }
        Ok(best.and_then(|b| self.heads[b].take()))
    }
}

impl_fused!(Reader, done, |r| r
    .read_inner()
    .map_err(|e| e.in_file(&r.path)));

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        self.next_fused()
    }

    fn take_warnings(&mut self) -> Vec<String> {
        let mut w = Vec::new();
        for c in &mut self.cursors {
            c.warnings.take_into(&self.path, &mut w);
        }
        w
    }
}

/// Where a cursor's next data block comes from.
enum Source {
    /// The data group's data link, not yet looked at.
    Single(u64),
    /// Walking a DL chain: the list, its data link count, the next index, the next list.
    List {
        dl: u64,
        dl_end: u64,
        count: u64,
        index: u64,
        next: u64,
    },
    /// Unfinalized: the DT/DZ blocks that follow in the file from here.
    Scan(u64),
    Done,
}

/// Reads one data group's records, block by block.
struct Cursor {
    path: PathBuf,
    file: File,
    file_len: u64,
    flags: u16,
    unfinished: bool,
    known: Arc<Vec<u64>>,
    start_ns: i64,
    rec_id_size: usize,
    groups: Vec<Group>,
    /// Records the cycle counts promise (finalized files).
    expected: u64,
    seen_records: u64,
    src: Source,
    visited: HashSet<u64>,
    /// End of the last data block taken (aligned), where a scan goes on.
    last_end: Option<u64>,
    /// A DT block being streamed: next byte to read, end.
    dt: Option<(u64, u64)>,
    scratch: Vec<u8>,
    /// A transposed DZ block's bytes before they are put back in order.
    inflated: Vec<u8>,
    buf: Vec<u8>,
    pos: usize,
    /// Stream offset of `buf[0]`.
    buf_stream: u64,
    /// The block the newest bytes came from, whether it is a DT (offsets map to
    /// file bytes) and the stream offset of its first byte.
    blk_addr: u64,
    blk_raw: bool,
    blk_stream: u64,
    warnings: crate::format::bytes::Warnings,
    bad_frames: u64,
    done: bool,
}

impl_fused!(Cursor, done, |r| r.next_inner());

impl Cursor {
    fn warn(&mut self, msg: String) {
        self.warnings.push(&self.path, msg);
    }

    fn rerr(&self, e: io::Error) -> Error {
        read_err(&self.path, e)
    }

    /// Where `buf[i]` is, for messages.
    fn locate(&self, i: usize) -> (Position, String) {
        let s = self.buf_stream + i as u64;
        if s >= self.blk_stream {
            let off = s - self.blk_stream;
            if self.blk_raw {
                let at = self.blk_addr + HEADER as u64 + off;
                return (Position::Byte(at), format!("byte {at}"));
            }
            return (
                Position::Byte(self.blk_addr),
                format!("offset {off} of the DZ block at byte {}", self.blk_addr),
            );
        }
        (
            Position::Byte(self.blk_addr),
            format!("the end of the data block before byte {}", self.blk_addr),
        )
    }

    /// The next data block's address, and whether it is known to be the last.
    fn next_block(&mut self) -> Result<Option<(u64, bool)>> {
        loop {
            match self.src {
                Source::Done => return Ok(None),
                Source::Single(at) => {
                    let Some((id, len)) = self.peek(at)? else {
                        self.warn(format!(
                            "the data at byte {at} lies past the end of the file ({} bytes): it was cut off",
                            self.file_len
                        ));
                        self.src = Source::Done;
                        return Ok(None);
                    };
                    match &id {
                        b"##DT" | b"##DZ" => {
                            self.src = Source::Done;
                            return Ok(Some((at, true)));
                        }
                        b"##HL" => {
                            if !self.visited.insert(at) {
                                return Err(bad(at, "the data lists loop"));
                            }
                            let mut h = [0u8; 32];
                            let n =
                                read_at(&mut self.file, at, &mut h).map_err(|e| self.rerr(e))?;
                            if n < 32 || len < 32 {
                                return Err(bad(at, "header list block too short"));
                            }
                            self.src = Source::Single(u64_at(&h, 24));
                            if u64_at(&h, 24) == 0 {
                                self.src = Source::Done;
                            }
                        }
                        b"##DL" => self.enter_list(at)?,
                        other => {
                            return Err(bad(
                                at,
                                format!(
                                    "expected a data block or list at byte {at}, found {}",
                                    String::from_utf8_lossy(other)
                                ),
                            ))
                        }
                    }
                }
                Source::List {
                    dl,
                    dl_end,
                    count,
                    index,
                    next,
                } => {
                    if index >= count {
                        if next == 0 {
                            self.src = Source::Done;
                        } else {
                            self.enter_list(next)?;
                        }
                        continue;
                    }
                    let link = self.link(dl, index)?;
                    self.src = Source::List {
                        dl,
                        dl_end,
                        count,
                        index: index + 1,
                        next,
                    };
                    if link == 0 {
                        if self.unfinished && self.flags & UNFIN_LAST_DL != 0 && next == 0 {
                            self.src = Source::Scan(self.last_end.unwrap_or(align8(dl_end)));
                        } else {
                            self.warn(format!(
                                "the data list at byte {dl} has an empty link: skipped"
                            ));
                        }
                        continue;
                    }
                    let last = next == 0 && (index + 1 == count || self.link(dl, index + 1)? == 0);
                    return Ok(Some((link, last)));
                }
                Source::Scan(at) => {
                    let Some((id, len)) = self.peek(at)? else {
                        self.src = Source::Done;
                        return Ok(None);
                    };
                    if (&id != b"##DT" && &id != b"##DZ") || len < HEADER as u64 {
                        self.src = Source::Done;
                        return Ok(None);
                    }
                    let after = align8(at.saturating_add(len));
                    let last = match self.peek(after)? {
                        Some((id, _)) => &id != b"##DT" && &id != b"##DZ",
                        None => true,
                    };
                    self.src = if last {
                        Source::Done
                    } else {
                        Source::Scan(after)
                    };
                    return Ok(Some((at, last)));
                }
            }
        }
    }

    /// A block's id and declared length, `None` past the end of the file.
    fn peek(&mut self, at: u64) -> Result<Option<([u8; 4], u64)>> {
        if at < ID_SIZE || at.saturating_add(HEADER as u64) > self.file_len {
            return Ok(None);
        }
        let mut h = [0u8; HEADER];
        let n = read_at(&mut self.file, at, &mut h).map_err(|e| self.rerr(e))?;
        if n < HEADER {
            return Ok(None);
        }
        let mut id = [0u8; 4];
        id.copy_from_slice(&h[..4]);
        Ok(Some((id, u64_at(&h, 8))))
    }

    fn enter_list(&mut self, at: u64) -> Result<()> {
        if !self.visited.insert(at) || self.visited.len() > 1 << 20 {
            return Err(bad(at, "the data lists loop"));
        }
        let Some((id, len)) = self.peek(at)? else {
            self.warn(format!(
                "the data list at byte {at} lies past the end of the file: it was cut off"
            ));
            self.src = Source::Done;
            return Ok(());
        };
        if &id != b"##DL" {
            return Err(bad(
                at,
                format!(
                    "expected a data list at byte {at}, found {}",
                    String::from_utf8_lossy(&id)
                ),
            ));
        }
        let mut h = [0u8; 32];
        let n = read_at(&mut self.file, at, &mut h).map_err(|e| self.rerr(e))?;
        let links = u64_at(&h, 16);
        if n < 32 || links == 0 || len < HEADER as u64 + 8 * links {
            return Err(bad(at, "the data list block is corrupt"));
        }
        let (mut count, mut next) = (links - 1, u64_at(&h, 24));
        if at.saturating_add(len) > self.file_len {
            // cut off: the links that are there
            self.warn(format!(
                "the data list at byte {at} runs past the end of the file: it was cut off"
            ));
            let present = (self.file_len - at).saturating_sub(HEADER as u64 + 8) / 8;
            count = count.min(present);
            next = 0;
        }
        self.src = Source::List {
            dl: at,
            dl_end: at + len,
            count,
            index: 0,
            next,
        };
        Ok(())
    }

    /// Data link `i` of the list at `dl`.
    fn link(&mut self, dl: u64, i: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        let at = dl + HEADER as u64 + 8 * (i + 1);
        let n = read_at(&mut self.file, at, &mut b).map_err(|e| self.rerr(e))?;
        if n < 8 {
            return Err(bad(at, "the data list is cut off"));
        }
        Ok(u64::from_le_bytes(b))
    }

    /// Appends the next bytes of the data stream to `buf`; false at its end.
    fn refill(&mut self) -> Result<bool> {
        // drop what was consumed
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.buf_stream += self.pos as u64;
            self.pos = 0;
        }
        loop {
            if let Some((next, end)) = self.dt {
                if next >= end {
                    self.dt = None;
                    continue;
                }
                let want = (end - next).min(CHUNK) as usize;
                let have = self.buf.len();
                self.buf.resize(have + want, 0);
                let n = read_at(&mut self.file, next, &mut self.buf[have..])
                    .map_err(|e| self.rerr(e))?;
                self.buf.truncate(have + n);
                if n == 0 {
                    self.dt = None;
                    self.src = Source::Done;
                    return Ok(false);
                }
                self.dt = Some((next + n as u64, end));
                return Ok(true);
            }
            let Some((at, last)) = self.next_block()? else {
                return Ok(false);
            };
            let Some((id, len)) = self.peek(at)? else {
                self.warn(format!(
                    "a data block at byte {at} lies past the end of the file ({} bytes): it was cut off",
                    self.file_len
                ));
                self.src = Source::Done;
                return Ok(false);
            };
            self.blk_addr = at;
            self.blk_stream = self.buf_stream + self.buf.len() as u64;
            match &id {
                b"##DT" => {
                    self.blk_raw = true;
                    let declared = at.saturating_add(len.max(HEADER as u64));
                    let mut end = declared;
                    if self.unfinished && self.flags & UNFIN_LAST_DT != 0 && last {
                        // its length was never written: up to the next block
                        let i = self.known.partition_point(|&k| k <= at);
                        end = self.known.get(i).copied().unwrap_or(self.file_len);
                        end = end.max(declared.min(self.file_len));
                    }
                    if end > self.file_len {
                        self.warn(format!(
                            "the data block at byte {at} ends at byte {end}, past the end of the file ({} bytes): it was cut off",
                            self.file_len
                        ));
                        end = self.file_len;
                    }
                    self.last_end = Some(align8(end));
                    self.dt = Some((at + HEADER as u64, end));
                }
                b"##DZ" => {
                    self.blk_raw = false;
                    if !self.inflate(at, len)? {
                        self.src = Source::Done;
                        return Ok(false);
                    }
                    self.last_end = Some(align8(at + len));
                    return Ok(true);
                }
                b"##DV" | b"##LD" => {
                    return Err(bad(
                        at,
                        "MDF 4.2 column storage (DV/LD blocks) is not supported",
                    ));
                }
                other => {
                    return Err(bad(
                        at,
                        format!(
                            "expected a data block at byte {at}, found {}",
                            String::from_utf8_lossy(other)
                        ),
                    ))
                }
            }
        }
    }

    /// Inflates the DZ block at `at` onto `buf`; false when it is cut off.
    fn inflate(&mut self, at: u64, len: u64) -> Result<bool> {
        let mut h = [0u8; 48];
        let n = read_at(&mut self.file, at, &mut h).map_err(|e| self.rerr(e))?;
        if n < 48 {
            self.warn(format!(
                "the file ends inside the DZ block at byte {at}: it was cut off"
            ));
            return Ok(false);
        }
        let org_type = [h[24], h[25]];
        let zip = h[26];
        let param = u32_at(&h, 28) as u64;
        let org = u64_at(&h, 32);
        let size = u64_at(&h, 40);
        if &org_type != b"DT" {
            return Err(bad(
                at,
                format!(
                    "a DZ block of {} data where records were expected",
                    String::from_utf8_lossy(&org_type)
                ),
            ));
        }
        if zip != ZIP_DEFLATE && zip != ZIP_TRANSPOSED {
            return Err(bad(at, format!("DZ block with zip type {zip}: only deflate (0) and transposed deflate (1) are supported")));
        }
        if size > len.saturating_sub(48) {
            return Err(bad(
                at,
                format!(
                    "DZ block of {len} bytes claims {size} compressed bytes: the file is corrupt"
                ),
            ));
        }
        if at + 48 + size > self.file_len {
            self.warn(format!(
                "the DZ block at byte {at} runs past the end of the file: it was cut off"
            ));
            return Ok(false);
        }
        // deflate cannot expand more than about 1032:1
        if org > MAX_DZ || org > size.saturating_mul(1100).saturating_add(1024) {
            return Err(bad(at, format!(
                "DZ block claims {org} bytes from {size} compressed ones (limit {MAX_DZ}): the file is corrupt"
            )));
        }
        self.scratch.resize(size as usize, 0);
        let got = read_at(&mut self.file, at + 48, &mut self.scratch).map_err(|e| self.rerr(e))?;
        if got < size as usize {
            self.warn(format!("the DZ block at byte {at} is cut off"));
            return Ok(false);
        }
        let cols = param as usize;
        let rows = if zip == ZIP_TRANSPOSED && cols > 1 {
            org as usize / cols
        } else {
            0
        };
        let have = self.buf.len();
        self.buf.resize(have + org as usize, 0);
        // a transposed block is inflated aside, then put back in record order
        let (src, dst) = if rows > 0 {
            self.inflated.resize(org as usize, 0);
            (&self.scratch, &mut self.inflated[..])
        } else {
            (&self.scratch, &mut self.buf[have..])
        };
        let mut z = libdeflater::Decompressor::new();
        let bad_data = match z.zlib_decompress(src, dst) {
            Ok(k) if k as u64 == org => None,
            Ok(k) => Some(format!(
                "DZ block inflates to {k} bytes, its header says {org}: the file is corrupt"
            )),
            Err(e) => Some(format!("DZ block holds corrupt zlib data ({e:?})")),
        };
        if let Some(msg) = bad_data {
            self.buf.truncate(have);
            return Err(bad(at, msg));
        }
        if rows > 0 {
            untranspose(&self.inflated, &mut self.buf[have..], rows, cols);
        }
        if self.scratch.capacity() > 8 << 20 {
            self.scratch = Vec::new();
        }
        if self.inflated.capacity() > 8 << 20 {
            self.inflated = Vec::new();
        }
        Ok(true)
    }

    /// Makes `n` bytes available at `pos`; false at the end of the data.
    fn want(&mut self, n: usize) -> Result<bool> {
        while self.buf.len() - self.pos < n {
            if !self.refill()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The end of the data (`exhausted`) or of the records the counts promise:
    /// a partial record or a short count is a cut-off file.
    fn end(&mut self, exhausted: bool) -> Result<Option<Record>> {
        self.done = true;
        let rest = &self.buf[self.pos..];
        if exhausted && rest.iter().any(|&b| b != 0) {
            let left = rest.len();
            let (_, desc) = self.locate(self.pos);
            self.warn(format!(
                "the data ends inside a record at {desc} ({left} bytes): it was cut off"
            ));
        } else if !self.unfinished && self.seen_records < self.expected {
            let missing = self.expected - self.seen_records;
            self.warn(format!(
                "the data ends {missing} records before the cycle counts say: it was cut off"
            ));
        }
        if self.bad_frames > 0 {
            let n = self.bad_frames;
            self.warn(format!("{n} records were not valid CAN frames: skipped"));
        }
        self.buf = Vec::new();
        self.pos = 0;
        Ok(None)
    }

    fn next_inner(&mut self) -> Result<Option<Record>> {
        loop {
            if !self.unfinished && self.seen_records >= self.expected {
                return self.end(false);
            }
            let idn = self.rec_id_size;
            if !self.want(idn.max(1))? {
                return self.end(true);
            }
            let at = self.pos;
            let gi = if idn == 0 {
                0
            } else {
                let b = &self.buf[at..at + idn];
                let mut a = [0u8; 8];
                a[..idn].copy_from_slice(b);
                let rid = u64::from_le_bytes(a);
                match self.groups.iter().position(|g| g.record_id == rid) {
                    Some(i) => i,
                    None => {
                        if self.unfinished && self.buf[at..].iter().all(|&b| b == 0) {
                            // zeros after the last record of a killed writer
                            return self.end(true);
                        }
                        let (p, desc) = self.locate(at);
                        return Err(Error::format(
                            p,
                            format!("unknown record id {rid} at {desc}: the file is corrupt"),
                        ));
                    }
                }
            };
            let g = &self.groups[gi];
            if g.vlsd {
                if !self.want(idn + 4)? {
                    return self.end(true);
                }
                let at = self.pos;
                let n = u32_at(&self.buf, at + idn) as u64;
                self.pos += idn + 4;
                self.skip(n)?;
                self.seen_records += 1;
                continue;
            }
            let size = g.size;
            if !self.want(idn + size)? {
                return self.end(true);
            }
            let at = self.pos;
            self.pos += idn + size;
            self.seen_records += 1;
            let Some(l) = &self.groups[gi].can else {
                continue;
            };
            let rec = &self.buf[at + idn..at + idn + size];
            match decode(l, rec, self.start_ns) {
                Ok(r) => return Ok(Some(r)),
                Err(e) => {
                    self.bad_frames += 1;
                    if self.bad_frames == 1 {
                        let (_, desc) = self.locate(at);
                        self.warn(format!("record at {desc} skipped: {e}"));
                    }
                }
            }
        }
    }

    /// Skips `n` bytes of the stream (a VLSD value).
    fn skip(&mut self, mut n: u64) -> Result<()> {
        loop {
            let avail = (self.buf.len() - self.pos) as u64;
            let k = avail.min(n);
            self.pos += k as usize;
            n -= k;
            if n == 0 || !self.refill()? {
                return Ok(());
            }
        }
    }
}

/// Puts a transposed block back in record order: `src` holds the first
/// `rows * cols` bytes column by column (then the rest as it is); `dst` gets
/// them row by row. Works in tiles of rows so that both sides stay in cache.
fn untranspose(src: &[u8], dst: &mut [u8], rows: usize, cols: usize) {
    const TILE: usize = 64;
    let m = rows * cols;
    let mut r0 = 0;
    while r0 < rows {
        let r1 = (r0 + TILE).min(rows);
        let out = &mut dst[r0 * cols..r1 * cols];
        for c in 0..cols {
            let column = &src[c * rows + r0..c * rows + r1];
            for (k, &b) in column.iter().enumerate() {
                out[k * cols + c] = b;
            }
        }
        r0 = r1;
    }
    dst[m..].copy_from_slice(&src[m..]);
}

/// Decodes one record of a CAN channel group.
fn decode(l: &CanLayout, rec: &[u8], start_ns: i64) -> Result<Record, FrameError> {
    let secs = match &l.time {
        Some((f, conv)) => conv.apply(f.number(rec)),
        None => 0.0,
    };
    let rel = (secs * 1e9).round();
    let rel = if rel.is_finite() { rel as i64 } else { 0 };
    let timestamp = Timestamp(start_ns.saturating_add(rel));
    let flag = |f: &Option<Field>| f.as_ref().is_some_and(|f| f.int(rec) != 0);
    let raw_id = l.id.as_ref().map(|f| f.int(rec)).unwrap_or(0);
    let id_val = (raw_id & 0x1FFF_FFFF) as u32;
    let ext = match &l.ide {
        Some(f) => f.int(rec) != 0,
        None => match &l.id {
            Some(f) if f.bits >= 32 => raw_id & 0x8000_0000 != 0,
            _ => false,
        },
    } || id_val > 0x7FF;
    let id = if ext {
        Id::Extended(id_val)
    } else {
        Id::Standard(id_val as u16)
    };
    let dlc = l
        .dlc
        .as_ref()
        .map(|f| f.int(rec).min(15) as u8)
        .unwrap_or(0);
    let edl = flag(&l.edl);
    let fd = FdFlags {
        brs: flag(&l.brs),
        esi: flag(&l.esi),
    };
    let stored = l.data.as_ref().map(|f| f.bytes(rec)).unwrap_or(&[]);
    let len = match &l.len {
        Some(f) => f.int(rec).min(64) as usize,
        None if edl => dlc_to_len(dlc),
        None => (dlc as usize).min(8),
    };
    let mut payload = [0u8; 64];
    let n = len.min(stored.len());
    payload[..n].copy_from_slice(&stored[..n]);
    let frame = match l.kind {
        FrameKind::Remote => Frame::remote(id, dlc)?,
        FrameKind::Error => {
            let f = Frame::error(id_val, &payload[..len.min(8)])?;
            if edl {
                f.with_fd_flags(fd)
            } else {
                f
            }
        }
        FrameKind::Data if edl => {
            if len_to_dlc(len).is_some() {
                Frame::fd(id, &payload[..len], fd)?
            } else {
                Frame::fd(id, &payload[..fd_padded_len(len).unwrap_or(64)], fd)?
            }
        }
        FrameKind::Data => Frame::data_stored(id, &payload[..len.min(8)], dlc)?,
    };
    let channel = match &l.channel {
        Some(f) => Channel::Number(f.int(rec).min(u32::MAX as u64) as u32),
        None => Channel::None,
    };
    let direction = if flag(&l.dir) {
        Direction::Tx
    } else {
        Direction::Rx
    };
    Ok(Record {
        timestamp,
        channel,
        direction,
        frame,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(byte: usize, bit: u32, bits: u32, kind: Kind, be: bool) -> Field {
        Field {
            byte,
            bit,
            bits,
            kind,
            big_endian: be,
        }
    }

    #[test]
    fn fields_take_their_bits() {
        let rec = [0x00, 0x23, 0x01, 0x00, 0x80, 0xF5];
        // a 29-bit id with the IDE bit (31) of the same u32
        assert_eq!(field(1, 0, 29, Kind::Uint, false).uint(&rec), 0x123);
        assert_eq!(field(4, 7, 1, Kind::Uint, false).uint(&rec), 1);
        assert_eq!(field(5, 0, 4, Kind::Uint, false).uint(&rec), 5);
        assert_eq!(field(5, 4, 4, Kind::Uint, false).uint(&rec), 15);
        assert_eq!(field(1, 0, 16, Kind::Uint, true).uint(&rec), 0x2301);
        assert_eq!(field(5, 4, 4, Kind::Int, false).number(&rec), -1.0);
        let t = 12.5f64.to_le_bytes();
        assert_eq!(field(0, 0, 64, Kind::Float, false).number(&t), 12.5);
    }

    #[test]
    fn transposed_blocks_come_back_in_record_order() {
        // 3 records of 4 bytes and a 2-byte tail, as asammdf transposes them
        let records: Vec<u8> = (0..14).collect();
        let mut t = Vec::new();
        for c in 0..4 {
            for r in 0..3 {
                t.push(records[r * 4 + c]);
            }
        }
        t.extend_from_slice(&records[12..]);
        let mut back = vec![0u8; 14];
        untranspose(&t, &mut back, 3, 4);
        assert_eq!(back, records);
        // more rows than a tile
        let big: Vec<u8> = (0..(200 * 7 + 3)).map(|i| (i * 31 % 251) as u8).collect();
        let mut t = Vec::new();
        for c in 0..7 {
            for r in 0..200 {
                t.push(big[r * 7 + c]);
            }
        }
        t.extend_from_slice(&big[1400..]);
        let mut back = vec![0u8; big.len()];
        untranspose(&t, &mut back, 200, 7);
        assert_eq!(back, big);
    }

    #[test]
    fn conversions_give_seconds() {
        assert_eq!(Conversion::Linear(1.0, 1e-6).apply(2_000_000.0), 3.0);
        assert_eq!(Conversion::Identity.apply(4.0), 4.0);
        let r = Conversion::Rational([0.0, 2.0, 0.0, 0.0, 0.0, 4.0]);
        assert_eq!(r.apply(3.0), 1.5);
    }
}
