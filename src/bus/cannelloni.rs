//! The `cannelloni` backend: CAN over UDP or TCP, wire-compatible with
//! mguentner/cannelloni 2.1 (the SocketCAN tunnel), so that a bus on another
//! machine running `cannelloni -I can0 ...` is a bus here.
//!
//! * Channel: the peer, `HOST:PORT` (default `127.0.0.1:20000`).
//! * UDP (the default, protocol version 2): we bind `local` (`--bus-opt
//!   local=ADDR:PORT`, default `127.0.0.1:20000`, `[::1]:20000` for an IPv6
//!   peer) and send to the channel's address. Each datagram is a 5-byte header
//!   (version 2, opcode 0 DATA, a sequence number counting datagrams modulo
//!   256, the frame count, big-endian) and the frames back to back.
//! * TCP (`--bus-opt transport=tcp`): a client of the channel's address, or
//!   with `--bus-opt listen=ADDR:PORT` a server there. Each side first sends the
//!   12 bytes `CANNELLONIv1`, then frames back to back, without header.
//! * One frame on the wire: the Linux `can_id` (with the EFF 0x80000000,
//!   RTR 0x40000000 and ERR 0x20000000 flags, big-endian), a length byte
//!   (bit 7 set: a CAN FD frame, followed by a flags byte: BRS 1, ESI 2,
//!   FDF 4), then the data; a remote frame has no data, its length byte
//!   carries the requested length.
//!
//! # Sending
//!
//! Frames go into a bounded queue ([`QUEUE_FRAMES`]) that one writer thread
//! empties. Over UDP it packs as many frames as fit in `max_datagram` bytes
//! (default 1472: a 1500-byte Ethernet MTU less the IPv4 and UDP headers) into
//! one datagram, and with `batch_us=N` waits up to N µs after the first queued
//! frame for more (the reference's `-t`, 100 ms there; 0 here: a datagram
//! leaves as soon as the writer is free, and frames queued meanwhile share the
//! next one). Over TCP the writer writes whatever is queued at once. When the
//! queue stays full for [`QUEUE_WAIT`] (a peer that does not read), frames are
//! dropped, counted ([`CannelloniBus::tx_dropped`]) and warned about; sending
//! never blocks longer. A classic frame's raw DLC 9-15 goes out as length 8
//! (the protocol carries the kernel's `len`); FD remote and FD error frames
//! cannot be sent.
//!
//! # Receiving, and what a peer cannot do
//!
//! * Datagrams are accepted only from the allow-list (`--bus-opt
//!   allow=IP[:PORT],...`; default: the channel's address and port; `any`
//!   accepts everyone); others are counted ([`CannelloniBus::rejected`]) and
//!   dropped with a warning. A TCP server takes one client at a time, from the
//!   allow-list's addresses (default: the channel's IP, any port).
//! * Every length is checked against what is left of the input and against
//!   the frame (classic at most 8 bytes, FD one of the 16 FD lengths) before
//!   any byte is copied: the reference's parser wrote past a 64-byte buffer on
//!   a length of up to 127 (CVE-2026-37539, fixed in 2.1.2). A datagram that
//!   breaks a rule is malformed: the frames before the bad one are delivered
//!   (as the reference does), the rest is dropped, the datagram is counted
//!   ([`CannelloniBus::malformed`]) and warned about (the first 10, then every
//!   power of two). A malformed TCP stream cannot be resynchronised: the
//!   connection is closed (a server then waits for the next client).
//! * A gap in the UDP sequence numbers is loss: each missing datagram counts
//!   as one dropped frame (at least one frame was in it) in
//!   [`Bus::take_dropped`]. A number that goes back (a reordered or repeated
//!   datagram) is not counted.
//! * The TCP handshake must arrive within [`HANDSHAKE_TIMEOUT`]; no read or
//!   write waits on a peer for longer than that without giving up, and memory
//!   stays constant whatever the peer sends.
//! * Receive timestamps are the wall clock at receipt (the protocol carries
//!   none).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::net::{Shutdown, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::batch::wait_readable;
use super::{Bus, BusSettings};
use crate::error::{Error, Result};
use crate::frame::{Channel, Direction, Frame, Record, Timestamp};

/// The reference's default port, local and remote.
pub const DEFAULT_PORT: u16 = 20000;
/// Default largest datagram: 1500-byte MTU - 20 (IPv4) - 8 (UDP).
pub const DEFAULT_MAX_DATAGRAM: usize = 1472;
/// Largest UDP payload over IPv4.
pub const MAX_UDP_PAYLOAD: usize = 65507;
/// Frames waiting to be sent, at most.
pub const QUEUE_FRAMES: usize = 8192;
/// How long a send waits for room in a full queue before dropping.
pub const QUEUE_WAIT: Duration = Duration::from_millis(50);
/// How long a peer has to complete the TCP handshake, and a TCP write to progress.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `close` waits for the queue to drain.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Receive buffer asked for (best effort), so bursts survive a busy reader.
const RECV_BUFFER: usize = 4 << 20;
/// Clients a TCP server serves at once (the protocol is point to point).
pub const MAX_CLIENTS: usize = 1;

/// The byte layout: one frame, one UDP datagram, the TCP handshake.
pub mod wire {
    use crate::error::{Error, Result};
    use crate::frame::{len_to_dlc, FdFlags, Frame, Id, CANFD_MAX_LEN, CAN_MAX_LEN, SFF_MAX};

