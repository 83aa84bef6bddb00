//! Batched receive, shared by the socket backends (`socketcan`,
//! `udp_multicast`, `virtual`): up to [`BATCH`] datagrams per `recvmmsg` call
//! into buffers allocated once, and [`Batching`], the pauses between reads
//! that a receive latency ([`super::Bus::set_receive_latency`], can-logger
//! writing a file) allows, so that one wake-up takes many frames.
//!
//! Without a latency (the default: a viewer, a player's logger on stdout, a
//! bridge) a read never waits once a frame is there; a batch is then simply
//! what the kernel had queued.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::frame::Timestamp;

/// Frames read per `recvmmsg` call: one system call per batch under load.
pub(crate) const BATCH: usize = 32;
/// The frame rate a pause must survive without overflowing the receive
/// queue (a saturated 1 Mbit/s bus of short frames is about 21,000 frames/s;
/// CAN FD with a fast data phase, somewhat more).
pub(crate) const DESIGN_RATE: u64 = 50_000;
/// Frames a pause aims to gather at the rate seen so far.
const PAUSE_FRAMES: u64 = 128;

/// The kernel's per-socket drop counter option (asm-generic value; libc lacks it).
#[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
pub(crate) const SO_RXQ_OVFL: libc::c_int = 40;
/// The kernel's per-socket drop counter option on SPARC.
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
pub(crate) const SO_RXQ_OVFL: libc::c_int = 0x24;

/// The longest pause a queue of `frames` allows: the time in which frames at
/// [`DESIGN_RATE`] would half fill it.
pub(crate) fn max_pause_for(frames: u64) -> Duration {
    Duration::from_micros(frames / 2 * 1_000_000 / DESIGN_RATE)
}

/// When to pause between batched reads, so that one wake-up takes many frames.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Batching {
    /// How long frames may wait in the kernel's queue (zero: no pauses).
    pub(crate) latency: Duration,
    /// The longest pause the receive queue allows.
    pub(crate) max_pause: Duration,
    /// Arrival time (ns) of the last frame read.
    last_arrival: Option<i64>,
    /// How long to pause before the next read.
    pub(crate) pause: Duration,
}

impl Batching {
    /// No pauses until [`Batching::set_latency`]; none longer than `max_pause`.
    pub(crate) fn new(max_pause: Duration) -> Batching {
        Batching {
            latency: Duration::ZERO,
            max_pause,
            last_arrival: None,
            pause: Duration::ZERO,
        }
    }

    /// Allows frames to wait up to `max` (capped by the queue) before a read.
    pub(crate) fn set_latency(&mut self, max: Duration) {
        self.latency = max.min(self.max_pause);
        self.pause = Duration::ZERO;
    }

    /// After a read of `n` frames whose arrival times (ns) ran from `first` to
    /// `last`, decides the pause before the next read so that about
    /// [`PAUSE_FRAMES`] gather meanwhile: never more than the latency, none
    /// after a full batch (more are waiting), and none when fewer than two
    /// frames would gather (sparse traffic; a lone frame after a quiet spell).
    pub(crate) fn after_read(&mut self, n: usize, first: Option<i64>, last: Option<i64>) {
        if self.latency.is_zero() {
            return;
        }
        let spacing = match (first, last) {
            (Some(a), Some(b)) if n >= 2 => Some((b - a) / (n as i64 - 1)),
            (_, Some(b)) => self.last_arrival.map(|p| b - p),
            _ => None,
        };
        if last.is_some() {
            self.last_arrival = last;
        }
        self.pause = match spacing {
            Some(ns) if ns > 0 && n < BATCH => {
                let ns = ns as u64;
                let p = Duration::from_nanos(ns.saturating_mul(PAUSE_FRAMES)).min(self.latency);
                if p.as_nanos() >= 2 * ns as u128 {
                    p
                } else {
                    Duration::ZERO
                }
            }
            _ => Duration::ZERO,
        };
    }
}

/// What [`read_batch`] got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Got {
    /// This many frames (at least one).
    Frames(usize),
    /// Nothing was queued and the deadline had already passed: no wait.
    Empty,
    /// The deadline passed while waiting, with nothing read.
    TimedOut,
    /// A signal interrupted the wait: the caller looks at its flags.
    Interrupted,
}

/// Pauses as `batching` says (never past `deadline`), then reads with `read`
/// (a non-blocking batched read returning how many it got, 0 when nothing is
/// queued), waiting in `poll` whenever nothing is there. A pause that
/// gathered nothing ends the pausing: the traffic stopped.
pub(crate) fn read_batch(
    fd: RawFd,
    deadline: Option<Instant>,
    batching: &mut Batching,
    mut read: impl FnMut() -> io::Result<usize>,
) -> io::Result<Got> {
    loop {
        if !batching.pause.is_zero() {
            let mut p = batching.pause;
            if let Some(d) = deadline {
                p = p.min(d.saturating_duration_since(Instant::now()));
            }
            if !p.is_zero() {
                std::thread::sleep(p);
            }
        }
        match read() {
            Ok(0) => {}
            Ok(n) => return Ok(Got::Frames(n)),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => return Ok(Got::Interrupted),
            Err(e) => return Err(e),
        }
        batching.pause = Duration::ZERO;
        let ms: libc::c_int = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Got::Empty);
                }
                // Rounded up, so that a sub-millisecond wait does not spin.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                return Ok(Got::Interrupted);
            }
            return Err(e);
        }
        if r == 0 {
            return Ok(Got::TimedOut);
        }
    }
}

