//! Vector BLF (binary logging format) files, as CANoe/CANalyzer, Vector's binlog
//! library and python-can write them.
//!
//! A BLF file is a 144-byte `LOGG` header (statistics, start time) followed by
//! `LOG_CONTAINER` objects whose payloads, stored or zlib-compressed and
//! concatenated, form one stream of `LOBJ` objects; an object may span two
//! containers.
//!
//! Reading ([`Reader`]) decodes `CAN_MESSAGE` (1), `CAN_ERROR` (2),
//! `CAN_ERROR_EXT` (73), `CAN_MESSAGE2` (86), `CAN_FD_MESSAGE` (100),
//! `CAN_FD_MESSAGE_64` (101) and `CAN_FD_ERROR_64` (104) with object headers
//! version 1, 2 and 3, and skips everything else by its size. Containers are read
//! and inflated ahead of the parser by worker threads; memory stays bounded by a
//! few containers. A file cut off at the end yields every intact object and a
//! warning; a corrupt container is an error naming its byte offset.
//!
//! Where our frame model is stricter than the file, the reader keeps as much as it
//! can: an 11-bit-flagged identifier above 0x7FF (only seen in test data) is read
//! as a 29-bit one, a raw DLC above 15 becomes 15, error frames carry the logged
//! identifier as their (29-bit) id, and an FD payload whose length CAN FD cannot
//! encode (python-can writes 13 bytes with DLC 10) is zero-padded to the DLC's
//! length; valid bytes beyond those stored in a `CAN_FD_MESSAGE_64` are zero
//! (CANoe writes these, python-can issue 1905).
//!
//! The header version says where an object's body starts (versions 1 and 3
//! after 32 bytes, version 2 after 40): a `headerSize` field smaller than that
//! (some third-party writers put 16 into version-1 objects) is one warning for
//! the file and the object is read by its version; a larger one is trusted
//! (Vector's binlog writes version-1 MOST objects with 40). An object whose
//! fields contradict each other (a DLC and a valid-byte count that disagree, a
//! DLC needing more data bytes than the object holds, an ext-data offset outside
//! the object) is skipped with a warning naming its byte offset (inside a
//! compressed container: the container's offset and the offset in its payload).
//!
//! Writing ([`Writer`]) produces zlib containers of about 128 KiB (option
//! `compression=N`, 0-9, 0 stores them uncompressed; default 6) that never split an
//! object. To a file, the header statistics (object count, sizes, start and last
//! object time) are rewritten after every container, so a killed writer leaves a
//! complete file up to its last container, and `append` continues a file (a cut-off
//! tail after its last complete container is dropped). To stdout or a `.gz` the
//! header is written with the first container and its counts stay zero, as
//! python-can leaves them.
//! Classic frames become `CAN_MESSAGE`, FD frames `CAN_FD_MESSAGE_64`, error frames
//! `CAN_ERROR_EXT` (FD-flagged ones `CAN_FD_ERROR_64`). The header's start time is
//! the first record's time (UTC, to the millisecond), or zero for records before
//! 1990 (relative logs), which are then stored as they are; object times are
//! nanoseconds. Channels are numbered as in ASC and TRC ([`super::ChannelNumbers`]):
//! `Number(n)` is n, `canK`/`vcanK` is K+1, other names get the lowest number no
//! earlier name has, in order of appearance, no channel is 1; numbers above 65535
//! are an error.

mod reader;
mod writer;

pub use reader::Reader;
pub use writer::Writer;

use super::civil::{civil_from_days, days_from_civil, days_in_month};

/// `LOGG`: file signature.
pub(crate) const FILE_SIGNATURE: &[u8; 4] = b"LOGG";
/// `LOBJ`: object signature.
pub(crate) const OBJ_SIGNATURE: &[u8; 4] = b"LOBJ";
/// The header size every known writer uses.
pub(crate) const HEADER_SIZE: usize = 144;

pub(crate) const CAN_MESSAGE: u32 = 1;
pub(crate) const CAN_ERROR: u32 = 2;
pub(crate) const LOG_CONTAINER: u32 = 10;
pub(crate) const CAN_ERROR_EXT: u32 = 73;
pub(crate) const CAN_MESSAGE2: u32 = 86;
pub(crate) const CAN_FD_MESSAGE: u32 = 100;
pub(crate) const CAN_FD_MESSAGE_64: u32 = 101;
pub(crate) const CAN_FD_ERROR_64: u32 = 104;
pub(crate) const RESTORE_POINT: u32 = 115;

/// 29-bit identifier flag in BLF id fields.
pub(crate) const ID_EXT: u32 = 0x8000_0000;

/// Largest container accepted (compressed or declared uncompressed size).
/// Vector's tools and python-can write 128 KiB containers; the reader keeps up
/// to about 15 containers in flight (inflater queues and workers), so this
/// bounds its memory at about 60 MiB even for a hostile file of highly
/// compressible containers.
pub(crate) const MAX_CONTAINER: u64 = 4 << 20;

/// Earliest time the writer stores as an absolute start (1990-01-01, as python-can).
pub(crate) const ABSOLUTE_MIN_SECS: i64 = 631_152_000;

pub(crate) use crate::format::bytes::{u16_at, u32_at, u64_at};