    /// UDP protocol version.
    pub const VERSION: u8 = 2;
    /// Opcode of a data datagram (ACK 1 and NACK 2 are defined but unused).
    pub const OP_DATA: u8 = 0;
    /// Bytes of the UDP datagram header.
    pub const HEADER_LEN: usize = 5;
    /// What each side of a TCP connection sends first.
    pub const HANDSHAKE: &[u8; 12] = b"CANNELLONIv1";
    /// The longest encoded frame: id, length, flags, 64 data bytes.
    pub const MAX_FRAME_LEN: usize = 4 + 1 + 1 + CANFD_MAX_LEN;

    const EFF: u32 = 0x8000_0000;
    const RTR: u32 = 0x4000_0000;
    const ERR: u32 = 0x2000_0000;
    const ID_MASK: u32 = 0x1FFF_FFFF;
    const FD_LEN: u8 = 0x80;
    const BRS: u8 = 0x01;
    const ESI: u8 = 0x02;
    const FDF: u8 = 0x04;

    /// Fails for the frames the protocol cannot carry (FD remote or error frames).
    pub fn check(frame: &Frame) -> Result<()> {
        if frame.is_fd() && !frame.is_data() {
            return Err(Error::Unsupported(format!(
                "cannelloni cannot send a CAN FD {} frame ({frame})",
                if frame.is_remote() { "remote" } else { "error" }
            )));
        }
        Ok(())
    }

    /// Bytes `frame` takes on the wire.
    pub fn encoded_len(frame: &Frame) -> usize {
        5 + frame.is_fd() as usize + frame.len()
    }

    /// Appends `frame` (which [`check`] accepts) to `out`.
    pub fn encode_frame(frame: &Frame, out: &mut Vec<u8>) -> Result<()> {
        check(frame)?;
        let mut id = frame.id().raw();
        if frame.is_error() {
            id |= ERR;
        } else if frame.id().is_extended() {
            id |= EFF;
        }
        if frame.is_remote() {
            id |= RTR;
        }
        out.extend_from_slice(&id.to_be_bytes());
        match frame.fd_flags() {
            Some(f) => {
                out.push(FD_LEN | frame.len() as u8);
                out.push(FDF | if f.brs { BRS } else { 0 } | if f.esi { ESI } else { 0 });
            }
            None if frame.is_remote() => out.push(frame.requested_len() as u8),
            None => out.push(frame.len() as u8),
        }
        out.extend_from_slice(frame.data_bytes());
        Ok(())
    }

    /// Writes a datagram header.
    pub fn header(seq: u8, count: u16) -> [u8; HEADER_LEN] {
        let c = count.to_be_bytes();
        [VERSION, OP_DATA, seq, c[0], c[1]]
    }

    /// The outcome of decoding one frame from the front of a buffer.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Step {
        /// A frame and the bytes it took.
        Frame(Frame, usize),
        /// The buffer ends inside the frame (more bytes may complete it).
        Incomplete,
        /// The bytes cannot be a frame; the reason.
        Malformed(String),
    }

    /// Decodes the frame at the front of `buf`. Every length is checked
    /// before it is used: against the frame kind first (so a bad length is
    /// reported even before its bytes arrive), then against `buf`.
    pub fn decode_frame(buf: &[u8]) -> Step {
        if buf.len() < 5 {
            return Step::Incomplete;
        }
        let can_id = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let len_byte = buf[4];
        let fd = len_byte & FD_LEN != 0;
        let n = (len_byte & !FD_LEN) as usize;
        let (rtr, err, eff) = (can_id & RTR != 0, can_id & ERR != 0, can_id & EFF != 0);
        if rtr && err {
            return Step::Malformed(format!("can_id 0x{can_id:08X} is both remote and error"));
        }
        if fd {
            if rtr || err {
                return Step::Malformed(format!(
                    "CAN FD frame with the {} flag (can_id 0x{can_id:08X})",
                    if rtr { "RTR" } else { "ERR" }
                ));
            }
            if n > CANFD_MAX_LEN || len_to_dlc(n).is_none() {
                return Step::Malformed(format!(
                    "CAN FD length {n} (one of 0-8, 12, 16, 20, 24, 32, 48, 64)"
                ));
            }
        } else if n > CAN_MAX_LEN {
            return Step::Malformed(format!(
                "classic {} length {n} (at most 8)",
                if rtr { "remote" } else { "frame" }
            ));
        }
        let id = if err {
            None
        } else if eff {
            Some(Id::Extended(can_id & ID_MASK))
        } else if can_id & ID_MASK > SFF_MAX {
            return Step::Malformed(format!(
                "11-bit id 0x{:X} above 0x7FF (can_id 0x{can_id:08X})",
                can_id & ID_MASK
            ));
        } else {
            Some(Id::Standard((can_id & ID_MASK) as u16))
        };
        let head = 5 + fd as usize;
        let data_len = if rtr { 0 } else { n };
        if buf.len() < head + data_len {
            return Step::Incomplete;
        }
        let data = &buf[head..head + data_len];
        let made = match (id, fd) {
            (None, _) => Frame::error(can_id & ID_MASK, data),
            (Some(id), true) => Frame::fd(id, data, FdFlags::from_nibble(buf[5])),
            (Some(id), false) if rtr => Frame::remote(id, n as u8),
            (Some(id), false) => Frame::data(id, data),
        };
        match made {
            Ok(f) => Step::Frame(f, head + data_len),
            Err(e) => Step::Malformed(e.to_string()),
        }
    }

    /// Why a datagram was malformed, and where.
    #[derive(Debug, PartialEq, Eq)]
    pub struct BadDatagram {
        /// The header's sequence number, when the header was valid.
        pub seq: Option<u8>,
        /// The byte offset of the problem.
        pub at: usize,
        /// What is wrong.
        pub why: String,
    }

    impl std::fmt::Display for BadDatagram {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "at byte {}: {}", self.at, self.why)
        }
    }

    /// Decodes a UDP datagram, appending its frames to `out`; returns its
    /// sequence number. On an error the frames before the bad one stay in
    /// `out`. A count of 0 is an empty datagram. `out` grows by at most one
    /// frame per 5 bytes of input, whatever the count says.
    pub fn decode_datagram(d: &[u8], out: &mut Vec<Frame>) -> Result<u8, BadDatagram> {
        let bad = |seq, at, why: String| BadDatagram { seq, at, why };
        if d.len() < HEADER_LEN {
            return Err(bad(
                None,
                0,
                format!("{} bytes, shorter than the header", d.len()),
            ));
        }
        if d[0] != VERSION {
            return Err(bad(
                None,
                0,
                format!("version {} (expected {VERSION})", d[0]),
            ));
        }
        if d[1] != OP_DATA {
            return Err(bad(
                None,
                1,
                format!("opcode {} (only DATA, 0, is used)", d[1]),
            ));
        }
        let seq = d[2];
        let count = u16::from_be_bytes([d[3], d[4]]) as usize;
        let mut at = HEADER_LEN;
        for i in 0..count {
            match decode_frame(&d[at..]) {
                Step::Frame(f, used) => {
                    out.push(f);
                    at += used;
                }
                Step::Incomplete => {
                    return Err(bad(
                        Some(seq),
                        at,
                        format!(
                            "frame {} of {count} runs past the end of the {}-byte datagram",
                            i + 1,
                            d.len()
                        ),
                    ))
                }
                Step::Malformed(why) => {
                    return Err(bad(
                        Some(seq),
                        at,
                        format!("frame {} of {count}: {why}", i + 1),
                    ))
                }
            }
        }
        if at != d.len() {
            return Err(bad(
                Some(seq),
                at,
                format!("{} bytes after the {count} frames", d.len() - at),
            ));
        }
        Ok(seq)
    }
}

