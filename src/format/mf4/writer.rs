//! MF4 writing: the metadata first (marked unfinalized), then records into one
//! growing `DT` block or into `DZ` blocks after a preallocated `DL`; `finish`
//! fills in lengths, links and cycle counts and marks the file finalized.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{
    align8, BUS_CAN, BYTES, CG_BUS_EVENT, CG_PLAIN_BUS_EVENT, CN_BUS_EVENT, CN_MASTER, DATA_FRAME,
    ERROR_FRAME, FLOAT_LE, HEADER, ID_FINAL, ID_SIZE, ID_UNFINISHED, REMOTE_FRAME, SI_BUS,
    SYNC_TIME, UINT_LE, UNFIN_CYCLES, UNFIN_LAST_DL, UNFIN_LAST_DT, ZIP_DEFLATE,
};
use crate::error::{Error, Result};
use crate::format::{write_err, RecordWriter, WriterOptions};
use crate::frame::{Channel, Direction, Frame, Record};

/// Uncompressed bytes per DZ block.
const DZ_BLOCK: usize = 1 << 20;
/// Data links the first DL holds (a killed writer's file is readable by
/// asammdf up to this many DZ blocks).
const DL_LINKS: usize = 8192;
/// Data links of each further DL written by `finish`.
const MORE_LINKS: usize = 4096;

/// The four channel groups: record id, frame channel, data bytes per record.
const GROUPS: [(u8, &str, usize); 4] = [
    (1, DATA_FRAME, 8),
    (2, DATA_FRAME, 64),
    (3, REMOTE_FRAME, 0),
    (4, ERROR_FRAME, 8),
];

/// Bytes of a record (after the record id) with `data` data bytes.
fn record_size(data: usize) -> usize {
    16 + data
}

/// The `compression=N` option: 0 (none, the default) or a deflate level 1-9.
fn level(opts: &WriterOptions) -> Result<u32> {
    match opts.options.get("compression") {
        None => Ok(0),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if n <= 9 => Ok(n),
            _ => Err(Error::Config(format!(
                "MF4 option compression={v}: expected 0 (none) or a deflate level from 1 to 9"
            ))),
        },
    }
}

/// Lays out metadata blocks at 8-aligned addresses from a base offset.
struct Blocks {
    base: u64,
    bytes: Vec<u8>,
}

impl Blocks {
    fn at(&self) -> u64 {
        self.base + self.bytes.len() as u64
    }

    /// Appends a block; returns its address.
    fn add(&mut self, id: &[u8; 4], links: &[u64], data: &[u8]) -> u64 {
        let pad = (align8(self.at()) - self.at()) as usize;
        self.bytes.extend(std::iter::repeat_n(0, pad));
        let at = self.at();
        let len = (HEADER + 8 * links.len() + data.len()) as u64;
        self.bytes.extend_from_slice(id);
        self.bytes.extend_from_slice(&[0; 4]);
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes
            .extend_from_slice(&(links.len() as u64).to_le_bytes());
        for l in links {
            self.bytes.extend_from_slice(&l.to_le_bytes());
        }
        self.bytes.extend_from_slice(data);
        at
    }

    /// A TX (or MD) block: the text, NUL-terminated, padded to 8 bytes.
    fn text(&mut self, id: &[u8; 4], s: &str) -> u64 {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        d.resize(align8(d.len() as u64) as usize, 0);
        self.add(id, &[], &d)
    }

    /// A CN block.
    #[allow(clippy::too_many_arguments)]
    fn channel(
        &mut self,
        next: u64,
        composition: u64,
        name: u64,
        source: u64,
        unit: u64,
        (ctype, sync, dtype): (u8, u8, u8),
        (byte, bit, bits): (u32, u8, u32),
        flags: u32,
    ) -> u64 {
        let mut d = [0u8; 72];
        d[0] = ctype;
        d[1] = sync;
        d[2] = dtype;
        d[3] = bit;
        d[4..8].copy_from_slice(&byte.to_le_bytes());
        d[8..12].copy_from_slice(&bits.to_le_bytes());
        d[12..16].copy_from_slice(&flags.to_le_bytes());
        self.add(
            b"##CN",
            &[next, composition, name, source, 0, 0, unit, 0],
            &d,
        )
    }
}

