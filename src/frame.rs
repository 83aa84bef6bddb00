//! The frame model: [`Id`], [`Frame`] and the [`Record`] that wraps a frame with
//! its capture metadata (timestamp, channel, direction).
//!
//! A [`Frame`] is a small `Copy` value: its payload lives inline (up to 64 bytes),
//! so moving frames through a pipeline never touches the heap. Every constructor
//! validates its input, so a `Frame` that exists is one that can be described on
//! the wire or in a log file:
//!
//! * classic data frames carry 0 to 8 bytes; the raw DLC may be 9 to 15 only when
//!   the payload is 8 bytes (as can-utils' `_X` suffix and Vector logs allow);
//! * CAN FD frames carry one of the lengths 0-8, 12, 16, 20, 24, 32, 48 or 64, and
//!   only they have the BRS and ESI flags;
//! * remote frames carry no data, only the requested DLC;
//! * error frames carry the kernel's error class in a 29-bit id and up to 8 bytes
//!   of detail.
//!
//! Vector tools also log two combinations that no bus can send (an FD-flagged
//! remote frame, an FD error frame); [`Frame::with_fd_flags`] builds them so that
//! readers keep what the file holds, and buses refuse to send them.

pub mod error_class;
pub(crate) mod hex;
pub mod text;

use std::fmt;
use std::sync::Arc;

/// Largest 11-bit identifier.
pub const SFF_MAX: u32 = 0x7FF;
/// Largest 29-bit identifier.
pub const EFF_MAX: u32 = 0x1FFF_FFFF;
/// Largest classic CAN payload.
pub const CAN_MAX_LEN: usize = 8;
/// Largest CAN FD payload.
pub const CANFD_MAX_LEN: usize = 64;

/// Why a frame (or an id) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// An 11-bit id above 0x7FF.
    #[error("identifier 0x{0:X} does not fit in 11 bits (max 0x7FF)")]
    StandardIdTooLarge(u32),
    /// A 29-bit id above 0x1FFFFFFF.
    #[error("identifier 0x{0:X} does not fit in 29 bits (max 0x1FFFFFFF)")]
    ExtendedIdTooLarge(u32),
    /// More than 8 bytes in a classic frame.
    #[error("a classic CAN frame carries at most 8 bytes, not {0}")]
    ClassicTooLong(usize),
    /// A length that CAN FD cannot encode.
    #[error("a CAN FD frame cannot carry {0} bytes (valid: 0-8, 12, 16, 20, 24, 32, 48, 64)")]
    BadFdLength(usize),
    /// A DLC code above 15.
    #[error("DLC {0} is out of range (0-15)")]
    BadDlc(u8),
    /// A raw DLC that disagrees with the payload length.
    #[error("DLC {dlc} does not match a payload of {len} bytes")]
    DlcMismatch {
        /// The DLC given.
        dlc: u8,
        /// The payload length.
        len: usize,
    },
}

/// A validated CAN identifier: 11-bit standard or 29-bit extended.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Id {
    /// 11-bit identifier (0..=0x7FF).
    Standard(u16),
    /// 29-bit identifier (0..=0x1FFFFFFF).
    Extended(u32),
}

impl Id {
    /// An 11-bit id; fails above 0x7FF.
    pub fn standard(raw: u32) -> Result<Id, FrameError> {
        if raw > SFF_MAX {
            return Err(FrameError::StandardIdTooLarge(raw));
        }
        Ok(Id::Standard(raw as u16))
    }

    /// A 29-bit id; fails above 0x1FFFFFFF.
    pub fn extended(raw: u32) -> Result<Id, FrameError> {
        if raw > EFF_MAX {
            return Err(FrameError::ExtendedIdTooLarge(raw));
        }
        Ok(Id::Extended(raw))
    }

    /// An id of the given width.
    pub fn new(raw: u32, extended: bool) -> Result<Id, FrameError> {
        if extended {
            Id::extended(raw)
        } else {
            Id::standard(raw)
        }
    }