/// Waits until `fd` is readable or `deadline` passes (forever with `None`).
/// Returns false on timeout. Polls at least once, even past the deadline.
pub(crate) fn wait_readable(fd: RawFd, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let timeout_ms: libc::c_int = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so that we never wake before the deadline and spin.
                let ms = left.as_nanos().div_ceil(1_000_000);
                ms.min(i32::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n > 0 {
            return Ok(true);
        }
        match deadline {
            Some(d) if Instant::now() < d => continue,
            _ => return Ok(false),
        }
    }
}

/// Control-message buffer for one message, aligned for `cmsghdr`.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct Control([u8; 64]);

/// What one received datagram brought besides its bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Meta {
    /// Bytes stored in the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer.
    pub truncated: bool,
    /// Kernel receive time, when `SO_TIMESTAMPNS` delivered one.
    pub kernel_time: Option<Timestamp>,
    /// The socket's cumulative drop counter, when `SO_RXQ_OVFL` is on and the
    /// kernel has dropped anything.
    pub overflow: Option<u32>,
}

/// Buffers for [`BATCH`] datagrams of up to `SIZE` bytes, read by one
/// `recvmmsg` and handed out one by one; allocated once per bus handle.
pub(crate) struct Datagrams<const SIZE: usize> {
    data: [[u8; SIZE]; BATCH],
    iovs: [libc::iovec; BATCH],
    controls: [Control; BATCH],
    msgs: [libc::mmsghdr; BATCH],
    meta: [Meta; BATCH],
    /// Datagrams read by the last call, and how many were handed out.
    len: usize,
    next: usize,
}

// SAFETY: the raw pointers in Datagrams only ever point into the same box and
// are rewritten before each use.
unsafe impl<const SIZE: usize> Send for Datagrams<SIZE> {}

impl<const SIZE: usize> Datagrams<SIZE> {
    /// Empty buffers.
    pub(crate) fn new() -> Box<Datagrams<SIZE>> {
        Box::new(Datagrams {
            data: [[0; SIZE]; BATCH],
            // SAFETY: all-zero iovec and mmsghdr are valid values.
            iovs: unsafe { std::mem::zeroed() },
            controls: [Control([0; 64]); BATCH],
            msgs: unsafe { std::mem::zeroed() },
            meta: [Meta::default(); BATCH],
            len: 0,
            next: 0,
        })
    }

    /// The next datagram not yet handed out, with its [`Meta`].
    pub(crate) fn next(&mut self) -> Option<(&[u8], Meta)> {
        if self.next >= self.len {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let m = self.meta[i];
        Some((&self.data[i][..m.len], m))
    }

    /// Kernel arrival times (ns) of the first and last datagram of the last
    /// read, for [`Batching::after_read`].
    pub(crate) fn arrivals(&self) -> (Option<i64>, Option<i64>) {
        let t = |i: usize| self.meta[i].kernel_time.map(|t| t.0);
        match self.len {
            0 => (None, None),
            n => (t(0), t(n - 1)),
        }
    }

    /// Reads what is queued on `fd` without waiting (all earlier datagrams
    /// are forgotten): how many, 0 when nothing is queued.
    pub(crate) fn read(&mut self, fd: RawFd) -> io::Result<usize> {
        self.len = 0;
        self.next = 0;
        for i in 0..BATCH {
            self.iovs[i].iov_base = self.data[i].as_mut_ptr() as *mut libc::c_void;
            self.iovs[i].iov_len = SIZE;
            let m = &mut self.msgs[i].msg_hdr;
            m.msg_iov = &mut self.iovs[i];
            m.msg_iovlen = 1;
            m.msg_name = std::ptr::null_mut();
            m.msg_namelen = 0;
            m.msg_control = self.controls[i].0.as_mut_ptr() as *mut libc::c_void;
            m.msg_controllen = self.controls[i].0.len() as _;
            m.msg_flags = 0;
            self.msgs[i].msg_len = 0;
        }
        // SAFETY: every mmsghdr points at live buffers of the sizes given.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) => Ok(0),
                _ => Err(e),
            };
        }
        let n = n as usize;
        for i in 0..n {
            let (kernel_time, overflow) = control_data(&self.msgs[i].msg_hdr);
            self.meta[i] = Meta {
                len: (self.msgs[i].msg_len as usize).min(SIZE),
                truncated: self.msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                kernel_time,
                overflow,
            };
        }
        self.len = n;
        Ok(n)
    }
}

