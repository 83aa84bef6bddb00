//! Packet captures: pcapng (`.pcapng`) written and read, classic pcap (`.pcap`)
//! read, with SocketCAN frames (link type 227, `LINKTYPE_CAN_SOCKETCAN`), so a
//! log opens in Wireshark and a Wireshark, tcpdump or dumpcap capture of a CAN
//! interface converts to any other format.
//!
//! # The packet: SocketCAN's frame, as libpcap captures it
//!
//! Every packet is the kernel's `can_frame` / `canfd_frame` with the first
//! word in big-endian order (the tcpdump link-type registry's layout):
//!
//! | bytes | field |
//! | --- | --- |
//! | 0-3 | big-endian: bits 0-28 the identifier (for error frames the error class), `0x8000_0000` 29-bit (EFF), `0x4000_0000` remote (RTR), `0x2000_0000` error frame (ERR) |
//! | 4 | payload length: 0-8 classic, 0-64 FD (bit 7 set marks a CAN XL frame, whose layout differs) |
//! | 5 | FD flags: `0x01` BRS, `0x02` ESI, `0x04` FDF (this is an FD frame); 0 for classic frames |
//! | 6 | reserved, 0 |
//! | 7 | classic frames: the raw DLC 9-15 when the length is 8 (`len8_dlc`), else 0; FD frames: 0 |
//! | 8- | the payload, then zero padding |
//!
//! We write every packet at the kernel's size, 16 bytes for classic frames
//! (`CAN_MTU`) and 72 for FD frames (`CANFD_MTU`), as a capture on a SocketCAN
//! interface holds them, and set FDF on FD frames: Wireshark 4.0 takes a frame
//! as FD when FDF is set and bytes 5-7 hold nothing else; older readers go by
//! the size 72. Remote frames carry their requested DLC in byte 4 (and byte 7
//! above 8) and no payload; error frames set ERR (not EFF) with their class and
//! up to 8 detail bytes, as SocketCAN delivers them.
//!
//! Reading takes a frame as FD when FDF is set and byte 5 holds no unknown bits
//! and bytes 6 and 7 are 0 (Wireshark's rule, because old writers left junk
//! there), or when the packet is 72 bytes long without FDF (older captures: the
//! link-type registry's rule; Wireshark 4.0 shows these as classic frames with
//! a length above 8), or when its length is above 8. A packet that cannot be one frame (a length
//! above 8 for a classic or above 64 for an FD frame, an FD length CAN FD
//! cannot encode, fewer bytes than its length, a remote or error FD frame, a
//! standard identifier above 0x7FF, a CAN XL frame) is skipped with a warning
//! naming its byte offset.
//!
//! # pcapng: what we write
//!
//! Little-endian, one section, blocks of `type u32, total length u32, body,
//! total length u32` (lengths multiples of 4, bodies zero-padded to 4):
//!
//! 1. Section Header Block (type `0x0A0D0D0A`): byte-order magic `0x1A2B3C4D`,
//!    version 1.0, section length -1 (unknown: we stream), option `shb_userappl`
//!    (4) `cankit <version>`, then `opt_endofopt` (0).
//! 2. One Interface Description Block (type 1) per channel, written before the
//!    first packet on it: link type 227, snap length 72, options `if_name` (2)
//!    the channel's name and `if_tsresol` (9) = 9 (nanoseconds), then
//!    `opt_endofopt`. Names: a named channel keeps its name; channel number n
//!    is `can<n-1>` and no channel is `can0`, as in candump logs (so `can0`,
//!    channel 1 and no channel share one interface).
//! 3. One Enhanced Packet Block (type 6) per frame: interface id, the timestamp
//!    in nanoseconds since 1970 as high and low 32-bit words, captured and
//!    original length (16 or 72), the packet, option `epb_flags` (2, 4 bytes:
//!    bits 0-1 = 1 inbound for received frames, 2 outbound for sent ones), then
//!    `opt_endofopt`.
//!
//! No seek is needed (it writes to stdout and `.gz`); `--append` to a pcapng
//! file adds a new section (a Section Header Block and its interfaces), which
//! Wireshark reads as one capture. What pcapng cannot hold from our records:
//! times before 1970 (an error), FD marks on remote and error frames (they
//! become classic, as in Wireshark's model), numbered channels (they become
//! names, as above).
//!
//! # pcapng: what we read
//!
//! Both byte orders (per section, from the byte-order magic), version 1.x,
//! any number of sections (a new section forgets the interfaces before it).
//! Interface blocks give the link type, `if_name` (the channel; an interface
//! without a name is channel number index + 1, 1-based as in BLF),
//! `if_tsresol` (a power of 10 or, with bit 7 set, of 2; default microseconds)
//! and `if_tsoffset` (seconds added to every time). Enhanced Packet Blocks,
//! Simple Packet Blocks (interface 0; they carry no time, so they take the
//! previous packet's, with a warning) and the obsolete Packet Blocks (type 2)
//! hold frames; `epb_flags`/`pack_flags` give the direction (outbound is Tx,
//! anything else Rx). Other blocks (name resolution, statistics, decryption
//! secrets, custom) are skipped by their length. Packets on interfaces of
//! another link type are skipped with one warning per interface.
//!
//! # Classic pcap: what we read
//!
//! Told apart from pcapng by its first four bytes: magic `0xA1B2C3D4`
//! (microseconds) or `0xA1B23C4D` (nanoseconds) in either byte order, a 24-byte
//! header whose link type (low 16 bits of the last word) must be 227, then
//! records of `seconds u32, fraction u32, captured length u32, original length
//! u32, packet`. Its one interface has no name: channel 1. Direction: Rx.
//!
//! # Damage
//!
//! A file cut off inside a block or record yields every packet before it and a
//! warning. A block whose two length fields differ, a length that is not a
//! multiple of 4 or too small, an option running past its block, a packet on an
//! interface that was never described, or a block over 1 MiB (no CAN packet
//! block comes near) is an error naming the file and the byte offset of the
//! block. Memory stays constant: one block at a time, packets on other link
//! types streamed past, interfaces capped at 65536 and their names at 1 MiB
//! per section (more is an error).

use std::collections::HashMap;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{
    read_err, write_err, ByteCount, Input, Output, RecordReader, RecordWriter, WriterOptions,
};
use crate::error::{Error, Position, Result};
use crate::frame::{len_to_dlc, Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};

/// The link type of SocketCAN frames.
pub const LINKTYPE_CAN_SOCKETCAN: u16 = 227;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;
const EPB_FLAGS: u16 = 2;

const CAN_EFF_FLAG: u32 = 0x8000_0000;
const CAN_RTR_FLAG: u32 = 0x4000_0000;
const CAN_ERR_FLAG: u32 = 0x2000_0000;
const CANFD_BRS: u8 = 0x01;
const CANFD_ESI: u8 = 0x02;
const CANFD_FDF: u8 = 0x04;
/// Size of a classic frame as the kernel hands it out.
const CAN_MTU: usize = 16;
/// Size of an FD frame as the kernel hands it out.
const CANFD_MTU: usize = 72;

/// Largest block we read into memory.
const MAX_BLOCK: u32 = 1 << 20;
/// Interfaces kept per section.
const MAX_INTERFACES: usize = 1 << 16;
/// Bytes of interface names kept per section.
const MAX_NAME_BYTES: usize = 1 << 20;
use crate::format::bytes::{impl_fused, read_full, Fused};

/// A section's byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Endian {
    big: bool,
}

impl Endian {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    fn u64(self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        if self.big {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        }
    }
}

/// How an interface's timestamps count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    /// Units of 10^-n seconds.
    Pow10(u8),
    /// Units of 2^-n seconds.
    Pow2(u8),
}

impl Resolution {
    /// `ts` units as nanoseconds (finer units are truncated).
    fn nanos(self, ts: u64) -> u128 {
        let ts = ts as u128;
        match self {
            Resolution::Pow10(n) if n <= 9 => ts * 10u128.pow(9 - n as u32),
            Resolution::Pow10(n) => match 10u128.checked_pow(n as u32 - 9) {
                Some(d) => ts / d,
                None => 0,
            },
            Resolution::Pow2(n) => (ts * 1_000_000_000) >> n.min(127),
        }
    }
}

