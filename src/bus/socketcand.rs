//! The `socketcand` backend: a client of a socketcand server (linux-can's
//! daemon, or `can-bridge --serve socketcand:...`), which exposes a remote CAN
//! bus over TCP in an ASCII protocol ([`wire`]).
//!
//! * Channel: `HOST:PORT/BUS` (`127.0.0.1:29536/can0`, `[::1]:29536/vcan0`);
//!   the port defaults to 29536 and the bus to `can0`.
//! * Options (`--bus-opt`): `timeout` (seconds to connect and for each answer
//!   of the handshake, default 5), `fdframe=on` (the proposed CAN FD extension:
//!   `< fdframe >` received, `< sendfd >` sent; off by default, as no released
//!   server speaks it).
//! * The session: connect, `< hi >`, `< open BUS >`, `< ok >`, `< rawmode >`,
//!   `< ok >`; then every frame of the bus arrives as `< frame ... >` and
//!   [`Bus::send`] writes `< send ... >`. A server never returns a client's own
//!   frames (its RAW socket does not receive its own sends).
//! * Records carry the server's receive time (its kernel's timestamp), as in
//!   python-can.
//! * Classic CAN only: sending a CAN FD frame is an error ([`Error::NotFd`])
//!   unless `fdframe=on`; an `< fdframe >` arriving without it is counted as
//!   dropped ([`Bus::take_dropped`]) with a warning. The protocol has no remote
//!   frames (sending one is an error; the reference daemon forwards none).
//! * An element longer than [`wire::MAX_ELEMENT`] or that does not parse is
//!   counted ([`SocketcandBus::malformed`]) and skipped with a rate-limited
//!   warning. `< error TEXT >` replies are warned about.
//! * A server that closes the connection: receiving fails with an error naming
//!   it, which [`Bus::outage`] classes as [`Outage::Gone`], so `can-logger`
//!   reconnects every second and reports the gap.
//! * `can-send --period` with one classic frame uses the server's BCM mode
//!   (`< add >` on a second connection): the server's kernel keeps the cycle.
//!   With a count, the task is deleted half a period after the last frame is
//!   due. Servers that refuse `add` get the cycle from this process.

pub mod server;
pub mod wire;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::batch::wait_readable;
use super::{Bus, BusSettings, Outage, PeriodicTask};
use crate::error::{Error, Result};
use crate::frame::{Channel, Frame, Record};
use wire::{Piece, ServerMsg, Splitter};

/// socketcand's TCP port.
pub const DEFAULT_PORT: u16 = 29536;
/// The bus opened when the channel names none.
pub const DEFAULT_BUS: &str = "can0";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_CHUNK: usize = 64 * 1024;

/// The `socketcand` backend's registry entry.
pub const BACKEND: super::Backend = super::Backend {
    name: "socketcand",
    help: "a bus served by socketcand over TCP (HOST:PORT/BUS)",
    default_channel: "127.0.0.1:29536/can0",
    options: &[
        (
            "timeout",
            "seconds to connect and for each handshake answer, default 5",
        ),
        (
            "fdframe",
            "on: CAN FD through the proposed fdframe/sendfd extension",
        ),
    ],
    caps: super::Caps {
        kernel_periodic: true,
        reconnect: true,
        ..super::Caps::NONE
    },
    open: |s| Ok(Box::new(SocketcandBus::open(s)?)),
};

/// Warnings that could repeat at the peer's rate: the first few are logged,
/// then one line every 10 s says how many more there were.
#[derive(Debug)]
pub(crate) struct Complaints {
    what: &'static str,
    logged: u32,
    held: u64,
    last: Option<Instant>,
}

impl Complaints {
    const FIRST: u32 = 5;
    const EVERY: Duration = Duration::from_secs(10);

    pub(crate) fn new(what: &'static str) -> Complaints {
        Complaints {
            what,
            logged: 0,
            held: 0,
            last: None,
        }
    }