/// Builds the metadata: ID, HD, FH, the data group and its channel groups.
/// Returns the bytes (from 0) and the addresses to patch later.
fn metadata(start_ns: u64, now_ns: u64) -> (Vec<u8>, [u64; 4]) {
    let mut b = Blocks {
        base: ID_SIZE,
        bytes: Vec::new(),
    };
    // HD first (at 64), links patched below
    let hd = b.add(b"##HD", &[0; 6], &{
        let mut d = [0u8; 32];
        d[0..8].copy_from_slice(&start_ns.to_le_bytes());
        d[12] = 2; // time offsets valid (zero: UTC)
        d
    });
    let fh_md = b.text(
        b"##MD",
        &format!(
            "<FHcomment>\n<TX>created</TX>\n<tool_id>cankit</tool_id>\n<tool_vendor>cankit</tool_vendor>\n<tool_version>{}</tool_version>\n</FHcomment>",
            env!("CARGO_PKG_VERSION")
        ),
    );
    let fh = b.add(b"##FH", &[0, fh_md], &{
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&now_ns.to_le_bytes());
        d[12] = 2;
        d
    });
    let acq = b.text(b"##TX", "CAN");
    let si = b.add(b"##SI", &[acq, 0, 0], &[SI_BUS, BUS_CAN, 0, 0, 0, 0, 0, 0]);
    let unit = b.text(b"##TX", "s");
    let time_name = b.text(b"##TX", "Timestamp");
    let mut cgs = [0u64; 4];
    let mut next_cg = 0;
    for (gi, &(rid, frame, data)) in GROUPS.iter().enumerate().rev() {
        let size = record_size(data);
        // fields: name, byte, bit, bits, data type
        let mut fields: Vec<(&str, u32, u8, u32, u8)> = vec![
            ("BusChannel", 8, 0, 8, UINT_LE),
            ("ID", 9, 0, 29, UINT_LE),
            ("IDE", 12, 7, 1, UINT_LE),
            ("DLC", 13, 0, 4, UINT_LE),
            ("DataLength", 14, 0, 8, UINT_LE),
            ("Dir", 15, 0, 1, UINT_LE),
        ];
        if frame != REMOTE_FRAME {
            fields.extend([
                ("EDL", 15, 1, 1, UINT_LE),
                ("BRS", 15, 2, 1, UINT_LE),
                ("ESI", 15, 3, 1, UINT_LE),
                ("DataBytes", 16, 0, 8 * data as u32, BYTES),
            ]);
        }
        let mut next = 0;
        for &(name, byte, bit, bits, dtype) in fields.iter().rev() {
            let n = b.text(b"##TX", &format!("{frame}.{name}"));
            next = b.channel(
                next,
                0,
                n,
                0,
                0,
                (0, 0, dtype),
                (byte, bit, bits),
                CN_BUS_EVENT,
            );
        }
        let n = b.text(b"##TX", frame);
        let frame_cn = b.channel(
            0,
            next,
            n,
            si,
            0,
            (0, 0, BYTES),
            (8, 0, 8 * (size as u32 - 8)),
            CN_BUS_EVENT,
        );
        let time = b.channel(
            frame_cn,
            0,
            time_name,
            0,
            unit,
            (CN_MASTER, SYNC_TIME, FLOAT_LE),
            (0, 0, 64),
            0,
        );
        let mut d = [0u8; 32];
        d[0..8].copy_from_slice(&(rid as u64).to_le_bytes());
        d[16..18].copy_from_slice(&(CG_BUS_EVENT | CG_PLAIN_BUS_EVENT).to_le_bytes());
        d[18..20].copy_from_slice(&(b'.' as u16).to_le_bytes());
        d[24..28].copy_from_slice(&(size as u32).to_le_bytes());
        next_cg = b.add(b"##CG", &[next_cg, time, acq, si, 0, 0], &d);
        cgs[gi] = next_cg;
    }
    // the DG's data link is the block that follows the metadata
    let dg_at = align8(b.at());
    let data_at = align8(dg_at + 64);
    let dg = b.add(
        b"##DG",
        &[0, next_cg, data_at, 0],
        &[1, 0, 0, 0, 0, 0, 0, 0],
    );
    debug_assert_eq!(dg, dg_at);
    let pad = (align8(b.at()) - b.at()) as usize;
    b.bytes.extend(std::iter::repeat_n(0, pad));
    // patch the HD's links: first DG, first FH
    let h = (hd - ID_SIZE) as usize + HEADER;
    b.bytes[h..h + 8].copy_from_slice(&dg.to_le_bytes());
    b.bytes[h + 8..h + 16].copy_from_slice(&fh.to_le_bytes());
    let mut out = vec![0u8; ID_SIZE as usize];
    out[0..8].copy_from_slice(ID_UNFINISHED);
    out[8..16].copy_from_slice(b"4.10    ");
    out[16..24].copy_from_slice(b"cankit  ");
    out[28..30].copy_from_slice(&410u16.to_le_bytes());
    out.extend_from_slice(&b.bytes);
    (out, cgs)
}