/// One described interface of the current section.
struct Iface {
    linktype: u16,
    channel: Channel,
    resolution: Resolution,
    /// `if_tsoffset`, in nanoseconds.
    offset_ns: i128,
    /// Its packets were skipped for their link type (warned once).
    warned: bool,
}

/// Which container the file is.
#[derive(Clone, Copy, Debug)]
enum Container {
    Pcapng(Endian),
    Pcap { endian: Endian, nanos: bool },
}

/// Reads pcapng and classic pcap files of SocketCAN frames.
pub struct Reader {
    path: PathBuf,
    src: Box<dyn BufRead + Send>,
    container: Container,
    /// File offset of the next unread byte.
    offset: u64,
    ifaces: Vec<Iface>,
    /// Bytes of the names in `ifaces`.
    name_bytes: usize,
    /// The body of the current block.
    buf: Vec<u8>,
    /// The previous packet's time, for Simple Packet Blocks.
    last_ns: i64,
    spb_warned: bool,
    /// `new` has read the first block's type (a Section Header Block).
    pending_shb: bool,
    warnings: crate::format::bytes::Warnings,
    done: bool,
}

/// What one packet gave.
enum Packet {
    Frame(Frame),
    /// Why the packet is not one frame we can hold.
    Bad(String),
}

/// The frame in a `LINKTYPE_CAN_SOCKETCAN` packet: `pkt` the captured bytes,
/// `orig_len` its length on the wire (see the module docs for the rules).
fn decode_packet(pkt: &[u8], orig_len: u32) -> Packet {
    if pkt.len() < 8 {
        return Packet::Bad(format!(
            "{} bytes, shorter than the 8-byte SocketCAN header",
            pkt.len()
        ));
    }
    let word = u32::from_be_bytes([pkt[0], pkt[1], pkt[2], pkt[3]]);
    let len = pkt[4] as usize;
    let flags = pkt[5];
    if len & 0x80 != 0 {
        return Packet::Bad("a CAN XL frame, which cankit cannot hold".into());
    }
    let raw = word & 0x1FFF_FFFF;
    let fdf_valid = flags & CANFD_FDF != 0
        && flags & !(CANFD_BRS | CANFD_ESI | CANFD_FDF) == 0
        && pkt[6] == 0
        && pkt[7] == 0;
    let fd = fdf_valid || (flags & CANFD_FDF == 0 && orig_len as usize == CANFD_MTU) || len > 8;
    let remote = word & CAN_RTR_FLAG != 0;
    let error = word & CAN_ERR_FLAG != 0;
    // a classic remote frame needs no payload bytes
    if pkt.len() < 8 + len && !(remote && !error && !fd) {
        return Packet::Bad(format!(
            "length {len} but {} payload bytes captured",
            pkt.len() - 8
        ));
    }
    let id = if word & CAN_EFF_FLAG != 0 {
        Id::Extended(raw)
    } else if raw <= 0x7FF {
        Id::Standard(raw as u16)
    } else if error {
        Id::Standard(0) // unused: error frames carry their class
    } else {
        return Packet::Bad(format!("standard identifier {raw:#X} above 0x7FF"));
    };
    if fd {
        if remote || error {
            return Packet::Bad(format!(
                "an FD frame marked as {}",
                if error { "an error frame" } else { "remote" }
            ));
        }
        if len > 64 || len_to_dlc(len).is_none() {
            return Packet::Bad(format!("FD length {len}, which CAN FD cannot encode"));
        }
        let flags = FdFlags {
            brs: flags & CANFD_BRS != 0,
            esi: flags & CANFD_ESI != 0,
        };
        return match Frame::fd(id, &pkt[8..8 + len], flags) {
            Ok(f) => Packet::Frame(f),
            Err(e) => Packet::Bad(e.to_string()),
        };
    }
    // classic: a length of 8 may carry the raw DLC 9-15 in byte 7
    let dlc = if len == 8 && (9..=15).contains(&pkt[7]) {
        pkt[7]
    } else {
        len as u8
    };
    let frame = if error {
        Frame::error_with_dlc(raw, &pkt[8..8 + len], dlc)
    } else if remote {
        if len > 8 {
            return Packet::Bad(format!("remote frame with length {len}"));
        }
        Frame::remote(id, dlc)
    } else {
        Frame::data_with_dlc(id, &pkt[8..8 + len], dlc)
    };
    match frame {
        Ok(f) => Packet::Frame(f),
        Err(e) => Packet::Bad(e.to_string()),
    }
}

/// The options of a block: `(code, value, offset of the option in the body)`,
/// or the offset in the body of one that runs past the end.
fn options(
    e: Endian,
    mut b: &[u8],
    base: usize,
) -> impl Iterator<Item = std::result::Result<(u16, &[u8], usize), usize>> {
    let mut at = base;
    let mut done = false;
    std::iter::from_fn(move || {
        if done || b.len() < 4 {
            // fewer than 4 bytes left: no option (the end marker may be omitted)
            return None;
        }
        let code = e.u16(b);
        let len = e.u16(&b[2..]) as usize;
        if code == OPT_END {
            done = true;
            return None;
        }
        let padded = (len + 3) & !3;
        if 4 + len > b.len() {
            done = true;
            return Some(Err(at));
        }
        let value = &b[4..4 + len];
        let here = at;
        let step = (4 + padded).min(b.len());
        b = &b[step..];
        at += step;
        Some(Ok((code, value, here)))
    })
}

impl Reader {
    /// A reader over an opened input: tells pcapng from classic pcap by the
    /// first four bytes and reads the first header.
    pub fn new(input: Input) -> Result<Reader> {
        let mut r = Reader {
            path: input.path,
            src: input.reader,
            container: Container::Pcapng(Endian { big: false }),
            offset: 0,
            ifaces: Vec::new(),
            name_bytes: 0,
            buf: Vec::new(),
            last_ns: 0,
            spb_warned: false,
            pending_shb: false,
            warnings: Default::default(),
            done: false,
        };
        let mut magic = [0u8; 4];
        let n = read_full(&mut r.src, &mut magic).map_err(|e| read_err(&r.path, e))?;
        let le = u32::from_le_bytes(magic);
        let be = u32::from_be_bytes(magic);
        if n == 4 && le == SHB {
            // the Section Header Block is read by the block loop; hand its
            // type back to it
            r.pending_shb = true;
            r.offset = 4;
            return Ok(r);
        }
        let classic = |m: u32| match m {
            0xA1B2_C3D4 => Some(false),
            0xA1B2_3C4D => Some(true),
            _ => None,
        };
        let (endian, nanos) = match (n, classic(le), classic(be)) {
            (4, Some(ns), _) => (Endian { big: false }, ns),
            (4, None, Some(ns)) => (Endian { big: true }, ns),
            _ => {
                let what = if n == 4 && (le == 0xA1B2_CD34 || be == 0xA1B2_CD34) {
                    "a modified (Kuznetzov) pcap file, which cankit does not read"
                } else {
                    "not a pcapng or pcap file: it starts with neither a section header block nor a pcap magic number"
                };
                return Err(r.error_at(0, what));
            }
        };
        let mut head = [0u8; 20];
        let k = read_full(&mut r.src, &mut head).map_err(|e| read_err(&r.path, e))?;
        if k < 20 {
            return Err(r.error_at(4 + k as u64, "the file ends inside its 24-byte pcap header"));
        }
        r.offset = 24;
        let linktype = endian.u32(&head[16..]) & 0xFFFF;
        if linktype != LINKTYPE_CAN_SOCKETCAN as u32 {
            return Err(r.error_at(
                20,
                format!(
                    "link type {linktype}, not SocketCAN ({LINKTYPE_CAN_SOCKETCAN}): this capture holds no CAN frames cankit reads"
                ),
            ));
        }
        r.container = Container::Pcap { endian, nanos };
        Ok(r)
    }

