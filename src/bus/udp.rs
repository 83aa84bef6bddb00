//! The `udp_multicast` backend, wire-compatible with python-can's interface of
//! the same name: every frame is one UDP datagram to an IP multicast group,
//! holding one msgpack map with python-can's eleven `Message` fields.
//!
//! * Channel: the group address; empty means python-can's default IPv6 group
//!   [`DEFAULT_GROUP_V6`]; IPv4 groups such as [`DEFAULT_GROUP_V4`] work too.
//! * Options (`--bus-opt`): `port` (default 43113), `hop_limit` (TTL / hop
//!   limit, default 1: the local link only).
//! * The socket is bound to the wildcard address with `SO_REUSEADDR` and
//!   `SO_REUSEPORT`, so any number of processes on a host share the group.
//! * Receive timestamps come from `SO_TIMESTAMPNS` (else the wall clock at
//!   receipt), never from the sender's `timestamp` field. Sent datagrams carry
//!   the wall clock at sending as `timestamp` and `nil` as `channel`.
//! * CAN FD is always on (python-can's default `fd=True`).
//! * A datagram that is not a valid message (bad msgpack, python-can's
//!   `Message` checks fail) is skipped with a warning and counted
//!   ([`UdpMulticastBus::malformed`]); the logger keeps running, where
//!   python-can raises. Unknown map keys are ignored; missing keys take
//!   python-can's `Message` defaults (an absent `is_extended_id` means 29-bit).
//!   A CAN FD payload of a length FD cannot carry (python-can does not check)
//!   is zero-padded to the next valid length, as an FD controller would send it.
//! * Kernel receive-queue overflows (`SO_RXQ_OVFL`) are reported by
//!   [`Bus::take_dropped`].
//! * The socket asks for a 4 MiB receive buffer (`SO_RCVBUFFORCE` where
//!   permitted, else up to `net.core.rmem_max`). Datagrams are read up to 32
//!   per `recvmmsg` call; with [`Bus::set_receive_latency`] (can-logger
//!   writing a file) the bus pauses between reads as the `socketcan` one does,
//!   so that about 128 frames gather, never longer than frames at 50,000/s
//!   take to half fill the buffer (82 ms with 8 MiB, 4 ms with 416 KiB).
//!
//! # Own frames
//!
//! Multicast loopback (on by default on Linux, and needed so that other
//! processes on this host hear us) also hands our own datagrams back to our
//! socket. The [`Bus`] contract says a handle never receives what it sent, so
//! every handle (shared with its clones) remembers a 64-bit hash and the send
//! time of each datagram it sent, in a ring of at most 4096 entries kept for at
//! most 10 s. A received datagram whose hash matches an entry is our echo: it is
//! dropped and the entry removed. Since echoes come back in sending order, an
//! entry sent more than 200 ms before the echo just matched is an echo that the
//! kernel dropped and is forgotten. Because every datagram carries its send
//! time to the nanosecond (as a float64: about 0.2 µs at present epochs),
//! another sender's datagram can only match if it is byte-identical to ours
//! including that timestamp. This is what keeps `can-bridge --both-ways` from
//! looping.
//!
//! # Wire limits
//!
//! python-can's `dlc` is a byte count, so a classic frame's raw DLC 9-15 goes
//! out as 8 and a remote frame requesting DLC 9-15 requests 8 bytes. FD-flagged
//! remote and error frames (which only exist in Vector logs) are refused.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::batch::{self, Batching, Datagrams, Got, SO_RXQ_OVFL};
use super::sim::enable_timestamps;
use super::{Bus, BusSettings};
use crate::error::{Error, Result};
use crate::frame::{Channel, Direction, Frame, Record, Timestamp};

/// python-can's default group (IPv6, site-local scope; the bytes spell `pythondemomcas`).
pub const DEFAULT_GROUP_V6: &str = "ff15:7079:7468:6f6e:6465:6d6f:6d63:6173";
/// python-can's IPv4 group.
pub const DEFAULT_GROUP_V4: &str = "239.74.163.2";
/// python-can's UDP port.
pub const DEFAULT_PORT: u16 = 43113;
/// Default TTL / hop limit: the local link.
pub const DEFAULT_HOP_LIMIT: u32 = 1;
/// python-can reads at most this many bytes per datagram.
pub const MAX_DATAGRAM: usize = 4096;