/// The file header fields we use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FileHeader {
    /// statisticsSize: where the first object starts.
    pub header_size: u32,
    pub file_size: u64,
    pub uncompressed_size: u64,
    pub object_count: u32,
    pub start: [u16; 8],
    pub stop: [u16; 8],
}

impl FileHeader {
    /// Parses the first 144 bytes; `None` when the signature is not `LOGG`.
    pub fn parse(b: &[u8; HEADER_SIZE]) -> Option<FileHeader> {
        if &b[0..4] != FILE_SIGNATURE {
            return None;
        }
        let st = |at: usize| {
            let mut s = [0u16; 8];
            for (i, v) in s.iter_mut().enumerate() {
                *v = u16_at(b, at + 2 * i);
            }
            s
        };
        Some(FileHeader {
            header_size: u32_at(b, 4),
            file_size: u64_at(b, 0x10),
            uncompressed_size: u64_at(b, 0x18),
            object_count: u32_at(b, 0x20),
            start: st(0x28),
            stop: st(0x38),
        })
    }

    /// The 144 bytes of a new header, as python-can and Vector tools accept them.
    pub fn to_bytes(&self, level: u8) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(FILE_SIGNATURE);
        b[4..8].copy_from_slice(&(HEADER_SIZE as u32).to_le_bytes());
        // application/API bytes: the pattern python-can writes (application 5),
        // with the zlib level in its slot
        b[8..16].copy_from_slice(&[5, 0, 0, 0, 2, level, 8, 1]);
        self.patch(&mut b);
        b
    }

    /// Writes the statistics fields into existing header bytes, leaving the rest.
    pub fn patch(&self, b: &mut [u8; HEADER_SIZE]) {
        b[0x10..0x18].copy_from_slice(&self.file_size.to_le_bytes());
        b[0x18..0x20].copy_from_slice(&self.uncompressed_size.to_le_bytes());
        b[0x20..0x24].copy_from_slice(&self.object_count.to_le_bytes());
        for i in 0..8 {
            b[0x28 + 2 * i..0x2A + 2 * i].copy_from_slice(&self.start[i].to_le_bytes());
            b[0x38 + 2 * i..0x3A + 2 * i].copy_from_slice(&self.stop[i].to_le_bytes());
        }
    }
}

/// A SYSTEMTIME (UTC) as nanoseconds since the epoch; `None` when all zero or not
/// a valid date (python-can then uses 0).
pub(crate) fn systemtime_to_nanos(st: &[u16; 8]) -> Option<i64> {
    let [year, month, _dow, day, hour, minute, second, ms] = *st;
    let (year, month, day) = (year as i64, month as u32, day as u32);
    if !(1..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
        || ms > 999
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64;
    // years past 2262 do not fit in i64 nanoseconds
    secs.checked_mul(1_000_000_000)?
        .checked_add(ms as i64 * 1_000_000)
}

/// Nanoseconds since the epoch as a SYSTEMTIME (UTC), truncated to milliseconds.
pub(crate) fn nanos_to_systemtime(ns: i64) -> [u16; 8] {
    let ms_total = ns.div_euclid(1_000_000);
    let days = ms_total.div_euclid(86_400_000);
    let ms_of_day = ms_total.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    if !(1..=9999).contains(&year) {
        return [0; 8];
    }
    let dow = (days + 4).rem_euclid(7); // 1970-01-01 was a Thursday; 0 = Sunday
    [
        year as u16,
        month as u16,
        dow as u16,
        day as u16,
        (ms_of_day / 3_600_000) as u16,
        (ms_of_day / 60_000 % 60) as u16,
        (ms_of_day / 1000 % 60) as u16,
        (ms_of_day % 1000) as u16,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemtime_round_trip() {
        // 2023-11-14 22:13:20.001 UTC, a Tuesday
        let st = [2023, 11, 2, 14, 22, 13, 20, 1];
        let ns = systemtime_to_nanos(&st).unwrap();
        assert_eq!(ns, 1_700_000_000_001_000_000);
        assert_eq!(nanos_to_systemtime(ns + 999_999), st);
        assert_eq!(systemtime_to_nanos(&[0; 8]), None);
        assert_eq!(systemtime_to_nanos(&[2023, 2, 0, 29, 0, 0, 0, 0]), None);
        assert!(systemtime_to_nanos(&[2024, 2, 0, 29, 0, 0, 0, 0]).is_some());
        assert_eq!(
            systemtime_to_nanos(&[9999, 12, 0, 31, 23, 59, 59, 999]),
            None
        );
        for days in [-1000i64, 0, 59, 60, 365 * 30 + 7, 20_000, 106_000] {
            let ns = days * 86_400_000_000_000 + 123_000_000;
            assert_eq!(systemtime_to_nanos(&nanos_to_systemtime(ns)), Some(ns));
        }
    }

    #[test]
    fn header_bytes_round_trip() {
        let h = FileHeader {
            header_size: 144,
            file_size: 1234,
            uncompressed_size: 5678,
            object_count: 9,
            start: [2023, 11, 2, 14, 22, 13, 20, 1],
            stop: [2023, 11, 2, 14, 22, 13, 21, 2],
        };
        let b = h.to_bytes(6);
        assert_eq!(FileHeader::parse(&b), Some(h));
        assert_eq!(b[0x0D], 6);
    }
}
