//! Periodic sending by the kernel's broadcast manager (`CAN_BCM`): the kernel
//! itself transmits the frames at a fixed period, with far less jitter than a
//! user-space loop, and keeps doing so while the [`BcmTask`] lives.
//!
//! ```no_run
//! # use std::time::Duration;
//! # use cankit::frame::text::parse_frame;
//! use cankit::bus::socketcan::bcm;
//! let frame = parse_frame("123#DEADBEEF").unwrap();
//! // 10 frames, one every 100 ms; `wait` returns once the kernel sent them all.
//! let task = bcm::send_periodic("vcan0", &[frame], Duration::from_millis(100), Some(10))?;
//! task.wait(None)?;
//! # Ok::<(), cankit::Error>(())
//! ```

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use super::{can_socket, interface, RawFrame, CANFD_MTU, CAN_MTU};
use crate::error::{Error, Result};
use crate::frame::Frame;

const TX_SETUP: u32 = 1;
const TX_DELETE: u32 = 2;
const TX_EXPIRED: u32 = 9;
const SETTIMER: u32 = 0x0001;
const STARTTIMER: u32 = 0x0002;
const TX_COUNTEVT: u32 = 0x0004;
const CAN_FD_FRAME: u32 = 0x0800;
/// The most frames one BCM task cycles through.
pub const MAX_FRAMES: usize = 256;

/// `struct bcm_msg_head` (x86-64 / LP64 layout; the frames follow it).
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct MsgHead {
    opcode: u32,
    flags: u32,
    count: u32,
    ival1: libc::timeval,
    ival2: libc::timeval,
    can_id: u32,
    nframes: u32,
}

const HEAD: usize = mem::size_of::<MsgHead>();

fn timeval(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    }
}

/// A periodic transmission running in the kernel. Dropping it (or [`stop`])
/// ends the transmission.
///
/// [`stop`]: BcmTask::stop
pub struct BcmTask {
    sock: OwnedFd,
    channel: String,
    can_id: u32,
    counted: bool,
}

