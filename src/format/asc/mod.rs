//! Vector ASC logs (`.asc`): the text log CANalyzer/CANoe export, python-can's
//! `ASCReader`/`ASCWriter` and can-utils' `asc2log`/`log2asc` speak.
//!
//! # Reading
//!
//! The reader takes every variant met in real files:
//!
//! * the header lines `date …` (English or German weekday and month names,
//!   12 h with `am`/`pm` or 24 h, with or without a fraction of a second),
//!   `base hex|dec`, `timestamps absolute|relative`, `[no] internal events logged`
//!   and `//` comments; any of them may be missing, and a `base` line may come
//!   mid-file (it changes the radix of the lines after it);
//! * `Begin Triggerblock <date>` (any case), which may repeat, and `End TriggerBlock`;
//! * classic lines `<t> <ch> <id>[x] Rx|Tx d <dlc> <bytes…> [trailing fields]`,
//!   remote frames `r` with or without a DLC, a DLC of 9 to 15 with 8 bytes
//!   (and python-can's `d 40` with 64 bytes, read as python-can reads it: DLC
//!   15 and 8 bytes, with a warning that the rest is dropped); a symbolic message name in the
//!   id column when the line ends with the decimal `ID = <n>[x]` field;
//! * error frames in every form (`ErrorFrame`, `ErrorFrame ECC: …`,
//!   `ErrorFrame Flags = …`, `CANFD <ch> <dir> ErrorFrame …`);
//! * `CANFD` lines of CANalyzer/CANoe 8.1 and later, with or without the symbolic
//!   name column, and the older layout that puts the id before the direction.
//!
//! Every other event line (status, `Statistic:`, J1939TP, LIN, FlexRay, MOST,
//! Ethernet, `Start of measurement`, `log direct start`, system variables, …)
//! is passed over and counted ([`Reader::other_events`]); such lines need not
//! be UTF-8. A line that has the shape of a CAN frame but is malformed (bad id,
//! too few data bytes, a DLC above F, more data bytes than the DLC gives, as
//! CSS Electronics' converters write FD payloads as `d 9`..`d 15`) and a line
//! that is neither a header line nor a timestamped event are skipped: counted,
//! the first few named in warnings, and a file of which no frame reads is an
//! error naming its first bad line ([`crate::format::lines`]). A last line cut
//! off without a newline is skipped the same way and ends the stream.
//!
//! Choices where ASC files are ambiguous:
//!
//! * **Time.** A record's timestamp is the start of the measurement plus the
//!   line's offset. CANoe's offsets count from the start of the measurement,
//!   also in the second and later trigger blocks of a logging with start/stop
//!   triggers, whose dates are when each block began: a block dated 37.62 s
//!   after the measurement start has its first event at about 37.62 s. So the
//!   header's `date` (else the first trigger block's) is the start, and a later
//!   block (or a first block dated after the header) keeps it when its first
//!   offset is nearer to the block's distance from the start than to zero;
//!   otherwise its offsets start
//!   again and count from its own date (concatenated logs, python-can's files,
//!   whose first block is dated at the first message, offset 0). A `date` line
//!   outside a block starts a new measurement. The date carries no time zone
//!   (it is the recording PC's local time); it is read as **UTC**, so the same
//!   file gives the same timestamps on every machine. python-can reads it in the
//!   local zone, and by default gives offsets only. Without any date, timestamps
//!   are the bare offsets. [`Reader::measurement_start`] gives the base in use.
//!   Under `timestamps relative` each offset is the delta to the previous event
//!   line (as asc2log does; python-can 4.6.1 ignores the keyword), from each
//!   trigger block's own date. A fraction in
//!   the date is a decimal fraction (`.19` is 190 ms).
//! * **Channels** are `Channel::Number` of the file's 1-based number.
//! * **`TxRq`** (transmit request) lines are skipped: the frame follows as `Tx`
//!   once sent (asc2log skips them too; python-can reads them as a second `Tx`).
//! * **Error frames** carry no class or detail: `Frame::error(0, &[])`, as
//!   python-can gives id 0 and no data. A `CANFD … ErrorFrame` line is marked
//!   FD and keeps its direction; classic ones are `Rx`.
//! * **`CANFD` lines** are FD frames unless their flags column clears the EDL
//!   bit (0x1000) and the line agrees: with bit 0x10 (RTR) set it is a classic
//!   remote frame on an FD channel, with BRS 0 and at most 8 bytes a classic data
//!   frame (as `asc2log` reads them; python-can marks every `CANFD` line FD).
//!   Hand-made files write flags `0` on 64-byte frames: those stay FD. A `CANFD`
//!   line with length 0 and a non-zero DLC is an FD-flagged remote frame, as
//!   python-can reads it. A DLC that disagrees with the length keeps the length
//!   (with a warning). Under `base dec` their id and data bytes are decimal too,
//!   as python-can reads them (`asc2log` always reads hex there); the DLC is a
//!   hex digit either way and the length decimal.
//!
//! # Writing
//!
//! The writer produces a file that CANalyzer, python-can and `asc2log` read:
//!
//! ```text
//! date Tue Nov 14 10:13:20.001 pm 2023
//! base hex  timestamps absolute
//! internal events logged
//! // version 9.0.0
//! Begin Triggerblock Tue Nov 14 10:13:20.001 pm 2023
//!    0.000000 Start of measurement
//!    0.000458 1  B6              Rx   d 6 7E 83 65 D7 4D 5F
//!    0.000792 CANFD   2 Tx   CF1F4C1x                                   1 0 f 64 57 1D …        0    0     3000 …
//!    0.001923 1  ErrorFrame
//! End TriggerBlock
//! ```
//!
//! The dates are the first record's time, in UTC, cut to the millisecond; the
//! offsets (microseconds, rounded) are relative to that, so reading the file back
//! gives every timestamp to the microsecond. A record earlier than the first is
//! written at offset 0 (ASC readers take no negative times). Channels are
//! numbered as in BLF and TRC ([`super::ChannelNumbers`]): `Number(n)` is `n`;
//! `Name("canK")`/`Name("vcanK")` is `K+1`; other names get the lowest number no
//! earlier name has, in order of appearance; no channel is 1. Error
//! frames are written as `<ch>  ErrorFrame` (the only form every reader takes;
//! direction, class and detail are lost). CAN FD frames are `CANFD` lines with
//! the flags column set (EDL, BRS, ESI, and RTR for FD-flagged remote frames) and
//! zero duration, bit count, CRC and bit timing, as python-can writes them.
//! With `append`, a new trigger block is added after the existing content.
//!
//! Known limits of the other readers (not of the file): python-can reads a
//! `CANFD` line of length 0 as a remote frame, so an empty FD data frame comes
//! back remote there, and takes the DLC of a classic `r` line only when it is
//! decimal (`r A` gives 0); can-utils 2020.11's `asc2log` drops classic lines
//! with a DLC above 8 (`d D`), which newer versions read.