/// How the bus reaches its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Udp,
    TcpClient,
    TcpServer,
}

/// Who may send to us.
#[derive(Clone, Debug)]
enum Allow {
    Any,
    List(Vec<(IpAddr, Option<u16>)>),
}

impl Allow {
    fn permits(&self, peer: SocketAddr) -> bool {
        match self {
            Allow::Any => true,
            Allow::List(l) => l.iter().any(|&(ip, port)| {
                canonical(ip) == canonical(peer.ip()) && port.is_none_or(|p| p == peer.port())
            }),
        }
    }
}

/// An IPv4-mapped IPv6 address as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Counts an event and says whether to warn about it (the first 10, then
/// every power of two).
fn count_and_warn(counter: &AtomicU64) -> Option<u64> {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    (n <= 10 || n.is_power_of_two()).then_some(n)
}

/// The send queue, shared by the bus handles and the writer thread.
struct Tx {
    state: Mutex<TxState>,
    /// Wakes the writer: frames queued, or stop.
    wake: Condvar,
    /// Wakes senders and `close`: room in the queue, or the queue drained.
    room: Condvar,
    dropped: AtomicU64,
}

struct TxState {
    queue: VecDeque<Frame>,
    /// Encoded bytes in `queue`.
    bytes: usize,
    /// When the oldest queued frame was queued.
    first: Option<Instant>,
    /// A frame is being written.
    busy: bool,
    stop: bool,
    /// An error of the writer, for the next send to return.
    error: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The TCP connection, shared by the handles, the writer and the acceptor.
struct Tcp {
    conn: Mutex<Option<Arc<TcpStream>>>,
    /// Bumped on every new connection, so that the reader drops stale bytes.
    generation: AtomicU64,
    connected: Condvar,
    stop: AtomicBool,
    rejected: AtomicU64,
    /// Writes that found no peer connected.
    no_peer: AtomicU64,
}

impl Tcp {
    fn current(&self) -> Option<(Arc<TcpStream>, u64)> {
        let c = lock(&self.conn);
        c.as_ref()
            .map(|s| (Arc::clone(s), self.generation.load(Ordering::Acquire)))
    }

    /// Drops `stream` if it is still the connection.
    fn drop_conn(&self, stream: &Arc<TcpStream>) {
        let mut c = lock(&self.conn);
        if c.as_ref().is_some_and(|s| Arc::ptr_eq(s, stream)) {
            let _ = stream.shutdown(Shutdown::Both);
            *c = None;
        }
    }
}

/// What the receiving side keeps between calls.
struct Rx {
    /// Frames decoded but not yet handed out, with their arrival time.
    pending: VecDeque<(Timestamp, Frame)>,
    /// Decoded frames of one datagram (reused).
    scratch: Vec<Frame>,
    /// Bytes of an incomplete TCP frame, and the connection they came from.
    partial: Vec<u8>,
    generation: u64,
    /// The last UDP sequence number seen.
    last_seq: Option<u8>,
}

/// What a bus and its clones share. Dropping it stops the threads.
struct Shared {
    name: String,
    channel: Channel,
    transport: Transport,
    udp: Option<UdpSocket>,
    tcp: Option<Arc<Tcp>>,
    allow: Allow,
    tx: Arc<Tx>,
    rx: Mutex<Rx>,
    malformed: AtomicU64,
    rejected: AtomicU64,
    lost: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        lock(&self.tx.state).stop = true;
        self.tx.wake.notify_all();
        if let Some(tcp) = &self.tcp {
            tcp.stop.store(true, Ordering::Release);
            if let Some(s) = lock(&tcp.conn).as_ref() {
                let _ = s.shutdown(Shutdown::Read);
            }
        }
        for t in lock(&self.threads).drain(..) {
            let _ = t.join();
        }
        let dropped = self.tx.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            log::warn!(
                "cannelloni {}: {dropped} frames were not sent (the queue to the peer was full or no peer was connected)",
                self.name
            );
        }
    }
}

