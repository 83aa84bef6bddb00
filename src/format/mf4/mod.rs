//! ASAM MDF 4.1 bus logging files (`.mf4`), as CSS Electronics' CANedge
//! loggers, Vector's tools, asammdf and python-can (through asammdf) write them.
//!
//! # The blocks we use
//! An MDF 4 file is a 64-byte identification block (`ID`) followed by blocks
//! that link to each other by absolute file offsets. Every block starts at an
//! 8-byte aligned offset with a 24-byte header: a 4-byte id (`##HD`), 4 reserved
//! bytes, the block length (u64, header included) and the link count (u64); then
//! the links (u64 each) and the block's data. All numbers are little-endian.
//!
//! | block | links | data we read or write |
//! | --- | --- | --- |
//! | `ID` (no header) | | `MDF     ` or `UnFinMF ` (0), version `4.10    ` (8), program (16), version number u16 (28), unfinalized flags u16 (60), custom flags u16 (62) |
//! | `HD` at 64 | first DG, first FH, CH, AT, EV, comment | start time ns since 1970 u64, tz offset min i16, DST min i16, time flags u8 (1 local time, 2 offsets valid) |
//! | `FH` | next FH, comment (MD, required) | time ns u64, tz i16, DST i16, flags u8 |
//! | `DG` | next DG, first CG, data, comment | record id size u8 (0 = sorted, 1/2/4/8 = unsorted) |
//! | `CG` | next CG, first CN, acquisition name (TX), source (SI), SR, comment | record id u64, cycle count u64, flags u16 (1 VLSD, 2 bus event, 4 plain bus event), path separator u16, 4 reserved, data bytes u32, invalidation bytes u32 |
//! | `CN` | next CN, composition, name (TX), source, conversion (CC), data, unit, comment | type u8 (0 value, 1 VLSD, 2 master, 3 virtual master), sync type u8 (1 time), data type u8, bit offset u8, byte offset u32, bit count u32, flags u32 (0x400 bus event), ... |
//! | `CC` | name, unit, comment, inverse, refs... | type u8 (0 identity, 1 linear, 2 rational), precision u8, flags u16, ref count u16, value count u16, min f64, max f64, values f64... |
//! | `SI` | name, path, comment | type u8 (2 bus), bus type u8 (2 CAN), flags u8 |
//! | `TX` / `MD` | | NUL-terminated UTF-8 text / XML |
//! | `DT` | | records |
//! | `DZ` | | original block type "DT" (2 bytes), zip type u8 (0 deflate, 1 transposition + deflate), reserved u8, parameter u32 (columns, for transposition), original length u64, compressed length u64, zlib data |
//! | `DL` | next DL, data blocks... | flags u8 (1 equal length), 3 reserved, count u32, then the equal length u64 or one offset u64 per block |
//! | `HL` | first DL | flags u16, zip type u8, 5 reserved |
//!
//! A data group's data is one byte stream: its data block, or the data blocks of
//! its list(s) in order, concatenated (records may straddle two blocks). In a
//! sorted group (record id size 0) the stream holds the records of its only
//! channel group; in an unsorted one each record starts with the record id of its
//! channel group, then `data bytes + invalidation bytes` of a fixed record, or a
//! u32 length and that many bytes for a VLSD channel group. A transposed `DZ`
//! stores the first `rows * columns` bytes (rows = original length / columns)
//! column by column; the rest follows as it is.
//!
//! Bus logging (ASAM's associated standard, as asammdf and python-can use it):
//! a channel group flagged bus event with an `SI` of bus type CAN holds a time
//! master channel and a structure channel `CAN_DataFrame`, `CAN_RemoteFrame` or
//! `CAN_ErrorFrame` (byte array, composition linking to its fields), whose
//! fields are named `CAN_DataFrame.BusChannel`, `.ID`, `.IDE`, `.DLC`,
//! `.DataLength`, `.DataBytes`, `.Dir` (0 Rx, 1 Tx), `.EDL`, `.BRS`, `.ESI`.
//!
//! # Reading ([`Reader`])
//! Needs a real file (links are file offsets). Every channel group that has one
//! of the three frame channels is decoded, whatever its flags; other groups'
//! records are skipped by their size. Fields may have any bit offset and width
//! up to 64 bits (little-endian; big-endian only byte-aligned); the time channel
//! may be an integer or float with an identity, linear or rational conversion.
//! Each data group is read by its own cursor (a file handle and one data block
//! at a time: a `DT` is streamed in chunks, a `DZ` of up to 64 MiB inflated
//! whole), so memory stays constant whatever the file size; groups are merged
//! by time as python-can merges them (ties: the earlier data group first). In
//! an unsorted group, records come in file order.
//!
//! Finalized files are read up to each channel group's cycle count. An
//! unfinalized file (`UnFinMF `, or unfinalized flags) is read up to the end of
//! its data: counts are ignored (flag 1), the last `DT` runs to the next known
//! block or the end of the file (flag 4), and a `DL` whose links are still empty
//! (flag 0x10) is completed with the `DT`/`DZ` blocks that follow it in the file,
//! as asammdf does. A cut-off block or record at the end gives a warning, not an
//! error; broken structure is an error naming the byte offset.
//!
//! Frames: `ID` masked to 29 bits; extended when `IDE` says so (without `IDE`:
//! bit 31 of a 32-bit `ID`, else an id above 0x7FF); `DataLength` bytes of
//! `DataBytes` (without `DataLength`, the length of the DLC); an 11-bit id above
//! 0x7FF is read as 29-bit and an FD length CAN FD cannot carry is zero-padded,
//! as the BLF reader does; remote frames take `DLC`; error frames keep `ID` as
//! their class and up to 8 data bytes. `BusChannel` is the channel number as it
//! is (python-can reads it so); no `BusChannel`: no channel.
//!
//! # Writing ([`Writer`])
//! Also a real file (links are patched at the end). One unsorted data group
//! (1-byte record ids) with four channel groups, named as python-can names them:
//! `CAN_DataFrame` for classic frames (id 1, 8 data bytes, 24-byte records),
//! `CAN_DataFrame` for FD frames (id 2, 64 data bytes, 80-byte records),
//! `CAN_RemoteFrame` (id 3, 16 bytes) and `CAN_ErrorFrame` (id 4, 8 data bytes).
//! Record layout after the id: `Timestamp` f64 seconds from the header's start
//! time (0), `BusChannel` u8 (8), `ID` 29 bits with `IDE` as bit 31 of the same
//! u32 (9), `DLC` 4 bits (13), `DataLength` u8 (14), `Dir`, `EDL`, `BRS`, `ESI`
//! bits 0-3 (15), `DataBytes` (16). The start time is the first record's time
//! (UTC, to the microsecond; 0 for records before 1970); f64 seconds keep
//! nanoseconds exact for about 50 days from it.
//!
//! The metadata is written first, marked unfinalized, then the data as it comes,
//! so a killed logger leaves a file that asammdf, python-can and we read up to
//! its last flush: with `compression=0` (the default) one `DT` block grows at
//! the end of the file (unfinalized flags 1 + 4); with `compression=1`-`9`
//! (deflate level) an `HL` and a `DL` with 8192 empty links come first and `DZ`
//! blocks of up to 1 MiB follow, one more at each flush (flags 1 + 0x10).
//! asammdf completes such a list only with the blocks its empty links can hold
//! (8192: over two hours of one flush a second); we read every block that
//! follows. The writer holds one block (and 16 bytes per written `DZ`), never
//! the file.
//! `finish` writes the `DT` length or the `DL` links (more `DL`s at the end
//! beyond 8192 blocks), the cycle counts, and then the `MDF     ` id. Channels:
//! `Number(n)` is n, `canK`/`vcanK` is K+1, other names get numbers by first
//! appearance from 1, no channel is 1; numbers above 255 are refused.
//! Appending is not supported.
//!
//! # Not confirmed
//! The ASAM specification itself was not at hand; the layouts above come from
//! asammdf's and python-can's sources and from files they write, which read back
//! in both. Not confirmed there: that records may straddle data blocks (asammdf
//! reads them so), that an `HL` is required before a `DL` of `DZ` blocks (asammdf
//! writes one; we do too), whether a VLSD channel group's byte count (its data
//! and invalidation byte fields as one u64) includes the values' 4-byte length
//! prefixes (we read VLSD records by their own lengths), how invalidation bits, VLSD `DataBytes` (a `CN` of
//! type 1) and MDF 4.2's `LD`/`DV` blocks are used by bus-logging writers: we skip
//! invalidation bits, and refuse the other two with an error.