const ECHO_CAPACITY: usize = 4096;
const ECHO_MAX_AGE: Duration = Duration::from_secs(10);
const ECHO_LOST_AFTER: Duration = Duration::from_millis(200);
const SEND_TIMEOUT: Duration = Duration::from_secs(1);
/// Receive buffer asked for (best effort), so bursts survive a busy reader.
const RECV_BUFFER: usize = 4 << 20;
/// Receive-buffer bytes one queued datagram takes (the kernel charges the
/// whole socket buffer: 832 bytes for python-can's 157-byte message over
/// loopback on Linux 6.1; rounded up).
const QUEUED_DATAGRAM_BYTES: u64 = 1024;

/// The msgpack encoding of python-can's `Message` map.
pub mod wire {
    use crate::error::{Error, Result};
    use crate::frame::{fd_padded_len, FdFlags, Frame, Id, CANFD_MAX_LEN, CAN_MAX_LEN};

    /// Largest datagram [`encode`] writes.
    pub const MAX_ENCODED: usize = 256;

    struct Out<'a> {
        buf: &'a mut [u8; MAX_ENCODED],
        pos: usize,
    }

    impl Out<'_> {
        fn put(&mut self, bytes: &[u8]) {
            self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
            self.pos += bytes.len();
        }
        fn key(&mut self, k: &str) {
            self.put(&[0xA0 | k.len() as u8]);
            self.put(k.as_bytes());
        }
        fn bool(&mut self, k: &str, v: bool) {
            self.key(k);
            self.put(&[if v { 0xC3 } else { 0xC2 }]);
        }
        fn uint(&mut self, k: &str, v: u32) {
            self.key(k);
            if v < 0x80 {
                self.put(&[v as u8]);
            } else if v <= 0xFF {
                self.put(&[0xCC, v as u8]);
            } else if v <= 0xFFFF {
                self.put(&[0xCD]);
                self.put(&(v as u16).to_be_bytes());
            } else {
                self.put(&[0xCE]);
                self.put(&v.to_be_bytes());
            }
        }
    }

    /// Encodes `frame` as python-can's `pack_message` does for a `Message` with
    /// this `timestamp` (seconds) and `channel=None`; returns the length. Byte for
    /// byte what `msgpack.packb(..., use_bin_type=True)` produces.
    pub fn encode(frame: &Frame, timestamp: f64, buf: &mut [u8; MAX_ENCODED]) -> Result<usize> {
        if frame.is_fd() && !frame.is_data() {
            return Err(Error::Unsupported(
                "udp_multicast cannot send an FD-flagged remote or error frame".into(),
            ));
        }
        let dlc = if frame.is_remote() {
            frame.requested_len()
        } else {
            frame.len()
        };
        let data = frame.data_bytes();
        let mut o = Out { buf, pos: 0 };
        o.put(&[0x8B]);
        o.key("timestamp");
        o.put(&[0xCB]);
        o.put(&timestamp.to_be_bytes());
        o.uint("arbitration_id", frame.id().raw());
        o.bool("is_extended_id", frame.id().is_extended());
        o.bool("is_remote_frame", frame.is_remote());
        o.bool("is_error_frame", frame.is_error());
        o.key("channel");
        o.put(&[0xC0]);
        o.uint("dlc", dlc as u32);
        o.key("data");
        o.put(&[0xC4, data.len() as u8]);
        o.put(data);
        o.bool("is_fd", frame.is_fd());
        o.bool("bitrate_switch", frame.brs());
        o.bool("error_state_indicator", frame.esi());
        Ok(o.pos)
    }

    /// A decoded msgpack value, as far as a `Message` field needs it.
    enum Value<'a> {
        Nil,
        Bool(bool),
        Uint(u64),
        Neg,
        Float,
        Str(&'a [u8]),
        Bin(&'a [u8]),
        /// An array, map or extension (skipped).
        Other,
    }

    struct In<'a> {
        d: &'a [u8],
        pos: usize,
    }

    const MAX_DEPTH: u32 = 32;

    impl<'a> In<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if self.d.len() - self.pos < n {
                return Err(format!("truncated at byte {}", self.pos));
            }
            let s = &self.d[self.pos..self.pos + n];
            self.pos += n;
            Ok(s)
        }
        fn byte(&mut self) -> Result<u8, String> {
            Ok(self.take(1)?[0])
        }
        fn be(&mut self, n: usize) -> Result<u64, String> {
            Ok(self
                .take(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | b as u64))
        }
        fn skip_n(&mut self, count: u64, depth: u32) -> Result<(), String> {
            for _ in 0..count {
                self.value(depth + 1)?;
            }
            Ok(())
        }
        fn value(&mut self, depth: u32) -> Result<Value<'a>, String> {
            if depth > MAX_DEPTH {
                return Err("nesting too deep".into());
            }
            let at = self.pos;
            let b = self.byte()?;
            Ok(match b {
                0x00..=0x7F => Value::Uint(b as u64),
                0x80..=0x8F => {
                    self.skip_n(2 * (b & 0x0F) as u64, depth)?;
                    Value::Other
                }
                0x90..=0x9F => {
                    self.skip_n((b & 0x0F) as u64, depth)?;
                    Value::Other
                }
                0xA0..=0xBF => Value::Str(self.take((b & 0x1F) as usize)?),
                0xC0 => Value::Nil,
                0xC2 => Value::Bool(false),
                0xC3 => Value::Bool(true),
                0xC4..=0xC6 => {
                    let n = self.be(1 << (b - 0xC4))? as usize;
                    Value::Bin(self.take(n)?)
                }
                0xC7..=0xC9 => {
                    let n = self.be(1 << (b - 0xC7))? as usize;
                    self.take(n + 1)?;
                    Value::Other
                }
                0xCA => {
                    self.take(4)?;
                    Value::Float
                }
                0xCB => {
                    self.take(8)?;
                    Value::Float
                }
                0xCC..=0xCF => Value::Uint(self.be(1 << (b - 0xCC))?),
                0xD0..=0xD3 => {
                    let n = 1usize << (b - 0xD0);
                    let raw = self.be(n)?;
                    let shift = 64 - 8 * n as u32;
                    let v = ((raw << shift) as i64) >> shift;
                    if v >= 0 {
                        Value::Uint(v as u64)
                    } else {
                        Value::Neg
                    }
                }
                0xD4..=0xD8 => {
                    self.take(1 + (1usize << (b - 0xD4)))?;
                    Value::Other
                }
                0xD9..=0xDB => {
                    let n = self.be(1 << (b - 0xD9))? as usize;
                    Value::Str(self.take(n)?)
                }
                0xDC | 0xDD => {
                    let n = self.be(if b == 0xDC { 2 } else { 4 })?;
                    self.skip_n(n, depth)?;
                    Value::Other
                }
                0xDE | 0xDF => {
                    let n = self.be(if b == 0xDE { 2 } else { 4 })?;
                    self.skip_n(2 * n, depth)?;
                    Value::Other
                }
                0xE0..=0xFF => Value::Neg,
                0xC1 => return Err(format!("invalid msgpack byte 0xC1 at byte {at}")),
            })
        }
    }

    fn flag(name: &str, v: Value) -> Result<bool, String> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::Nil => Ok(false),
            Value::Uint(n) => Ok(n != 0),
            Value::Neg => Ok(true),
            _ => Err(format!("'{name}' is not a boolean")),
        }
    }

    /// Decodes one datagram as python-can's receiver does (`Message(check=True)`),
    /// ignoring the sender's `timestamp` and `channel`. The error says what is wrong.
    pub fn decode(datagram: &[u8]) -> Result<Frame, String> {
        let mut r = In {
            d: datagram,
            pos: 0,
        };
        let b = r.byte()?;
        let entries = match b {
            0x80..=0x8F => (b & 0x0F) as u64,
            0xDE => r.be(2)?,
            0xDF => r.be(4)?,
            _ => return Err(format!("not a msgpack map (first byte 0x{b:02X})")),
        };
        let mut id: u64 = 0;
        let (mut ext, mut rtr, mut err, mut fd, mut brs, mut esi) =
            (true, false, false, false, false, false);
        let mut dlc: Option<u64> = None;
        let mut data: &[u8] = &[];
        for _ in 0..entries {
            let key = match r.value(1)? {
                Value::Str(k) => k,
                _ => return Err("a map key is not a string".into()),
            };
            let v = r.value(1)?;
            match key {
                b"arbitration_id" => {
                    id = match v {
                        Value::Uint(n) => n,
                        _ => return Err("'arbitration_id' is not a non-negative integer".into()),
                    }
                }
                b"is_extended_id" => ext = flag("is_extended_id", v)?,
                b"is_remote_frame" => rtr = flag("is_remote_frame", v)?,
                b"is_error_frame" => err = flag("is_error_frame", v)?,
                b"is_fd" => fd = flag("is_fd", v)?,
                b"bitrate_switch" => brs = flag("bitrate_switch", v)?,
                b"error_state_indicator" => esi = flag("error_state_indicator", v)?,
                b"dlc" => {
                    dlc = match v {
                        Value::Uint(n) => Some(n),
                        Value::Nil => None,
                        _ => return Err("'dlc' is not a non-negative integer".into()),
                    }
                }
                b"data" => {
                    data = match v {
                        Value::Bin(d) | Value::Str(d) => d,
                        Value::Nil => &[],
                        _ => return Err("'data' is not a byte string".into()),
                    }
                }
                // The sender's timestamp and channel are not used; other keys are ignored.
                _ => {}
            }
        }
        if r.pos != datagram.len() {
            return Err(format!(
                "{} bytes after the message map",
                datagram.len() - r.pos
            ));
        }
        if rtr && err {
            return Err("a frame cannot be both remote and error".into());
        }
        if rtr && fd {
            return Err("CAN FD has no remote frames".into());
        }
        if !fd && (brs || esi) {
            return Err("bitrate_switch/error_state_indicator on a classic frame".into());
        }
        let raw = u32::try_from(id).map_err(|_| format!("arbitration_id {id} too large"))?;
        let dlc = dlc.unwrap_or(data.len() as u64);
        let max = if fd { CANFD_MAX_LEN } else { CAN_MAX_LEN } as u64;
        if dlc > max {
            return Err(format!("dlc {dlc} above {max}"));
        }
        let flags = FdFlags { brs, esi };
        let frame = if rtr {
            if !data.is_empty() {
                return Err("a remote frame carries data".into());
            }
            Frame::remote(Id::new(raw, ext).map_err(|e| e.to_string())?, dlc as u8)
        } else {
            if dlc != data.len() as u64 {
                return Err(format!("dlc {dlc} but {} data bytes", data.len()));
            }
            if err {
                Frame::error(raw, data).map(|f| if fd { f.with_fd_flags(flags) } else { f })
            } else if fd {
                let id = Id::new(raw, ext).map_err(|e| e.to_string())?;
                let padded = fd_padded_len(data.len()).unwrap_or(CANFD_MAX_LEN);
                let mut buf = [0u8; CANFD_MAX_LEN];
                buf[..data.len()].copy_from_slice(data);
                Frame::fd(id, &buf[..padded], flags)
            } else {
                Frame::data(Id::new(raw, ext).map_err(|e| e.to_string())?, data)
            }
        };
        frame.map_err(|e| e.to_string())
    }
}

