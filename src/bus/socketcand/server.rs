//! A socketcand server: `can-bridge --from BUS --serve socketcand:ADDR:PORT`
//! exposes any bus to socketcand clients (python-can's `socketcand`
//! interface, SavvyCAN, Kayak, `-i socketcand` of these tools).
//!
//! The server is itself a [`Bus`]: what it is sent goes to every client in RAW
//! mode; what a client sends is received from it (and goes to the other RAW
//! clients too, as on a shared bus). The bridge forwards between it and the
//! served bus both ways.
//!
//! * `< open NAME >` opens the served bus under any name (1 to 16 printable
//!   characters), or only under `name=NAME` when given.
//! * Modes: BCM after `open` (`send`, `add`, `update`, `delete`, `echo`; the
//!   receive subscriptions `subscribe`/`filter` are answered
//!   `< error unknown command >`), RAW after `< rawmode >` (every frame, `send`,
//!   `echo`). CONTROL and ISO-TP are refused.
//! * Safety: the listener binds 127.0.0.1 unless told another address; at
//!   most `max_clients` (default 8) sessions, more are told
//!   `< error too many clients >` and closed; each client has a queue of
//!   `queue` frames (default 4096) written by a thread of its own, so a slow or
//!   dead client never blocks the bus: frames that do not fit are dropped and
//!   counted; a client that accepts nothing for 10 s is disconnected.
//!   Elements are bounded ([`wire::MAX_ELEMENT`]); malformed ones are counted
//!   and skipped with a rate-limited warning. At most 64 cyclic sends per client,
//!   each at least 100 µs apart.
//! * CAN FD frames of the served bus cannot be sent to classic clients: they
//!   are counted and reported per client (with `fdframe=on`, sent as
//!   `< fdframe >`). Remote frames have no form in the protocol: counted
//!   likewise.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::wire::{self, ClientCmd, Piece, Splitter};
use super::{Complaints, DEFAULT_PORT};
use crate::bus::batch::wait_readable;
use crate::bus::Bus;
use crate::error::{Error, Result};
use crate::frame::{Channel, Frame, Id, Record, Timestamp};

/// Default most clients at once.
pub const DEFAULT_MAX_CLIENTS: usize = 8;
/// Default frames queued per client.
pub const DEFAULT_QUEUE: usize = 4096;
/// Frames received from clients and not yet taken by [`Bus::recv`].
const INBOUND: usize = 65536;
const MAX_TASKS: usize = 64;
const MIN_PERIOD: Duration = Duration::from_micros(100);
const STALL: Duration = Duration::from_secs(10);

/// What `--serve socketcand:ADDR:PORT[,KEY=VALUE...]` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeSpec {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Most clients at once.
    pub max_clients: usize,
    /// Frames queued per client.
    pub queue: usize,
    /// The only bus name `< open >` accepts (any when `None`).
    pub name: Option<String>,
    /// Send CAN FD frames as `< fdframe >` and take `< sendfd >`.
    pub fd_ext: bool,
}

/// The options `--serve socketcand:...` takes, with their help.
pub const OPTIONS: &[(&str, &str)] = &[
    ("max_clients", "most clients at once, default 8"),
    (
        "queue",
        "frames queued per client before dropping, default 4096",
    ),
    (
        "name",
        "the only bus name clients may open (any by default)",
    ),
    (
        "fdframe",
        "on: CAN FD as fdframe/sendfd (proposed extension)",
    ),
];