    /// Logs `text` (naming `who`), or counts it for the next summary.
    pub(crate) fn note(&mut self, who: &str, text: impl FnOnce() -> String) {
        if self.logged < Self::FIRST {
            self.logged += 1;
            self.last = Some(Instant::now());
            log::warn!("{who}: {}", text());
            if self.logged == Self::FIRST {
                log::warn!(
                    "{who}: further {} are counted and summarised every {} s",
                    self.what,
                    Self::EVERY.as_secs()
                );
            }
            return;
        }
        self.held += 1;
        if self.last.is_none_or(|t| t.elapsed() >= Self::EVERY) {
            log::warn!("{who}: {} more {}", self.held, self.what);
            self.held = 0;
            self.last = Some(Instant::now());
        }
    }
}

/// `HOST:PORT/BUS` split; the port and the bus are optional.
pub fn parse_channel(channel: &str) -> std::result::Result<(String, u16, String), String> {
    let (addr, bus) = match channel.rsplit_once('/') {
        Some((a, b)) => (a, b),
        None => (channel, DEFAULT_BUS),
    };
    if bus.is_empty()
        || bus.len() > wire::MAX_BUS_NAME
        || !bus.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(format!(
            "bus name '{bus}' is not 1 to {} printable characters",
            wire::MAX_BUS_NAME
        ));
    }
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{addr}' has no closing ']'"))?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(format!("'{addr}' is not [HOST]:PORT")),
        }
    } else {
        match addr.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (addr, None),
        }
    };
    if host.is_empty() {
        return Err("no host: the channel is HOST:PORT/BUS".into());
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port '{p}' is not 1 to 65535"))?,
    };
    Ok((host.to_string(), port, bus.to_string()))
}

/// An error saying the connection to the server is gone (an outage).
fn lost(server: &str, how: impl Into<String>) -> Error {
    Error::Io {
        context: format!("socketcand server {server}"),
        error: io::Error::new(io::ErrorKind::ConnectionAborted, how.into()),
    }
}

/// The receiving half: the stream, the element splitter and decoded frames.
struct Reader {
    stream: TcpStream,
    splitter: Splitter,
    /// Messages decoded and not yet taken.
    queue: VecDeque<ServerMsg>,
    buf: Vec<u8>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

struct Shared {
    server: String,
    /// `socketcand channel 'HOST:PORT/BUS'`, for messages.
    who: String,
    fd_ext: bool,
    timeout: Duration,
    addr: SocketAddr,
    bus_name: String,
    writer: Mutex<(TcpStream, Vec<u8>)>,
    reader: Mutex<Reader>,
    malformed: AtomicU64,
    dropped: AtomicU64,
    complaints: Mutex<Complaints>,
}

impl Shared {
    fn complain(&self, text: impl FnOnce() -> String) {
        let mut c = self.complaints.lock().unwrap_or_else(|e| e.into_inner());
        c.note(&self.who, text);
    }

    /// Reads what is available (waiting until `deadline`) into the queue.
    /// Returns false on timeout.
    fn fill(&self, r: &mut Reader, deadline: Option<Instant>) -> Result<bool> {
        if let Some(why) = &r.closed {
            return Err(lost(&self.server, why.clone()));
        }
        let ready = wait_readable(r.stream.as_raw_fd(), deadline).map_err(|e| Error::Io {
            context: format!("waiting for socketcand server {}", self.server),
            error: e,
        })?;
        if !ready {
            return Ok(false);
        }
        let Reader {
            stream,
            splitter,
            queue,
            buf,
            closed,
        } = r;
        buf.resize(READ_CHUNK, 0);
        let n = match stream.read(buf) {
            Ok(0) => {
                let why = if splitter.in_element() {
                    "closed the connection in the middle of an element"
                } else {
                    "closed the connection"
                };
                *closed = Some(why.into());
                return Err(lost(&self.server, why));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) => {
                *closed = Some(e.to_string());
                return Err(lost(&self.server, e.to_string()));
            }
        };
        splitter.feed(&buf[..n], &mut |p| match p {
            Piece::Element(e) => match wire::parse_server(e) {
                Ok(m) => queue.push_back(m),
                Err(why) => {
                    self.malformed.fetch_add(1, Ordering::Relaxed);
                    let shown = String::from_utf8_lossy(&e[..e.len().min(80)]).into_owned();
                    self.complain(|| format!("skipped malformed element '< {shown} >': {why}"));
                }
            },
            Piece::Malformed(why) => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                self.complain(|| format!("skipped malformed input: {why}"));
            }
        });
        Ok(true)
    }