/// Remembers what a handle sent, to recognise its multicast echoes.
struct EchoRing {
    sent: VecDeque<(u64, Instant)>,
}

impl EchoRing {
    fn note(&mut self, hash: u64) {
        if self.sent.len() == ECHO_CAPACITY {
            self.sent.pop_front();
        }
        self.sent.push_back((hash, Instant::now()));
    }

    fn is_echo(&mut self, hash: u64) -> bool {
        let now = Instant::now();
        while self
            .sent
            .front()
            .is_some_and(|&(_, t)| now.duration_since(t) > ECHO_MAX_AGE)
        {
            self.sent.pop_front();
        }
        let Some(k) = self.sent.iter().position(|&(h, _)| h == hash) else {
            return false;
        };
        let sent_at = self.sent[k].1;
        self.sent.remove(k);
        // Echoes return in sending order: older entries' echoes were dropped.
        while self
            .sent
            .front()
            .is_some_and(|&(_, t)| t + ECHO_LOST_AFTER < sent_at)
        {
            self.sent.pop_front();
        }
        true
    }
}

/// 64-bit FNV-1a.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h ^ bytes.len() as u64
}

/// What a bus and its clones share.
struct Shared {
    sock: Socket,
    group: SockAddr,
    name: String,
    channel: Channel,
    echoes: Mutex<EchoRing>,
    malformed: AtomicU64,
    overflow_seen: AtomicU32,
    dropped: AtomicU64,
}