impl ServeSpec {
    /// Parses `socketcand:[HOST][:PORT][,KEY=VALUE...]`; HOST defaults to
    /// 127.0.0.1 and PORT to 29536.
    pub fn parse(spec: &str) -> std::result::Result<ServeSpec, String> {
        let rest = spec
            .strip_prefix("socketcand:")
            .or_else(|| (spec == "socketcand").then_some(""))
            .ok_or_else(|| format!("'{spec}' is not socketcand:[HOST][:PORT][,KEY=VALUE...]"))?;
        let mut parts = rest.split(',');
        let addr = parts.next().unwrap_or_default();
        let (host, port) = if let Some(r) = addr.strip_prefix('[') {
            let (h, after) = r
                .split_once(']')
                .ok_or_else(|| format!("'{addr}' has no closing ']'"))?;
            (h, after.strip_prefix(':'))
        } else {
            match addr.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None if addr.parse::<u16>().is_ok() => ("", Some(addr)),
                None => (addr, None),
            }
        };
        let host = if host.is_empty() { "127.0.0.1" } else { host };
        let port = match port {
            None | Some("") => DEFAULT_PORT,
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("port '{p}' is not 0 to 65535"))?,
        };
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve '{host}': {e}"))?
            .next()
            .ok_or_else(|| format!("'{host}' has no address"))?;
        let mut s = ServeSpec {
            addr,
            max_clients: DEFAULT_MAX_CLIENTS,
            queue: DEFAULT_QUEUE,
            name: None,
            fd_ext: false,
        };
        for kv in parts {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("option '{kv}' is not KEY=VALUE"))?;
            let number = |max: usize| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| format!("{k} '{v}' is not 1 to {max}"))
            };
            match k {
                "max_clients" => s.max_clients = number(1024)?,
                "queue" => s.queue = number(1 << 20)?,
                "name" => {
                    if v.is_empty()
                        || v.len() > wire::MAX_BUS_NAME
                        || !v.bytes().all(|b| b.is_ascii_graphic())
                    {
                        return Err(format!(
                            "name '{v}' is not 1 to {} printable characters",
                            wire::MAX_BUS_NAME
                        ));
                    }
                    s.name = Some(v.to_string())
                }
                "fdframe" => {
                    s.fd_ext = match v {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("fdframe '{v}' is not on or off")),
                    }
                }
                _ => {
                    let known: Vec<&str> = OPTIONS.iter().map(|(k, _)| *k).collect();
                    return Err(format!(
                        "unknown option '{k}' (known: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        Ok(s)
    }
}

enum Out {
    /// A reply (`< hi >`, `< ok >`, an error).
    Text(Vec<u8>),
    /// A frame for a RAW client.
    Frame(Record),
    /// The session is over: write what is queued, then close.
    Close,
}

struct Client {
    id: u64,
    peer: SocketAddr,
    raw: AtomicBool,
    alive: AtomicBool,
    out: SyncSender<Out>,
    /// Frames not queued because the queue was full.
    dropped: AtomicU64,
    /// CAN FD and remote frames the protocol (as configured) cannot carry.
    not_carried: AtomicU64,
    tasks: Mutex<HashMap<Id, Arc<Task>>>,
}

struct Task {
    frame: Mutex<Frame>,
    stop: AtomicBool,
}

struct Shared {
    spec: ServeSpec,
    local: SocketAddr,
    who: String,
    clients: Mutex<Vec<Arc<Client>>>,
    inbound: Mutex<VecDeque<Record>>,
    arrived: Condvar,
    inbound_dropped: AtomicU64,
    malformed: AtomicU64,
    stop: AtomicBool,
    complaints: Mutex<Complaints>,
    /// Per-client drop warnings.
    drop_complaints: Mutex<Complaints>,
    record_channel: Channel,
}

impl Shared {
    fn complain(&self, text: impl FnOnce() -> String) {
        self.complaints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .note(&self.who, text);
    }

    /// Hands `record` to every RAW client but `except`, never blocking.
    fn fan_out(&self, record: &Record, except: Option<u64>) {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        for c in clients.iter() {
            if Some(c.id) == except || !c.raw.load(Ordering::Relaxed) {
                continue;
            }
            let f = &record.frame;
            if f.is_remote() || (f.is_fd() && !self.spec.fd_ext) {
                c.not_carried.fetch_add(1, Ordering::Relaxed);
                let peer = c.peer;
                let frame = *f;
                self.drop_complaints
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .note(&self.who, || {
                        format!(
                            "client {peer}: {frame} not sent: the socketcand protocol carries {}",
                            if frame.is_remote() {
                                "no remote frames"
                            } else {
                                "classic CAN only (fdframe=on sends CAN FD as the proposed extension)"
                            }
                        )
                    });
                continue;
            }
            match c.out.try_send(Out::Frame(record.clone())) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                    let peer = c.peer;
                    self.drop_complaints
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .note(&self.who, || {
                            format!("client {peer} is too slow: frames dropped for it")
                        });
                }
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    /// A frame a client sent (or a cyclic task of it): to the bus and to the
    /// other clients.
    fn inbound(&self, frame: Frame, from: u64) {
        let rec = Record::new(Timestamp::now(), frame).with_channel(self.record_channel.clone());
        self.fan_out(&rec, Some(from));
        let mut q = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= INBOUND {
            drop(q);
            self.inbound_dropped.fetch_add(1, Ordering::Relaxed);
            self.complain(|| "the bus side is too slow: frames from clients dropped".into());
            return;
        }
        q.push_back(rec);
        drop(q);
        self.arrived.notify_one();
    }
}

/// The server: a [`Bus`] whose far side is every connected client.
pub struct SocketcandServer {
    shared: Arc<Shared>,
    channel: String,
}

impl SocketcandServer {
    /// Binds and starts accepting clients.
    pub fn start(spec: ServeSpec) -> Result<SocketcandServer> {
        let listener = TcpListener::bind(spec.addr).map_err(|e| Error::Io {
            context: format!("socketcand server: binding {}", spec.addr),
            error: e,
        })?;
        let local = listener.local_addr().map_err(|e| Error::Io {
            context: "socketcand server".into(),
            error: e,
        })?;
        let channel = format!("serve:{local}");
        let shared = Arc::new(Shared {
            who: format!("socketcand server {local}"),
            local,
            clients: Mutex::new(Vec::new()),
            inbound: Mutex::new(VecDeque::new()),
            arrived: Condvar::new(),
            inbound_dropped: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            complaints: Mutex::new(Complaints::new("malformed elements or drops")),
            drop_complaints: Mutex::new(Complaints::new("frames not sent to clients")),
            record_channel: Channel::name(&channel),
            spec,
        });
        let s = shared.clone();
        thread::Builder::new()
            .name("socketcand-accept".into())
            .spawn(move || accept_loop(s, listener))
            .map_err(|e| Error::Io {
                context: "socketcand server: starting".into(),
                error: e,
            })?;
        log::info!(
            "socketcand server listening on {local} (at most {} clients)",
            shared.spec.max_clients
        );
        Ok(SocketcandServer { shared, channel })
    }

    /// The address it listens on (the port chosen when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.shared
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Malformed elements skipped, from every client.
    pub fn malformed(&self) -> u64 {
        self.shared.malformed.load(Ordering::Relaxed)
    }
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut next_id = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        match wait_readable(
            listener.as_raw_fd(),
            Some(Instant::now() + Duration::from_millis(200)),
        ) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                log::error!("{}: {e}", shared.who);
                return;
            }
        }
        let (mut stream, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) => {
                log::warn!("{}: accepting: {e}", shared.who);
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let n = shared
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        if n >= shared.spec.max_clients {
            log::warn!(
                "{}: refused {peer}: already {n} clients (max_clients)",
                shared.who
            );
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = stream.write_all(b"< error too many clients >");
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        next_id += 1;
        if let Err(e) = start_client(&shared, stream, peer, next_id) {
            log::warn!("{}: client {peer}: {e}", shared.who);
        }
    }
}

fn start_client(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
) -> io::Result<()> {
    let (tx, rx) = mpsc::sync_channel(shared.spec.queue);
    let client = Arc::new(Client {
        id,
        peer,
        raw: AtomicBool::new(false),
        alive: AtomicBool::new(true),
        out: tx,
        dropped: AtomicU64::new(0),
        not_carried: AtomicU64::new(0),
        tasks: Mutex::new(HashMap::new()),
    });
    let wstream = stream.try_clone()?;
    wstream.set_write_timeout(Some(STALL))?;
    let fd_ext = shared.spec.fd_ext;
    let (s, c) = (shared.clone(), client.clone());
    thread::Builder::new()
        .name("socketcand-write".into())
        .spawn(move || writer(s, c, wstream, rx, fd_ext))?;
    let _ = client.out.send(Out::Text(b"< hi >".to_vec()));
    shared
        .clients
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(client.clone());
    log::info!("{}: client {peer} connected", shared.who);
    let s = shared.clone();
    thread::Builder::new()
        .name("socketcand-read".into())
        .spawn(move || {
            reader(&s, &client, stream);
            end_client(&s, &client);
        })?;
    Ok(())
}

fn end_client(shared: &Shared, client: &Client) {
    client.alive.store(false, Ordering::Relaxed);
    client.raw.store(false, Ordering::Relaxed);
    for t in client
        .tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .map(|x| x.1)
    {
        t.stop.store(true, Ordering::Relaxed);
    }
    shared
        .clients
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|c| c.id != client.id);
    let _ = client.out.send(Out::Close);
    let (d, n) = (
        client.dropped.load(Ordering::Relaxed),
        client.not_carried.load(Ordering::Relaxed),
    );
    if d > 0 || n > 0 {
        log::warn!(
            "{}: client {} left; {d} frame(s) dropped for it (too slow), {n} it could not be sent (CAN FD or remote)",
            shared.who,
            client.peer
        );
    } else {
        log::info!("{}: client {} left", shared.who, client.peer);
    }
}