mod reader;
mod writer;

pub use reader::Reader;
pub use writer::Writer;

/// The identification block's size; the header block follows it.
pub(crate) const ID_SIZE: u64 = 64;
/// A finalized file's identifier.
pub(crate) const ID_FINAL: &[u8; 8] = b"MDF     ";
/// An unfinalized file's identifier.
pub(crate) const ID_UNFINISHED: &[u8; 8] = b"UnFinMF ";
/// The common block header: id, reserved, length, link count.
pub(crate) const HEADER: usize = 24;

/// Unfinalized flag: cycle counts must be recomputed.
pub(crate) const UNFIN_CYCLES: u16 = 0x1;
/// Unfinalized flag: the last DT block's length must be recomputed.
pub(crate) const UNFIN_LAST_DT: u16 = 0x4;
/// Unfinalized flag: the last DL of each list must be completed.
pub(crate) const UNFIN_LAST_DL: u16 = 0x10;

/// Channel group flags.
pub(crate) const CG_VLSD: u16 = 0x1;
pub(crate) const CG_BUS_EVENT: u16 = 0x2;
pub(crate) const CG_PLAIN_BUS_EVENT: u16 = 0x4;

/// Channel types.
pub(crate) const CN_VLSD: u8 = 1;
pub(crate) const CN_MASTER: u8 = 2;
/// Sync type: time.
pub(crate) const SYNC_TIME: u8 = 1;
/// Channel flag: part of a bus event.
pub(crate) const CN_BUS_EVENT: u32 = 0x400;

/// Channel data types.
pub(crate) const UINT_LE: u8 = 0;
pub(crate) const UINT_BE: u8 = 1;
pub(crate) const INT_LE: u8 = 2;
pub(crate) const INT_BE: u8 = 3;
pub(crate) const FLOAT_LE: u8 = 4;
pub(crate) const FLOAT_BE: u8 = 5;
pub(crate) const BYTES: u8 = 10;

/// Source information: a bus, of type CAN.
pub(crate) const SI_BUS: u8 = 2;
pub(crate) const BUS_CAN: u8 = 2;

/// DZ zip types.
pub(crate) const ZIP_DEFLATE: u8 = 0;
pub(crate) const ZIP_TRANSPOSED: u8 = 1;

/// The three bus-logging frame channels.
pub(crate) const DATA_FRAME: &str = "CAN_DataFrame";
pub(crate) const REMOTE_FRAME: &str = "CAN_RemoteFrame";
pub(crate) const ERROR_FRAME: &str = "CAN_ErrorFrame";

pub(crate) use crate::format::bytes::{u16_at, u32_at, u64_at};

pub(crate) fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_bits(u64_at(b, at))
}

/// `n` rounded up to a multiple of 8 (blocks start 8-aligned).
pub(crate) fn align8(n: u64) -> u64 {
    n.saturating_add(7) & !7
}
