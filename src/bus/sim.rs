//! The `virtual` backend: a host-local CAN bus shared by every process of the
//! machine (of the same user) that opens the same channel name. No daemon, no
//! root, nothing leaves the host.
//!
//! # Design
//!
//! A channel is a directory, `$XDG_RUNTIME_DIR/cankit/virtual/<channel>/` (or
//! `/tmp/cankit-<uid>/virtual/<channel>/` without a runtime dir), mode 0700. Each
//! open bus binds its own `SOCK_DGRAM` Unix socket in it (`<pid>-<n>-<nonce>.sock`).
//! Sending a frame is one `sendto` of a small fixed-layout datagram to every
//! *other* socket file in the directory, so a handle never hears its own frames;
//! [`Bus::try_clone`] shares the socket (and so the identity) of the original.
//!
//! * The peer list is cached and re-read when the directory's mtime changes (or
//!   while that mtime is too recent to trust, since file-system clocks are coarse).
//! * A peer whose socket refuses (`ECONNREFUSED`: its process died without
//!   cleaning up) has its file unlinked; a vanished file (`ENOENT`) is forgotten.
//! * Flow control: sends block while a receiver's queue is full (the kernel
//!   queues only `net.unix.max_dgram_qlen` datagrams per socket), up to the
//!   `send_timeout` (default 1 s). A burst between two live processes therefore
//!   loses nothing. A peer that stays full for that long (a stopped process) is
//!   marked stalled: frames to it are dropped without waiting until it drains
//!   again, and the number dropped travels in the next datagram that reaches it,
//!   so its [`Bus::take_dropped`] reports the loss.
//! * Datagrams are read up to 32 per `recvmmsg` call. With
//!   [`Bus::set_receive_latency`] (can-logger writing a file) the bus pauses
//!   between reads so that frames gather, as the `socketcan` one does; the
//!   kernel queues at most `net.unix.max_dgram_qlen` datagrams per socket, so
//!   a pause is at most the time frames at 50,000/s take to half fill that
//!   (100 µs for the kernel's default of 10, 5 ms for 512).
//! * Receive timestamps come from the kernel (`SO_TIMESTAMPNS`: when the frame was
//!   queued) or the wall clock at receipt; direction Rx; channel = the bus name.
//! * CAN FD is always supported. FD-flagged remote and error frames (which only
//!   exist in Vector logs) are refused on send.
//!
//! # Datagram layout (version 1, little-endian)
//!
//! | bytes | field |
//! |---|---|
//! | 0 | magic `0xC7` |
//! | 1 | version `1` |
//! | 2 | kind: 0 data, 1 remote, 2 error |
//! | 3 | flags: 0x01 29-bit id, 0x02 FD, 0x04 BRS, 0x08 ESI |
//! | 4..8 | id (u32, no flag bits) |
//! | 8 | DLC code |
//! | 9 | payload length (0..=64) |
//! | 10..14 | frames the sender dropped towards this receiver since the last delivery (u32) |
//! | 14..16 | reserved, 0 |
//! | 16.. | payload, exactly `length` bytes |
//!
//! Datagrams that do not decode to a valid frame are skipped with a warning.
//!
//! Options (`--bus-opt`): `send_timeout=SECONDS` (default 1).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::batch::{self, Batching, Datagrams, Got};
use super::{Bus, BusSettings};
use crate::error::{Error, Result};
use crate::frame::{Channel, Direction, FdFlags, Frame, Id, Kind, Record, Timestamp};

/// First byte of every datagram.
const MAGIC: u8 = 0xC7;
/// Layout version.
const VERSION: u8 = 1;
/// Header size before the payload.
const HEADER: usize = 16;
/// Largest datagram.
const MAX_DATAGRAM: usize = HEADER + 64;
/// The end of the socket file name of a handle that never receives: peers
/// send it nothing, so a sender never waits on another sender's full queue.
const SEND_ONLY: &[u8] = b".tx.sock";
/// Longest channel name accepted.
pub const MAX_CHANNEL_LEN: usize = 64;
/// Default wait for a full receiver queue before a peer counts as stalled.
const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(1);
/// A directory mtime younger than this may hide a later change (coarse clocks).
const MTIME_SETTLE: Duration = Duration::from_millis(100);