fn writer(
    shared: Arc<Shared>,
    client: Arc<Client>,
    mut stream: TcpStream,
    rx: Receiver<Out>,
    fd_ext: bool,
) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let put = |buf: &mut Vec<u8>, o: Out| match o {
        Out::Text(t) => buf.extend_from_slice(&t),
        Out::Frame(r) => {
            wire::write_frame(buf, &r.frame, r.timestamp, fd_ext);
        }
        Out::Close => {}
    };
    let mut closing = false;
    while let Ok(first) = rx.recv() {
        buf.clear();
        closing |= matches!(first, Out::Close);
        put(&mut buf, first);
        while buf.len() < 60 * 1024 && !closing {
            match rx.try_recv() {
                Ok(o) => {
                    closing |= matches!(o, Out::Close);
                    put(&mut buf, o)
                }
                Err(_) => break,
            }
        }
        if let Err(e) = stream.write_all(&buf) {
            if client.alive.load(Ordering::Relaxed) {
                log::warn!(
                    "{}: client {}: {}; disconnecting it",
                    shared.who,
                    client.peer,
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        format!("accepted nothing for {} s", STALL.as_secs())
                    } else {
                        e.to_string()
                    }
                );
            }
            break;
        }
        if closing {
            break;
        }
    }
    client.alive.store(false, Ordering::Relaxed);
    client.raw.store(false, Ordering::Relaxed);
    let _ = stream.shutdown(Shutdown::Both);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    NoBus,
    Bcm,
    Raw,
}