    /// The next message of the handshake, within the timeout.
    fn expect(&self, r: &mut Reader, what: &str) -> Result<ServerMsg> {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(m) = r.queue.pop_front() {
                return Ok(m);
            }
            if !self.fill(r, Some(deadline))? {
                return Err(lost(
                    &self.server,
                    format!(
                        "no answer to {what} within {:.1} s",
                        self.timeout.as_secs_f64()
                    ),
                ));
            }
        }
    }

    fn write(&self, build: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (stream, buf) = &mut *w;
        buf.clear();
        build(buf);
        stream
            .write_all(buf)
            .map_err(|e| lost(&self.server, format!("sending: {e}")))
    }
}

/// Connects and runs the handshake up to the opened bus (BCM mode).
fn connect(
    addr: SocketAddr,
    server: &str,
    bus_name: &str,
    timeout: Duration,
) -> std::result::Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let _ = bus_name;
    Ok(stream)
}

/// A socketcand client session in RAW mode.
pub struct SocketcandBus {
    shared: Arc<Shared>,
    channel: String,
    record_channel: Channel,
}

impl SocketcandBus {
    /// Connects, opens the bus and switches to RAW mode.
    pub fn open(settings: &BusSettings) -> Result<SocketcandBus> {
        let (host, port, bus_name) =
            parse_channel(&settings.channel).map_err(|m| settings.error(m))?;
        let timeout = match settings.option::<f64>("timeout")? {
            None => DEFAULT_TIMEOUT,
            Some(t) if t > 0.0 && t < 1e6 => Duration::from_secs_f64(t),
            Some(t) => {
                return Err(Error::bad_option_value(
                    format!("socketcand channel '{}'", settings.channel),
                    "timeout",
                    &t.to_string(),
                    "seconds above 0",
                ))
            }
        };
        let fd_ext = match settings.options.get("fdframe").map(String::as_str) {
            None | Some("off") => false,
            Some("on") => true,
            Some(v) => {
                return Err(Error::bad_option_value(
                    format!("socketcand channel '{}'", settings.channel),
                    "fdframe",
                    v,
                    "on or off",
                ))
            }
        };
        let server = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| settings.error(format!("cannot resolve '{host}': {e}")))?
            .next()
            .ok_or_else(|| settings.error(format!("'{host}' has no address")))?;
        let stream = connect(addr, &server, &bus_name, timeout).map_err(|m| settings.error(m))?;
        let reader = Reader {
            stream: stream
                .try_clone()
                .map_err(|e| settings.error(format!("cloning the socket: {e}")))?,
            splitter: Splitter::default(),
            queue: VecDeque::new(),
            buf: Vec::new(),
            closed: None,
        };
        let shared = Arc::new(Shared {
            who: format!("socketcand channel '{}'", settings.channel),
            server,
            fd_ext,
            timeout,
            addr,
            bus_name: bus_name.clone(),
            writer: Mutex::new((stream, Vec::with_capacity(256))),
            reader: Mutex::new(reader),
            malformed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            complaints: Mutex::new(Complaints::new("malformed elements")),
        });
        handshake(&shared, &bus_name, true).map_err(|e| settings.error(e.to_string()))?;
        log::info!(
            "socketcand: {} bus '{bus_name}' open in RAW mode",
            shared.server
        );
        Ok(SocketcandBus {
            channel: settings.channel.clone(),
            record_channel: Channel::name(&settings.channel),
            shared,
        })
    }

    /// Elements skipped because they were malformed or too long.
    pub fn malformed(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }
}