    /// The numeric identifier, without any flag bits.
    pub fn raw(self) -> u32 {
        match self {
            Id::Standard(v) => v as u32,
            Id::Extended(v) => v,
        }
    }

    /// True for a 29-bit id.
    pub fn is_extended(self) -> bool {
        matches!(self, Id::Extended(_))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Standard(v) => write!(f, "Id({v:03X})"),
            Id::Extended(v) => write!(f, "Id({v:08X}x)"),
        }
    }
}

impl fmt::Display for Id {
    /// can-utils style: 3 hex digits for 11-bit ids, 8 for 29-bit ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Standard(v) => write!(f, "{v:03X}"),
            Id::Extended(v) => write!(f, "{v:08X}"),
        }
    }
}

/// The flags only CAN FD frames have.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct FdFlags {
    /// Bit rate switch: the data phase ran at the data bitrate.
    pub brs: bool,
    /// Error state indicator: the sender was error passive.
    pub esi: bool,
}

impl FdFlags {
    /// The flags as can-utils' nibble (BRS = 1, ESI = 2).
    pub fn nibble(self) -> u8 {
        (self.brs as u8) | ((self.esi as u8) << 1)
    }

    /// Flags from can-utils' nibble; other bits (FDF 0x04, bit 3) are ignored.
    pub fn from_nibble(n: u8) -> FdFlags {
        FdFlags {
            brs: n & 1 != 0,
            esi: n & 2 != 0,
        }
    }
}

/// What kind of frame this is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    /// A data frame (classic or FD).
    Data,
    /// A remote transmission request.
    Remote,
    /// An error frame: the id holds the error class bits.
    Error,
}

/// The payload length for each DLC code 0..=15 on CAN FD.
const FD_DLC_TO_LEN: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

/// The payload length a DLC code means on CAN FD (codes above 15 are treated as 15).
pub fn dlc_to_len(dlc: u8) -> usize {
    FD_DLC_TO_LEN[(dlc.min(15)) as usize] as usize
}

/// The DLC code of a valid CAN FD length, or `None`.
pub fn len_to_dlc(len: usize) -> Option<u8> {
    match len {
        0..=8 => Some(len as u8),
        12 => Some(9),
        16 => Some(10),
        20 => Some(11),
        24 => Some(12),
        32 => Some(13),
        48 => Some(14),
        64 => Some(15),
        _ => None,
    }
}

/// The smallest valid CAN FD length that holds `len` bytes (for padding), or `None` above 64.
pub fn fd_padded_len(len: usize) -> Option<usize> {
    FD_DLC_TO_LEN
        .iter()
        .map(|&l| l as usize)
        .find(|&l| l >= len)
}

/// A CAN frame: classic data, remote, error or CAN FD. See the module docs for
/// what each constructor accepts.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    id: Id,
    kind: Kind,
    fd: Option<FdFlags>,
    dlc: u8,
    len: u8,
    data: [u8; CANFD_MAX_LEN],
}

impl Frame {
    fn build(id: Id, kind: Kind, fd: Option<FdFlags>, dlc: u8, data: &[u8]) -> Frame {
        let mut buf = [0u8; CANFD_MAX_LEN];
        buf[..data.len()].copy_from_slice(data);
        Frame {
            id,
            kind,
            fd,
            dlc,
            len: data.len() as u8,
            data: buf,
        }
    }

    /// A classic data frame of 0 to 8 bytes; the DLC is the length.
    pub fn data(id: Id, data: &[u8]) -> Result<Frame, FrameError> {
        if data.len() > CAN_MAX_LEN {
            return Err(FrameError::ClassicTooLong(data.len()));
        }
        Ok(Frame::build(id, Kind::Data, None, data.len() as u8, data))
    }

    /// A classic data frame with an explicit raw DLC: equal to the length, or 9 to 15
    /// with an 8-byte payload.
    pub fn data_with_dlc(id: Id, data: &[u8], dlc: u8) -> Result<Frame, FrameError> {
        let mut f = Frame::data(id, data)?;
        check_classic_dlc(dlc, data.len())?;
        f.dlc = dlc;
        Ok(f)
    }