const FLAG_EXT: u8 = 0x01;
const FLAG_FD: u8 = 0x02;
const FLAG_BRS: u8 = 0x04;
const FLAG_ESI: u8 = 0x08;

/// Process-wide counter that makes socket names unique.
static NEXT_SOCKET: AtomicU64 = AtomicU64::new(0);

/// The socket and identity shared by a bus and its clones. Dropping the last
/// handle unlinks the socket file.
struct Shared {
    sock: UnixDatagram,
    /// The socket file and its name; renamed once by [`Bus::set_send_only`].
    location: std::sync::Mutex<(PathBuf, OsString)>,
    dir: PathBuf,
    name: String,
    channel: Channel,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Ok(loc) = self.location.lock() {
            let _ = std::fs::remove_file(&loc.0);
        }
        // Removes the channel directory when we were the last; fails harmlessly otherwise.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Another socket on the channel.
struct Peer {
    file_name: OsString,
    addr: libc::sockaddr_un,
    addr_len: libc::socklen_t,
    /// Its queue stayed full for a whole send timeout; send without waiting.
    stalled: bool,
    /// Frames not delivered to it since the last delivery.
    lost: u32,
}

/// The `virtual` backend's registry entry.
pub const BACKEND: super::Backend = super::Backend {
    name: "virtual",
    help: "a bus shared by the processes of this host that open the same channel name",
    default_channel: super::DEFAULT_CHANNEL,
    options: &[(
        "send_timeout",
        "how long a send waits for a slow receiver, e.g. 1s",
    )],
    caps: super::Caps {
        fd: true,
        ..super::Caps::NONE
    },
    open: |s| Ok(Box::new(SimBus::open(s)?)),
};

/// The `virtual` bus: see the module docs.
pub struct SimBus {
    shared: Arc<Shared>,
    peers: Vec<Peer>,
    /// The directory mtime the peer list was read at.
    scanned_mtime: Option<SystemTime>,
    /// The mtime was too recent to trust: re-read on the next send.
    rescan: bool,
    malformed: u64,
    dropped: u64,
    /// Receive buffers, allocated on the first receive.
    bufs: Option<Box<Datagrams<MAX_DATAGRAM_READ>>>,
    /// Pauses between reads ([`Bus::set_receive_latency`]).
    batching: Batching,
}

/// Bytes read per datagram: one more than the largest, to tell a longer one.
const MAX_DATAGRAM_READ: usize = MAX_DATAGRAM + 1;

/// The longest pause between reads while a latency is allowed: frames at
/// [`batch::DESIGN_RATE`] half fill the receive queue, which the kernel
/// bounds by count (`net.unix.max_dgram_qlen`; past it senders wait, so a
/// pause slows a sender rather than losing frames).
fn max_pause() -> Duration {
    let qlen = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(10);
    batch::max_pause_for(qlen)
}

/// The directory holding a channel's sockets (not created).
pub fn channel_dir(channel: &str) -> Result<PathBuf> {
    check_channel_name(channel)?;
    Ok(root_dir()?.join(channel))
}

/// The directory holding all channels: `$XDG_RUNTIME_DIR/cankit/virtual` or
/// `/tmp/cankit-<uid>/virtual`.
fn root_dir() -> Result<PathBuf> {
    if let Some(rt) = std::env::var_os("XDG_RUNTIME_DIR") {
        let rt = PathBuf::from(rt);
        if rt.is_absolute() && rt.is_dir() {
            return Ok(rt.join("cankit").join("virtual"));
        }
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    Ok(PathBuf::from(format!("/tmp/cankit-{uid}")).join("virtual"))
}

fn check_channel_name(channel: &str) -> Result<()> {
    let bad = |why: &str| Error::Bus {
        interface: "virtual".into(),
        channel: channel.into(),
        message: format!("invalid channel name: {why}"),
    };
    if channel.is_empty() {
        return Err(bad("it is empty"));
    }
    if channel.len() > MAX_CHANNEL_LEN {
        return Err(bad(&format!("longer than {MAX_CHANNEL_LEN} bytes")));
    }
    if channel == "." || channel == ".." {
        return Err(bad("'.' and '..' are not names"));
    }
    if channel.contains('/') {
        return Err(bad("it contains '/'"));
    }
    if channel.chars().any(|c| c.is_control()) {
        return Err(bad("it contains control characters"));
    }
    Ok(())
}

/// Creates `dir` and its parents with mode 0700 and checks that the private
/// top directory (`/tmp/cankit-<uid>` or `$XDG_RUNTIME_DIR/cankit`) is ours.
fn prepare_dir(dir: &Path, settings: &BusSettings) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| settings.error(format!("cannot create {}: {e}", dir.display())))?;
    // dir = <top>/virtual/<channel>
    let top = dir
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| settings.error("bad channel directory"))?;
    let meta = std::fs::symlink_metadata(top)
        .map_err(|e| settings.error(format!("cannot inspect {}: {e}", top.display())))?;
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(settings.error(format!(
            "{} is not a directory owned by uid {uid}; refusing to use it",
            top.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(settings.error(format!(
            "{} is accessible to other users (mode {:o}); refusing to use it",
            top.display(),
            meta.permissions().mode() & 0o777
        )));
    }
    Ok(())
}

fn sockaddr_for(path: &Path) -> Option<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return None;
    }
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Some((addr, len as libc::socklen_t))
}