    fn error_at(&self, at: u64, message: impl Into<String>) -> Error {
        Error::format(Position::Byte(at), message).in_file(&self.path)
    }

    fn warn(&mut self, msg: String) {
        self.warnings.push(&self.path, msg);
    }

    /// Reads `n` bytes into `self.buf` (replacing it); false when the input
    /// ends first (what arrived stays in `buf`).
    fn fill(&mut self, n: usize) -> Result<bool> {
        self.buf.clear();
        let got = (&mut self.src)
            .take(n as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| read_err(&self.path, e))?;
        self.offset += got as u64;
        Ok(got == n)
    }

    /// Reads until `self.buf` holds `n` bytes; false when the input ends first.
    fn fill_more(&mut self, n: usize) -> Result<bool> {
        let want = n.saturating_sub(self.buf.len());
        let got = (&mut self.src)
            .take(want as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| read_err(&self.path, e))?;
        self.offset += got as u64;
        Ok(got == want)
    }

    /// Reads exactly `out.len()` bytes; false when the input ends first.
    fn exact(&mut self, out: &mut [u8]) -> Result<bool> {
        let got = read_full(&mut self.src, out).map_err(|e| read_err(&self.path, e))?;
        self.offset += got as u64;
        Ok(got == out.len())
    }

    /// Drops `n` bytes; false when the input ends first.
    fn skip(&mut self, n: u64) -> Result<bool> {
        let got = io::copy(&mut (&mut self.src).take(n), &mut io::sink())
            .map_err(|e| read_err(&self.path, e))?;
        self.offset += got;
        Ok(got == n)
    }

    /// The end of a file cut off inside the block or record at `at`.
    fn cut_off(&mut self, at: u64, what: &str) -> Result<Option<Record>> {
        self.done = true;
        self.warn(format!(
            "the file ends inside the {what} at byte {at}; it was cut off"
        ));
        Ok(None)
    }

    fn read_inner(&mut self) -> Result<Option<Record>> {
        match self.container {
            Container::Pcap { endian, nanos } => self.read_pcap(endian, nanos),
            Container::Pcapng(_) => self.read_pcapng(),
        }
    }

    /// The next record of a classic pcap file.
    fn read_pcap(&mut self, e: Endian, nanos: bool) -> Result<Option<Record>> {
        loop {
            let at = self.offset;
            let mut h = [0u8; 16];
            let got = read_full(&mut self.src, &mut h).map_err(|e| read_err(&self.path, e))?;
            self.offset += got as u64;
            if got == 0 {
                self.done = true;
                return Ok(None);
            }
            if got < 16 {
                return self.cut_off(at, "record header");
            }
            let secs = e.u32(&h[0..]) as i64;
            let frac = e.u32(&h[4..]) as i64;
            let caplen = e.u32(&h[8..]);
            let origlen = e.u32(&h[12..]);
            if caplen > MAX_BLOCK {
                return Err(
                    self.error_at(at, format!("record of {caplen} bytes: the file is corrupt"))
                );
            }
            if !self.fill(caplen as usize)? {
                return self.cut_off(at, "record");
            }
            let ns = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
            match decode_packet(&self.buf, origlen) {
                Packet::Frame(frame) => {
                    return Ok(Some(Record {
                        timestamp: Timestamp(ns),
                        channel: Channel::Number(1),
                        direction: Direction::Rx,
                        frame,
                    }))
                }
                Packet::Bad(why) => self.warn(format!("packet at byte {at} skipped: {why}")),
            }
        }
    }