    /// A classic data frame as binary logs store it: a raw DLC (clamped to 15)
    /// beside the bytes kept (up to 8). The DLC is kept when it agrees with
    /// them (equal, or 9 to 15 over 8 bytes); otherwise the length wins.
    pub fn data_stored(id: Id, data: &[u8], dlc: u8) -> Result<Frame, FrameError> {
        let dlc = dlc.min(15);
        if dlc as usize == data.len() || (dlc > 8 && data.len() == 8) {
            Frame::data_with_dlc(id, data, dlc)
        } else {
            Frame::data(id, data)
        }
    }

    /// A CAN FD data frame; the length must be one CAN FD can encode.
    pub fn fd(id: Id, data: &[u8], flags: FdFlags) -> Result<Frame, FrameError> {
        let dlc = len_to_dlc(data.len()).ok_or(FrameError::BadFdLength(data.len()))?;
        Ok(Frame::build(id, Kind::Data, Some(flags), dlc, data))
    }

    /// A remote frame requesting `dlc` (0 to 15; above 8 only as a raw DLC).
    pub fn remote(id: Id, dlc: u8) -> Result<Frame, FrameError> {
        if dlc > 15 {
            return Err(FrameError::BadDlc(dlc));
        }
        Ok(Frame::build(id, Kind::Remote, None, dlc, &[]))
    }

    /// An error frame: `class` is the 29-bit error class (CAN_ERR_* bits), `data`
    /// the detail bytes (at most 8). The DLC is the length.
    pub fn error(class: u32, data: &[u8]) -> Result<Frame, FrameError> {
        let id = Id::extended(class)?;
        if data.len() > CAN_MAX_LEN {
            return Err(FrameError::ClassicTooLong(data.len()));
        }
        Ok(Frame::build(id, Kind::Error, None, data.len() as u8, data))
    }

    /// An error frame with an explicit raw DLC (equal to the length, or 9-15 with 8 bytes).
    pub fn error_with_dlc(class: u32, data: &[u8], dlc: u8) -> Result<Frame, FrameError> {
        let mut f = Frame::error(class, data)?;
        check_classic_dlc(dlc, data.len())?;
        f.dlc = dlc;
        Ok(f)
    }

    /// Marks a remote or error frame as logged on a CAN FD channel, as Vector logs
    /// do (python-can reads these as `is_fd`). A data frame must be built with
    /// [`Frame::fd`] instead; for it this only replaces the flags. No bus sends an
    /// FD remote or FD error frame.
    pub fn with_fd_flags(mut self, flags: FdFlags) -> Frame {
        self.fd = Some(flags);
        self
    }

    /// The same frame with another id (data and remote frames; an error
    /// frame keeps its class).
    pub fn with_id(mut self, id: Id) -> Frame {
        if self.kind != Kind::Error {
            self.id = id;
        }
        self
    }

    /// The identifier (for error frames, the error class as a 29-bit id).
    pub fn id(&self) -> Id {
        self.id
    }

    /// Data, remote or error.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// True for a data frame (classic or FD).
    pub fn is_data(&self) -> bool {
        self.kind == Kind::Data
    }

    /// True for a remote frame.
    pub fn is_remote(&self) -> bool {
        self.kind == Kind::Remote
    }

    /// True for an error frame.
    pub fn is_error(&self) -> bool {
        self.kind == Kind::Error
    }

    /// True for a CAN FD frame.
    pub fn is_fd(&self) -> bool {
        self.fd.is_some()
    }

    /// The FD flags, for FD frames.
    pub fn fd_flags(&self) -> Option<FdFlags> {
        self.fd
    }

    /// Bit rate switch (false on classic frames).
    pub fn brs(&self) -> bool {
        self.fd.is_some_and(|f| f.brs)
    }

    /// Error state indicator (false on classic frames).
    pub fn esi(&self) -> bool {
        self.fd.is_some_and(|f| f.esi)
    }

    /// The DLC code as on the wire, 0 to 15.
    pub fn dlc(&self) -> u8 {
        self.dlc
    }