/// The `udp_multicast` backend's registry entry.
pub const BACKEND: super::Backend = super::Backend {
    name: "udp_multicast",
    help: "python-can's UDP multicast bus (IPv4 or IPv6 group as the channel)",
    default_channel: "ff15:7079:7468:6f6e:6465:6d6f:6d63:6173",
    options: &[
        ("port", "UDP port, default 43113"),
        ("hop_limit", "multicast TTL / hop limit, default 1"),
    ],
    caps: super::Caps {
        fd: true,
        ..super::Caps::NONE
    },
    open: |s| Ok(Box::new(UdpMulticastBus::open(s)?)),
};

/// The `udp_multicast` bus: see the module docs.
pub struct UdpMulticastBus {
    shared: Arc<Shared>,
    /// Receive buffers, allocated on the first receive.
    bufs: Option<Box<Datagrams<MAX_DATAGRAM>>>,
    /// Pauses between reads ([`Bus::set_receive_latency`]).
    batching: Batching,
}

impl UdpMulticastBus {
    /// Joins the group `settings.channel` (python-can's IPv6 default when empty).
    /// Options: `port` (43113), `hop_limit` (1).
    pub fn open(settings: &BusSettings) -> Result<UdpMulticastBus> {
        let name = if settings.channel.is_empty() {
            DEFAULT_GROUP_V6
        } else {
            settings.channel.as_str()
        };
        let group: IpAddr = name.parse().map_err(|_| {
            settings.error(format!(
                "'{name}' is not an IP address (give a multicast group such as {DEFAULT_GROUP_V4} or {DEFAULT_GROUP_V6})"
            ))
        })?;
        if !group.is_multicast() {
            return Err(settings.error(format!(
                "{group} is not a multicast address (IPv4 224.0.0.0/4, IPv6 ff00::/8)"
            )));
        }
        let port = settings.option::<u16>("port")?.unwrap_or(DEFAULT_PORT);
        if port == 0 {
            return Err(settings.error("port must be 1 to 65535"));
        }
        let hop_limit = settings
            .option::<u32>("hop_limit")?
            .unwrap_or(DEFAULT_HOP_LIMIT);
        if hop_limit > 255 {
            return Err(settings.error(format!("hop_limit must be 0 to 255, not {hop_limit}")));
        }
        let fail = |what: &str, e: io::Error| settings.error(format!("{what}: {e}"));
        let domain = if group.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| fail("cannot create a UDP socket", e))?;
        sock.set_reuse_address(true)
            .map_err(|e| fail("SO_REUSEADDR", e))?;
        sock.set_reuse_port(true)
            .map_err(|e| fail("SO_REUSEPORT", e))?;
        enable_timestamps(sock.as_raw_fd());
        // Beyond net.core.rmem_max where permitted (CAP_NET_ADMIN).
        if set_int(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            RECV_BUFFER as libc::c_int,
        )
        .is_err()
        {
            let _ = sock.set_recv_buffer_size(RECV_BUFFER);
        }
        // Pauses that half fill the buffer at the design rate, at most.
        let max_pause = batch::max_pause_for(
            sock.recv_buffer_size().unwrap_or(0) as u64 / QUEUED_DATAGRAM_BYTES,
        );
        let _ = set_int(sock.as_raw_fd(), libc::SOL_SOCKET, SO_RXQ_OVFL, 1);
        sock.set_write_timeout(Some(SEND_TIMEOUT))
            .map_err(|e| fail("SO_SNDTIMEO", e))?;
        match group {
            IpAddr::V4(g) => {
                sock.set_multicast_ttl_v4(hop_limit)
                    .map_err(|e| fail("IP_MULTICAST_TTL", e))?;
                sock.bind(&SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port).into())
                    .map_err(|e| fail(&format!("cannot bind port {port}"), e))?;
                sock.join_multicast_v4(&g, &Ipv4Addr::UNSPECIFIED)
                    .map_err(|e| fail(&format!("cannot join {g}"), e))?;
            }
            IpAddr::V6(g) => {
                sock.set_multicast_hops_v6(hop_limit)
                    .map_err(|e| fail("IPV6_MULTICAST_HOPS", e))?;
                sock.bind(&SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port).into())
                    .map_err(|e| fail(&format!("cannot bind port {port}"), e))?;
                sock.join_multicast_v6(&g, 0)
                    .map_err(|e| fail(&format!("cannot join {g}"), e))?;
            }
        }
        Ok(UdpMulticastBus {
            shared: Arc::new(Shared {
                sock,
                group: SocketAddr::new(group, port).into(),
                name: name.to_string(),
                channel: Channel::name(name),
                echoes: Mutex::new(EchoRing {
                    sent: VecDeque::new(),
                }),
                malformed: AtomicU64::new(0),
                overflow_seen: AtomicU32::new(0),
                dropped: AtomicU64::new(0),
            }),
            bufs: None,
            batching: Batching::new(max_pause),
        })
    }

    /// Datagrams received so far (by this bus and its clones) that were not
    /// valid messages.
    pub fn malformed(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }

    fn error(&self, message: String) -> Error {
        Error::Bus {
            interface: "udp_multicast".into(),
            channel: self.shared.name.clone(),
            message,
        }
    }
}