    /// The next record of a pcapng file.
    fn read_pcapng(&mut self) -> Result<Option<Record>> {
        loop {
            // block type and total length; `new` has read the first block's type
            let mut h = [0u8; 8];
            let at = if self.pending_shb {
                self.pending_shb = false;
                h[0..4].copy_from_slice(&SHB.to_le_bytes());
                if !self.exact(&mut h[4..])? {
                    return self.cut_off(0, "section header block");
                }
                0
            } else {
                let at = self.offset;
                let got = read_full(&mut self.src, &mut h).map_err(|e| read_err(&self.path, e))?;
                self.offset += got as u64;
                if got == 0 {
                    self.done = true;
                    return Ok(None);
                }
                if got < 8 {
                    return self.cut_off(at, "block header");
                }
                at
            };
            let Container::Pcapng(mut e) = self.container else {
                return Ok(None);
            };
            let btype = e.u32(&h);
            self.buf.clear();
            if btype == SHB {
                // the byte-order magic says how to read this section, its own
                // length included
                let mut bom = [0u8; 4];
                if !self.exact(&mut bom)? {
                    return self.cut_off(at, "section header block");
                }
                e = if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
                    Endian { big: false }
                } else if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
                    Endian { big: true }
                } else {
                    return Err(self.error_at(
                        at + 8,
                        format!(
                            "section header block with byte-order magic {:#010X}, not 0x1A2B3C4D: the file is corrupt",
                            u32::from_le_bytes(bom)
                        ),
                    ));
                };
                self.buf.extend_from_slice(&bom);
                self.container = Container::Pcapng(e);
                self.ifaces.clear();
                self.name_bytes = 0;
            }
            let total = e.u32(&h[4..]);
            let min = if btype == SHB { 28 } else { 12 };
            if total < min || total % 4 != 0 {
                return Err(self.error_at(
                    at,
                    format!("block of type {btype:#X} has length {total}: the file is corrupt"),
                ));
            }
            let body_len = (total - 12) as usize;
            let ours = matches!(btype, SHB | IDB | EPB | SPB | PB);
            if !ours {
                // name resolution, statistics, secrets, custom blocks: not ours
                if !self.skip(body_len as u64)? {
                    return self.cut_off(at, "block");
                }
            } else if total > MAX_BLOCK {
                if matches!(btype, EPB | PB) && self.skip_foreign_packet(btype, e, at, body_len)? {
                    continue;
                }
                return Err(self.error_at(
                    at,
                    format!(
                        "block of type {btype:#X} is {total} bytes long, over the {} MiB a capture of CAN frames needs: the file is corrupt",
                        MAX_BLOCK >> 20
                    ),
                ));
            } else if !self.fill_more(body_len)? {
                return self.cut_off(at, "block");
            }
            let mut tail = [0u8; 4];
            if !self.exact(&mut tail)? {
                return self.cut_off(at, "block");
            }
            if e.u32(&tail) != total {
                return Err(self.error_at(
                    at,
                    format!(
                        "block of type {btype:#X} says it is {total} bytes long at its start and {} at its end: the file is corrupt",
                        e.u32(&tail)
                    ),
                ));
            }
            match btype {
                SHB => self.section(e, at)?,
                IDB => self.interface(e, at)?,
                EPB | SPB | PB => {
                    if let Some(r) = self.packet(btype, e, at)? {
                        return Ok(Some(r));
                    }
                }
                _ => {}
            }
        }
    }

    /// A packet block too big to buffer: skipped if it lies on an interface of
    /// another link type (a jumbo Ethernet frame beside the CAN interfaces).
    fn skip_foreign_packet(
        &mut self,
        btype: u32,
        e: Endian,
        at: u64,
        body_len: usize,
    ) -> Result<bool> {
        let mut first = [0u8; 4];
        if !self.exact(&mut first)? {
            self.cut_off(at, "block")?;
            return Ok(true);
        }
        let iface = if btype == PB {
            e.u16(&first) as usize
        } else {
            e.u32(&first) as usize
        };
        match self.ifaces.get(iface) {
            Some(i) if i.linktype != LINKTYPE_CAN_SOCKETCAN => {
                self.other_linktype(iface);
                // the rest of the body and the trailing length
                if !self.skip(body_len as u64)? {
                    self.cut_off(at, "block")?;
                }
                Ok(true)
            }
            _ => Err(self.error_at(
                at,
                format!(
                    "packet block is {} bytes long, over the {} MiB a CAN frame needs: the file is corrupt",
                    body_len + 12,
                    MAX_BLOCK >> 20
                ),
            )),
        }
    }

    /// Warns once that packets of interface `iface` are skipped.
    fn other_linktype(&mut self, iface: usize) {
        let Some(i) = self.ifaces.get_mut(iface) else {
            return;
        };
        if i.warned {
            return;
        }
        i.warned = true;
        let (lt, ch) = (i.linktype, i.channel.to_string());
        self.warn(format!(
            "interface {iface} ({ch}) has link type {lt}, not SocketCAN ({LINKTYPE_CAN_SOCKETCAN}): its packets are skipped"
        ));
    }

    /// A Section Header Block's body in `buf`.
    fn section(&mut self, e: Endian, at: u64) -> Result<()> {
        let major = e.u16(&self.buf[4..]);
        if major != 1 {
            return Err(self.error_at(
                at,
                format!("pcapng version {major}, not 1: cankit cannot read it"),
            ));
        }
        Ok(())
    }

    /// An Interface Description Block's body in `buf`.
    fn interface(&mut self, e: Endian, at: u64) -> Result<()> {
        if self.buf.len() < 8 {
            return Err(self.error_at(
                at,
                "interface description block shorter than 20 bytes: the file is corrupt",
            ));
        }
        if self.ifaces.len() >= MAX_INTERFACES {
            return Err(self.error_at(
                at,
                format!(
                    "more than {MAX_INTERFACES} interfaces in one section: the file is corrupt"
                ),
            ));
        }
        let linktype = e.u16(&self.buf);
        let mut name: Option<Arc<str>> = None;
        let mut resolution = Resolution::Pow10(6);
        let mut offset_ns = 0i128;
        let mut bad = None;
        for opt in options(e, &self.buf[8..], 8) {
            let (code, value, opt_at) = match opt {
                Ok(o) => o,
                Err(opt_at) => {
                    bad = Some((opt_at, "runs past the end of its block".to_string()));
                    break;
                }
            };
            match code {
                IF_NAME => {
                    // a NUL-terminated name is tolerated
                    let v = value.split(|&b| b == 0).next().unwrap_or_default();
                    if !v.is_empty() {
                        name = Some(Arc::from(String::from_utf8_lossy(v).as_ref()));
                    }
                }
                IF_TSRESOL => match value {
                    [v] if v & 0x80 != 0 => resolution = Resolution::Pow2(v & 0x7F),
                    [v] => resolution = Resolution::Pow10(*v),
                    _ => {
                        bad = Some((
                            opt_at,
                            format!("if_tsresol has {} bytes, not 1", value.len()),
                        ));
                        break;
                    }
                },
                IF_TSOFFSET => {
                    if value.len() != 8 {
                        bad = Some((
                            opt_at,
                            format!("if_tsoffset has {} bytes, not 8", value.len()),
                        ));
                        break;
                    }
                    offset_ns = e.u64(value) as i64 as i128 * 1_000_000_000;
                }
                _ => {}
            }
        }
        if let Some((opt_at, why)) = bad {
            return Err(self.error_at(
                at + 8 + opt_at as u64,
                format!("interface description block at byte {at}: an option {why}: the file is corrupt"),
            ));
        }
        self.name_bytes += name.as_ref().map_or(0, |n| n.len());
        if self.name_bytes > MAX_NAME_BYTES {
            return Err(self.error_at(
                at,
                format!(
                    "interface names of over {} MiB in one section: the file is corrupt",
                    MAX_NAME_BYTES >> 20
                ),
            ));
        }
        let index = self.ifaces.len();
        self.ifaces.push(Iface {
            linktype,
            channel: match name {
                Some(n) => Channel::Name(n),
                None => Channel::Number(index as u32 + 1),
            },
            resolution,
            offset_ns,
            warned: false,
        });
        Ok(())
    }

    /// A packet block's body in `buf`: the record it holds, if any.
    fn packet(&mut self, btype: u32, e: Endian, at: u64) -> Result<Option<Record>> {
        let b = &self.buf;
        // (interface, timestamp units, captured length, original length, data start)
        let (iface, ts, caplen, origlen, data_at) = match btype {
            EPB | PB => {
                if b.len() < 20 {
                    return Err(self.error_at(
                        at,
                        "packet block shorter than 32 bytes: the file is corrupt",
                    ));
                }
                let iface = if btype == PB {
                    e.u16(b) as usize
                } else {
                    e.u32(b) as usize
                };
                let ts = ((e.u32(&b[4..]) as u64) << 32) | e.u32(&b[8..]) as u64;
                (
                    iface,
                    Some(ts),
                    e.u32(&b[12..]) as usize,
                    e.u32(&b[16..]),
                    20,
                )
            }
            _ => {
                if b.len() < 4 {
                    return Err(self.error_at(
                        at,
                        "simple packet block shorter than 16 bytes: the file is corrupt",
                    ));
                }
                let orig = e.u32(b);
                (0, None, (orig as usize).min(b.len() - 4), orig, 4)
            }
        };
        if data_at + caplen > b.len() {
            return Err(self.error_at(
                at,
                format!("packet block says it captured {caplen} bytes, more than the block holds: the file is corrupt"),
            ));
        }
        let Some(info) = self.ifaces.get(iface) else {
            return Err(self.error_at(
                at,
                format!("packet on interface {iface}, which no interface description block before it describes: the file is corrupt"),
            ));
        };
        if info.linktype != LINKTYPE_CAN_SOCKETCAN {
            self.other_linktype(iface);
            return Ok(None);
        }
        let ns = match ts {
            Some(ts) => {
                let ns = info.resolution.nanos(ts) as i128 + info.offset_ns;
                match i64::try_from(ns) {
                    Ok(ns) => ns,
                    Err(_) => {
                        return Err(self
                            .error_at(at, "packet time beyond the year 2262: the file is corrupt"))
                    }
                }
            }
            None => self.last_ns,
        };
        let channel = info.channel.clone();
        // flags option: bits 0-1 the direction (2 = outbound)
        let mut direction = Direction::Rx;
        let mut bad_option = None;
        if btype != SPB {
            let opts_at = data_at + ((caplen + 3) & !3);
            if opts_at < b.len() {
                for opt in options(e, &b[opts_at..], opts_at) {
                    match opt {
                        Ok((EPB_FLAGS, v, _)) if v.len() == 4 => {
                            if e.u32(v) & 3 == 2 {
                                direction = Direction::Tx;
                            }
                        }
                        Ok(_) => {}
                        Err(opt_at) => {
                            bad_option = Some(opt_at);
                            break;
                        }
                    }
                }
            }
        }
        if let Some(opt_at) = bad_option {
            return Err(self.error_at(
                at + 8 + opt_at as u64,
                format!("packet block at byte {at}: an option runs past the end of its block: the file is corrupt"),
            ));
        }
        let decoded = decode_packet(&b[data_at..data_at + caplen], origlen);
        if ts.is_none() && !self.spb_warned {
            self.spb_warned = true;
            self.warn(format!(
                "simple packet block at byte {at} carries no time: it (and any more like it) takes the previous packet's"
            ));
        }
        self.last_ns = ns;
        match decoded {
            Packet::Frame(frame) => Ok(Some(Record {
                timestamp: Timestamp(ns),
                channel,
                direction,
                frame,
            })),
            Packet::Bad(why) => {
                self.warn(format!("packet at byte {at} skipped: {why}"));
                Ok(None)
            }
        }
    }
}

impl_fused!(Reader, done, |r| r.read_inner());

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        self.next_fused()
    }

    fn take_warnings(&mut self) -> Vec<String> {
        self.warnings.take(&self.path)
    }
}

/// Writes pcapng (see the module docs).
pub struct Writer {
    out: Box<dyn Write + Send>,
    path: PathBuf,
    /// Interface ids by name.
    ifaces: HashMap<Arc<str>, u32>,
    /// Interface ids by the channels seen (no name is made twice).
    channels: HashMap<Channel, u32>,
    /// The last record's channel and its interface.
    last: Option<(Channel, u32)>,
    /// One Enhanced Packet Block, reused.
    block: Vec<u8>,
    /// The bytes written to `out`.
    written: ByteCount,
}