/// Writes MF4 bus logging files.
pub struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
    /// Deflate level; 0 writes one DT block.
    level: u32,
    compressor: Option<libdeflater::Compressor>,
    /// Where the data starts (the DT, or the HL then the DL).
    data_at: u64,
    dl_at: u64,
    /// Bytes written so far (the file's length).
    len: u64,
    cgs: [u64; 4],
    counts: [u64; 4],
    /// Records of the block being filled (compressed mode).
    block: Vec<u8>,
    zipped: Vec<u8>,
    /// Written DZ blocks: address and offset in the record stream.
    dz: Vec<(u64, u64)>,
    stream_len: u64,
    start_ns: Option<i64>,
    names: HashMap<Arc<str>, u32>,
    next_named: u32,
    finished: bool,
}

impl Writer {
    /// Creates an MF4 file (never replacing one without `opts.force`).
    pub fn create(path: &Path, opts: &WriterOptions) -> Result<Writer> {
        let level = level(opts)?;
        if opts.append {
            return Err(Error::Unsupported(format!(
                "{}: appending to an MF4 file is not supported",
                path.display()
            )));
        }
        // append was refused above, so this creates (or with --force truncates)
        let file = crate::format::output::create_output_file(
            path,
            opts,
            crate::format::output::FileAccess::Random,
        )?
        .file;
        Ok(Writer {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            level,
            compressor: None,
            data_at: 0,
            dl_at: 0,
            len: 0,
            cgs: [0; 4],
            counts: [0; 4],
            block: Vec::new(),
            zipped: Vec::new(),
            dz: Vec::new(),
            stream_len: 0,
            start_ns: None,
            names: HashMap::new(),
            next_named: 1,
            finished: false,
        })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| write_err(&self.path, e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn pad8(&mut self) -> Result<()> {
        let pad = (align8(self.len) - self.len) as usize;
        self.put(&[0u8; 8][..pad])
    }

    /// Writes the metadata and the start of the data, at the first record.
    fn begin(&mut self, first_ns: i64) -> Result<()> {
        let start = if first_ns <= 0 {
            0
        } else {
            first_ns - first_ns % 1000
        };
        self.start_ns = Some(start);
        let now = crate::frame::Timestamp::now().as_nanos().max(0) as u64;
        let (mut meta, cgs) = metadata(start as u64, now);
        self.cgs = cgs;
        let flags = if self.level == 0 {
            UNFIN_CYCLES | UNFIN_LAST_DT
        } else {
            UNFIN_CYCLES | UNFIN_LAST_DL
        };
        meta[60..62].copy_from_slice(&flags.to_le_bytes());
        self.put(&meta)?;
        self.data_at = self.len;
        if self.level == 0 {
            // a DT whose length is written at the end
            let mut h = [0u8; HEADER];
            h[0..4].copy_from_slice(b"##DT");
            h[8..16].copy_from_slice(&(HEADER as u64).to_le_bytes());
            self.put(&h)?;
        } else {
            self.compressor = Some(libdeflater::Compressor::new(
                libdeflater::CompressionLvl::new(self.level as i32).unwrap_or_default(),
            ));
            let dl_at = self.data_at + 40;
            let mut hl = [0u8; 40];
            hl[0..4].copy_from_slice(b"##HL");
            hl[8..16].copy_from_slice(&40u64.to_le_bytes());
            hl[16..24].copy_from_slice(&1u64.to_le_bytes());
            hl[24..32].copy_from_slice(&dl_at.to_le_bytes());
            hl[34] = ZIP_DEFLATE;
            self.put(&hl)?;
            self.dl_at = dl_at;
            // a DL of empty links and offsets, filled in by finish
            let dl = dl_bytes(&[], DL_LINKS, 0);
            self.put(&dl)?;
            self.pad8()?;
        }
        Ok(())
    }

    /// Compresses and writes the block being filled.
    fn write_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let Some(z) = self.compressor.as_mut() else {
            return Ok(());
        };
        self.zipped
            .resize(z.zlib_compress_bound(self.block.len()), 0);
        let n = z
            .zlib_compress(&self.block, &mut self.zipped)
            .map_err(|e| write_err(&self.path, io::Error::other(format!("{e:?}"))))?;
        self.pad8()?;
        let at = self.len;
        let mut h = [0u8; 48];
        h[0..4].copy_from_slice(b"##DZ");
        h[8..16].copy_from_slice(&(48 + n as u64).to_le_bytes());
        h[24..26].copy_from_slice(b"DT");
        h[26] = ZIP_DEFLATE;
        h[32..40].copy_from_slice(&(self.block.len() as u64).to_le_bytes());
        h[40..48].copy_from_slice(&(n as u64).to_le_bytes());
        self.put(&h)?;
        let zipped = std::mem::take(&mut self.zipped);
        let r = self.put(&zipped[..n]);
        self.zipped = zipped;
        r?;
        self.pad8()?;
        self.dz.push((at, self.stream_len));
        self.stream_len += self.block.len() as u64;
        self.block.clear();
        Ok(())
    }

    fn channel_number(&mut self, ch: &Channel) -> Result<u8> {
        let n = match ch {
            Channel::None => 1,
            Channel::Number(n) => *n,
            Channel::Name(name) => match crate::format::channels::interface_index(name) {
                Some(k) => k.saturating_add(1),
                None => match self.names.get(name) {
                    Some(&n) => n,
                    None => {
                        let n = self.next_named;
                        self.next_named += 1;
                        self.names.insert(name.clone(), n);
                        n
                    }
                },
            },
        };
        u8::try_from(n).map_err(|_| {
            Error::Unsupported(format!(
                "{}: MF4 bus channel numbers stop at 255, not {n}",
                self.path.display()
            ))
        })
    }

    fn patch(&mut self, at: u64, bytes: &[u8]) -> Result<()> {
        let path = &self.path;
        self.out
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.out.write_all(bytes))
            .map_err(|e| write_err(path, e))
    }

