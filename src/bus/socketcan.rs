//! The `socketcan` backend: Linux kernel CAN interfaces (`can0`, `vcan0`,
//! `vxcan1`, or `any` for all of them) through a `CAN_RAW` socket.
//!
//! What the socket is set up to do:
//!
//! * **CAN FD**: `CAN_RAW_FD_FRAMES` is switched on whenever the kernel has it,
//!   so FD frames are received on every FD-capable interface; [`Bus::is_fd`] is
//!   true when the interface's MTU is the FD one. `--fd` ([`BusSettings::fd`])
//!   *configures* the interface for FD when it is not (MTU 72 on vcan/vxcan; FD
//!   control mode with the bitrates on real controllers), which needs root.
//!   Sending an FD frame on a non-FD interface is [`Error::NotFd`].
//! * **Bitrates**: `bitrate`/`data_bitrate` are set over netlink (the interface
//!   is taken down, configured, and brought up again).
//! * **Filters** are pushed down to the kernel, keeping [`FilterSet`]'s
//!   semantics: a pass list becomes `CAN_RAW_FILTER`; a reject-only list becomes
//!   inverted filters joined with `CAN_RAW_JOIN_FILTERS` (a frame must pass all
//!   of them); a list with both kinds pushes the pass filters and lets the library
//!   apply the rejects ([`Bus::set_filters`] returns false). The error mask goes
//!   to `CAN_RAW_ERR_FILTER`; by default every error class is delivered, as
//!   [`Frame::error`] frames ([`describe_error`] explains them).
//! * **Timestamps** are the kernel's receive time (`SO_TIMESTAMPNS`). With the
//!   bus option `timestamps=hardware`, `SO_TIMESTAMPING` is used and the
//!   controller's hardware time is taken when the driver provides one (it runs on
//!   the controller's clock, not necessarily the wall clock); software time
//!   otherwise.
//! * **Direction**: frames another socket of this host sent arrive flagged
//!   `MSG_DONTROUTE` and are recorded as [`Direction::Tx`]. The bus's own sends
//!   are never delivered back to it (`CAN_RAW_RECV_OWN_MSGS` off) but other
//!   sockets see them (`CAN_RAW_LOOPBACK` on).
//! * **Overflows**: `SO_RXQ_OVFL` counts frames the kernel dropped because the
//!   socket's queue was full; [`Bus::take_dropped`] reports the increase. The
//!   counter rides on received frames, so it is also read directly
//!   (`SO_MEMINFO`) whenever a wait times out and on [`Bus::close`]: drops after
//!   the last delivered frame are counted too.
//! * **Receive buffer**: the socket asks for 8 MiB (bus option `rcvbuf=BYTES`;
//!   0 keeps the system default), room for about 8,000 frames, a third of a
//!   second of a saturated 1 Mbit/s bus: `SO_RCVBUFFORCE` where permitted (root
//!   or CAP_NET_ADMIN), else `SO_RCVBUF`, which the kernel caps at twice
//!   `net.core.rmem_max` (often 416 KiB, about 550 frames; raise it with sysctl
//!   for unprivileged logging).
//! * **Batches**: frames are read up to 32 per `recvmmsg` call. With
//!   [`Bus::set_receive_latency`] (can-logger) the bus pauses between reads
//!   while it is not saturated, so that about 128 frames gather at the rate seen
//!   so far: one wake-up for many frames instead of one per frame. A pause never
//!   exceeds the latency, nor the time in which frames at 50,000 frames/s would
//!   half fill the receive buffer (80 ms with 8 MiB, 4 ms with the common
//!   416 KiB limit), and there is none when it would gather fewer than two
//!   frames (sparse traffic, or the first frame after a quiet spell: a burst
//!   then shows its rate in the next read). Only a virtual interface can go
//!   faster than 50,000 frames/s.
//! * **`any`** binds to every CAN interface; each record names the interface it
//!   came from (looked up once per interface index). Sending on `any` is refused.
//!
//! Errors name the interface: it does not exist, is not a CAN interface, is down
//! (`ENETDOWN`), or the operation needs privileges. An interface that goes down
//! while the bus is open makes [`Bus::recv`] fail once with an [`Error::Io`]
//! whose OS error is `ENETDOWN` ([`is_interface_down`] tells); the socket stays
//! bound, and receiving again resumes when the interface comes back up.
//!
//! [`bcm`] sends frames periodically from the kernel (`CAN_BCM`).

pub mod bcm;

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::batch::{self, Batching, Got, BATCH};
use super::{Bus, BusSettings};
use crate::error::{Error, Result};
use crate::filter::FilterSet;
use crate::frame::{Channel, Direction, FdFlags, Frame, Id, Kind, Record, Timestamp};