/// `< hi >`, `< open BUS >`, `< ok >`, and with `raw` `< rawmode >`, `< ok >`.
fn handshake(shared: &Shared, bus_name: &str, raw: bool) -> Result<()> {
    let mut r = shared.reader.lock().unwrap_or_else(|e| e.into_inner());
    match shared.expect(&mut r, "the connection")? {
        ServerMsg::Hi => {}
        other => {
            return Err(lost(
                &shared.server,
                format!("greeted with {other:?} instead of '< hi >': not a socketcand server?"),
            ))
        }
    }
    shared.write(|b| {
        b.extend_from_slice(b"< open ");
        b.extend_from_slice(bus_name.as_bytes());
        b.extend_from_slice(b" >");
    })?;
    match shared.expect(&mut r, "'< open >'")? {
        ServerMsg::Ok => {}
        ServerMsg::Error(text) => {
            return Err(lost(
                &shared.server,
                format!("refused to open bus '{bus_name}': {text}"),
            ))
        }
        other => {
            return Err(lost(
                &shared.server,
                format!("answered '< open {bus_name} >' with {other:?}"),
            ))
        }
    }
    if raw {
        shared.write(|b| b.extend_from_slice(b"< rawmode >"))?;
        loop {
            match shared.expect(&mut r, "'< rawmode >'")? {
                ServerMsg::Ok => break,
                ServerMsg::Error(text) => {
                    return Err(lost(&shared.server, format!("refused RAW mode: {text}")))
                }
                // Frames of a BCM subscription cannot exist yet; skip anything else.
                _ => continue,
            }
        }
    }
    Ok(())
}

impl Bus for SocketcandBus {
    fn send(&mut self, frame: &Frame) -> Result<()> {
        if frame.is_fd() && !self.shared.fd_ext {
            return Err(Error::NotFd {
                interface: "socketcand".into(),
                channel: self.channel.clone(),
                frame: frame.to_string(),
            });
        }
        if !frame.is_data() {
            return Err(Error::Unsupported(format!(
                "socketcand channel '{}': the protocol carries no {} frames; cannot send {frame}",
                self.channel,
                if frame.is_remote() { "remote" } else { "error" }
            )));
        }
        self.shared.write(|b| wire::write_send(b, frame))
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut r = self.shared.reader.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while let Some(m) = r.queue.pop_front() {
                match m {
                    ServerMsg::Frame(f, ts) => {
                        if f.is_fd() && !self.shared.fd_ext {
                            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                            self.shared.complain(|| {
                                format!("dropped CAN FD frame {f}: fdframe is off (--bus-opt fdframe=on)")
                            });
                            continue;
                        }
                        return Ok(Some(
                            Record::new(ts, f).with_channel(self.record_channel.clone()),
                        ));
                    }
                    ServerMsg::Error(text) => {
                        self.shared
                            .complain(|| format!("the server says: error {text}"));
                    }
                    other => log::debug!("{}: ignored {other:?}", self.shared.who),
                }
            }
            if !self.shared.fill(&mut r, deadline)? {
                return Ok(None);
            }
        }
    }

    fn channel(&self) -> &str {
        &self.channel
    }

    fn is_fd(&self) -> bool {
        self.shared.fd_ext
    }

    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        Ok(Box::new(SocketcandBus {
            shared: self.shared.clone(),
            channel: self.channel.clone(),
            record_channel: self.record_channel.clone(),
        }))
    }

    fn take_dropped(&mut self) -> u64 {
        self.shared.dropped.swap(0, Ordering::Relaxed)
    }

    fn outage(&self, err: &Error) -> Option<Outage> {
        match err {
            Error::Io { error, context }
                if error.kind() == io::ErrorKind::ConnectionAborted
                    && context.starts_with("socketcand server") =>
            {
                Some(Outage::Gone)
            }
            _ => None,
        }
    }

    fn send_periodic(
        &mut self,
        frames: &[Frame],
        period: Duration,
        count: Option<u32>,
    ) -> Result<Option<Box<dyn PeriodicTask>>> {
        let [frame] = frames else { return Ok(None) };
        if !frame.is_data() || frame.is_fd() || period.is_zero() {
            return Ok(None);
        }
        match BcmTask::start(&self.shared, frame, period, count)? {
            Some(t) => Ok(Some(Box::new(t))),
            None => Ok(None),
        }
    }

    fn close(&mut self) -> Result<()> {
        let m = self.malformed();
        if m > 0 {
            log::warn!("{}: {m} malformed element(s) skipped", self.shared.who);
        }
        Ok(())
    }
}

/// A cyclic send kept by the server's broadcast manager, on a connection of
/// its own in BCM mode.
struct BcmTask {
    shared: Arc<Shared>,
    id: crate::frame::Id,
    /// When the last counted frame has gone out (half a period after it was due).
    end: Option<Instant>,
    done: Mutex<bool>,
}