/// The `SO_TIMESTAMPNS` time and `SO_RXQ_OVFL` counter of a received message.
fn control_data(msg: &libc::msghdr) -> (Option<Timestamp>, Option<u32>) {
    let mut kernel_time = None;
    let mut overflow = None;
    // SAFETY: the CMSG macros walk the control buffer the kernel filled,
    // bounded by msg_controllen; the values are read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            if c.cmsg_level == libc::SOL_SOCKET
                && c.cmsg_type == libc::SCM_TIMESTAMPNS
                && c.cmsg_len as usize
                    >= libc::CMSG_LEN(std::mem::size_of::<libc::timespec>() as u32) as usize
            {
                let ts: libc::timespec =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::timespec);
                if ts.tv_sec > 0 && (0..1_000_000_000).contains(&ts.tv_nsec) {
                    kernel_time = Some(Timestamp::from_parts(ts.tv_sec, ts.tv_nsec as u32));
                }
            } else if c.cmsg_level == libc::SOL_SOCKET
                && c.cmsg_type == SO_RXQ_OVFL
                && c.cmsg_len as usize >= libc::CMSG_LEN(std::mem::size_of::<u32>() as u32) as usize
            {
                overflow = Some(std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const u32));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    (kernel_time, overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batching_pauses_only_where_frames_would_gather() {
        const MS: i64 = 1_000_000;
        let ms = Duration::from_millis;
        let mut b = Batching::new(ms(82));
        // off until a latency is set; the receive queue caps the latency
        b.after_read(1, Some(0), Some(0));
        assert_eq!(b.pause, Duration::ZERO);
        b.set_latency(ms(100));
        assert_eq!(b.latency, ms(82));
        // a lone frame after a quiet spell: the rate is unknown, no pause
        b.after_read(1, Some(0), Some(0));
        assert_eq!(b.pause, Duration::ZERO);
        // the next one 2.5 ms later: 128 frames would take 320 ms, so the latency
        b.after_read(1, Some(5 * MS / 2), Some(5 * MS / 2));
        assert_eq!(b.pause, ms(82));
        // 10 frames 100 µs apart: 128 frames take 12.8 ms
        b.after_read(10, Some(100 * MS), Some(100 * MS + 9 * MS / 10));
        assert_eq!(b.pause, Duration::from_micros(12_800));
        // a full batch: more are waiting, read at once
        b.after_read(BATCH, Some(0), Some(MS));
        assert_eq!(b.pause, Duration::ZERO);
        // sparse traffic (a frame every 60 ms): a pause would gather one frame
        b.after_read(1, Some(200 * MS), Some(200 * MS));
        b.after_read(1, Some(260 * MS), Some(260 * MS));
        assert_eq!(b.pause, Duration::ZERO);
        // a clock going backwards (hardware time) never makes a pause
        b.after_read(3, Some(10 * MS), Some(5 * MS));
        assert_eq!(b.pause, Duration::ZERO);
        // with the system's small buffer the cap is a few ms: 400 frames/s is
        // read frame by frame
        let mut small = Batching::new(Duration::from_micros(4_160));
        small.set_latency(ms(100));
        small.after_read(1, Some(0), Some(0));
        small.after_read(1, Some(5 * MS / 2), Some(5 * MS / 2));
        assert_eq!(small.pause, Duration::ZERO);
        // a queue of 8,000 frames allows 80 ms, of 10 frames 100 µs
        assert_eq!(max_pause_for(8_000), ms(80));
        assert_eq!(max_pause_for(10), Duration::from_micros(100));
    }

    #[test]
    fn datagrams_are_read_in_one_call_and_handed_out_in_order() {
        let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        use std::os::fd::AsRawFd;
        let mut bufs = Datagrams::<8>::new();
        assert_eq!(bufs.read(b.as_raw_fd()).unwrap(), 0);
        // fewer than net.unix.max_dgram_qlen (10 by default) datagrams
        a.set_nonblocking(true).unwrap();
        for i in 0..8u8 {
            a.send(&[i; 3][..1 + (i as usize % 3)]).unwrap();
        }
        let mut seen = Vec::new();
        let mut batching = Batching::new(Duration::ZERO);
        while let Got::Frames(n) = read_batch(
            b.as_raw_fd(),
            Some(Instant::now() + Duration::from_millis(20)),
            &mut batching,
            || bufs.read(b.as_raw_fd()),
        )
        .unwrap()
        {
            assert!(n <= BATCH);
            while let Some((d, m)) = bufs.next() {
                assert_eq!(m.len, d.len());
                assert!(!m.truncated);
                seen.push(d[0]);
            }
        }
        assert_eq!(seen, (0..8).collect::<Vec<u8>>());
        // a datagram longer than the buffer is flagged
        a.send(&[1; 20]).unwrap();
        assert_eq!(bufs.read(b.as_raw_fd()).unwrap(), 1);
        let (d, m) = bufs.next().unwrap();
        assert_eq!((d.len(), m.truncated), (8, true));
    }
}