    fn finish_inner(&mut self) -> Result<()> {
        if self.start_ns.is_none() {
            self.begin(0)?;
        }
        if self.level == 0 {
            let dt_len = self.len - self.data_at;
            self.pad8()?;
            self.patch(self.data_at + 8, &dt_len.to_le_bytes())?;
        } else {
            self.write_block()?;
            let dz = std::mem::take(&mut self.dz);
            // further lists at the end for blocks beyond the first list
            let mut rest: Vec<&[(u64, u64)]> = Vec::new();
            if dz.len() > DL_LINKS {
                rest.extend(dz[DL_LINKS..].chunks(MORE_LINKS));
            }
            let mut addrs = Vec::new();
            self.out
                .seek(SeekFrom::Start(self.len))
                .map_err(|e| write_err(&self.path, e))?;
            for (i, chunk) in rest.iter().enumerate() {
                self.pad8()?;
                addrs.push(self.len);
                let next_at = align8(self.len + dl_len(chunk.len()));
                let next = if i + 1 < rest.len() { next_at } else { 0 };
                let b = dl_bytes(chunk, chunk.len(), next);
                self.put(&b)?;
            }
            self.pad8()?;
            let first = &dz[..dz.len().min(DL_LINKS)];
            let next = addrs.first().copied().unwrap_or(0);
            let b = dl_bytes(first, first.len(), next);
            self.patch(self.dl_at, &b)?;
            self.dz = dz;
        }
        for (i, &at) in self.cgs.clone().iter().enumerate() {
            let c = self.counts[i];
            self.patch(at + 80, &c.to_le_bytes())?;
        }
        self.out.flush().map_err(|e| write_err(&self.path, e))?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|e| write_err(&self.path, e))?;
        // last: the file is finalized
        let mut id = [0u8; 62];
        id[0..8].copy_from_slice(ID_FINAL);
        self.patch(0, &id[..8])?;
        self.patch(60, &[0, 0])?;
        self.out.flush().map_err(|e| write_err(&self.path, e))
    }
}

/// Bytes of a DL with `links` data links (the first `blocks.len()` filled),
/// offsets and a next link.
fn dl_bytes(blocks: &[(u64, u64)], links: usize, next: u64) -> Vec<u8> {
    let len = dl_len(links);
    let mut b = Vec::with_capacity(len as usize);
    b.extend_from_slice(b"##DL");
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&(links as u64 + 1).to_le_bytes());
    b.extend_from_slice(&next.to_le_bytes());
    for i in 0..links {
        let a = blocks.get(i).map(|x| x.0).unwrap_or(0);
        b.extend_from_slice(&a.to_le_bytes());
    }
    b.extend_from_slice(&[0u8; 4]); // flags: offsets follow
    b.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
    for i in 0..links {
        let o = blocks.get(i).map(|x| x.1).unwrap_or(0);
        b.extend_from_slice(&o.to_le_bytes());
    }
    b
}