/// The `cannelloni` backend's registry entry.
pub const BACKEND: super::Backend = super::Backend {
    name: "cannelloni",
    help: "cannelloni's CAN over UDP/TCP (the peer HOST:PORT as the channel)",
    default_channel: "127.0.0.1:20000",
    options: &[
        ("transport", "udp (default) or tcp"),
        (
            "local",
            "UDP: the address to bind, default 127.0.0.1:20000 ([::1]:20000 for an IPv6 peer)",
        ),
        (
            "listen",
            "TCP: be the server on this ADDR:PORT instead of connecting to the channel",
        ),
        (
            "allow",
            "peers accepted, IP or IP:PORT separated by commas, or 'any'; default the channel's address",
        ),
        (
            "batch_us",
            "UDP: wait up to this many µs for more frames to share a datagram, default 0",
        ),
        (
            "max_datagram",
            "UDP: largest datagram sent in bytes (75 to 65507), default 1472",
        ),
    ],
    caps: super::Caps {
        fd: true,
        ..super::Caps::NONE
    },
    open: |s| Ok(Box::new(CannelloniBus::open(s)?)),
};

/// The `cannelloni` bus: see the module docs.
pub struct CannelloniBus {
    shared: Arc<Shared>,
}

/// Resolves `HOST:PORT` to one address.
fn resolve(s: &str) -> io::Result<SocketAddr> {
    s.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address"))
}

fn parse_allow(settings: &BusSettings, text: &str) -> Result<Allow> {
    if text == "any" {
        return Ok(Allow::Any);
    }
    let mut list = Vec::new();
    for part in text.split(',').map(str::trim) {
        let entry = if let Ok(ip) = part.parse::<IpAddr>() {
            (ip, None)
        } else if let Ok(sa) = part.parse::<SocketAddr>() {
            (sa.ip(), Some(sa.port()))
        } else {
            return Err(Error::bad_option_value(
                format!("cannelloni channel '{}'", settings.channel),
                "allow",
                text,
                "IP or IP:PORT entries separated by commas, or 'any'",
            ));
        };
        list.push(entry);
    }
    Ok(Allow::List(list))
}

impl CannelloniBus {
    /// Opens the bus `settings` describe (see the module docs for the options).
    pub fn open(settings: &BusSettings) -> Result<CannelloniBus> {
        let name = if settings.channel.is_empty() {
            BACKEND.default_channel
        } else {
            settings.channel.as_str()
        };
        let fail = |what: String, e: io::Error| settings.error(format!("{what}: {e}"));
        let peer = resolve(name).map_err(|e| {
            settings.error(format!(
                "'{name}' is not HOST:PORT of the cannelloni peer ({e})"
            ))
        })?;
        let transport = match settings.options.get("transport").map(String::as_str) {
            None | Some("udp") => Transport::Udp,
            Some("tcp") if settings.options.contains_key("listen") => Transport::TcpServer,
            Some("tcp") => Transport::TcpClient,
            Some(other) => {
                return Err(Error::bad_option_value(
                    format!("cannelloni channel '{name}'"),
                    "transport",
                    other,
                    "udp or tcp",
                ))
            }
        };
        let only = |key: &str, want: &[Transport], what: &str| -> Result<()> {
            if settings.options.contains_key(key) && !want.contains(&transport) {
                return Err(settings.error(format!("--bus-opt {key} applies only to {what}")));
            }
            Ok(())
        };
        only("local", &[Transport::Udp], "transport=udp")?;
        only("max_datagram", &[Transport::Udp], "transport=udp")?;
        only("batch_us", &[Transport::Udp], "transport=udp")?;
        only(
            "listen",
            &[Transport::TcpServer],
            "transport=tcp (the server)",
        )?;
        let max_datagram = settings
            .option::<usize>("max_datagram")?
            .unwrap_or(DEFAULT_MAX_DATAGRAM);
        let smallest = wire::HEADER_LEN + wire::MAX_FRAME_LEN;
        if !(smallest..=MAX_UDP_PAYLOAD).contains(&max_datagram) {
            return Err(settings.error(format!(
                "max_datagram must be {smallest} to {MAX_UDP_PAYLOAD} (one CAN FD frame must fit), not {max_datagram}"
            )));
        }
        let batch = Duration::from_micros(settings.option::<u64>("batch_us")?.unwrap_or(0));
        if batch > Duration::from_secs(10) {
            return Err(settings.error("batch_us must be at most 10000000 (10 s)"));
        }
        let allow = match settings.options.get("allow") {
            Some(text) => parse_allow(settings, text)?,
            None if transport == Transport::TcpServer => Allow::List(vec![(peer.ip(), None)]),
            None => Allow::List(vec![(peer.ip(), Some(peer.port()))]),
        };
        let tx = Arc::new(Tx {
            state: Mutex::new(TxState {
                queue: VecDeque::new(),
                bytes: 0,
                first: None,
                busy: false,
                stop: false,
                error: None,
            }),
            wake: Condvar::new(),
            room: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let mut threads = Vec::new();
        let (udp, tcp) = match transport {
            Transport::Udp => {
                let local = match settings.options.get("local") {
                    Some(l) => resolve(l).map_err(|e| {
                        settings.error(format!("local '{l}' is not ADDR:PORT to bind ({e})"))
                    })?,
                    None if peer.is_ipv6() => {
                        SocketAddr::new(Ipv6Addr::LOCALHOST.into(), DEFAULT_PORT)
                    }
                    None => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), DEFAULT_PORT),
                };
                let sock = UdpSocket::bind(local)
                    .map_err(|e| fail(format!("cannot bind UDP {local}"), e))?;
                let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(RECV_BUFFER);
                let _ = socket2::SockRef::from(&sock).set_send_buffer_size(RECV_BUFFER);
                let out = sock
                    .try_clone()
                    .map_err(|e| fail("cannot share the UDP socket".into(), e))?;
                let txc = Arc::clone(&tx);
                threads.push(spawn("cannelloni-tx", move || {
                    udp_writer(&txc, &out, peer, max_datagram, batch)
                })?);
                (Some(sock), None)
            }
            Transport::TcpClient | Transport::TcpServer => {
                let tcp = Arc::new(Tcp {
                    conn: Mutex::new(None),
                    generation: AtomicU64::new(0),
                    connected: Condvar::new(),
                    stop: AtomicBool::new(false),
                    rejected: AtomicU64::new(0),
                    no_peer: AtomicU64::new(0),
                });
                if transport == Transport::TcpClient {
                    let s = TcpStream::connect_timeout(&peer, HANDSHAKE_TIMEOUT)
                        .map_err(|e| fail(format!("cannot connect to {peer}"), e))?;
                    handshake(&s).map_err(|e| fail(format!("handshake with {peer}"), e))?;
                    *lock(&tcp.conn) = Some(Arc::new(s));
                    tcp.generation.store(1, Ordering::Release);
                } else {
                    let l = &settings.options["listen"];
                    let at = resolve(l).map_err(|e| {
                        settings.error(format!("listen '{l}' is not ADDR:PORT to listen on ({e})"))
                    })?;
                    let listener = TcpListener::bind(at)
                        .map_err(|e| fail(format!("cannot listen on TCP {at}"), e))?;
                    let (t, a, n) = (Arc::clone(&tcp), allow.clone(), name.to_string());
                    threads.push(spawn("cannelloni-accept", move || {
                        acceptor(&t, &listener, &a, &n)
                    })?);
                }
                let (t, txc, n) = (Arc::clone(&tcp), Arc::clone(&tx), name.to_string());
                threads.push(spawn("cannelloni-tx", move || tcp_writer(&txc, &t, &n))?);
                (None, Some(tcp))
            }
        };
        Ok(CannelloniBus {
            shared: Arc::new(Shared {
                name: name.to_string(),
                channel: Channel::name(name),
                transport,
                udp,
                tcp,
                allow,
                tx,
                rx: Mutex::new(Rx {
                    pending: VecDeque::new(),
                    scratch: Vec::new(),
                    partial: Vec::new(),
                    generation: 0,
                    last_seq: None,
                }),
                malformed: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                lost: AtomicU64::new(0),
                threads: Mutex::new(threads),
            }),
        })
    }