impl BcmTask {
    /// `Ok(None)` if the server refuses `< add >`.
    fn start(
        client: &Shared,
        frame: &Frame,
        period: Duration,
        count: Option<u32>,
    ) -> Result<Option<BcmTask>> {
        let stream = connect(
            client.addr,
            &client.server,
            &client.bus_name,
            client.timeout,
        )
        .map_err(|m| lost(&client.server, m))?;
        let shared = Arc::new(Shared {
            server: client.server.clone(),
            who: client.who.clone(),
            fd_ext: false,
            timeout: client.timeout,
            addr: client.addr,
            bus_name: client.bus_name.clone(),
            reader: Mutex::new(Reader {
                stream: stream
                    .try_clone()
                    .map_err(|e| lost(&client.server, e.to_string()))?,
                splitter: Splitter::default(),
                queue: VecDeque::new(),
                buf: Vec::new(),
                closed: None,
            }),
            writer: Mutex::new((stream, Vec::new())),
            malformed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            complaints: Mutex::new(Complaints::new("malformed elements")),
        });
        handshake(&shared, &client.bus_name, false)?;
        let started = Instant::now();
        // The broadcast manager sends the first frame at the setup (the kernel
        // sets TX_ANNOUNCE with STARTTIMER), then one every period.
        shared.write(|b| {
            wire::write_add(b, period, frame);
            b.extend_from_slice(b"< echo >");
        })?;
        let mut r = shared.reader.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match shared.expect(&mut r, "'< add >'")? {
                ServerMsg::Echo => break,
                ServerMsg::Error(text) => {
                    log::info!(
                        "{}: the server refuses cyclic sends ({text}); sending from here",
                        client.who
                    );
                    return Ok(None);
                }
                _ => continue,
            }
        }
        drop(r);
        log::info!(
            "{}: the server's broadcast manager sends {frame} every {period:?}",
            client.who
        );
        let end = count.map(|n| started + period.saturating_mul(n.saturating_sub(1)) + period / 2);
        Ok(Some(BcmTask {
            shared,
            id: frame.id(),
            end,
            done: Mutex::new(false),
        }))
    }

    fn delete(&self) -> Result<()> {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        if !*done {
            *done = true;
            self.shared.write(|b| wire::write_delete(b, self.id))?;
            // The echo confirms the server has read the delete before we close.
            self.shared.write(|b| b.extend_from_slice(b"< echo >"))?;
            let mut r = self.shared.reader.lock().unwrap_or_else(|e| e.into_inner());
            while !matches!(self.shared.expect(&mut r, "'< delete >'")?, ServerMsg::Echo) {}
        }
        Ok(())
    }
}

impl PeriodicTask for BcmTask {
    fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        if *self.done.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(true);
        }
        let now = Instant::now();
        let until = match (self.end, timeout) {
            (Some(e), Some(t)) => e.min(now + t),
            (Some(e), None) => e,
            (None, Some(t)) => now + t,
            (None, None) => now + Duration::from_secs(3600 * 24 * 365),
        };
        // Watch the connection meanwhile: a server gone ends the task.
        let mut r = self.shared.reader.lock().unwrap_or_else(|e| e.into_inner());
        while Instant::now() < until {
            self.shared.fill(&mut r, Some(until))?;
            r.queue.clear();
        }
        drop(r);
        if self.end.is_some_and(|e| Instant::now() >= e) {
            self.delete()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn stop(self: Box<Self>) -> Result<()> {
        self.delete()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels() {
        assert_eq!(
            parse_channel("127.0.0.1:29536/can0"),
            Ok(("127.0.0.1".into(), 29536, "can0".into()))
        );
        assert_eq!(
            parse_channel("localhost/vcan1"),
            Ok(("localhost".into(), DEFAULT_PORT, "vcan1".into()))
        );
        assert_eq!(
            parse_channel("[::1]:7/x"),
            Ok(("::1".into(), 7, "x".into()))
        );
        assert!(parse_channel("h:0/can0").is_err());
        assert!(parse_channel(":1/can0").is_err());
        assert!(parse_channel("h:1/").is_err());
        assert!(parse_channel("h:1/abcdefghijklmnopq").is_err());
    }
}