mod dates;
mod lexer;
mod reader;
mod writer;

pub use reader::Reader;
pub use writer::Writer;

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// `CANFD` flags column: remote frame (classic only).
const FLAG_RTR: u32 = 0x10;
/// `CANFD` flags column: EDL/FDF, the frame is CAN FD.
const FLAG_EDL: u32 = 0x1000;
/// `CANFD` flags column: bit rate switch.
const FLAG_BRS: u32 = 0x2000;
/// `CANFD` flags column: error state indicator.
const FLAG_ESI: u32 = 0x4000;

/// Helpers the tests of the submodules share.
#[cfg(test)]
mod test_util {
    use super::Reader;
    use crate::error::Result;
    use crate::format::civil::days_from_civil;
    use crate::format::Input;
    use crate::frame::Record;
    use std::io::Cursor;

    /// A reader over `text`, named `t.asc`.
    pub(super) fn reader(text: &[u8]) -> Reader {
        Reader::new(Input {
            path: "t.asc".into(),
            reader: Box::new(Cursor::new(text.to_vec())),
        })
        .unwrap()
    }

    /// Every record of `text`.
    pub(super) fn read_all(text: &[u8]) -> Result<Vec<Record>> {
        let mut r = reader(text);
        crate::format::records(&mut r).collect()
    }

    /// Nanoseconds since the epoch of a UTC date and time.
    pub(super) fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, ms: i64) -> i64 {
        ((days_from_civil(y, mo, d) * super::SECS_PER_DAY + h * 3600 + mi * 60 + s) * 1000 + ms)
            * 1_000_000
    }
}