/// `can_id` flag: 29-bit frame.
pub const CAN_EFF_FLAG: u32 = 0x8000_0000;
/// `can_id` flag: remote frame.
pub const CAN_RTR_FLAG: u32 = 0x4000_0000;
/// `can_id` flag: error frame.
pub const CAN_ERR_FLAG: u32 = 0x2000_0000;
/// The error class bits of an error frame's `can_id`.
pub const CAN_ERR_MASK: u32 = 0x1FFF_FFFF;
const CAN_INV_FILTER: u32 = 0x2000_0000;
/// Size of a classic `struct can_frame`.
pub const CAN_MTU: usize = 16;
/// Size of a `struct canfd_frame`.
pub const CANFD_MTU: usize = 72;
const CANFD_BRS: u8 = 0x01;
const CANFD_ESI: u8 = 0x02;
const CANFD_FDF: u8 = 0x04;
const ARPHRD_CAN: u16 = 280;
const SIOCGIFFLAGS: libc::c_ulong = 0x8913;
const SIOCGIFMTU: libc::c_ulong = 0x8921;
const SIOCGIFHWADDR: libc::c_ulong = 0x8927;
const SOL_CAN_RAW: libc::c_int = 101;
const CAN_RAW_FILTER: libc::c_int = 1;
const CAN_RAW_ERR_FILTER: libc::c_int = 2;
const CAN_RAW_LOOPBACK: libc::c_int = 3;
const CAN_RAW_RECV_OWN_MSGS: libc::c_int = 4;
const CAN_RAW_FD_FRAMES: libc::c_int = 5;
const CAN_RAW_JOIN_FILTERS: libc::c_int = 6;
/// The kernel's limit on filters per socket.
const CAN_RAW_FILTER_MAX: usize = 512;
const SO_TIMESTAMPNS: libc::c_int = 35;
const SO_TIMESTAMPING: libc::c_int = 37;
const SO_RXQ_OVFL: libc::c_int = 40;
const SO_MEMINFO: libc::c_int = 55;
/// Index of the drop counter in `SO_MEMINFO`'s array.
const SK_MEMINFO_DROPS: usize = 8;
const SK_MEMINFO_VARS: usize = 9;
/// The receive buffer asked for unless `rcvbuf=` says otherwise.
const DEFAULT_RCVBUF: usize = 8 << 20;
/// Receive-buffer bytes one queued frame takes (the kernel charges the whole
/// socket buffer: 768 bytes for a classic frame on Linux 6.1; rounded up).
const QUEUED_FRAME_BYTES: usize = 1024;
const SOF_TIMESTAMPING_RX_HARDWARE: u32 = 1 << 2;
const SOF_TIMESTAMPING_RX_SOFTWARE: u32 = 1 << 3;
const SOF_TIMESTAMPING_SOFTWARE: u32 = 1 << 4;
const SOF_TIMESTAMPING_RAW_HARDWARE: u32 = 1 << 6;

/// The kernel's frame layout: `struct canfd_frame`, whose first 16 bytes are
/// also a classic `struct can_frame` (byte 5 is then padding, byte 7 `len8_dlc`).
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub(crate) struct RawFrame {
    pub can_id: u32,
    pub len: u8,
    pub flags: u8,
    pub res0: u8,
    pub len8_dlc: u8,
    pub data: [u8; 64],
}

impl RawFrame {
    pub(crate) const ZERO: RawFrame = RawFrame {
        can_id: 0,
        len: 0,
        flags: 0,
        res0: 0,
        len8_dlc: 0,
        data: [0; 64],
    };

    /// The kernel form of `frame` and its size on the wire (16 or 72 bytes).
    pub(crate) fn encode(frame: &Frame) -> Result<(RawFrame, usize)> {
        let mut raw = RawFrame::ZERO;
        raw.can_id = frame.id().raw();
        if frame.id().is_extended() {
            raw.can_id |= CAN_EFF_FLAG;
        }
        let bytes = frame.data_bytes();
        raw.data[..bytes.len()].copy_from_slice(bytes);
        raw.len = bytes.len() as u8;
        match (frame.kind(), frame.fd_flags()) {
            (Kind::Data, Some(f)) => {
                raw.flags = CANFD_FDF
                    | if f.brs { CANFD_BRS } else { 0 }
                    | if f.esi { CANFD_ESI } else { 0 };
                return Ok((raw, CANFD_MTU));
            }
            (_, Some(_)) => {
                return Err(Error::Unsupported(format!(
                    "a CAN FD {} frame cannot be sent ({frame})",
                    if frame.is_remote() { "remote" } else { "error" }
                )))
            }
            (Kind::Remote, None) => {
                raw.can_id |= CAN_RTR_FLAG;
                raw.len = frame.dlc().min(8);
            }
            (Kind::Error, None) => {
                // The error class is the 29-bit id; it is not an extended frame.
                raw.can_id = frame.id().raw() | CAN_ERR_FLAG;
            }
            (Kind::Data, None) => {}
        }
        if frame.dlc() > 8 {
            raw.len = 8;
            raw.len8_dlc = frame.dlc();
        }
        Ok((raw, CAN_MTU))
    }

    /// The frame this kernel buffer of `size` bytes holds.
    pub(crate) fn decode(&self, size: usize) -> std::result::Result<Frame, String> {
        let id_of = |extended: bool| {
            if extended {
                Id::extended(self.can_id & CAN_ERR_MASK)
            } else {
                Id::standard(self.can_id & 0x7FF)
            }
        };
        let extended = self.can_id & CAN_EFF_FLAG != 0;
        let made = if size == CANFD_MTU {
            let len = (self.len as usize).min(64);
            let flags = FdFlags {
                brs: self.flags & CANFD_BRS != 0,
                esi: self.flags & CANFD_ESI != 0,
            };
            id_of(extended).and_then(|id| Frame::fd(id, &self.data[..len], flags))
        } else if size == CAN_MTU {
            let len = (self.len as usize).min(8);
            let dlc = if len == 8 && (9..=15).contains(&self.len8_dlc) {
                self.len8_dlc
            } else {
                len as u8
            };
            if self.can_id & CAN_ERR_FLAG != 0 {
                Frame::error_with_dlc(self.can_id & CAN_ERR_MASK, &self.data[..len], dlc)
            } else if self.can_id & CAN_RTR_FLAG != 0 {
                id_of(extended).and_then(|id| Frame::remote(id, dlc))
            } else {
                id_of(extended).and_then(|id| Frame::data_with_dlc(id, &self.data[..len], dlc))
            }
        } else {
            return Err(format!(
                "the kernel delivered a {size}-byte frame (CAN XL?)"
            ));
        };
        made.map_err(|e| format!("the kernel delivered an invalid frame: {e}"))
    }
}