    /// The payload (empty for remote frames).
    pub fn data_bytes(&self) -> &[u8] {
        &self.data[..self.len as usize]
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when there is no payload.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length a remote frame requests (its DLC, capped at 8) or the payload length.
    pub fn requested_len(&self) -> usize {
        match self.kind {
            Kind::Remote => (self.dlc as usize).min(CAN_MAX_LEN),
            _ => self.len(),
        }
    }
}

fn check_classic_dlc(dlc: u8, len: usize) -> Result<(), FrameError> {
    if dlc > 15 {
        return Err(FrameError::BadDlc(dlc));
    }
    if dlc as usize != len && !(dlc > 8 && len == CAN_MAX_LEN) {
        return Err(FrameError::DlcMismatch { dlc, len });
    }
    Ok(())
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({})", self)
    }
}

impl fmt::Display for Frame {
    /// The can-utils compact syntax (`123#DEADBEEF`), as `candump -L` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::format_frame(self))
    }
}

/// Nanoseconds since the Unix epoch (or since the start of a measurement, for logs
/// that only hold relative times).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From nanoseconds.
    pub const fn from_nanos(ns: i64) -> Timestamp {
        Timestamp(ns)
    }

    /// From microseconds.
    pub const fn from_micros(us: i64) -> Timestamp {
        Timestamp(us * 1_000)
    }

    /// From whole seconds and nanoseconds.
    pub const fn from_parts(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(secs * 1_000_000_000 + nanos as i64)
    }

    /// From floating-point seconds, rounded to the nearest microsecond when the
    /// value has no more precision than that (as in python-can's f64 timestamps).
    pub fn from_secs_f64(s: f64) -> Timestamp {
        Timestamp((s * 1e9).round() as i64)
    }

    /// The wall clock now.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_parts(d.as_secs() as i64, d.subsec_nanos())
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds (floor).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// The nanoseconds within the second (0..1e9).
    pub const fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// Seconds as f64 (loses precision beyond ~0.2 µs at current epoch values).
    pub fn as_secs_f64(self) -> f64 {
        self.secs() as f64 + self.subsec_nanos() as f64 * 1e-9
    }
}

/// Which bus a record came from, as the source names it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub enum Channel {
    /// The format or bus names no channel.
    #[default]
    None,
    /// A numbered channel, 1-based as Vector and PEAK tools show it.
    Number(u32),
    /// A named interface (`can0`, `vcan0`, `demo`).
    Name(Arc<str>),
}

impl Channel {
    /// A named channel.
    pub fn name(s: &str) -> Channel {
        Channel::Name(Arc::from(s))
    }

    /// The 1-based number, if this is a numbered channel.
    pub fn number(&self) -> Option<u32> {
        match self {
            Channel::Number(n) => Some(*n),
            _ => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::None => Ok(()),
            Channel::Number(n) => write!(f, "{n}"),
            Channel::Name(s) => f.write_str(s),
        }
    }
}

/// Whether a frame was received by, or sent by, the capturing host.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Direction {
    /// Received.
    #[default]
    Rx,
    /// Sent by the capturing host.
    Tx,
}

/// A frame with its capture metadata: what a bus yields and a log holds.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Record {
    /// When the frame was seen.
    pub timestamp: Timestamp,
    /// Which bus it was seen on.
    pub channel: Channel,
    /// Received or sent.
    pub direction: Direction,
    /// The frame itself.
    pub frame: Frame,
}

impl Record {
    /// A received frame on no particular channel.
    pub fn new(timestamp: Timestamp, frame: Frame) -> Record {
        Record {
            timestamp,
            channel: Channel::None,
            direction: Direction::Rx,
            frame,
        }
    }

    /// The same record on another channel.
    pub fn with_channel(mut self, channel: Channel) -> Record {
        self.channel = channel;
        self
    }