impl SimBus {
    /// A handle on the socket `shared`, knowing no peer yet.
    fn on(shared: Arc<Shared>, max_pause: Duration) -> SimBus {
        SimBus {
            shared,
            peers: Vec::new(),
            scanned_mtime: None,
            rescan: true,
            malformed: 0,
            dropped: 0,
            bufs: None,
            batching: Batching::new(max_pause),
        }
    }

    /// Opens (joining, or creating) the virtual channel `settings.channel`.
    /// Options: `send_timeout=SECONDS`.
    pub fn open(settings: &BusSettings) -> Result<SimBus> {
        let name = settings.channel.as_str();
        let dir = channel_dir(name)?;
        let send_timeout = match settings.option::<f64>("send_timeout")? {
            None => DEFAULT_SEND_TIMEOUT,
            Some(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Duration::from_secs_f64(s),
            Some(s) => {
                return Err(settings.error(format!(
                    "send_timeout must be between 0 and 3600 seconds, not {s}"
                )))
            }
        };
        let pid = std::process::id();
        let mut attempts = 0;
        let (sock, path, file_name) = loop {
            attempts += 1;
            prepare_dir(&dir, settings)?;
            let n = NEXT_SOCKET.fetch_add(1, Ordering::Relaxed);
            let nonce = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let file_name = OsString::from(format!("{pid}-{n}-{nonce:08x}.sock"));
            let path = dir.join(&file_name);
            if sockaddr_for(&path).is_none() {
                return Err(settings.error(format!(
                    "socket path {} is too long for a Unix socket; set XDG_RUNTIME_DIR to a shorter directory",
                    path.display()
                )));
            }
            match UnixDatagram::bind(&path) {
                Ok(s) => break (s, path, file_name),
                // The directory was removed by a peer closing at the same moment, or
                // the name is taken: try again.
                Err(e)
                    if attempts < 5
                        && matches!(
                            e.kind(),
                            io::ErrorKind::NotFound | io::ErrorKind::AddrInUse
                        ) => {}
                Err(e) => {
                    return Err(settings.error(format!("cannot bind {}: {e}", path.display())))
                }
            }
        };
        sock.set_write_timeout(Some(send_timeout))
            .map_err(|e| settings.error(format!("cannot set the send timeout: {e}")))?;
        enable_timestamps(sock.as_raw_fd());
        let mut bus = SimBus::on(
            Arc::new(Shared {
                sock,
                location: std::sync::Mutex::new((path, file_name)),
                dir,
                name: name.to_string(),
                channel: Channel::name(name),
            }),
            max_pause(),
        );
        bus.refresh_peers();
        Ok(bus)
    }

    /// The socket file of this handle (shared by its clones).
    pub fn socket_path(&self) -> PathBuf {
        self.shared
            .location
            .lock()
            .map(|l| l.0.clone())
            .unwrap_or_default()
    }

    /// Datagrams received so far that were not valid frames.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Re-reads the peer list if the directory changed.
    fn refresh_peers(&mut self) {
        let mtime = std::fs::metadata(&self.shared.dir)
            .and_then(|m| m.modified())
            .ok();
        if !self.rescan && mtime.is_some() && mtime == self.scanned_mtime {
            return;
        }
        let mut peers = Vec::with_capacity(self.peers.len() + 1);
        let own = self
            .shared
            .location
            .lock()
            .map(|l| l.1.clone())
            .unwrap_or_default();
        if let Ok(entries) = std::fs::read_dir(&self.shared.dir) {
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                let name = file_name.as_bytes();
                // `.tx.sock`: a handle that never receives (a sender, a player).
                if file_name == own || !name.ends_with(b".sock") || name.ends_with(SEND_ONLY) {
                    continue;
                }
                let Some((addr, addr_len)) = sockaddr_for(&entry.path()) else {
                    continue;
                };
                let (stalled, lost) = self
                    .peers
                    .iter()
                    .find(|p| p.file_name == file_name)
                    .map(|p| (p.stalled, p.lost))
                    .unwrap_or((false, 0));
                peers.push(Peer {
                    file_name,
                    addr,
                    addr_len,
                    stalled,
                    lost,
                });
            }
        }
        self.peers = peers;
        self.scanned_mtime = mtime;
        self.rescan = match mtime {
            Some(m) => SystemTime::now()
                .duration_since(m)
                .map(|age| age < MTIME_SETTLE)
                .unwrap_or(true),
            None => true,
        };
    }
}