/// Appends an option (code, length, value, padding to 4).
fn push_option(b: &mut Vec<u8>, code: u16, value: &[u8]) {
    b.extend_from_slice(&code.to_le_bytes());
    b.extend_from_slice(&(value.len() as u16).to_le_bytes());
    b.extend_from_slice(value);
    b.resize((b.len() + 3) & !3, 0);
}

/// A block of `btype` around `body` (already padded to 4).
fn block(btype: u32, body: &[u8]) -> Vec<u8> {
    let total = (body.len() + 12) as u32;
    let mut b = Vec::with_capacity(total as usize);
    b.extend_from_slice(&btype.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&total.to_le_bytes());
    b
}

/// The SocketCAN packet for a frame (16 or 72 bytes), into `out`.
fn encode_packet(f: &Frame, out: &mut Vec<u8>) {
    let start = out.len();
    let fd = f.is_fd() && f.is_data();
    let mut word = f.id().raw();
    if f.is_error() {
        word = (word & 0x1FFF_FFFF) | CAN_ERR_FLAG;
    } else {
        if f.id().is_extended() {
            word |= CAN_EFF_FLAG;
        }
        if f.is_remote() {
            word |= CAN_RTR_FLAG;
        }
    }
    out.extend_from_slice(&word.to_be_bytes());
    let dlc = f.dlc();
    if fd {
        let flags =
            CANFD_FDF | if f.brs() { CANFD_BRS } else { 0 } | if f.esi() { CANFD_ESI } else { 0 };
        out.extend_from_slice(&[f.len() as u8, flags, 0, 0]);
        out.extend_from_slice(f.data_bytes());
        out.resize(start + CANFD_MTU, 0);
    } else {
        // remote frames: the requested DLC; a raw DLC 9-15 goes in len8_dlc
        let len = if f.is_remote() {
            (dlc as usize).min(8)
        } else {
            f.len()
        };
        let len8 = if len == 8 && dlc > 8 { dlc } else { 0 };
        out.extend_from_slice(&[len as u8, 0, 0, len8]);
        if !f.is_remote() {
            out.extend_from_slice(f.data_bytes());
        }
        out.resize(start + CAN_MTU, 0);
    }
}

impl Writer {
    /// A writer over an opened output: writes the Section Header Block. When
    /// appending, the file must already be pcapng; the records go into a new
    /// section.
    pub fn new(out: Output, _opts: &WriterOptions) -> Result<Writer> {
        if out.appending {
            check_appendable(&out.path)?;
        }
        let written = ByteCount::default();
        let mut w = Writer {
            out: Box::new(written.wrap(out.writer)),
            written,
            path: out.path,
            ifaces: HashMap::new(),
            channels: HashMap::new(),
            last: None,
            block: Vec::with_capacity(128),
        };
        let mut body = Vec::new();
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        let app = concat!("cankit ", env!("CARGO_PKG_VERSION"));
        push_option(&mut body, SHB_USERAPPL, app.as_bytes());
        push_option(&mut body, OPT_END, &[]);
        let shb = block(SHB, &body);
        w.out.write_all(&shb).map_err(|e| write_err(&w.path, e))?;
        Ok(w)
    }

    /// The interface id for a channel, writing its description block the
    /// first time.
    fn interface(&mut self, ch: &Channel) -> Result<u32> {
        if let Some((last, id)) = &self.last {
            if last == ch {
                return Ok(*id);
            }
        }
        if let Some(&id) = self.channels.get(ch) {
            self.last = Some((ch.clone(), id));
            return Ok(id);
        }
        let name: Arc<str> = match ch {
            Channel::Name(s) => s.clone(),
            Channel::Number(n) => Arc::from(format!("can{}", n.saturating_sub(1)).as_str()),
            Channel::None => Arc::from("can0"),
        };
        let id = match self.ifaces.get(&name) {
            Some(&id) => id,
            None => {
                let id = self.ifaces.len() as u32;
                let mut body = Vec::new();
                body.extend_from_slice(&LINKTYPE_CAN_SOCKETCAN.to_le_bytes());
                body.extend_from_slice(&0u16.to_le_bytes());
                body.extend_from_slice(&(CANFD_MTU as u32).to_le_bytes());
                if !name.is_empty() && name.len() <= u16::MAX as usize - 4 {
                    push_option(&mut body, IF_NAME, name.as_bytes());
                }
                push_option(&mut body, IF_TSRESOL, &[9]);
                push_option(&mut body, OPT_END, &[]);
                let idb = block(IDB, &body);
                self.out
                    .write_all(&idb)
                    .map_err(|e| write_err(&self.path, e))?;
                self.ifaces.insert(name, id);
                id
            }
        };
        self.channels.insert(ch.clone(), id);
        self.last = Some((ch.clone(), id));
        Ok(id)
    }
}