    /// The same record with another direction.
    pub fn with_direction(mut self, direction: Direction) -> Record {
        self.direction = direction;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated_by_width() {
        assert_eq!(Id::standard(0x7FF).unwrap().raw(), 0x7FF);
        assert_eq!(
            Id::standard(0x800),
            Err(FrameError::StandardIdTooLarge(0x800))
        );
        assert!(Id::extended(0x1FFF_FFFF).unwrap().is_extended());
        assert_eq!(
            Id::extended(0x2000_0000),
            Err(FrameError::ExtendedIdTooLarge(0x2000_0000))
        );
        assert_eq!(Id::new(5, false).unwrap(), Id::Standard(5));
    }

    #[test]
    fn classic_frames_hold_at_most_8_bytes() {
        let id = Id::Standard(0x123);
        let f = Frame::data(id, &[1, 2, 3]).unwrap();
        assert_eq!((f.dlc(), f.len(), f.data_bytes()), (3, 3, &[1u8, 2, 3][..]));
        assert!(!f.is_fd() && !f.brs() && f.is_data());
        assert_eq!(Frame::data(id, &[0; 9]), Err(FrameError::ClassicTooLong(9)));
    }

    #[test]
    fn raw_dlc_needs_eight_bytes() {
        let id = Id::Standard(1);
        assert_eq!(Frame::data_with_dlc(id, &[0; 8], 14).unwrap().dlc(), 14);
        assert_eq!(Frame::data_with_dlc(id, &[0; 3], 3).unwrap().dlc(), 3);
        assert!(matches!(
            Frame::data_with_dlc(id, &[0; 7], 14),
            Err(FrameError::DlcMismatch { .. })
        ));
        assert!(matches!(
            Frame::data_with_dlc(id, &[0; 8], 16),
            Err(FrameError::BadDlc(16))
        ));
    }

    #[test]
    fn fd_lengths_are_the_valid_set() {
        let id = Id::Extended(0x1234);
        for (len, dlc) in [(0, 0), (8, 8), (12, 9), (20, 11), (48, 14), (64, 15)] {
            let f = Frame::fd(id, &vec![0xAA; len], FdFlags::default()).unwrap();
            assert_eq!((f.len(), f.dlc()), (len, dlc));
        }
        for bad in [9, 13, 63, 65] {
            assert_eq!(
                Frame::fd(id, &vec![0; bad], FdFlags::default()),
                Err(FrameError::BadFdLength(bad))
            );
        }
        let f = Frame::fd(
            id,
            &[1; 16],
            FdFlags {
                brs: true,
                esi: false,
            },
        )
        .unwrap();
        assert!(f.is_fd() && f.brs() && !f.esi());
    }

    #[test]
    fn remote_and_error_frames() {
        let r = Frame::remote(Id::Standard(0x123), 4).unwrap();
        assert!(r.is_remote() && r.is_empty() && r.dlc() == 4 && r.requested_len() == 4);
        assert!(Frame::remote(Id::Standard(1), 16).is_err());
        let e = Frame::error(0x80, &[0; 8]).unwrap();
        assert!(e.is_error() && e.id().is_extended() && e.id().raw() == 0x80);
        assert!(Frame::error(0x2000_0000, &[]).is_err());
    }

    #[test]
    fn fd_dlc_table() {
        assert_eq!(dlc_to_len(9), 12);
        assert_eq!(dlc_to_len(15), 64);
        assert_eq!(len_to_dlc(13), None);
        assert_eq!(fd_padded_len(13), Some(16));
        assert_eq!(fd_padded_len(65), None);
    }

    #[test]
    fn timestamps_split_and_join() {
        let t = Timestamp::from_parts(1_700_000_000, 123_456_789);
        assert_eq!((t.secs(), t.subsec_nanos()), (1_700_000_000, 123_456_789));
        assert_eq!(Timestamp::from_secs_f64(1.5).as_nanos(), 1_500_000_000);
        let neg = Timestamp(-1);
        assert_eq!((neg.secs(), neg.subsec_nanos()), (-1, 999_999_999));
    }

    #[test]
    fn frame_is_small_and_copy() {
        fn is_copy<T: Copy>() {}
        is_copy::<Frame>();
        assert!(std::mem::size_of::<Frame>() <= 80);
    }
}