    /// Datagrams (or TCP streams) received so far that broke the protocol.
    pub fn malformed(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }

    /// Datagrams and connections refused because the peer was not allowed
    /// (or a TCP server already had its client).
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
            + self
                .shared
                .tcp
                .as_ref()
                .map_or(0, |t| t.rejected.load(Ordering::Relaxed))
    }

    /// Frames not sent: the queue stayed full, or no TCP peer was connected.
    pub fn tx_dropped(&self) -> u64 {
        self.shared.tx.dropped.load(Ordering::Relaxed)
    }

    /// TCP: a peer is connected now. UDP: always true (no connection).
    pub fn connected(&self) -> bool {
        self.shared
            .tcp
            .as_ref()
            .is_none_or(|t| lock(&t.conn).is_some())
    }

    /// The local address of the UDP socket (UDP only).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shared.udp.as_ref().and_then(|s| s.local_addr().ok())
    }

    fn error(&self, message: String) -> Error {
        Error::Bus {
            interface: "cannelloni".into(),
            channel: self.shared.name.clone(),
            message,
        }
    }

    fn malformed_warning(&self, what: &str) {
        if let Some(n) = count_and_warn(&self.shared.malformed) {
            log::warn!(
                "cannelloni {}: dropping malformed input #{n}: {what}",
                self.shared.name
            );
        }
    }

    /// Notes a datagram's sequence number; a forward gap is loss.
    fn note_seq(&self, rx: &mut Rx, seq: u8) {
        if let Some(last) = rx.last_seq {
            let ahead = seq.wrapping_sub(last);
            if ahead == 0 || ahead > 128 {
                // repeated or reordered: not a gap, and not the new front
                return;
            }
            self.shared
                .lost
                .fetch_add(ahead as u64 - 1, Ordering::Relaxed);
        }
        rx.last_seq = Some(seq);
    }

    fn recv_udp(&self, sock: &UdpSocket, deadline: Option<Instant>) -> Result<bool> {
        let mut buf = [0u8; MAX_UDP_PAYLOAD + 1];
        loop {
            if !wait_readable(sock.as_raw_fd(), deadline)
                .map_err(|e| self.error(format!("poll failed: {e}")))?
            {
                return Ok(false);
            }
            let (n, from) = match recv_from_nonblocking(sock, &mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                // An ICMP port unreachable for an earlier send: the peer is not up yet.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(self.error(format!("receive failed: {e}"))),
            };
            let now = Timestamp::now();
            if !self.shared.allow.permits(from) {
                if let Some(k) = count_and_warn(&self.shared.rejected) {
                    log::warn!(
                        "cannelloni {}: ignoring datagram #{k} from {from}, which is not an allowed peer (--bus-opt allow=)",
                        self.shared.name
                    );
                }
                continue;
            }
            let mut rx = lock(&self.shared.rx);
            let rx = &mut *rx;
            rx.scratch.clear();
            let result = if n > MAX_UDP_PAYLOAD {
                Err(wire::BadDatagram {
                    seq: None,
                    at: MAX_UDP_PAYLOAD,
                    why: "datagram too long".into(),
                })
            } else {
                wire::decode_datagram(&buf[..n], &mut rx.scratch)
            };
            let seq = match &result {
                Ok(s) => Some(*s),
                Err(bad) => bad.seq,
            };
            if let Some(s) = seq {
                self.note_seq(rx, s);
            }
            if let Err(bad) = result {
                self.malformed_warning(&format!("{n}-byte datagram from {from} {bad}"));
            }
            let got = !rx.scratch.is_empty();
            rx.pending.extend(rx.scratch.drain(..).map(|f| (now, f)));
            if got {
                return Ok(true);
            }
        }
    }

    fn recv_tcp(&self, tcp: &Tcp, deadline: Option<Instant>) -> Result<bool> {
        let mut buf = [0u8; 16384];
        loop {
            let Some((stream, generation)) = tcp.current() else {
                if self.shared.transport == Transport::TcpClient {
                    return Err(self.error("the connection to the peer is closed".into()));
                }
                // A server: wait for a client.
                let c = lock(&tcp.conn);
                if c.is_some() {
                    continue;
                }
                let left = match deadline {
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            return Ok(false);
                        }
                        d - now
                    }
                    None => Duration::from_secs(3600),
                };
                drop(tcp.connected.wait_timeout(c, left));
                continue;
            };
            // Waits at most 200 ms at a time, to notice a new connection.
            let step = Instant::now() + Duration::from_millis(200);
            let until = deadline.map_or(step, |d| d.min(step));
            let ready = wait_readable(stream.as_raw_fd(), Some(until))
                .map_err(|e| self.error(format!("poll failed: {e}")))?;
            if !ready {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                continue;
            }
            let n = match (&*stream).read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => {
                    tcp.drop_conn(&stream);
                    log::warn!("cannelloni {}: connection lost: {e}", self.shared.name);
                    if self.shared.transport == Transport::TcpClient {
                        return Err(self.error(format!("connection lost: {e}")));
                    }
                    continue;
                }
            };
            if n == 0 {
                tcp.drop_conn(&stream);
                if self.shared.transport == Transport::TcpClient {
                    return Err(self.error("the peer closed the connection".into()));
                }
                log::info!(
                    "cannelloni {}: the client closed the connection",
                    self.shared.name
                );
                continue;
            }
            let now = Timestamp::now();
            let mut rx = lock(&self.shared.rx);
            if rx.generation != generation {
                rx.partial.clear();
                rx.generation = generation;
            }
            let rx = &mut *rx;
            // Decode straight from the read buffer; only an incomplete frame's
            // bytes (at most wire::MAX_FRAME_LEN - 1) are kept for the next read.
            let mut input: &[u8] = &buf[..n];
            let mut joined = [0u8; wire::MAX_FRAME_LEN];
            let mut got = false;
            while !rx.partial.is_empty() {
                let have = rx.partial.len();
                let take = (wire::MAX_FRAME_LEN - have).min(input.len());
                joined[..have].copy_from_slice(&rx.partial);
                joined[have..have + take].copy_from_slice(&input[..take]);
                match wire::decode_frame(&joined[..have + take]) {
                    wire::Step::Frame(f, used) => {
                        rx.pending.push_back((now, f));
                        got = true;
                        input = &input[used - have..];
                        rx.partial.clear();
                    }
                    wire::Step::Incomplete => {
                        rx.partial.extend_from_slice(&input[..take]);
                        input = &[];
                        break;
                    }
                    wire::Step::Malformed(why) => {
                        rx.partial.clear();
                        return self.bad_stream(tcp, &stream, &why, got);
                    }
                }
            }
            loop {
                match wire::decode_frame(input) {
                    wire::Step::Frame(f, used) => {
                        rx.pending.push_back((now, f));
                        got = true;
                        input = &input[used..];
                    }
                    wire::Step::Incomplete => {
                        rx.partial.extend_from_slice(input);
                        break;
                    }
                    wire::Step::Malformed(why) => {
                        rx.partial.clear();
                        return self.bad_stream(tcp, &stream, &why, got);
                    }
                }
            }
            if got {
                return Ok(true);
            }
        }
    }

    fn bad_stream(&self, tcp: &Tcp, stream: &Arc<TcpStream>, why: &str, got: bool) -> Result<bool> {
        self.malformed_warning(&format!("TCP stream: {why}; closing the connection"));
        tcp.drop_conn(stream);
        if self.shared.transport == Transport::TcpClient && !got {
            return Err(self.error(format!("the peer sent a malformed frame: {why}")));
        }
        Ok(got)
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| Error::io(format!("cannot start the {name} thread"), e))
}