fn dl_len(links: usize) -> u64 {
    (HEADER + 8 * (links + 1) + 8 + 8 * links) as u64
}

/// Encodes one record (id byte first) into `out`; returns the group index and length.
fn encode(out: &mut [u8; 81], f: &Frame, secs: f64, channel: u8, tx: bool) -> (usize, usize) {
    let gi = if f.is_error() {
        3
    } else if f.is_remote() {
        2
    } else if f.is_fd() {
        1
    } else {
        0
    };
    let (rid, _, data) = GROUPS[gi];
    let size = record_size(data);
    let r = &mut out[..1 + size];
    r.fill(0);
    r[0] = rid;
    let b = &mut r[1..];
    b[0..8].copy_from_slice(&secs.to_le_bytes());
    b[8] = channel;
    let id = f.id().raw() | if f.id().is_extended() { 0x8000_0000 } else { 0 };
    b[9..13].copy_from_slice(&id.to_le_bytes());
    b[13] = f.dlc();
    b[14] = f.requested_len() as u8;
    b[15] = tx as u8 | (f.is_fd() as u8) << 1 | (f.brs() as u8) << 2 | (f.esi() as u8) << 3;
    if data > 0 {
        let d = f.data_bytes();
        let n = d.len().min(data);
        b[16..16 + n].copy_from_slice(&d[..n]);
    }
    (gi, 1 + size)
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        if self.finished {
            return Err(Error::write_after_finish(&self.path));
        }
        let ts = r.timestamp.as_nanos();
        if self.start_ns.is_none() {
            self.begin(ts)?;
        }
        let start = self.start_ns.unwrap_or(0);
        let secs = ts.saturating_sub(start) as f64 / 1e9;
        let channel = self.channel_number(&r.channel)?;
        let mut rec = [0u8; 81];
        let (gi, n) = encode(
            &mut rec,
            &r.frame,
            secs,
            channel,
            r.direction == Direction::Tx,
        );
        self.counts[gi] += 1;
        if self.level == 0 {
            return self.put(&rec[..n]);
        }
        if self.block.len() + n > DZ_BLOCK {
            self.write_block()?;
        }
        self.block.extend_from_slice(&rec[..n]);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.level > 0 {
            self.write_block()?;
        }
        self.out.flush().map_err(|e| write_err(&self.path, e))
    }

    fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        self.finish_inner()
    }

    fn size_bound(&self) -> Option<u64> {
        if self.finished {
            return Some(self.len);
        }
        // what finish adds: the metadata and the start of the data if no
        // record came, the block being filled (deflated at its worst, with
        // its header and padding), more DLs past the first one's links, and
        // padding; the rest is patched in place
        let mut more = 7;
        if self.start_ns.is_none() {
            more += metadata(0, 0).0.len() as u64
                + if self.level == 0 {
                    HEADER as u64
                } else {
                    40 + dl_len(DL_LINKS) + 7
                };
        }
        if !self.block.is_empty() {
            more += 7 + 48 + crate::format::deflate_bound(self.block.len() as u64) + 7;
        }
        let blocks = self.dz.len() + usize::from(!self.block.is_empty());
        let lists = blocks.saturating_sub(DL_LINKS).div_ceil(MORE_LINKS) as u64;
        more += lists * (dl_len(MORE_LINKS) + 7);
        Some(self.len + more)
    }
}

impl Drop for Writer {
    /// Best effort: a writer dropped without `finish` still completes the file.
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_blocks_are_aligned_and_linked() {
        let (m, cgs) = metadata(1_700_000_000_000_000_000, 0);
        assert_eq!(&m[0..8], ID_UNFINISHED);
        assert_eq!(&m[64..68], b"##HD");
        assert_eq!(m.len() % 8, 0);
        for at in cgs {
            assert_eq!(at % 8, 0);
            assert_eq!(&m[at as usize..at as usize + 4], b"##CG");
        }
        // the HD links the DG, whose data link is the end of the metadata
        let dg = super::super::u64_at(&m, 64 + 24) as usize;
        assert_eq!(&m[dg..dg + 4], b"##DG");
        assert_eq!(super::super::u64_at(&m, dg + 24 + 16), m.len() as u64);
    }
}