/// Asks the kernel to timestamp received datagrams (best effort).
pub(crate) fn enable_timestamps(fd: RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: fd is an open socket; the option value is a valid c_int.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &on as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Encodes a frame into `buf`; returns the datagram length.
fn encode(frame: &Frame, buf: &mut [u8; MAX_DATAGRAM]) -> usize {
    let kind = match frame.kind() {
        Kind::Data => 0,
        Kind::Remote => 1,
        Kind::Error => 2,
    };
    let mut flags = 0;
    if frame.id().is_extended() {
        flags |= FLAG_EXT;
    }
    if frame.is_fd() {
        flags |= FLAG_FD;
    }
    if frame.brs() {
        flags |= FLAG_BRS;
    }
    if frame.esi() {
        flags |= FLAG_ESI;
    }
    let data = frame.data_bytes();
    buf[0] = MAGIC;
    buf[1] = VERSION;
    buf[2] = kind;
    buf[3] = flags;
    buf[4..8].copy_from_slice(&frame.id().raw().to_le_bytes());
    buf[8] = frame.dlc();
    buf[9] = data.len() as u8;
    buf[10..16].fill(0);
    buf[HEADER..HEADER + data.len()].copy_from_slice(data);
    HEADER + data.len()
}

/// Decodes a datagram into a frame and the sender's drop count for us; the
/// error says what is wrong. Public for the fuzz targets.
pub fn decode(d: &[u8]) -> std::result::Result<(Frame, u32), String> {
    if d.len() < HEADER {
        return Err(format!("{} bytes, shorter than the header", d.len()));
    }
    if d[0] != MAGIC {
        return Err(format!("bad magic byte 0x{:02X}", d[0]));
    }
    if d[1] != VERSION {
        return Err(format!("unknown version {}", d[1]));
    }
    let (kind, flags, dlc, len) = (d[2], d[3], d[8], d[9] as usize);
    let raw = u32::from_le_bytes([d[4], d[5], d[6], d[7]]);
    let lost = u32::from_le_bytes([d[10], d[11], d[12], d[13]]);
    if flags & !(FLAG_EXT | FLAG_FD | FLAG_BRS | FLAG_ESI) != 0 || d[14] != 0 || d[15] != 0 {
        return Err("unknown flag bits".into());
    }
    if d.len() != HEADER + len {
        return Err(format!(
            "length field {len} disagrees with a {}-byte datagram",
            d.len()
        ));
    }
    let data = &d[HEADER..];
    let fd = flags & FLAG_FD != 0;
    if !fd && flags & (FLAG_BRS | FLAG_ESI) != 0 {
        return Err("BRS/ESI on a classic frame".into());
    }
    let id = Id::new(raw, flags & FLAG_EXT != 0).map_err(|e| e.to_string())?;
    let frame = match (kind, fd) {
        (0, true) => {
            let f = Frame::fd(
                id,
                data,
                FdFlags {
                    brs: flags & FLAG_BRS != 0,
                    esi: flags & FLAG_ESI != 0,
                },
            )
            .map_err(|e| e.to_string())?;
            if f.dlc() != dlc {
                return Err(format!("DLC {dlc} does not match {} FD bytes", data.len()));
            }
            f
        }
        (0, false) => Frame::data_with_dlc(id, data, dlc).map_err(|e| e.to_string())?,
        (1, false) if data.is_empty() => Frame::remote(id, dlc).map_err(|e| e.to_string())?,
        (2, false) if id.is_extended() => {
            Frame::error_with_dlc(raw, data, dlc).map_err(|e| e.to_string())?
        }
        _ => return Err(format!("invalid kind {kind} with flags 0x{flags:02X}")),
    };
    Ok((frame, lost))
}

fn sendto(fd: RawFd, buf: &[u8], peer: &Peer, flags: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: buf is a live slice; the address is a valid sockaddr_un of addr_len bytes.
        let n = unsafe {
            libc::sendto(
                fd,
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                flags | libc::MSG_NOSIGNAL,
                &peer.addr as *const libc::sockaddr_un as *const libc::sockaddr,
                peer.addr_len,
            )
        };
        if n >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl Bus for SimBus {
    /// Renames the socket file to `….tx.sock`, which peers skip: no frame
    /// is queued for a handle that never reads, so senders on one channel
    /// never wait on each other's full queues.
    fn set_send_only(&mut self) {
        let Ok(mut loc) = self.shared.location.lock() else {
            return;
        };
        let name = loc.1.as_bytes();
        if name.ends_with(SEND_ONLY) {
            return;
        }
        let Some(stem) = name.strip_suffix(b".sock") else {
            return;
        };
        let mut new_name = stem.to_vec();
        new_name.extend_from_slice(SEND_ONLY);
        let new_name = OsString::from(std::ffi::OsStr::from_bytes(&new_name));
        let new_path = self.shared.dir.join(&new_name);
        match std::fs::rename(&loc.0, &new_path) {
            Ok(()) => *loc = (new_path, new_name),
            Err(e) => log::debug!("virtual channel '{}': {e}", self.shared.name),
        }
    }

    fn send(&mut self, frame: &Frame) -> Result<()> {
        if frame.is_fd() && !frame.is_data() {
            return Err(Error::Unsupported(format!(
                "virtual channel '{}': an FD-flagged remote or error frame cannot be sent",
                self.shared.name
            )));
        }
        let mut buf = [0u8; MAX_DATAGRAM];
        let len = encode(frame, &mut buf);
        self.refresh_peers();
        let fd = self.shared.sock.as_raw_fd();
        let mut i = 0;
        while i < self.peers.len() {
            let peer = &mut self.peers[i];
            buf[10..14].copy_from_slice(&peer.lost.to_le_bytes());
            let flags = if peer.stalled { libc::MSG_DONTWAIT } else { 0 };
            match sendto(fd, &buf[..len], peer, flags) {
                Ok(()) => {
                    peer.lost = 0;
                    peer.stalled = false;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !peer.stalled {
                        log::warn!(
                            "virtual channel '{}': peer {} has not read for the whole send timeout; dropping frames to it until it catches up",
                            self.shared.name,
                            peer.file_name.to_string_lossy()
                        );
                    }
                    peer.stalled = true;
                    peer.lost = peer.lost.saturating_add(1);
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) | Some(libc::ENOTSOCK)
                    ) =>
                {
                    if e.raw_os_error() == Some(libc::ECONNREFUSED) {
                        // Nobody is bound to it any more: its process died.
                        let _ = std::fs::remove_file(self.shared.dir.join(&peer.file_name));
                    }
                    self.peers.swap_remove(i);
                    continue;
                }
                Err(e) => {
                    return Err(Error::Bus {
                        interface: "virtual".into(),
                        channel: self.shared.name.clone(),
                        message: format!(
                            "sending to {} failed: {e}",
                            peer.file_name.to_string_lossy()
                        ),
                    })
                }
            }
            i += 1;
        }
        Ok(())
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let fd = self.shared.sock.as_raw_fd();
        let bufs = self.bufs.get_or_insert_with(Datagrams::new);
        loop {
            while let Some((datagram, got)) = bufs.next() {
                let decoded = if got.truncated {
                    Err("datagram longer than any frame".to_string())
                } else {
                    decode(datagram)
                };
                match decoded {
                    Ok((frame, lost)) => {
                        self.dropped += lost as u64;
                        return Ok(Some(Record {
                            timestamp: got.kernel_time.unwrap_or_else(Timestamp::now),
                            channel: self.shared.channel.clone(),
                            direction: Direction::Rx,
                            frame,
                        }));
                    }
                    Err(why) => {
                        self.malformed += 1;
                        log::warn!(
                            "virtual channel '{}': skipping a malformed datagram ({why})",
                            self.shared.name
                        );
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
                Err(e) => {
                    return Err(Error::Bus {
                        interface: "virtual".into(),
                        channel: self.shared.name.clone(),
                        message: format!("receive failed: {e}"),
                    })
                }
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
        Ok(Box::new(SimBus::on(
            Arc::clone(&self.shared),
            self.batching.max_pause,
        )))
    }

    fn set_receive_latency(&mut self, max: Duration) {
        self.batching.set_latency(max);
    }

    fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique(tag: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        format!(
            "t-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn open(ch: &str) -> SimBus {
        SimBus::open(&BusSettings::new("virtual", ch)).expect("open virtual bus")
    }

    fn sample_frames() -> Vec<Frame> {
        let fd = |brs, esi| FdFlags { brs, esi };
        vec![
            Frame::data(Id::Standard(0x123), &[0x11, 0x22, 0x33]).unwrap(),
            Frame::data(Id::Standard(0), &[]).unwrap(),
            Frame::data(Id::Extended(0x1FFF_FFFF), &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap(),
            Frame::data_with_dlc(Id::Standard(0x7FF), &[0xAA; 8], 13).unwrap(),
            Frame::fd(Id::Standard(0x456), &[0x5A; 64], fd(true, false)).unwrap(),
            Frame::fd(Id::Extended(0x1234_5678), &[7; 12], fd(false, true)).unwrap(),
            Frame::fd(Id::Standard(0x001), &[], fd(true, true)).unwrap(),
            Frame::remote(Id::Standard(0x321), 4).unwrap(),
            Frame::remote(Id::Extended(0xABCDE), 0).unwrap(),
            Frame::error(0x0000_0004, &[0, 4, 0, 0, 0, 0, 0, 0]).unwrap(),
        ]
    }

    #[test]
    fn two_handles_exchange_every_kind_of_frame_exactly() {
        let ch = unique("xchg");
        let mut a = open(&ch);
        let mut b = open(&ch);
        let before = Timestamp::now();
        for f in sample_frames() {
            a.send(&f).unwrap();
        }
        for f in sample_frames() {
            let r = b
                .recv(Some(Duration::from_secs(2)))
                .unwrap()
                .expect("frame");
            assert_eq!(r.frame, f);
            assert_eq!(r.direction, Direction::Rx);
            assert_eq!(r.channel, Channel::name(&ch));
            assert!(r.timestamp >= before && r.timestamp <= Timestamp::now());
        }
        // And the other way round.
        let f = Frame::data(Id::Standard(0x42), &[9]).unwrap();
        b.send(&f).unwrap();
        assert_eq!(
            a.recv(Some(Duration::from_secs(2))).unwrap().unwrap().frame,
            f
        );
        assert!(b.recv(Some(Duration::from_millis(50))).unwrap().is_none());
        assert_eq!((a.malformed(), b.malformed()), (0, 0));
    }

    #[test]
    fn own_frames_are_not_echoed_but_third_parties_hear_them() {
        let ch = unique("echo");
        let mut a = open(&ch);
        let mut b = open(&ch);
        let mut c = open(&ch);
        let f = Frame::data(Id::Standard(0x100), &[1]).unwrap();
        a.send(&f).unwrap();
        assert_eq!(
            b.recv(Some(Duration::from_secs(1))).unwrap().unwrap().frame,
            f
        );
        assert_eq!(
            c.recv(Some(Duration::from_secs(1))).unwrap().unwrap().frame,
            f
        );
        assert!(a.recv(Some(Duration::from_millis(100))).unwrap().is_none());
    }

    #[test]
    fn clones_share_the_identity() {
        let ch = unique("clone");
        let mut a = open(&ch);
        let mut a2 = a.try_clone().unwrap();
        let mut b = open(&ch);
        let f = Frame::data(Id::Standard(0x200), &[2]).unwrap();
        a2.send(&f).unwrap();
        assert_eq!(
            b.recv(Some(Duration::from_secs(1))).unwrap().unwrap().frame,
            f
        );
        assert!(a.recv(Some(Duration::from_millis(50))).unwrap().is_none());
        assert!(a2.recv(Some(Duration::from_millis(50))).unwrap().is_none());
        // A frame from b reaches the shared socket once: whichever handle reads it.
        let g = Frame::data(Id::Standard(0x201), &[3]).unwrap();
        b.send(&g).unwrap();
        assert_eq!(
            a2.recv(Some(Duration::from_secs(1)))
                .unwrap()
                .unwrap()
                .frame,
            g
        );
        assert!(a.recv(Some(Duration::from_millis(50))).unwrap().is_none());
        // The socket file lives until the last handle goes.
        let path = a.socket_path().to_path_buf();
        drop(a);
        assert!(path.exists());
        drop(a2);
        assert!(!path.exists());
    }

    #[test]
    fn recv_timeout_returns_none_in_time() {
        let mut a = open(&unique("timeout"));
        let t = Instant::now();
        assert!(a.recv(Some(Duration::from_millis(150))).unwrap().is_none());
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(150) && took < Duration::from_millis(400),
            "{took:?}"
        );
        let t = Instant::now();
        assert!(a.recv(Some(Duration::ZERO)).unwrap().is_none());
        assert!(t.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn a_burst_of_100k_frames_to_a_slow_reader_loses_nothing() {
        let ch = unique("burst");
        let mut rx = open(&ch);
        let mut tx = open(&ch);
        const N: u32 = 100_000;
        let sender = std::thread::spawn(move || {
            for i in 0..N {
                let f = Frame::data(Id::Extended(i), &i.to_le_bytes()).unwrap();
                tx.send(&f).unwrap();
            }
        });
        for i in 0..N {
            if i % 10_000 == 0 {
                // A reader that stalls now and then (e.g. a slow disk).
                std::thread::sleep(Duration::from_millis(100));
            }
            let r = rx
                .recv(Some(Duration::from_secs(5)))
                .unwrap()
                .unwrap_or_else(|| panic!("frame {i} missing"));
            assert_eq!(r.frame.id().raw(), i, "out of order or lost");
            assert_eq!(r.frame.data_bytes(), &i.to_le_bytes());
        }
        sender.join().unwrap();
        assert!(rx.recv(Some(Duration::from_millis(50))).unwrap().is_none());
        assert_eq!(rx.take_dropped(), 0);
    }

    #[test]
    fn a_stopped_reader_is_reported_dropped_not_blocking_forever() {
        let ch = unique("stall");
        let mut rx = SimBus::open(&BusSettings::new("virtual", &ch)).unwrap();
        let mut settings = BusSettings::new("virtual", &ch);
        settings
            .options
            .insert("send_timeout".into(), "0.05".into());
        let mut tx = SimBus::open(&settings).unwrap();
        let t = Instant::now();
        for i in 0..200u32 {
            tx.send(&Frame::data(Id::Standard(1), &i.to_le_bytes()).unwrap())
                .unwrap();
        }
        // One timeout for the stall, no waiting after it.
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        let mut got = 0;
        while rx.recv(Some(Duration::from_millis(50))).unwrap().is_some() {
            got += 1;
        }
        assert!((1..200).contains(&got), "{got}");
        // The next delivered frame carries the loss count.
        tx.send(&Frame::data(Id::Standard(2), &[]).unwrap())
            .unwrap();
        let r = rx.recv(Some(Duration::from_secs(1))).unwrap().unwrap();
        assert_eq!(r.frame.id().raw(), 2);
        assert_eq!(rx.take_dropped(), 200 - got);
        assert_eq!(rx.take_dropped(), 0);
    }

    #[test]
    fn stale_socket_files_of_dead_peers_are_removed() {
        let ch = unique("stale");
        let mut a = open(&ch);
        let mut b = open(&ch);
        let stale = channel_dir(&ch).unwrap().join("999999-0-dead.sock");
        // A socket bound and closed without unlinking: what a killed process leaves.
        drop(UnixDatagram::bind(&stale).unwrap());
        assert!(stale.exists());
        let f = Frame::data(Id::Standard(0x7), &[]).unwrap();
        a.send(&f).unwrap();
        assert!(!stale.exists(), "stale socket not removed");
        assert_eq!(
            b.recv(Some(Duration::from_secs(1))).unwrap().unwrap().frame,
            f
        );
    }

    #[test]
    fn channel_names_are_validated() {
        for bad in ["", "a/b", "..", ".", "x\ny", &"n".repeat(65)] {
            let err = SimBus::open(&BusSettings::new("virtual", bad))
                .err()
                .unwrap_or_else(|| panic!("'{bad}' accepted"));
            assert!(err.to_string().contains("invalid channel name"), "{err}");
        }
        let mut s = BusSettings::new("virtual", "ok");
        s.options.insert("bogus".into(), "1".into());
        assert!(crate::bus::open(&s).is_err());
    }

    #[test]
    fn malformed_datagrams_are_skipped() {
        let ch = unique("junk");
        let mut a = open(&ch);
        let junk = UnixDatagram::unbound().unwrap();
        let good = Frame::data(Id::Standard(0x55), &[5]).unwrap();
        let mut buf = [0u8; MAX_DATAGRAM];
        let n = encode(&good, &mut buf);
        let mut bad_len = buf;
        bad_len[9] = 60;
        let mut bad_id = buf;
        bad_id[4..8].copy_from_slice(&0x800u32.to_le_bytes());
        let mut remote_data = buf;
        remote_data[2] = 1;
        let mut brs_classic = buf;
        brs_classic[3] = FLAG_BRS;
        for d in [
            &[][..],
            &[0xC7][..],
            &buf[..n - 1],
            &bad_len[..n],
            &bad_id[..n],
            &remote_data[..n],
            &brs_classic[..n],
            &[0u8; 200][..],
        ] {
            junk.send_to(d, a.socket_path()).unwrap();
        }
        junk.send_to(&buf[..n], a.socket_path()).unwrap();
        let r = a.recv(Some(Duration::from_secs(1))).unwrap().unwrap();
        assert_eq!(r.frame, good);
        assert_eq!(a.malformed(), 8);
    }

    #[test]
    fn encoding_round_trips() {
        for f in sample_frames() {
            let mut buf = [0u8; MAX_DATAGRAM];
            let n = encode(&f, &mut buf);
            assert_eq!(decode(&buf[..n]).unwrap(), (f, 0));
        }
    }

    #[test]
    fn fd_flagged_remote_frames_are_refused() {
        let mut a = open(&unique("fdrtr"));
        let f = Frame::remote(Id::Standard(1), 0)
            .unwrap()
            .with_fd_flags(FdFlags::default());
        assert!(matches!(a.send(&f), Err(Error::Unsupported(_))));
    }
}