/// A `struct ifreq` for the interface ioctls.
#[repr(C, align(8))]
struct IfReq {
    name: [u8; 16],
    data: [u8; 24],
}

/// What the kernel says about an interface.
struct IfInfo {
    index: i32,
    up: bool,
    mtu: usize,
}

fn errno() -> io::Error {
    io::Error::last_os_error()
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    setsockopt_bytes(
        fd,
        level,
        name,
        value as *const T as *const libc::c_void,
        mem::size_of::<T>(),
    )
}

fn getsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v is a writable c_int of the size passed.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            &mut v as *mut _ as *mut libc::c_void,
            &mut len,
        )
    })?;
    Ok(v)
}

fn setsockopt_bytes(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    ptr: *const libc::c_void,
    len: usize,
) -> io::Result<()> {
    // SAFETY: ptr/len describe a live value owned by the caller.
    cvt(unsafe { libc::setsockopt(fd, level, name, ptr, len as libc::socklen_t) }).map(|_| ())
}

/// Opens a CAN socket of `proto` (raw or BCM), with a message naming the
/// missing kernel support when there is none.
pub(crate) fn can_socket(kind: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = cvt(unsafe { libc::socket(libc::PF_CAN, kind | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Interface index, state and MTU of `name`, checking that it is a CAN interface.
fn interface(fd: RawFd, name: &str) -> std::result::Result<IfInfo, String> {
    if name.is_empty() || name.len() >= 16 || name.contains('\0') || name.contains('/') {
        return Err("not a valid interface name".into());
    }
    let mut req = IfReq {
        name: [0; 16],
        data: [0; 24],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    let ioctl = |req: &mut IfReq, what: libc::c_ulong| -> io::Result<()> {
        // SAFETY: req is a properly sized ifreq for these SIOCGIF* requests.
        cvt(unsafe { libc::ioctl(fd, what as _, req as *mut IfReq) }).map(|_| ())
    };
    let exists = |e: io::Error| match e.raw_os_error() {
        Some(libc::ENODEV) => "no such network interface (see `ip link`)".to_string(),
        _ => format!("cannot query the interface: {e}"),
    };
    ioctl(&mut req, SIOCGIFHWADDR).map_err(exists)?;
    let family = u16::from_ne_bytes([req.data[0], req.data[1]]);
    if family != ARPHRD_CAN {
        return Err("not a CAN interface".into());
    }
    ioctl(&mut req, SIOCGIFFLAGS).map_err(exists)?;
    let flags = i16::from_ne_bytes([req.data[0], req.data[1]]);
    let up = flags as libc::c_int & libc::IFF_UP != 0;
    ioctl(&mut req, SIOCGIFMTU).map_err(exists)?;
    let mtu = i32::from_ne_bytes([req.data[0], req.data[1], req.data[2], req.data[3]]) as usize;
    let cname = std::ffi::CString::new(name).map_err(|_| "not a valid interface name")?;
    // SAFETY: cname is a valid C string.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) } as i32;
    if index == 0 {
        return Err("no such network interface (see `ip link`)".into());
    }
    Ok(IfInfo { index, up, mtu })
}

/// The name of interface `index`, if it still exists.
fn interface_name(index: i32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index as libc::c_uint, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// True if `err` is the error [`Bus::recv`] or [`Bus::send`] return when the
/// interface is down: keep the bus and call `recv` again (perhaps after a
/// pause); frames flow again once the interface is back up.
pub fn is_interface_down(err: &Error) -> bool {
    matches!(err, Error::Io { error, .. } if error.raw_os_error() == Some(libc::ENETDOWN))
}

/// True if `err` says the interface was deleted (`ENODEV`): the socket is no
/// longer bound, so the bus must be opened again (e.g. retried every second
/// until the interface exists again).
pub fn is_interface_gone(err: &Error) -> bool {
    // A send on a socket whose interface was deleted finds no device: ENXIO.
    matches!(err, Error::Io { error, .. }
        if matches!(error.raw_os_error(), Some(libc::ENODEV) | Some(libc::ENXIO)))
}

/// The `socketcan` backend's registry entry.
pub const BACKEND: super::Backend = super::Backend {
    name: "socketcan",
    help: "Linux SocketCAN network interfaces (can0, vcan0, any)",
    default_channel: "can0",
    options: &[
        ("timestamps", "hardware: the adapter's clock"),
        (
            "rcvbuf",
            "receive buffer in bytes, default 8 MiB; 0 keeps the system's",
        ),
    ],
    caps: super::Caps {
        kernel_filters: true,
        kernel_periodic: true,
        reconnect: true,
        fd: true,
        any_channel: true,
        bitrate: true,
    },
    open: |s| Ok(Box::new(SocketCanBus::open(s)?)),
};

/// A `CAN_RAW` socket on one interface or on all of them.
pub struct SocketCanBus {
    sock: OwnedFd,
    channel: String,
    /// `Channel::Name(channel)`, built once.
    record_channel: Channel,
    /// Bound interface index; 0 for `any`.
    ifindex: i32,
    /// The socket has `CAN_RAW_FD_FRAMES`.
    fd_frames: bool,
    /// The interface carries FD (MTU 72), or `any` with FD frames.
    fd_capable: bool,
    hw_timestamps: bool,
    /// Interface names by index, for `any`.
    names: HashMap<i32, Channel>,
    /// Last `SO_RXQ_OVFL` value seen, and the increase not yet taken.
    overflow_seen: u32,
    dropped: u64,
    /// Records read by the last batched receive and not yet returned.
    queue: std::collections::VecDeque<Result<Record>>,
    /// The buffers `recvmmsg` fills, allocated once (taken out while in use).
    bufs: Option<Box<RecvBufs>>,
    /// Pauses between reads ([`Bus::set_receive_latency`]).
    batching: Batching,
    /// Sends retried after the transmit queue was full, not yet taken.
    send_retries: u64,
}

/// Receive buffers for one `recvmmsg` batch. The pointers inside `msgs` and
/// `iovs` are set before every call.
struct RecvBufs {
    raws: [RawFrame; BATCH],
    iovs: [libc::iovec; BATCH],
    addrs: [libc::sockaddr_can; BATCH],
    cbufs: [CmsgBuf; BATCH],
    msgs: [libc::mmsghdr; BATCH],
}

// SAFETY: the raw pointers in RecvBufs only ever point into the same box and
// are rewritten before each use.
unsafe impl Send for RecvBufs {}

impl RecvBufs {
    fn new() -> Box<RecvBufs> {
        Box::new(RecvBufs {
            raws: [RawFrame::ZERO; BATCH],
            // SAFETY: all-zero iovec, sockaddr_can and mmsghdr are valid values.
            iovs: unsafe { mem::zeroed() },
            addrs: unsafe { mem::zeroed() },
            cbufs: [CmsgBuf([0; 256]); BATCH],
            msgs: unsafe { mem::zeroed() },
        })
    }
}

impl SocketCanBus {
    /// Opens `settings.channel` (`can0`, `vcan0`, ..., or `any`).
    pub fn open(settings: &BusSettings) -> Result<SocketCanBus> {
        let rcvbuf: usize = settings.option("rcvbuf")?.unwrap_or(DEFAULT_RCVBUF);
        let hw_timestamps = match settings.options.get("timestamps").map(String::as_str) {
            None | Some("software") => false,
            Some("hardware") => true,
            Some(other) => {
                return Err(settings.error(format!(
                    "bad value '{other}' for option 'timestamps' (software or hardware)"
                )))
            }
        };
        let name = settings.channel.as_str();
        let fail = |msg: String| settings.error(msg);
        let sock = can_socket(libc::SOCK_RAW, libc::CAN_RAW).map_err(|e| {
            fail(match e.raw_os_error() {
                Some(libc::EAFNOSUPPORT) | Some(libc::EPROTONOSUPPORT) => {
                    "this kernel has no SocketCAN support (modprobe can-raw)".to_string()
                }
                Some(libc::EACCES) | Some(libc::EPERM) => {
                    "permission denied opening a CAN socket".to_string()
                }
                _ => format!("cannot open a CAN socket: {e}"),
            })
        })?;
        let fd = sock.as_raw_fd();
        let any = name == "any";
        let mut info = if any {
            IfInfo {
                index: 0,
                up: true,
                mtu: CANFD_MTU,
            }
        } else {
            interface(fd, name).map_err(fail)?
        };
        if !any
            && (settings.bitrate.is_some()
                || settings.data_bitrate.is_some()
                || settings.fd && info.mtu != CANFD_MTU)
        {
            configure(settings, &info)?;
            info = interface(fd, name).map_err(fail)?;
        }
        if !info.up {
            return Err(fail(format!(
                "the interface is down (ip link set {name} up)"
            )));
        }

        let on: libc::c_int = 1;
        let off: libc::c_int = 0;
        let opt = |level, opt, v: &libc::c_int, what: &str| {
            setsockopt(fd, level, opt, v).map_err(|e| fail(format!("cannot set {what}: {e}")))
        };
        // FD frames whenever the kernel can (older kernels: classic only).
        let fd_frames = setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on).is_ok();
        if settings.fd && !fd_frames {
            return Err(fail(
                "this kernel cannot send or receive CAN FD frames".into(),
            ));
        }
        opt(SOL_CAN_RAW, CAN_RAW_LOOPBACK, &on, "CAN_RAW_LOOPBACK")?;
        opt(
            SOL_CAN_RAW,
            CAN_RAW_RECV_OWN_MSGS,
            &off,
            "CAN_RAW_RECV_OWN_MSGS",
        )?;
        let all_errors: u32 = CAN_ERR_MASK;
        setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &all_errors)
            .map_err(|e| fail(format!("cannot set CAN_RAW_ERR_FILTER: {e}")))?;
        opt(libc::SOL_SOCKET, SO_RXQ_OVFL, &on, "SO_RXQ_OVFL")?;
        if rcvbuf > 0 {
            // The kernel doubles the value (bookkeeping overhead) and, without
            // CAP_NET_ADMIN, caps it at net.core.rmem_max.
            let want = (rcvbuf / 2).min(i32::MAX as usize) as libc::c_int;
            if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &want).is_err() {
                opt(libc::SOL_SOCKET, libc::SO_RCVBUF, &want, "SO_RCVBUF")?;
            }
        }
        let got = getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap_or(0);
        if rcvbuf > 0 && (got.max(0) as usize) < rcvbuf {
            log::info!(
                "{name}: receive buffer {got} bytes, not the {rcvbuf} asked for \
                 (net.core.rmem_max caps it without CAP_NET_ADMIN; raise it with \
                 sysctl -w net.core.rmem_max={rcvbuf} for fewer drops and fewer wake-ups)"
            );
        } else {
            log::debug!("{name}: receive buffer {got} bytes");
        }
        // Pauses that half fill the buffer at the design rate, at most.
        let max_pause = batch::max_pause_for(got.max(0) as u64 / QUEUED_FRAME_BYTES as u64);
        let mut hw = false;
        if hw_timestamps {
            let flags: u32 = SOF_TIMESTAMPING_RX_HARDWARE
                | SOF_TIMESTAMPING_RAW_HARDWARE
                | SOF_TIMESTAMPING_RX_SOFTWARE
                | SOF_TIMESTAMPING_SOFTWARE;
            hw = setsockopt(fd, libc::SOL_SOCKET, SO_TIMESTAMPING, &flags).is_ok();
        }
        if !hw {
            opt(libc::SOL_SOCKET, SO_TIMESTAMPNS, &on, "SO_TIMESTAMPNS")?;
        }

        // SAFETY: an all-zero sockaddr_can is valid; we fill family and index.
        let mut addr: libc::sockaddr_can = unsafe { mem::zeroed() };
        addr.can_family = libc::AF_CAN as libc::sa_family_t;
        addr.can_ifindex = info.index;
        // SAFETY: addr is a sockaddr_can of the size we pass.
        cvt(unsafe {
            libc::bind(
                fd,
                &addr as *const libc::sockaddr_can as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_can>() as libc::socklen_t,
            )
        })
        .map_err(|e| {
            fail(match e.raw_os_error() {
                Some(libc::ENODEV) => "no such network interface (see `ip link`)".to_string(),
                Some(libc::ENETDOWN) => format!("the interface is down (ip link set {name} up)"),
                Some(libc::EACCES) | Some(libc::EPERM) => {
                    "permission denied binding to the interface".to_string()
                }
                _ => format!("cannot bind to the interface: {e}"),
            })
        })?;

        Ok(SocketCanBus {
            sock,
            channel: name.to_string(),
            record_channel: Channel::name(name),
            ifindex: info.index,
            fd_frames,
            fd_capable: fd_frames && info.mtu == CANFD_MTU,
            hw_timestamps: hw,
            names: HashMap::new(),
            overflow_seen: 0,
            dropped: 0,
            queue: std::collections::VecDeque::with_capacity(BATCH),
            bufs: None,
            batching: Batching::new(max_pause),
            send_retries: 0,
        })
    }

    /// Takes a kernel drop counter value (from a frame or `SO_MEMINFO`). Values
    /// are compared by wrapping distance: a frame queued before a later
    /// `SO_MEMINFO` reading carries an older, smaller value.
    fn saw_drop_counter(&mut self, count: u32) {
        let ahead = count.wrapping_sub(self.overflow_seen);
        if ahead > 0 && ahead < 1 << 31 {
            self.dropped += ahead as u64;
            self.overflow_seen = count;
        }
    }

    /// Reads the kernel's drop counter for this socket now.
    fn sync_drops(&mut self) {
        let mut info = [0u32; SK_MEMINFO_VARS];
        let mut len = mem::size_of_val(&info) as libc::socklen_t;
        // SAFETY: info is a writable buffer of `len` bytes.
        let r = unsafe {
            libc::getsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_MEMINFO,
                info.as_mut_ptr() as *mut libc::c_void,
                &mut len,
            )
        };
        if r == 0 && len as usize > SK_MEMINFO_DROPS * 4 {
            self.saw_drop_counter(info[SK_MEMINFO_DROPS]);
        }
    }

    fn io_error(&self, doing: &str, e: io::Error) -> Error {
        let what = match e.raw_os_error() {
            Some(libc::ENETDOWN) => format!(
                "{doing} on '{}': the interface is down (frames resume when it is up again)",
                self.channel
            ),
            Some(libc::ENODEV) | Some(libc::ENXIO) => {
                format!("{doing} on '{}': the interface is gone", self.channel)
            }
            Some(libc::EACCES) | Some(libc::EPERM) => {
                format!("{doing} on '{}': permission denied", self.channel)
            }
            _ => format!("{doing} on '{}'", self.channel),
        };
        Error::io(what, e)
    }

    /// The channel of a record that arrived from interface `index`.
    fn channel_of(&mut self, index: i32) -> Channel {
        if self.ifindex != 0 || index == 0 {
            return self.record_channel.clone();
        }
        if let Some(c) = self.names.get(&index) {
            return c.clone();
        }
        let c = Channel::name(&interface_name(index).unwrap_or_else(|| format!("if{index}")));
        self.names.insert(index, c.clone());
        c
    }

    /// Pushes `filters` with `join` semantics; false if the kernel refused.
    fn push_filters(&self, filters: &[(u32, u32)], join: bool) -> Result<bool> {
        let fd = self.sock.as_raw_fd();
        let list: Vec<libc::can_filter> = filters
            .iter()
            .map(|&(can_id, can_mask)| libc::can_filter { can_id, can_mask })
            .collect();
        let join_v: libc::c_int = join as libc::c_int;
        if setsockopt(fd, SOL_CAN_RAW, CAN_RAW_JOIN_FILTERS, &join_v).is_err() && join {
            return Ok(false); // kernel before 4.1: let the library filter
        }
        let r = setsockopt_bytes(
            fd,
            SOL_CAN_RAW,
            CAN_RAW_FILTER,
            list.as_ptr() as *const libc::c_void,
            list.len() * mem::size_of::<libc::can_filter>(),
        );
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(false),
            Err(e) => Err(self.io_error("setting filters", e)),
        }
    }

    /// The interface index this bus is bound to (0 for `any`).
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// The socket's receive buffer in bytes as the kernel reports it: what
    /// `rcvbuf=` asked for, bookkeeping included, unless `net.core.rmem_max`
    /// capped it. Each queued classic frame takes about 768 bytes of it.
    pub fn receive_buffer(&self) -> usize {
        getsockopt_int(self.sock.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap_or(0)
            as usize
    }
}

/// Applies `--bitrate`, `--data-bitrate` and `--fd` over netlink where the
/// interface differs: down, configure, up. Virtual interfaces (vcan, vxcan) have
/// no bit timing: their bitrates are ignored and FD is only the MTU. Nothing is
/// touched (and no privilege needed) when the interface already matches.
fn configure(settings: &BusSettings, info: &IfInfo) -> Result<()> {
    use socketcan::nl::{CanCtrlMode, CanInterface, Mtu};
    let name = &settings.channel;
    let iface = CanInterface::open_iface(info.index as u32);
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        let text = e.to_string();
        let denied = text.contains("Operation not permitted") || text.contains("EPERM");
        settings.error(if denied {
            format!("permission denied {what} (needs root or CAP_NET_ADMIN)")
        } else {
            format!("cannot configure the interface ({what}): {text}")
        })
    };
    let bitrate = iface.bit_rate().ok().flatten();
    let virtual_iface = bitrate.is_none();
    if virtual_iface && (settings.bitrate.is_some() || settings.data_bitrate.is_some()) {
        log::info!("{name} is a virtual CAN interface: bitrates ignored");
    }
    let data_bitrate = iface.data_bit_timing().ok().flatten().map(|t| t.bitrate);
    let set_bitrate = settings
        .bitrate
        .filter(|&b| !virtual_iface && Some(b) != bitrate);
    let set_data = settings
        .data_bitrate
        .filter(|&b| !virtual_iface && Some(b) != data_bitrate);
    let set_fd = settings.fd && info.mtu != CANFD_MTU;
    if set_bitrate.is_none() && set_data.is_none() && !set_fd {
        return Ok(());
    }
    iface
        .bring_down()
        .map_err(|e| fail("taking the interface down", &e))?;
    let result = (|| {
        if let Some(b) = set_bitrate {
            iface
                .set_bitrate(b, None::<u32>)
                .map_err(|e| fail("setting the bitrate", &e))?;
        }
        if set_fd {
            if virtual_iface {
                iface
                    .set_mtu(Mtu::Fd)
                    .map_err(|e| fail("setting MTU 72 for CAN FD", &e))?;
            } else {
                iface
                    .set_ctrlmode(CanCtrlMode::Fd, true)
                    .map_err(|e| fail("switching CAN FD on", &e))?;
            }
        }
        if let Some(b) = set_data {
            iface
                .set_data_bitrate(b, None::<u32>)
                .map_err(|e| fail("setting the data bitrate", &e))?;
        }
        Ok(())
    })();
    let up = iface
        .bring_up()
        .map_err(|e| fail("bringing the interface up", &e));
    result.and(up)
}

/// Control-message buffer for recvmsg, aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct CmsgBuf([u8; 256]);

impl SocketCanBus {
    /// Reads a batch into `bufs` (waiting up to `deadline` for the first frame),
    /// queues its records and returns the first.
    fn recv_into(
        &mut self,
        fd: RawFd,
        deadline: Option<std::time::Instant>,
        bufs: &mut RecvBufs,
    ) -> Result<Option<Record>> {
        // Read first and wait only when the queue is empty: one system call per
        // batch of frames under load.
        let read = || {
            for i in 0..BATCH {
                bufs.iovs[i].iov_base = &mut bufs.raws[i] as *mut RawFrame as *mut libc::c_void;
                bufs.iovs[i].iov_len = mem::size_of::<RawFrame>();
                let m = &mut bufs.msgs[i].msg_hdr;
                m.msg_iov = &mut bufs.iovs[i];
                m.msg_iovlen = 1;
                m.msg_name = &mut bufs.addrs[i] as *mut libc::sockaddr_can as *mut libc::c_void;
                m.msg_namelen = mem::size_of::<libc::sockaddr_can>() as libc::socklen_t;
                m.msg_control = bufs.cbufs[i].0.as_mut_ptr() as *mut libc::c_void;
                m.msg_controllen = bufs.cbufs[i].0.len() as _;
                m.msg_flags = 0;
                bufs.msgs[i].msg_len = 0;
            }
            // SAFETY: every mmsghdr points at live buffers of the sizes given.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    bufs.msgs.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n < 0 {
                Err(errno())
            } else {
                Ok(n as usize)
            }
        };
        let n = match batch::read_batch(fd, deadline, &mut self.batching, read) {
            Ok(Got::Frames(n)) => n,
            Ok(Got::Empty | Got::Interrupted) => return Ok(None),
            // A wait timed out: drops after the last frame are counted too.
            Ok(Got::TimedOut) => {
                self.sync_drops();
                return Ok(None);
            }
            Err(e) => return Err(self.io_error("receiving", e)),
        };
        for i in 0..n {
            let rec = self.decode_msg(
                &bufs.raws[i],
                bufs.msgs[i].msg_len as usize,
                &bufs.msgs[i].msg_hdr,
                bufs.addrs[i].can_ifindex,
            );
            self.queue.push_back(rec);
        }
        if !self.batching.latency.is_zero() {
            let times = || {
                self.queue
                    .iter()
                    .filter_map(|r| r.as_ref().ok().map(|r| r.timestamp.0))
            };
            let (first, last) = (times().next(), times().next_back());
            self.batching.after_read(n, first, last);
        }
        match self.queue.pop_front() {
            Some(r) => r.map(Some),
            None => Ok(None),
        }
    }

    /// One received message as a record: the frame, its kernel (or hardware)
    /// timestamp, direction and channel; counts kernel drops on the way.
    fn decode_msg(
        &mut self,
        raw: &RawFrame,
        n: usize,
        msg: &libc::msghdr,
        ifindex: i32,
    ) -> Result<Record> {
        let frame = raw.decode(n).map_err(|m| Error::Bus {
            interface: "socketcan".into(),
            channel: self.channel.clone(),
            message: m,
        })?;
        let mut timestamp = None;
        let mut hw = None;
        // SAFETY: walking the control messages the kernel wrote into msg.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(msg);
            while !c.is_null() {
                let h = &*c;
                let data = libc::CMSG_DATA(c);
                if h.cmsg_level == libc::SOL_SOCKET {
                    match h.cmsg_type {
                        SO_TIMESTAMPNS => {
                            let ts = std::ptr::read_unaligned(data as *const libc::timespec);
                            timestamp = Some(Timestamp::from_parts(ts.tv_sec, ts.tv_nsec as u32));
                        }
                        SO_TIMESTAMPING => {
                            let ts = std::ptr::read_unaligned(data as *const [libc::timespec; 3]);
                            if ts[0].tv_sec != 0 || ts[0].tv_nsec != 0 {
                                timestamp =
                                    Some(Timestamp::from_parts(ts[0].tv_sec, ts[0].tv_nsec as u32));
                            }
                            if ts[2].tv_sec != 0 || ts[2].tv_nsec != 0 {
                                hw =
                                    Some(Timestamp::from_parts(ts[2].tv_sec, ts[2].tv_nsec as u32));
                            }
                        }
                        SO_RXQ_OVFL => {
                            self.saw_drop_counter(std::ptr::read_unaligned(data as *const u32));
                        }
                        _ => {}
                    }
                }
                c = libc::CMSG_NXTHDR(msg, c);
            }
        }
        let timestamp = match (self.hw_timestamps, hw, timestamp) {
            (true, Some(h), _) => h,
            (_, _, Some(t)) => t,
            _ => Timestamp::now(),
        };
        let direction = if msg.msg_flags & libc::MSG_DONTROUTE != 0 {
            Direction::Tx
        } else {
            Direction::Rx
        };
        let channel = self.channel_of(ifindex);
        Ok(Record {
            timestamp,
            channel,
            direction,
            frame,
        })
    }
}