/// Starts sending `frames` on interface `channel` every `period`, cycling
/// through them in order (one frame per period). With `count`, the kernel sends
/// `count` frames in total and stops; without, it sends until the task is
/// stopped or dropped.
///
/// All frames must be classic or all CAN FD (on an FD interface); at most
/// [`MAX_FRAMES`]. The first transmission happens immediately.
pub fn send_periodic(
    channel: &str,
    frames: &[Frame],
    period: Duration,
    count: Option<u32>,
) -> Result<BcmTask> {
    let fail = |m: String| Error::Bus {
        interface: "socketcan".into(),
        channel: channel.to_string(),
        message: m,
    };
    if frames.is_empty() || frames.len() > MAX_FRAMES {
        return Err(fail(format!(
            "a periodic task needs 1 to {MAX_FRAMES} frames, not {}",
            frames.len()
        )));
    }
    if period.is_zero() {
        return Err(fail("the period must be above zero".into()));
    }
    if count == Some(0) {
        return Err(fail("the count must be at least 1".into()));
    }
    let fd_frames = frames[0].is_fd();
    if frames.iter().any(|f| f.is_fd() != fd_frames) {
        return Err(Error::Unsupported(
            "a periodic task sends either classic or CAN FD frames, not both".into(),
        ));
    }
    let sock = can_socket(libc::SOCK_DGRAM, libc::CAN_BCM).map_err(|e| {
        fail(match e.raw_os_error() {
            Some(libc::EPROTONOSUPPORT) | Some(libc::EAFNOSUPPORT) => {
                "this kernel has no CAN broadcast manager (modprobe can-bcm)".into()
            }
            _ => format!("cannot open a CAN_BCM socket: {e}"),
        })
    })?;
    let fd = sock.as_raw_fd();
    let info = interface(fd, channel).map_err(|m| fail(format!("interface '{channel}': {m}")))?;
    if !info.up {
        return Err(fail(format!(
            "interface '{channel}' is down (ip link set {channel} up)"
        )));
    }
    if fd_frames && info.mtu != CANFD_MTU {
        return Err(Error::Unsupported(format!(
            "socketcan channel '{channel}' is not CAN FD capable"
        )));
    }
    // SAFETY: an all-zero sockaddr_can is valid; we fill family and index.
    let mut addr: libc::sockaddr_can = unsafe { mem::zeroed() };
    addr.can_family = libc::AF_CAN as libc::sa_family_t;
    addr.can_ifindex = info.index;
    // SAFETY: addr is a sockaddr_can of the size we pass.
    let r = unsafe {
        libc::connect(
            fd,
            &addr as *const libc::sockaddr_can as *const libc::sockaddr,
            mem::size_of::<libc::sockaddr_can>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(fail(format!(
            "cannot connect to interface '{channel}': {}",
            io::Error::last_os_error()
        )));
    }

    let frame_size = if fd_frames { CANFD_MTU } else { CAN_MTU };
    let mut raws = Vec::with_capacity(frames.len());
    for f in frames {
        raws.push(RawFrame::encode(f)?.0);
    }
    let (ival1, ival2, count_v) = match count {
        Some(n) => (timeval(period), timeval(Duration::ZERO), n),
        None => (timeval(Duration::ZERO), timeval(period), 0),
    };
    let mut flags = SETTIMER | STARTTIMER;
    if count.is_some() {
        flags |= TX_COUNTEVT;
    }
    if fd_frames {
        flags |= CAN_FD_FRAME;
    }
    let head = MsgHead {
        opcode: TX_SETUP,
        flags,
        count: count_v,
        ival1,
        ival2,
        can_id: raws[0].can_id,
        nframes: raws.len() as u32,
    };
    let mut msg = Vec::with_capacity(HEAD + frame_size * raws.len());
    // SAFETY: MsgHead and RawFrame are plain repr(C) data; we copy their bytes.
    unsafe {
        msg.extend_from_slice(std::slice::from_raw_parts(
            &head as *const MsgHead as *const u8,
            HEAD,
        ));
        for r in &raws {
            msg.extend_from_slice(std::slice::from_raw_parts(
                r as *const RawFrame as *const u8,
                frame_size,
            ));
        }
    }
    let task = BcmTask {
        sock,
        channel: channel.to_string(),
        can_id: head.can_id,
        counted: count.is_some(),
    };
    task.write(&msg, "starting the periodic task")?;
    Ok(task)
}

impl BcmTask {
    fn write(&self, msg: &[u8], doing: &str) -> Result<()> {
        // SAFETY: msg is a live byte buffer.
        let n = unsafe {
            libc::write(
                self.sock.as_raw_fd(),
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
            )
        };
        if n == msg.len() as isize {
            Ok(())
        } else {
            Err(Error::io(
                format!("{doing} on '{}'", self.channel),
                io::Error::last_os_error(),
            ))
        }
    }

    /// Waits up to `timeout` (forever with `None`) for a counted task to finish
    /// (the kernel reports `TX_EXPIRED` after the last frame). True when it
    /// finished; false on timeout. A task without a count never finishes.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        if !self.counted {
            if let Some(t) = timeout {
                std::thread::sleep(t);
            }
            return Ok(false);
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    left.as_millis().min(i32::MAX as u128) as libc::c_int
                }
            };
            let mut pfd = libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r == 0 {
                return Ok(false);
            }
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::io(format!("waiting on '{}'", self.channel), e));
            }
            let mut buf = [0u8; HEAD + CANFD_MTU];
            // SAFETY: buf is a live byte buffer of the size given.
            let n = unsafe {
                libc::read(
                    self.sock.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::io(format!("waiting on '{}'", self.channel), e));
            }
            if n as usize >= 4 && u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) == TX_EXPIRED
            {
                return Ok(true);
            }
        }
    }

    /// Stops the transmission now.
    pub fn stop(self) -> Result<()> {
        let head = MsgHead {
            opcode: TX_DELETE,
            flags: 0,
            count: 0,
            ival1: timeval(Duration::ZERO),
            ival2: timeval(Duration::ZERO),
            can_id: self.can_id,
            nframes: 0,
        };
        // SAFETY: MsgHead is plain repr(C) data.
        let bytes =
            unsafe { std::slice::from_raw_parts(&head as *const MsgHead as *const u8, HEAD) };
        match self.write(bytes, "stopping the periodic task") {
            // A counted task that already ended is gone from the kernel.
            Err(Error::Io { error, .. }) if error.raw_os_error() == Some(libc::EINVAL) => Ok(()),
            r => r,
        }
    }

    /// The interface the task sends on.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

impl crate::bus::PeriodicTask for BcmTask {
    fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        BcmTask::wait(self, timeout)
    }

    fn stop(self: Box<Self>) -> Result<()> {
        BcmTask::stop(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_has_the_kernel_size() {
        // 3 u32 + padding + 2 timevals + 2 u32 on LP64.
        assert_eq!(HEAD, 56);
    }
}