fn reader(shared: &Arc<Shared>, client: &Arc<Client>, mut stream: TcpStream) {
    let mut splitter = Splitter::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut mode = Mode::NoBus;
    let mut quit = false;
    let reply = |t: &[u8]| {
        // Replies wait for room: only this client's reader waits.
        let _ = client.out.send(Out::Text(t.to_vec()));
    };
    while !quit && client.alive.load(Ordering::Relaxed) {
        match wait_readable(
            stream.as_raw_fd(),
            Some(Instant::now() + Duration::from_millis(500)),
        ) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => break,
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        splitter.feed(&buf[..n], &mut |p| {
            if quit {
                return;
            }
            let element = match p {
                Piece::Element(e) => e,
                Piece::Malformed(why) => {
                    shared.malformed.fetch_add(1, Ordering::Relaxed);
                    shared.complain(|| format!("client {}: skipped {why}", client.peer));
                    return;
                }
            };
            let cmd = match wire::parse_client(element) {
                Ok(c) => c,
                Err(why) => {
                    shared.malformed.fetch_add(1, Ordering::Relaxed);
                    let shown =
                        String::from_utf8_lossy(&element[..element.len().min(80)]).into_owned();
                    shared.complain(|| {
                        format!("client {}: skipped '< {shown} >': {why}", client.peer)
                    });
                    return;
                }
            };
            match (mode, cmd) {
                (Mode::NoBus, ClientCmd::Open(name)) => {
                    if shared.spec.name.as_ref().is_some_and(|n| *n != name) {
                        log::warn!(
                            "{}: client {} asked for bus '{name}', which is not served",
                            shared.who,
                            client.peer
                        );
                        reply(b"< error could not open bus >");
                        quit = true;
                    } else {
                        mode = Mode::Bcm;
                        reply(b"< ok >");
                    }
                }
                (Mode::NoBus, _) => reply(b"< error unknown command >"),
                (_, ClientCmd::RawMode) => {
                    mode = Mode::Raw;
                    client.raw.store(true, Ordering::Relaxed);
                    reply(b"< ok >");
                }
                (_, ClientCmd::BcmMode) => {
                    client.raw.store(false, Ordering::Relaxed);
                    mode = Mode::Bcm;
                    reply(b"< ok >");
                }
                (_, ClientCmd::Echo) => reply(b"< echo >"),
                (_, ClientCmd::Send(f)) => {
                    if f.is_fd() && !shared.spec.fd_ext {
                        reply(b"< error unknown command >");
                    } else {
                        shared.inbound(f, client.id);
                    }
                }
                (Mode::Bcm, ClientCmd::Add { period, frame }) => {
                    add_task(shared, client, period, frame, &reply)
                }
                (Mode::Bcm, ClientCmd::Update(f)) => {
                    let tasks = client.tasks.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(t) = tasks.get(&f.id()) {
                        *t.frame.lock().unwrap_or_else(|e| e.into_inner()) = f;
                    }
                }
                (Mode::Bcm, ClientCmd::Delete(id)) => {
                    let removed = client
                        .tasks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&id);
                    if let Some(t) = removed {
                        t.stop.store(true, Ordering::Relaxed);
                    }
                }
                _ => reply(b"< error unknown command >"),
            }
        });
    }
    let _ = stream.shutdown(Shutdown::Read);
}