impl Bus for SocketCanBus {
    fn outage(&self, err: &Error) -> Option<crate::bus::Outage> {
        if is_interface_down(err) {
            Some(crate::bus::Outage::Down)
        } else if is_interface_gone(err) {
            Some(crate::bus::Outage::Gone)
        } else {
            None
        }
    }

    /// The kernel's broadcast manager sends the cycle when it can hold it (at
    /// most [`bcm::MAX_FRAMES`], all classic or all FD, a named interface).
    fn send_periodic(
        &mut self,
        frames: &[Frame],
        period: Duration,
        count: Option<u32>,
    ) -> Result<Option<Box<dyn crate::bus::PeriodicTask>>> {
        let fd = frames.first().is_some_and(Frame::is_fd);
        if self.ifindex == 0
            || frames.is_empty()
            || frames.len() > bcm::MAX_FRAMES
            || frames.iter().any(|f| f.is_fd() != fd)
        {
            return Ok(None);
        }
        let task = bcm::send_periodic(&self.channel, frames, period, count)?;
        Ok(Some(Box::new(task)))
    }

    fn send(&mut self, frame: &Frame) -> Result<()> {
        if self.ifindex == 0 {
            return Err(Error::Unsupported(
                "cannot send on socketcan channel 'any': name an interface".into(),
            ));
        }
        if frame.is_fd() && !self.fd_capable {
            return Err(Error::NotFd {
                interface: "socketcan".into(),
                channel: self.channel.clone(),
                frame: frame.to_string(),
            });
        }
        let (raw, size) = RawFrame::encode(frame)?;
        let fd = self.sock.as_raw_fd();
        let mut waited = Duration::ZERO;
        let mut retried = false;
        loop {
            // SAFETY: raw is a live RawFrame of at least `size` bytes.
            let n =
                unsafe { libc::write(fd, &raw as *const RawFrame as *const libc::c_void, size) };
            if n == size as isize {
                return Ok(());
            }
            let e = if n < 0 {
                errno()
            } else {
                io::Error::new(io::ErrorKind::WriteZero, "short write")
            };
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                // The interface's transmit queue is full: wait for it to drain.
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) if waited < Duration::from_secs(1) => {
                    if !retried {
                        retried = true;
                        self.send_retries += 1;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                    waited += Duration::from_micros(200);
                }
                Some(libc::EINVAL) if frame.is_fd() => {
                    return Err(Error::Unsupported(format!(
                        "socketcan channel '{}' refused the CAN FD frame {frame} (MTU is not 72)",
                        self.channel
                    )))
                }
                _ => return Err(self.io_error("sending", e)),
            }
        }
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        if let Some(r) = self.queue.pop_front() {
            return r.map(Some);
        }
        let fd = self.sock.as_raw_fd();
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut bufs = self.bufs.take().unwrap_or_else(RecvBufs::new);
        let result = self.recv_into(fd, deadline, &mut bufs);
        self.bufs = Some(bufs);
        result
    }

    fn channel(&self) -> &str {
        &self.channel
    }

    fn is_fd(&self) -> bool {
        self.fd_capable
    }

    fn set_filters(&mut self, filters: &FilterSet) -> Result<bool> {
        let fd = self.sock.as_raw_fd();
        let err_mask: u32 = filters.error_mask.unwrap_or(CAN_ERR_MASK) & CAN_ERR_MASK;
        setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &err_mask)
            .map_err(|e| self.io_error("setting the error filter", e))?;
        let pass: Vec<(u32, u32)> = filters
            .pass
            .iter()
            .map(|f| (f.can_id, f.can_mask))
            .collect();
        let reject: Vec<(u32, u32)> = filters
            .reject
            .iter()
            .map(|f| (f.can_id | CAN_INV_FILTER, f.can_mask))
            .collect();
        if pass.len() > CAN_RAW_FILTER_MAX || reject.len() > CAN_RAW_FILTER_MAX {
            self.push_filters(&[(0, 0)], false)?;
            return Ok(false);
        }
        match (pass.is_empty(), reject.is_empty()) {
            // Only an error mask (or nothing): every data and remote frame.
            (true, true) => self.push_filters(&[(0, 0)], false),
            (false, true) => self.push_filters(&pass, false),
            // Every inverted filter must match: "none of the rejected ids".
            (true, false) => self.push_filters(&reject, true),
            // Pass list in the kernel, rejects in the library.
            (false, false) => {
                self.push_filters(&pass, false)?;
                Ok(false)
            }
        }
    }

    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        let sock = self
            .sock
            .try_clone()
            .map_err(|e| self.io_error("duplicating the socket", e))?;
        Ok(Box::new(SocketCanBus {
            sock,
            channel: self.channel.clone(),
            record_channel: self.record_channel.clone(),
            ifindex: self.ifindex,
            fd_frames: self.fd_frames,
            fd_capable: self.fd_capable,
            hw_timestamps: self.hw_timestamps,
            names: self.names.clone(),
            overflow_seen: self.overflow_seen,
            dropped: 0,
            queue: std::collections::VecDeque::with_capacity(BATCH),
            bufs: None,
            batching: Batching::new(self.batching.max_pause),
            send_retries: 0,
        }))
    }

    fn take_dropped(&mut self) -> u64 {
        mem::take(&mut self.dropped)
    }

    fn take_send_retries(&mut self) -> u64 {
        mem::take(&mut self.send_retries)
    }

    /// Receives nothing from now on (no filter passes, no error class), so
    /// that the kernel queues nothing for a socket nobody reads.
    fn set_send_only(&mut self) {
        let fd = self.sock.as_raw_fd();
        let none: u32 = 0;
        let _ = setsockopt_bytes(fd, SOL_CAN_RAW, CAN_RAW_FILTER, std::ptr::null(), 0);
        let _ = setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &none);
    }

    fn set_receive_latency(&mut self, max: Duration) {
        self.batching.set_latency(max);
    }

    fn close(&mut self) -> Result<()> {
        self.sync_drops();
        Ok(())
    }
}