fn recv_from_nonblocking(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    loop {
        // SAFETY: buf and addr are live buffers of the stated sizes.
        let n = unsafe {
            libc::recvfrom(
                sock.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                &mut addr as *mut libc::sockaddr_storage as *mut libc::sockaddr,
                &mut len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let from = sockaddr_to_std(&addr)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP sender"))?;
        // With MSG_TRUNC, n is the datagram's real length, perhaps above buf.len().
        return Ok((n as usize, from));
    }
}

/// The IP address and port of a `sockaddr_storage` the kernel filled.
fn sockaddr_to_std(addr: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match addr.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(addr as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)).into(),
                u16::from_be(a.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a = unsafe { &*(addr as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr).into(),
                u16::from_be(a.sin6_port),
            ))
        }
        _ => None,
    }
}

/// Sends our handshake and checks the peer's, within [`HANDSHAKE_TIMEOUT`].
fn handshake(s: &TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    s.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    (&*s).write_all(wire::HANDSHAKE)?;
    let mut got = [0u8; 12];
    (&*s).read_exact(&mut got).map_err(|e| {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no handshake within {HANDSHAKE_TIMEOUT:?}"),
            )
        } else {
            e
        }
    })?;
    if &got != wire::HANDSHAKE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the peer's handshake is {:?}, not \"CANNELLONIv1\"",
                String::from_utf8_lossy(&got)
            ),
        ));
    }
    s.set_read_timeout(None)?;
    Ok(())
}