fn add_task(
    shared: &Arc<Shared>,
    client: &Arc<Client>,
    period: Duration,
    frame: Frame,
    reply: &dyn Fn(&[u8]),
) {
    let mut tasks = client.tasks.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = tasks.get(&frame.id()) {
        // As the kernel's TX_SETUP on an existing id: new content (the timer restarts there; kept here).
        *t.frame.lock().unwrap_or_else(|e| e.into_inner()) = frame;
        return;
    }
    if tasks.len() >= MAX_TASKS {
        reply(b"< error too many cyclic sends >");
        return;
    }
    let task = Arc::new(Task {
        frame: Mutex::new(frame),
        stop: AtomicBool::new(false),
    });
    tasks.insert(frame.id(), task.clone());
    drop(tasks);
    let (s, from) = (shared.clone(), client.id);
    let once = period.is_zero();
    let period = period.max(MIN_PERIOD);
    let _ = thread::Builder::new()
        .name("socketcand-cyclic".into())
        .spawn(move || {
            // As the kernel's broadcast manager (STARTTIMER implies
            // TX_ANNOUNCE): the first frame at once, then one per period.
            let mut next = Instant::now();
            while !task.stop.load(Ordering::Relaxed) && !s.stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now < next {
                    thread::sleep((next - now).min(Duration::from_millis(50)));
                    continue;
                }
                let f = *task.frame.lock().unwrap_or_else(|e| e.into_inner());
                s.inbound(f, from);
                if once {
                    break;
                }
                next += period;
                if next < now {
                    next = now + period;
                }
            }
        });
}

impl Bus for SocketcandServer {
    fn send(&mut self, frame: &Frame) -> Result<()> {
        let rec =
            Record::new(Timestamp::now(), *frame).with_channel(self.shared.record_channel.clone());
        self.shared.fan_out(&rec, None);
        Ok(())
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut q = self
            .shared
            .inbound
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = q.pop_front() {
                return Ok(Some(r));
            }
            match deadline {
                None => {
                    q = self
                        .shared
                        .arrived
                        .wait(q)
                        .unwrap_or_else(|e| e.into_inner())
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(None);
                    }
                    q = self
                        .shared
                        .arrived
                        .wait_timeout(q, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    fn channel(&self) -> &str {
        &self.channel
    }

    fn is_fd(&self) -> bool {
        self.shared.spec.fd_ext
    }

    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        Ok(Box::new(SocketcandServer {
            shared: self.shared.clone(),
            channel: self.channel.clone(),
        }))
    }

    fn take_dropped(&mut self) -> u64 {
        self.shared.inbound_dropped.swap(0, Ordering::Relaxed)
    }

    fn close(&mut self) -> Result<()> {
        if Arc::strong_count(&self.shared) <= 2 {
            self.shared.stop.store(true, Ordering::Relaxed);
        }
        let m = self.malformed();
        if m > 0 {
            log::warn!(
                "{}: {m} malformed element(s) from clients skipped",
                self.shared.who
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s = ServeSpec::parse("socketcand:127.0.0.1:29536").unwrap();
        assert_eq!(s.addr, "127.0.0.1:29536".parse().unwrap());
        assert_eq!(s.max_clients, DEFAULT_MAX_CLIENTS);
        let s = ServeSpec::parse("socketcand").unwrap();
        assert_eq!(s.addr, "127.0.0.1:29536".parse().unwrap());
        let s = ServeSpec::parse("socketcand::4000,max_clients=2,name=can0,fdframe=on").unwrap();
        assert_eq!(s.addr, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(
            (s.max_clients, s.name.as_deref(), s.fd_ext),
            (2, Some("can0"), true)
        );
        let s = ServeSpec::parse("socketcand:[::1]:5").unwrap();
        assert_eq!(s.addr, "[::1]:5".parse().unwrap());
        assert!(ServeSpec::parse("socketcand:1.2.3.4:99999").is_err());
        assert!(ServeSpec::parse("socketcand:,max_clients=0").is_err());
        assert!(ServeSpec::parse("socketcand:,bogus=1").is_err());
        assert!(ServeSpec::parse("slcan:x").is_err());
    }
}