pub use crate::frame::error_class::describe_error;

#[cfg(test)]
mod tests {
    use super::*;

    use crate::frame::text::parse_frame;

    fn round_trip(text: &str) {
        let f = parse_frame(text).unwrap();
        let (raw, size) = RawFrame::encode(&f).unwrap();
        assert_eq!(raw.decode(size).unwrap(), f, "{text}");
    }

    #[test]
    fn kernel_layout_round_trips() {
        for t in [
            "123#DEADBEEF",
            "1ABCDEF0#00",
            "123#R",
            "123#R3",
            "7FF#1122334455667788_E",
            "123##1112233",
            "00000123##3",
            "20000080#0000000000000000",
        ] {
            round_trip(t);
        }
        assert_eq!(mem::size_of::<RawFrame>(), CANFD_MTU);
    }

    #[test]
    fn kernel_bits_are_set() {
        let (raw, size) = RawFrame::encode(&parse_frame("12345678#R").unwrap()).unwrap();
        assert_eq!(
            (raw.can_id, size),
            (0x1234_5678 | CAN_EFF_FLAG | CAN_RTR_FLAG, 16)
        );
        let (raw, size) = RawFrame::encode(&parse_frame("123##3AA").unwrap()).unwrap();
        assert_eq!((raw.flags, raw.len, size), (0x07, 1, 72));
        let (raw, _) = RawFrame::encode(&parse_frame("20000040#").unwrap()).unwrap();
        assert_eq!(raw.can_id, CAN_ERR_FLAG | 0x40);
        let bad = parse_frame("123#R")
            .unwrap()
            .with_fd_flags(FdFlags::default());
        assert!(matches!(RawFrame::encode(&bad), Err(Error::Unsupported(_))));
        assert!(RawFrame::ZERO.decode(20).is_err());
    }

    #[test]
    fn error_frames_are_described() {
        let e = |t: &str| describe_error(&parse_frame(t).unwrap());
        assert_eq!(e("20000040#0000000000000000"), "bus-off");
        assert_eq!(e("20000020#"), "no ACK on transmission");
        assert_eq!(
            e("20000204#0010000000000087"),
            "controller: RX error passive; counters TX 0 RX 135"
        );
        assert_eq!(
            e("20000088#0000020A00000000"),
            "protocol: form error in data field; bus error"
        );
        assert_eq!(e("20000010#0000000004000000"), "transceiver: CANH no wire");
        assert_eq!(e("123#"), "");
    }
}