/// The TCP server's accept loop: one client at a time, from allowed addresses.
fn acceptor(tcp: &Tcp, listener: &TcpListener, allow: &Allow, name: &str) {
    while !tcp.stop.load(Ordering::Acquire) {
        match wait_readable(
            listener.as_raw_fd(),
            Some(Instant::now() + Duration::from_millis(200)),
        ) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        let (stream, from) = match listener.accept() {
            Ok(a) => a,
            Err(_) => continue,
        };
        let busy = lock(&tcp.conn).is_some();
        if busy || !allow.permits(from) {
            if let Some(n) = count_and_warn(&tcp.rejected) {
                log::warn!(
                    "cannelloni {name}: refusing connection #{n} from {from}: {}",
                    if busy {
                        "a client is already connected (one at a time)"
                    } else {
                        "not an allowed peer (--bus-opt allow=)"
                    }
                );
            }
            continue;
        }
        if let Err(e) = handshake(&stream) {
            log::warn!("cannelloni {name}: client {from}: {e}");
            continue;
        }
        log::info!("cannelloni {name}: client {from} connected");
        *lock(&tcp.conn) = Some(Arc::new(stream));
        tcp.generation.fetch_add(1, Ordering::AcqRel);
        tcp.connected.notify_all();
    }
}

/// Takes up to `max` encoded bytes of frames from the queue into `out`;
/// returns how many frames.
fn take_frames(st: &mut TxState, out: &mut Vec<u8>, max: usize, max_frames: usize) -> usize {
    let mut n = 0;
    while let Some(f) = st.queue.front() {
        let len = wire::encoded_len(f);
        if out.len() + len > max || n == max_frames {
            break;
        }
        // check() ran when the frame was queued: encoding cannot fail.
        let _ = wire::encode_frame(f, out);
        st.bytes -= len;
        st.queue.pop_front();
        n += 1;
    }
    if st.queue.is_empty() {
        st.first = None;
    }
    n
}