/// Refuses to append to a file that is not pcapng (a classic pcap or another
/// format under a `.pcapng` name).
fn check_appendable(path: &Path) -> Result<()> {
    let gz = path.to_string_lossy().ends_with(".gz");
    let mut input = super::open_input(path, gz)?;
    let mut magic = [0u8; 4];
    let n = read_full(&mut input.reader, &mut magic).map_err(|e| read_err(path, e))?;
    if n == 4 && u32::from_le_bytes(magic) == SHB {
        return Ok(());
    }
    Err(Error::format(
        Position::Byte(0),
        "cannot append: the file is not pcapng (it does not start with a section header block)",
    )
    .in_file(path))
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        let iface = self.interface(&r.channel)?;
        let ns = u64::try_from(r.timestamp.as_nanos()).map_err(|_| {
            Error::Unsupported(format!(
                "{}: pcapng cannot hold a time before 1970 ({} ns)",
                self.path.display(),
                r.timestamp.as_nanos()
            ))
        })?;
        let b = &mut self.block;
        b.clear();
        b.extend_from_slice(&EPB.to_le_bytes());
        b.extend_from_slice(&[0; 4]); // total length, below
        b.extend_from_slice(&iface.to_le_bytes());
        b.extend_from_slice(&((ns >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ns as u32).to_le_bytes());
        let len_at = b.len();
        b.extend_from_slice(&[0; 8]); // captured and original length, below
        let pkt_at = b.len();
        encode_packet(&r.frame, b);
        let pkt_len = (b.len() - pkt_at) as u32;
        b[len_at..len_at + 4].copy_from_slice(&pkt_len.to_le_bytes());
        b[len_at + 4..len_at + 8].copy_from_slice(&pkt_len.to_le_bytes());
        let dir: u32 = match r.direction {
            Direction::Rx => 1,
            Direction::Tx => 2,
        };
        push_option(b, EPB_FLAGS, &dir.to_le_bytes());
        push_option(b, OPT_END, &[]);
        let total = (b.len() + 4) as u32;
        b.extend_from_slice(&total.to_le_bytes());
        b[4..8].copy_from_slice(&total.to_le_bytes());
        self.out.write_all(b).map_err(|e| write_err(&self.path, e))
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| write_err(&self.path, e))
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }

    fn size_bound(&self) -> Option<u64> {
        // blocks go out whole as they are made
        Some(self.written.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn write_all(records: &[Record]) -> Vec<u8> {
        crate::format::written("o.pcapng", Writer::new, records)
    }

    fn read_all(bytes: &[u8]) -> (Result<Vec<Record>>, Vec<String>) {
        let mut r = match Reader::new(Input {
            path: "t.pcapng".into(),
            reader: Box::new(Cursor::new(bytes.to_vec())),
        }) {
            Ok(r) => r,
            Err(e) => return (Err(e), Vec::new()),
        };
        let mut v = Vec::new();
        loop {
            match r.read() {
                Ok(Some(x)) => v.push(x),
                Ok(None) => return (Ok(v), r.take_warnings()),
                Err(e) => return (Err(e), r.take_warnings()),
            }
        }
    }

    fn read_ok(bytes: &[u8]) -> Vec<Record> {
        let (got, warnings) = read_all(bytes);
        assert!(warnings.is_empty(), "{warnings:?}");
        got.unwrap()
    }

    fn error_at(bytes: &[u8]) -> (u64, String) {
        match read_all(bytes).0 {
            Err(Error::Format {
                position: Position::Byte(at),
                path: Some(p),
                message,
            }) => {
                assert_eq!(p, Path::new("t.pcapng"));
                (at, message)
            }
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    fn rec(t: i64, ch: Channel, tx: bool, frame: Frame) -> Record {
        Record {
            timestamp: Timestamp(t),
            channel: ch,
            direction: if tx { Direction::Tx } else { Direction::Rx },
            frame,
        }
    }

    fn std_id(v: u16) -> Id {
        Id::Standard(v)
    }

    const T0: i64 = 1_700_000_000_123_456_789;

    /// Every kind of frame, on named, numbered and no channels.
    fn sample() -> Vec<Record> {
        let fd = |brs, esi| FdFlags { brs, esi };
        let d64: Vec<u8> = (0..64).collect();
        let frames = vec![
            Frame::data(std_id(0x123), &[0xDE, 0xAD]).unwrap(),
            Frame::data(std_id(0x7FF), &[]).unwrap(),
            Frame::data(Id::Extended(0x1FFF_FFFF), &d64[..8]).unwrap(),
            Frame::data_with_dlc(Id::Extended(0x100), &d64[..8], 13).unwrap(),
            Frame::remote(std_id(0x10), 0).unwrap(),
            Frame::remote(std_id(0x11), 8).unwrap(),
            Frame::remote(Id::Extended(0x12345), 15).unwrap(),
            Frame::error(0x0000_0004, &[0, 0x10, 0, 0, 0, 0, 0, 0]).unwrap(),
            Frame::error(0x40, &[]).unwrap(),
            Frame::error_with_dlc(0x1FFF_FFFF, &[1; 8], 12).unwrap(),
            Frame::fd(std_id(0x1), &[], fd(false, false)).unwrap(),
            Frame::fd(std_id(0x2), &d64[..8], fd(true, false)).unwrap(),
            Frame::fd(Id::Extended(0x3), &d64[..12], fd(false, true)).unwrap(),
            Frame::fd(Id::Extended(0x1FFF_FFFF), &d64, fd(true, true)).unwrap(),
        ];
        let channels = [
            Channel::name("vcan0"),
            Channel::name("can1"),
            Channel::Number(3),
            Channel::None,
        ];
        frames
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                rec(
                    T0 + i as i64 * 1_000_001,
                    channels[i % channels.len()].clone(),
                    i % 3 == 0,
                    f,
                )
            })
            .collect()
    }

    /// What reading back a record written as pcapng gives.
    fn projected(r: &Record) -> Record {
        let mut r = r.clone();
        r.channel = match &r.channel {
            Channel::Number(n) => Channel::name(&format!("can{}", n - 1)),
            Channel::None => Channel::name("can0"),
            c => c.clone(),
        };
        r
    }

    #[test]
    fn round_trip() {
        let recs = sample();
        let got = read_ok(&write_all(&recs));
        let want: Vec<Record> = recs.iter().map(projected).collect();
        assert_eq!(got, want);
        // FD-marked remote and error frames become classic
        let f = Frame::remote(std_id(1), 3)
            .unwrap()
            .with_fd_flags(FdFlags::default());
        let e = Frame::error(2, &[1])
            .unwrap()
            .with_fd_flags(FdFlags::default());
        let recs = vec![
            rec(1, Channel::name("x"), false, f),
            rec(2, Channel::name("x"), true, e),
        ];
        let got = read_ok(&write_all(&recs));
        assert_eq!(got[0].frame, Frame::remote(std_id(1), 3).unwrap());
        assert_eq!(got[1].frame, Frame::error(2, &[1]).unwrap());
        // an empty log is a bare section header: 28 bytes plus the application name
        assert!(read_ok(&write_all(&[])).is_empty());
    }

    #[test]
    fn bytes_as_the_module_docs_say() {
        let f = Frame::fd(
            Id::Extended(0x1234_5678),
            &[0xAA; 12],
            FdFlags {
                brs: true,
                esi: false,
            },
        )
        .unwrap();
        let c = Frame::data_with_dlc(std_id(0x321), &[0x55; 8], 10).unwrap();
        let recs = vec![
            rec(0x1_0000_0002, Channel::name("can0"), true, f),
            rec(0x3, Channel::Number(1), false, c),
        ];
        let b = write_all(&recs);
        let le32 = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        // section header
        assert_eq!(le32(0), SHB);
        let shb_len = le32(4) as usize;
        assert_eq!(le32(8), BYTE_ORDER_MAGIC);
        assert_eq!(&b[12..16], &[1, 0, 0, 0]);
        assert_eq!(&b[16..24], &[0xFF; 8]);
        assert_eq!(u16::from_le_bytes([b[24], b[25]]), SHB_USERAPPL);
        let app = concat!("cankit ", env!("CARGO_PKG_VERSION"));
        assert_eq!(&b[28..28 + app.len()], app.as_bytes());
        assert_eq!(le32(shb_len - 4), shb_len as u32);
        // interface: link type 227, snap length 72, if_name "can0", if_tsresol 9
        let i = shb_len;
        assert_eq!(le32(i), IDB);
        assert_eq!(le32(i + 4), 40);
        assert_eq!(
            &b[i + 8..i + 40],
            &[
                227, 0, 0, 0, 72, 0, 0, 0, // link type, reserved, snap length
                2, 0, 4, 0, b'c', b'a', b'n', b'0', // if_name
                9, 0, 1, 0, 9, 0, 0, 0, // if_tsresol = 9
                0, 0, 0, 0, 40, 0, 0, 0, // opt_endofopt, total length
            ]
        );
        // the FD frame: 72 bytes of packet, outbound
        let p = i + 40;
        assert_eq!(le32(p), EPB);
        assert_eq!(le32(p + 4), 28 + 72 + 12 + 4);
        assert_eq!(
            &b[p + 8..p + 28],
            &[0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 72, 0, 0, 0, 72, 0, 0, 0]
        );
        assert_eq!(
            &b[p + 28..p + 36],
            &[0x92, 0x34, 0x56, 0x78, 12, 0x05, 0, 0]
        );
        assert_eq!(&b[p + 36..p + 48], &[0xAA; 12]);
        assert!(b[p + 48..p + 100].iter().all(|&x| x == 0));
        assert_eq!(
            &b[p + 100..p + 116],
            &[2, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0, 116, 0, 0, 0]
        );
        // the classic frame with DLC 10: 16 bytes, len8_dlc, inbound, same interface
        let p = p + 116;
        assert_eq!(le32(p + 4), 28 + 16 + 12 + 4);
        assert_eq!(
            &b[p + 8..p + 28],
            &[0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0]
        );
        assert_eq!(&b[p + 28..p + 36], &[0, 0, 0x03, 0x21, 8, 0, 0, 10]);
        assert_eq!(&b[p + 36..p + 44], &[0x55; 8]);
        assert_eq!(&b[p + 44..p + 52], &[2, 0, 4, 0, 1, 0, 0, 0]);
        assert_eq!(b.len(), p + 60);
    }

    /// `v` in the byte order a test file uses.
    fn w32(big: bool, v: u32) -> [u8; 4] {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// A block of `btype` in either byte order around `body` (padded here).
    fn blk(big: bool, btype: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        body.resize((body.len() + 3) & !3, 0);
        let total = (body.len() + 12) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&w32(big, btype));
        b.extend_from_slice(&w32(big, total));
        b.extend_from_slice(&body);
        b.extend_from_slice(&w32(big, total));
        b
    }

    fn shb(big: bool) -> Vec<u8> {
        let mut body = w32(big, BYTE_ORDER_MAGIC).to_vec();
        body.extend_from_slice(&if big { [0, 1, 0, 0] } else { [1, 0, 0, 0] });
        body.extend_from_slice(&[0xFF; 8]);
        blk(big, SHB, &body)
    }

    /// An interface block with raw option bytes.
    fn idb(big: bool, linktype: u16, opts: &[u8]) -> Vec<u8> {
        // the 16-bit link type: the first two bytes of a word holding it
        // where the file's byte order puts them first
        let word = w32(big, (linktype as u32) << if big { 16 } else { 0 });
        let mut body = word[..2].to_vec();
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(opts);
        blk(big, IDB, &body)
    }

    fn epb(big: bool, iface: u32, ts: u64, pkt: &[u8], opts: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for v in [
            iface,
            (ts >> 32) as u32,
            ts as u32,
            pkt.len() as u32,
            pkt.len() as u32,
        ] {
            body.extend_from_slice(&w32(big, v));
        }
        body.extend_from_slice(pkt);
        body.resize((body.len() + 3) & !3, 0);
        body.extend_from_slice(opts);
        blk(big, EPB, &body)
    }

    /// A classic frame packet of exactly 8 + len bytes (as text2pcap writes it).
    fn pkt(word: u32, data: &[u8], fd_flags: u8) -> Vec<u8> {
        let mut p = word.to_be_bytes().to_vec();
        p.extend_from_slice(&[data.len() as u8, fd_flags, 0, 0]);
        p.extend_from_slice(data);
        p
    }

    #[test]
    fn big_endian_sections_default_microseconds_and_unnamed_interfaces() {
        let mut b = shb(true);
        b.extend(idb(true, 227, &[]));
        b.extend(idb(true, 227, &[0, 2, 0, 4, b'c', b'a', b'n', b'7']));
        b.extend(epb(true, 1, 1_500_000, &pkt(0x123, &[1, 2], 0), &[]));
        // outbound, on the unnamed interface
        b.extend(epb(
            true,
            0,
            2_000_001,
            &pkt(0x8000_0123, &[3], 0),
            &[0, 2, 0, 4, 0, 0, 0, 2, 0, 0, 0, 0],
        ));
        let got = read_ok(&b);
        assert_eq!(
            got,
            vec![
                rec(
                    1_500_000_000,
                    Channel::name("can7"),
                    false,
                    Frame::data(std_id(0x123), &[1, 2]).unwrap()
                ),
                rec(
                    2_000_001_000,
                    Channel::Number(1),
                    true,
                    Frame::data(Id::Extended(0x123), &[3]).unwrap()
                ),
            ]
        );
    }

    #[test]
    fn resolutions_offsets_and_sections() {
        // 2^-10 s units, 100 s offset
        let mut b = shb(false);
        let mut opts = vec![9, 0, 1, 0, 0x8A, 0, 0, 0, 14, 0, 8, 0];
        opts.extend_from_slice(&100i64.to_le_bytes());
        b.extend(idb(false, 227, &opts));
        b.extend(epb(false, 0, 1024 * 3 + 512, &pkt(1, &[], 0), &[]));
        // a second section (big-endian) forgets the interface before it
        b.extend(shb(true));
        b.extend(idb(true, 227, &[0, 9, 0, 1, 3, 0, 0, 0])); // milliseconds
        b.extend(epb(true, 0, 7, &pkt(2, &[], 0), &[]));
        let got = read_ok(&b);
        assert_eq!(got[0].timestamp, Timestamp(103_500_000_000));
        assert_eq!(got[1].timestamp, Timestamp(7_000_000));
        assert_eq!(got[1].channel, Channel::Number(1));
        // picoseconds are truncated to nanoseconds
        let mut b = shb(false);
        b.extend(idb(false, 227, &[9, 0, 1, 0, 12, 0, 0, 0]));
        b.extend(epb(false, 0, 5_999, &pkt(1, &[], 0), &[]));
        assert_eq!(read_ok(&b)[0].timestamp, Timestamp(5));
    }

    #[test]
    fn classic_pcap_in_both_byte_orders_and_units() {
        for (big, nanos) in [(false, false), (true, true), (false, true), (true, false)] {
            let magic: u32 = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
            let w = |v: u32| {
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            };
            let mut b = Vec::new();
            b.extend_from_slice(&w(magic));
            b.extend_from_slice(&if big { [0, 2, 0, 4] } else { [2, 0, 4, 0] });
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&w(72));
            b.extend_from_slice(&w(227));
            let mut p = pkt(0x8000_0042, &[9, 8, 7], 0);
            p.resize(16, 0);
            b.extend_from_slice(&w(1_700_000_000));
            b.extend_from_slice(&w(250));
            b.extend_from_slice(&w(16));
            b.extend_from_slice(&w(16));
            b.extend_from_slice(&p);
            let got = read_ok(&b);
            let t = 1_700_000_000_000_000_000 + if nanos { 250 } else { 250_000 };
            assert_eq!(
                got,
                vec![rec(
                    t,
                    Channel::Number(1),
                    false,
                    Frame::data(Id::Extended(0x42), &[9, 8, 7]).unwrap()
                )]
            );
            // another link type is refused at the header
            let mut other = b.clone();
            other[20..24].copy_from_slice(&w(1));
            let (at, msg) = error_at(&other);
            assert_eq!(at, 20);
            assert!(msg.contains("link type 1"), "{msg}");
        }
    }

    #[test]
    fn frames_are_told_apart_as_wireshark_does() {
        let mut b = shb(false);
        b.extend(idb(false, 227, &[]));
        // FDF with junk in byte 6: classic, 8 bytes
        let mut junk = pkt(5, &[1; 8], CANFD_FDF);
        junk[6] = 1;
        b.extend(epb(false, 0, 0, &junk, &[]));
        // no FDF, but 72 bytes long: FD (older captures)
        let mut old = pkt(6, &[2; 8], CANFD_BRS);
        old.resize(72, 0);
        b.extend(epb(false, 0, 0, &old, &[]));
        // no FDF, 12 bytes of payload: FD
        b.extend(epb(false, 0, 0, &pkt(7, &[3; 12], 0), &[]));
        // classic remote frame without payload bytes, DLC in byte 4
        b.extend(epb(
            false,
            0,
            0,
            &pkt(CAN_RTR_FLAG | 8, &[], 0)[..5]
                .iter()
                .copied()
                .chain([0, 0, 0])
                .collect::<Vec<_>>(),
            &[],
        ));
        let got: Vec<Frame> = read_ok(&b).into_iter().map(|r| r.frame).collect();
        assert_eq!(
            got,
            vec![
                Frame::data(std_id(5), &[1; 8]).unwrap(),
                Frame::fd(
                    std_id(6),
                    &[2; 8],
                    FdFlags {
                        brs: true,
                        esi: false
                    }
                )
                .unwrap(),
                Frame::fd(std_id(7), &[3; 12], FdFlags::default()).unwrap(),
                Frame::remote(std_id(8), 0).unwrap(),
            ]
        );
    }

    #[test]
    fn packets_that_are_no_frame_warn_with_their_offset() {
        let bad: Vec<(Vec<u8>, &str)> = vec![
            (
                pkt(1, &[0; 12], 0).into_iter().take(16).collect(),
                "length 12 but 8 payload bytes captured",
            ),
            (pkt(1, &[0; 13], CANFD_FDF), "FD length 13"),
            (pkt(0x800, &[0], 0), "standard identifier 0x800"),
            (
                pkt(CAN_RTR_FLAG | 1, &[0; 12], CANFD_FDF),
                "an FD frame marked as remote",
            ),
            (vec![0, 0, 0, 1, 0x80, 0, 0, 0], "CAN XL"),
            (vec![0, 0, 0, 1, 4, 0, 0], "shorter than the 8-byte"),
        ];
        for (p, want) in bad {
            let mut b = shb(false);
            b.extend(idb(false, 227, &[]));
            let good = epb(false, 0, 0, &pkt(1, &[7], 0), &[]);
            b.extend(good.clone());
            let at = b.len();
            b.extend(epb(false, 0, 0, &p, &[]));
            b.extend(good);
            let (got, warnings) = read_all(&b);
            assert_eq!(got.unwrap().len(), 2, "{want}");
            assert_eq!(warnings.len(), 1, "{want}: {warnings:?}");
            assert!(
                warnings[0].contains(want)
                    && warnings[0].contains(&format!("packet at byte {at} skipped")),
                "{want}: {warnings:?}"
            );
        }
    }

    #[test]
    fn other_link_types_and_blocks_are_skipped() {
        let mut b = shb(false);
        b.extend(idb(false, 1, &[2, 0, 4, 0, b'e', b't', b'h', b'0']));
        b.extend(idb(false, 227, &[]));
        b.extend(blk(false, 4, &[0; 16])); // name resolution
        b.extend(blk(false, 5, &[0; 12])); // statistics
        b.extend(blk(false, 0x0BAD, &[1, 2, 3, 4, 5])); // custom
        b.extend(epb(false, 0, 0, &[0; 60], &[]));
        b.extend(epb(false, 1, 0, &pkt(3, &[], 0), &[]));
        b.extend(epb(false, 0, 0, &[0; 60], &[]));
        let (got, warnings) = read_all(&b);
        assert_eq!(got.unwrap().len(), 1);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("interface 0 (eth0) has link type 1"),
            "{warnings:?}"
        );
    }

    #[test]
    fn simple_and_obsolete_packet_blocks() {
        let mut b = shb(false);
        b.extend(idb(false, 227, &[9, 0, 1, 0, 9, 0, 0, 0]));
        b.extend(epb(false, 0, 42, &pkt(1, &[1], 0), &[]));
        let mut spb = 16u32.to_le_bytes().to_vec();
        let mut p = pkt(2, &[2], 0);
        p.resize(16, 0);
        spb.extend_from_slice(&p);
        b.extend(blk(false, SPB, &spb));
        // obsolete packet block: interface u16, drops u16, outbound flag
        let mut pb = vec![
            0, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0,
        ];
        pb.extend_from_slice(&p);
        pb.extend_from_slice(&[2, 0, 4, 0, 2, 0, 0, 0]);
        b.extend(blk(false, PB, &pb));
        let (got, warnings) = read_all(&b);
        let got = got.unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].timestamp, Timestamp(42));
        assert_eq!(got[1].frame.data_bytes(), &[2]);
        assert_eq!(got[2].timestamp, Timestamp(50));
        assert_eq!(got[2].direction, Direction::Tx);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("carries no time"), "{warnings:?}");
    }

    #[test]
    fn a_cut_off_file_keeps_the_packets_before_the_cut() {
        let recs = sample();
        let b = write_all(&recs);
        let want: Vec<Record> = recs.iter().map(projected).collect();
        // where each block ends, and whether it holds a packet
        let mut ends = vec![(0, false)];
        let mut at = 0;
        while at < b.len() {
            let btype = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
            at += u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]) as usize;
            ends.push((at, btype == EPB));
        }
        assert_eq!(ends.iter().filter(|e| e.1).count(), recs.len());
        for cut in 1..b.len() {
            let (got, warnings) = read_all(&b[..cut]);
            let got = match got {
                Ok(g) => g,
                // inside the first four bytes: not recognisable as pcapng
                Err(_) if cut < 4 => continue,
                Err(e) => panic!("cut at {cut}: {e}"),
            };
            // every packet block before the cut is read, and a cut inside a
            // block warns
            let complete = ends.iter().filter(|e| e.1 && e.0 <= cut).count();
            assert_eq!(&got[..], &want[..complete], "cut at {cut}");
            let on_boundary = ends.iter().any(|e| e.0 == cut);
            assert_eq!(
                warnings.len(),
                usize::from(!on_boundary),
                "cut at {cut}: {warnings:?}"
            );
        }
    }

    #[test]
    fn damage_is_an_error_at_the_block() {
        let mut good = shb(false);
        good.extend(idb(false, 227, &[]));
        let at = good.len();
        // trailing length differs
        let mut b = good.clone();
        let mut e = epb(false, 0, 0, &pkt(1, &[], 0), &[]);
        let n = e.len();
        e[n - 4] ^= 4;
        b.extend(e);
        let (pos, msg) = error_at(&b);
        assert_eq!(pos, at as u64);
        assert!(msg.contains("at its end"), "{msg}");
        // a length that is not a multiple of 4
        let mut b = good.clone();
        let mut e = epb(false, 0, 0, &pkt(1, &[], 0), &[]);
        e[4] += 1;
        b.extend(e);
        assert_eq!(error_at(&b).0, at as u64);
        // a packet on an interface never described
        let mut b = good.clone();
        b.extend(epb(false, 5, 0, &pkt(1, &[], 0), &[]));
        let (pos, msg) = error_at(&b);
        assert_eq!(pos, at as u64);
        assert!(msg.contains("interface 5"), "{msg}");
        // an option running past its block, at the option's offset
        let mut b = good.clone();
        b.extend(epb(
            false,
            0,
            0,
            &pkt(1, &[], 0),
            &[2, 0, 40, 0, 1, 0, 0, 0],
        ));
        let (pos, msg) = error_at(&b);
        assert_eq!(pos, at as u64 + 8 + 20 + 8);
        assert!(msg.contains("runs past"), "{msg}");
        // an interface option of the wrong size
        let mut b = shb(false);
        b.extend(idb(false, 227, &[9, 0, 2, 0, 9, 9, 0, 0]));
        let (pos, msg) = error_at(&b);
        assert_eq!(pos, 28 + 8 + 8);
        assert!(msg.contains("if_tsresol has 2 bytes"), "{msg}");
        // a huge block
        let mut b = good.clone();
        b.extend_from_slice(&EPB.to_le_bytes());
        b.extend_from_slice(&0x4000_0000u32.to_le_bytes());
        b.extend_from_slice(&[0; 64]);
        assert_eq!(error_at(&b).0, at as u64);
        // neither pcapng nor pcap
        let (pos, msg) = error_at(b"hello world");
        assert_eq!(pos, 0);
        assert!(msg.contains("not a pcapng or pcap file"), "{msg}");
        // a bad byte-order magic
        let mut b = shb(false);
        b[8] = 0;
        assert_eq!(error_at(&b).0, 8);
        // a later section of another version
        let mut b = good.clone();
        let mut s = shb(false);
        s[12] = 2;
        b.extend(s);
        let (pos, msg) = error_at(&b);
        assert_eq!(pos, at as u64);
        assert!(msg.contains("version 2"), "{msg}");
    }

    #[test]
    fn interfaces_are_bounded_per_section() {
        // 17 names of 65532 bytes pass the 1 MiB budget at the 17th
        let mut name_opt = vec![2, 0, 0xFC, 0xFF];
        name_opt.extend(std::iter::repeat_n(b'n', 65532));
        let mut b = shb(false);
        let mut at = 0;
        for _ in 0..17 {
            at = b.len();
            b.extend(idb(false, 227, &name_opt));
        }
        let (pos, msg) = error_at(&b);
        assert_eq!(pos, at as u64);
        assert!(msg.contains("interface names"), "{msg}");
        // a new section starts a new budget
        let mut b = shb(false);
        for _ in 0..16 {
            b.extend(idb(false, 227, &name_opt));
        }
        b.extend(shb(false));
        for _ in 0..16 {
            b.extend(idb(false, 227, &name_opt));
        }
        assert!(read_ok(&b).is_empty());
        // 65537 interfaces
        let mut b = shb(false);
        let one = idb(false, 227, &[]);
        for _ in 0..MAX_INTERFACES {
            b.extend_from_slice(&one);
        }
        let at = b.len();
        b.extend_from_slice(&one);
        let (pos, msg) = error_at(&b);
        assert_eq!(pos, at as u64);
        assert!(msg.contains("more than 65536 interfaces"), "{msg}");
    }

    #[test]
    fn times_before_1970_are_refused() {
        let mut w = Writer::new(
            Output {
                path: "o.pcapng".into(),
                appending: false,
                writer: Box::new(io::sink()),
            },
            &WriterOptions::default(),
        )
        .unwrap();
        let r = rec(
            -1,
            Channel::None,
            false,
            Frame::data(std_id(1), &[]).unwrap(),
        );
        let e = w.write(&r).unwrap_err().to_string();
        assert!(e.contains("before 1970") && e.contains("o.pcapng"), "{e}");
    }
}