fn set_int(fd: i32, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: fd is an open socket; the value is a valid c_int.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Bus for UdpMulticastBus {
    fn send(&mut self, frame: &Frame) -> Result<()> {
        let mut buf = [0u8; wire::MAX_ENCODED];
        let len = wire::encode(frame, Timestamp::now().as_secs_f64(), &mut buf)?;
        let datagram = &buf[..len];
        // Noted before sending: the echo can arrive (on a clone) before send_to returns.
        if let Ok(mut ring) = self.shared.echoes.lock() {
            ring.note(hash(datagram));
        }
        match self.shared.sock.send_to(datagram, &self.shared.group) {
            Ok(n) if n == len => Ok(()),
            Ok(n) => Err(self.error(format!("short send ({n} of {len} bytes)"))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Err(self.error(format!("send timed out after {SEND_TIMEOUT:?}")))
            }
            Err(e) => Err(self.error(format!("send failed: {e}"))),
        }
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let fd = self.shared.sock.as_raw_fd();
        let bufs = self.bufs.get_or_insert_with(Datagrams::new);
        loop {
            while let Some((datagram, got)) = bufs.next() {
                if let Some(total) = got.overflow {
                    let before = self.shared.overflow_seen.swap(total, Ordering::Relaxed);
                    self.shared
                        .dropped
                        .fetch_add(total.wrapping_sub(before) as u64, Ordering::Relaxed);
                }
                // A handle that never sent (a logger) hashes nothing.
                let echo = self
                    .shared
                    .echoes
                    .lock()
                    .map(|mut ring| !ring.sent.is_empty() && ring.is_echo(hash(datagram)))
                    .unwrap_or(false);
                if echo {
                    continue;
                }
                let decoded = if got.truncated {
                    Err(format!("datagram longer than {MAX_DATAGRAM} bytes"))
                } else {
                    wire::decode(datagram)
                };
                match decoded {
                    Ok(frame) => {
                        return Ok(Some(Record {
                            timestamp: got.kernel_time.unwrap_or_else(Timestamp::now),
                            channel: self.shared.channel.clone(),
                            direction: Direction::Rx,
                            frame,
                        }))
                    }
                    Err(why) => {
                        let n = self.shared.malformed.fetch_add(1, Ordering::Relaxed) + 1;
                        if n <= 10 || n.is_power_of_two() {
                            log::warn!(
                                "udp_multicast {}: skipping malformed datagram #{n} ({} bytes): {why}",
                                self.shared.name,
                                got.len
                            );
                        }
                    }
                }
            }
            // A clone may take what poll saw first: then read_batch waits again.
            match batch::read_batch(fd, deadline, &mut self.batching, || bufs.read(fd)) {
                Ok(Got::Frames(n)) => {
                    let (first, last) = bufs.arrivals();
                    self.batching.after_read(n, first, last);
                }
                Ok(Got::Empty | Got::TimedOut | Got::Interrupted) => return Ok(None),
                Err(e) => return Err(self.error(format!("receive failed: {e}"))),
            }
        }
    }

    fn channel(&self) -> &str {
        &self.shared.name
    }

    fn is_fd(&self) -> bool {
        true
    }

    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        Ok(Box::new(UdpMulticastBus {
            shared: Arc::clone(&self.shared),
            bufs: None,
            batching: Batching::new(self.batching.max_pause),
        }))
    }

    fn set_receive_latency(&mut self, max: Duration) {
        self.batching.set_latency(max);
    }

    fn take_dropped(&mut self) -> u64 {
        self.shared.dropped.swap(0, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::wire::{decode, encode, MAX_ENCODED};
    use super::*;
    use crate::frame::{FdFlags, Id};

    fn enc(f: &Frame, ts: f64) -> Vec<u8> {
        let mut buf = [0u8; MAX_ENCODED];
        let n = encode(f, ts, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        let mut out = vec![0; s.len() / 2];
        let n = crate::frame::hex::decode(&s, &mut out);
        assert_eq!(n, Some(out.len()), "bad hex in the test: {s:?}");
        out
    }

    /// The 157-byte example of the spec (hand-encoded from the msgpack spec).
    #[test]
    fn encodes_the_spec_example() {
        let f = Frame::data(Id::Standard(0x123), &[0x11, 0x22, 0x33]).unwrap();
        // msgpack bytes and the key names between them, in python-can's order
        let mut want = Vec::new();
        for (bytes, key) in [
            ("8b a9", "timestamp"),
            ("cb 41 d9 54 fc 40 20 00 00 ae", "arbitration_id"),
            ("cd 01 23 ae", "is_extended_id"),
            ("c2 af", "is_remote_frame"),
            ("c2 ae", "is_error_frame"),
            ("c2 a7", "channel"),
            ("c0 a3", "dlc"),
            ("03 a4", "data"),
            ("c4 03 11 22 33 a5", "is_fd"),
            ("c2 ae", "bitrate_switch"),
            ("c2 b5", "error_state_indicator"),
        ] {
            want.extend(hex(bytes));
            want.extend_from_slice(key.as_bytes());
        }
        want.extend(hex("c2"));
        assert_eq!(want.len(), 157);
        assert_eq!(enc(&f, 1_700_000_000.5), want);
    }

    #[test]
    fn round_trips_every_kind_of_frame() {
        let frames = [
            Frame::data(Id::Standard(0x7F), &[]).unwrap(),
            Frame::data(Id::Standard(0x80), &[1]).unwrap(),
            Frame::data(Id::Extended(0x1_0000), &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap(),
            Frame::data(Id::Extended(0x1FFF_FFFF), &[9; 8]).unwrap(),
            Frame::fd(
                Id::Standard(0x456),
                &[0xA5; 64],
                FdFlags {
                    brs: true,
                    esi: true,
                },
            )
            .unwrap(),
            Frame::fd(Id::Extended(0x99), &[1; 12], FdFlags::default()).unwrap(),
            Frame::remote(Id::Standard(0x321), 4).unwrap(),
            Frame::remote(Id::Extended(0x321), 0).unwrap(),
            Frame::error(0x4, &[0, 4, 0, 0, 0, 0, 0, 0]).unwrap(),
        ];
        for f in frames {
            assert_eq!(decode(&enc(&f, 12.25)).unwrap(), f);
        }
    }

    #[test]
    fn python_dlc_is_a_byte_count() {
        let raw_dlc = Frame::data_with_dlc(Id::Standard(1), &[0; 8], 15).unwrap();
        let back = decode(&enc(&raw_dlc, 0.0)).unwrap();
        assert_eq!((back.dlc(), back.len()), (8, 8));
        let fd = Frame::fd(Id::Standard(1), &[0; 48], FdFlags::default()).unwrap();
        let bytes = enc(&fd, 0.0);
        // "dlc" 0x30 (48 bytes), not the DLC code 14.
        let at = bytes.windows(4).position(|w| w == b"\xa3dlc").unwrap();
        assert_eq!(bytes[at + 4], 48);
        let fd_remote = Frame::remote(Id::Standard(1), 0)
            .unwrap()
            .with_fd_flags(FdFlags::default());
        let mut buf = [0u8; MAX_ENCODED];
        assert!(encode(&fd_remote, 0.0, &mut buf).is_err());
    }

    /// A map written by hand with keys reordered, an unknown key, a str channel,
    /// an int timestamp and missing keys that default as python-can's Message.
    #[test]
    fn decodes_any_key_order_and_defaults() {
        let mut m = vec![0x85];
        let key = |m: &mut Vec<u8>, k: &str| {
            m.push(0xA0 | k.len() as u8);
            m.extend_from_slice(k.as_bytes());
        };
        key(&mut m, "data");
        m.extend([0xC4, 2, 0xAB, 0xCD]);
        key(&mut m, "channel");
        m.extend([0xA4]);
        m.extend_from_slice(b"can0");
        key(&mut m, "extra");
        m.extend([0x92, 0x01, 0x81, 0xA1, b'x', 0xC0]);
        key(&mut m, "arbitration_id");
        m.extend([0xCE, 0x12, 0x34, 0x56, 0x78]);
        key(&mut m, "timestamp");
        m.push(0x05);
        let f = decode(&m).unwrap();
        // is_extended_id defaults to True in python-can.
        assert_eq!(
            f,
            Frame::data(Id::Extended(0x1234_5678), &[0xAB, 0xCD]).unwrap()
        );
    }

    #[test]
    fn rejects_what_python_can_rejects_without_panicking() {
        let good = enc(&Frame::data(Id::Standard(0x123), &[1, 2, 3]).unwrap(), 1.0);
        let patch = |from: &[u8], to: &[u8]| {
            let at = good.windows(from.len()).position(|w| w == from).unwrap();
            let mut v = good.clone();
            v.splice(at..at + from.len(), to.iter().copied());
            v
        };
        let cases = [
            patch(b"\xcd\x01\x23", b"\xcd\x08\x00"), // 11-bit id 0x800
            patch(b"\xa3dlc\x03", b"\xa3dlc\x04"),   // dlc != len(data)
            patch(b"remote_frame\xc2", b"remote_frame\xc3"), // remote with data
            patch(b"switch\xc2", b"switch\xc3"),     // BRS on classic
            patch(b"\xc4\x03", b"\xc4\x09"),         // bin longer than the datagram
            good[..good.len() - 1].to_vec(),         // truncated
            [good.clone(), vec![0xC0]].concat(),     // trailing bytes
            vec![0x93, 1, 2, 3],                     // an array
            vec![],
            vec![0xC1],
            [vec![0xDF, 0xFF, 0xFF, 0xFF, 0xFF], vec![0x91; 3000]].concat(), // huge map
            [
                &[0x81, 0xA1, b'k', 0xDD, 0xFF, 0xFF, 0xFF, 0xFF][..],
                &[0xC0; 100],
            ]
            .concat(), // huge array
            vec![0x81, 0xA1, b'k']
                .into_iter()
                .chain([0x91; 100])
                .collect(), // deep nesting
        ];
        for (i, c) in cases.iter().enumerate() {
            assert!(decode(c).is_err(), "case {i} accepted");
        }
        // FD frames of a length FD cannot carry are padded, as a controller would.
        let fd16 = Frame::fd(Id::Standard(0x123), &[7; 16], FdFlags::default()).unwrap();
        let mut v = enc(&fd16, 1.0);
        let at = v.windows(5).position(|w| w == b"\xa3dlc\x10").unwrap();
        v[at + 4] = 13;
        let at = v.windows(2).position(|w| w == b"\xc4\x10").unwrap();
        v.splice(at..at + 18, [0xC4, 13].into_iter().chain(1..=13));
        let f = decode(&v).unwrap();
        assert_eq!(f.len(), 16);
        assert_eq!(&f.data_bytes()[..13], &(1..=13).collect::<Vec<u8>>()[..]);
        assert_eq!(&f.data_bytes()[13..], &[0, 0, 0]);
    }

    #[test]
    fn echo_ring_matches_in_order_and_forgets_lost_echoes() {
        let mut r = EchoRing {
            sent: VecDeque::new(),
        };
        r.note(1);
        r.note(2);
        assert!(!r.is_echo(3));
        assert!(r.is_echo(2));
        assert!(r.is_echo(1), "a slightly reordered echo still matches");
        assert!(!r.is_echo(1), "each send matches once");
        r.sent
            .push_back((7, Instant::now() - Duration::from_secs(1)));
        r.note(8);
        assert!(r.is_echo(8));
        assert!(
            r.sent.is_empty(),
            "an echo sent long before is considered lost"
        );
        for i in 0..(ECHO_CAPACITY as u64 + 10) {
            r.note(i);
        }
        assert_eq!(r.sent.len(), ECHO_CAPACITY);
    }

    #[test]
    fn bad_settings_are_reported() {
        for (ch, opt) in [
            ("10.0.0.1", None),
            ("not-an-address", None),
            (DEFAULT_GROUP_V4, Some(("port", "0"))),
            (DEFAULT_GROUP_V4, Some(("hop_limit", "300"))),
            (DEFAULT_GROUP_V4, Some(("ttl", "1"))),
        ] {
            let mut s = BusSettings::new("udp_multicast", ch);
            if let Some((k, v)) = opt {
                s.options.insert(k.into(), v.into());
            }
            assert!(crate::bus::open(&s).is_err(), "{ch} {opt:?} accepted");
        }
    }
}