/// Waits until frames are due (or stop); false when the writer should end.
fn wait_due<'a>(
    tx: &'a Tx,
    mut st: MutexGuard<'a, TxState>,
    batch: Duration,
    full: usize,
) -> Option<MutexGuard<'a, TxState>> {
    loop {
        if st.queue.is_empty() {
            if st.stop {
                return None;
            }
            st = tx.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        if st.stop || batch.is_zero() || st.bytes >= full {
            return Some(st);
        }
        let due = st.first.unwrap_or_else(Instant::now) + batch;
        let now = Instant::now();
        if now >= due {
            return Some(st);
        }
        st = tx
            .wake
            .wait_timeout(st, due - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

fn udp_writer(tx: &Tx, sock: &UdpSocket, peer: SocketAddr, max: usize, batch: Duration) {
    let mut packet = Vec::with_capacity(max);
    let mut seq: u8 = 0;
    loop {
        let st = lock(&tx.state);
        let Some(mut st) = wait_due(tx, st, batch, max - wire::HEADER_LEN) else {
            return;
        };
        packet.clear();
        packet.extend_from_slice(&wire::header(seq, 0));
        let count = take_frames(&mut st, &mut packet, max, u16::MAX as usize);
        st.busy = true;
        drop(st);
        tx.room.notify_all();
        packet[3..5].copy_from_slice(&(count as u16).to_be_bytes());
        let sent = loop {
            match sock.send_to(&packet, peer) {
                // An ICMP error for an earlier datagram: this one was not sent.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                r => break r,
            }
        };
        let mut st = lock(&tx.state);
        st.busy = false;
        match sent {
            Ok(n) if n == packet.len() => {}
            Ok(n) => st.error = Some(format!("short send ({n} of {} bytes)", packet.len())),
            Err(e) => st.error = Some(format!("send to {peer} failed: {e}")),
        }
        drop(st);
        tx.room.notify_all();
        seq = seq.wrapping_add(1);
    }
}

fn tcp_writer(tx: &Tx, tcp: &Tcp, name: &str) {
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let st = lock(&tx.state);
        let Some(mut st) = wait_due(tx, st, Duration::ZERO, 0) else {
            return;
        };
        out.clear();
        let count = take_frames(&mut st, &mut out, 64 * 1024, usize::MAX);
        st.busy = true;
        drop(st);
        tx.room.notify_all();
        let result = match tcp.current() {
            None => Err(None),
            Some((s, _)) => {
                let _ = s.set_write_timeout(Some(HANDSHAKE_TIMEOUT));
                (&*s).write_all(&out).map_err(|e| {
                    // A partial write leaves the stream out of step: end it.
                    tcp.drop_conn(&s);
                    Some(e)
                })
            }
        };
        let mut st = lock(&tx.state);
        st.busy = false;
        if let Err(e) = result {
            tx.dropped.fetch_add(count as u64, Ordering::Relaxed);
            match e {
                None => {
                    if let Some(n) = count_and_warn(&tcp.no_peer) {
                        log::warn!(
                            "cannelloni {name}: no peer connected: {count} frames not sent (#{n})"
                        );
                    }
                }
                Some(e) => {
                    log::warn!("cannelloni {name}: sending failed, connection closed: {e}");
                    st.error = Some(format!("sending failed: {e}"));
                }
            }
        }
        drop(st);
        tx.room.notify_all();
    }
}

impl Bus for CannelloniBus {
    fn send(&mut self, frame: &Frame) -> Result<()> {
        wire::check(frame)?;
        let tx = &self.shared.tx;
        let mut st = lock(&tx.state);
        if let Some(e) = st.error.take() {
            if self.shared.transport != Transport::TcpServer {
                return Err(self.error(e));
            }
        }
        if st.queue.len() >= QUEUE_FRAMES {
            let until = Instant::now() + QUEUE_WAIT;
            while st.queue.len() >= QUEUE_FRAMES {
                let now = Instant::now();
                if now >= until {
                    drop(st);
                    if let Some(n) = count_and_warn(&tx.dropped) {
                        log::warn!(
                            "cannelloni {}: the peer does not keep up: frame not sent ({n} so far)",
                            self.shared.name
                        );
                    }
                    return Ok(());
                }
                st = tx
                    .room
                    .wait_timeout(st, until - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        if st.queue.is_empty() {
            st.first = Some(Instant::now());
        }
        st.bytes += wire::encoded_len(frame);
        st.queue.push_back(*frame);
        drop(st);
        tx.wake.notify_one();
        Ok(())
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some((timestamp, frame)) = lock(&self.shared.rx).pending.pop_front() {
                return Ok(Some(Record {
                    timestamp,
                    channel: self.shared.channel.clone(),
                    direction: Direction::Rx,
                    frame,
                }));
            }
            let got = match (&self.shared.udp, &self.shared.tcp) {
                (Some(sock), _) => self.recv_udp(sock, deadline)?,
                (None, Some(tcp)) => self.recv_tcp(tcp, deadline)?,
                (None, None) => false,
            };
            if !got {
                return Ok(None);
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
        Ok(Box::new(CannelloniBus {
            shared: Arc::clone(&self.shared),
        }))
    }

    fn take_dropped(&mut self) -> u64 {
        self.shared.lost.swap(0, Ordering::Relaxed)
    }

    /// Waits (up to 2 s) for the queued frames to be sent; reports a send error.
    fn close(&mut self) -> Result<()> {
        let tx = &self.shared.tx;
        let until = Instant::now() + CLOSE_WAIT;
        let mut st = lock(&tx.state);
        while !st.queue.is_empty() || st.busy {
            let now = Instant::now();
            if now >= until {
                let left = st.queue.len();
                return Err(self.error(format!(
                    "{left} frames still queued after {CLOSE_WAIT:?}: the peer does not keep up"
                )));
            }
            st = tx
                .room
                .wait_timeout(st, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        match st.error.take() {
            Some(e) => Err(self.error(e)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FdFlags, Id};

    #[test]
    fn allow_lists_match_address_and_port() {
        let s = BusSettings::new("cannelloni", "127.0.0.1:20000");
        let a = parse_allow(&s, "127.0.0.1:20000, ::1,10.1.2.3").unwrap();
        let at = |t: &str| t.parse::<SocketAddr>().unwrap();
        assert!(a.permits(at("127.0.0.1:20000")));
        assert!(!a.permits(at("127.0.0.1:20001")));
        assert!(a.permits(at("[::1]:5")));
        assert!(a.permits(at("10.1.2.3:9")));
        assert!(a.permits(at("[::ffff:10.1.2.3]:9")), "IPv4-mapped");
        assert!(!a.permits(at("10.1.2.4:9")));
        assert!(parse_allow(&s, "any").unwrap().permits(at("192.0.2.1:1")));
        assert!(parse_allow(&s, "localhost").is_err());
    }

    #[test]
    fn encoding_matches_the_documented_layout() {
        let mut out = Vec::new();
        let fd = FdFlags {
            brs: true,
            esi: false,
        };
        wire::encode_frame(
            &Frame::fd(Id::Extended(0x123), &[7; 12], fd).unwrap(),
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..6], &[0x80, 0, 0x01, 0x23, 0x8C, 0x05]);
        out.clear();
        wire::encode_frame(&Frame::remote(Id::Standard(0x7FF), 5).unwrap(), &mut out).unwrap();
        assert_eq!(out, [0x40, 0, 0x07, 0xFF, 5]);
        out.clear();
        // A raw DLC of 12 on a classic frame goes as length 8.
        let raw = Frame::data_with_dlc(Id::Standard(1), &[1; 8], 12).unwrap();
        wire::encode_frame(&raw, &mut out).unwrap();
        assert_eq!(out[4], 8);
        let fd_remote = Frame::remote(Id::Standard(1), 0)
            .unwrap()
            .with_fd_flags(FdFlags::default());
        assert!(wire::encode_frame(&fd_remote, &mut out).is_err());
        assert_eq!(wire::header(7, 258), [2, 0, 7, 1, 2]);
    }

    #[test]
    fn batches_fill_datagrams_up_to_the_limit() {
        let mut st = TxState {
            queue: VecDeque::new(),
            bytes: 0,
            first: Some(Instant::now()),
            busy: false,
            stop: false,
            error: None,
        };
        let f = Frame::data(Id::Standard(1), &[0; 8]).unwrap();
        for _ in 0..100 {
            st.bytes += wire::encoded_len(&f);
            st.queue.push_back(f);
        }
        let mut out = wire::header(0, 0).to_vec();
        // A 100-byte datagram: the header and 7 frames of 13 bytes.
        assert_eq!(take_frames(&mut st, &mut out, 100, usize::MAX), 7);
        assert_eq!(out.len(), 5 + 7 * 13);
        assert_eq!(st.queue.len(), 93);
        assert_eq!(st.bytes, 93 * 13);
        assert!(st.first.is_some());
    }
}
