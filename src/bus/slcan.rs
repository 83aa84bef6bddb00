//! The `slcan` backend: serial-line CAN adapters (CANable, CANtact, USBtin and
//! their clones, can-utils' `slcanpty`) that speak Lawicel's ASCII protocol,
//! one command or frame per line ended by `\r`, over a serial port.
//!
//! * Channel: the serial port (`/dev/ttyACM0`), optionally `PORT@BAUD` as in
//!   python-can. Option `serial_baud` sets the port's baud rate (default
//!   115200; USB adapters ignore it).
//! * Opening: `C` (close, whatever the adapter's state), then the bitrate if
//!   one is given (`S0`-`S8`, python-can's `S9` for 83.3 kbit/s, or an `s`
//!   BTR0/BTR1 pair: option `btr=XXYY`, or computed for an SJA1000 at 8 MHz
//!   when `-b` is none of the S rates), the CAN FD data rate (`Y2`, `Y5`: the
//!   CANable 2.0 FD firmware, as python-can 4.6 sends it), `Z1` with option
//!   `timestamps=device`, and `O` (or `L` with `listen_only=true`). Without
//!   `-b` the adapter keeps the bitrate it has. Closing sends `C`.
//! * Frames: `t`/`T` (classic data), `r`/`R` (remote), and the FD extension
//!   `d`/`D` (FD), `b`/`B` (FD with bit-rate switch). A frame line may end in
//!   4 hex digits: the adapter's timestamp in milliseconds (0-59999), used
//!   with `timestamps=device` (anchored to the host clock at the first frame,
//!   the minute wrap resolved by the host clock), else the host's time of
//!   arrival. Classic raw DLCs 9-15 go out as 8; remote frames request at
//!   most 8 bytes; error frames cannot be sent; ESI is the controller's to
//!   set, so an FD frame's ESI flag is not sent.
//! * Answers: the adapter answers every command with `\r` (accepted; Lawicel
//!   adapters answer frames with `z\r`/`Z\r`) or `\a` (refused). Commands are
//!   sent at most `window` (default 6) ahead of the answers, so that an
//!   adapter's input buffer (199 bytes in `slcanpty`) never overflows. A
//!   refused frame is an error of the next `send` (or `close`), naming it.
//! * Status: every `poll` seconds (default 1) the adapter is asked for its
//!   status flags (`F`). Flags that are set are reported as a warning and as
//!   an error frame (controller overflow, warning and passive states,
//!   arbitration lost, bus error), as SocketCAN reports them.
//! * Liveness: an adapter that sends nothing for `timeout` seconds (default 2)
//!   while a command waits for its answer has stopped answering: `recv` and
//!   `send` then fail with that error, never hang. A port that goes away
//!   (unplugged) fails the same way.
//! * Malformed input: a line that is not a frame or an answer, or longer than
//!   [`wire::MAX_LINE`], is counted and dropped with a warning (the first 10,
//!   then at powers of two).
//! * Received frames wait in a queue of [`QUEUE_MAX`]; beyond it they are
//!   dropped and counted ([`Bus::take_dropped`]).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use super::{Bus, BusSettings, Caps};
use crate::error::{Error, Result};
use crate::frame::error_class::class;
use crate::frame::{Channel, Direction, Frame, Record, Timestamp};

/// The serial baud rate when none is given (python-can's).
pub const DEFAULT_SERIAL_BAUD: u32 = 115_200;
/// Received frames queued for the reader at most.
pub const QUEUE_MAX: usize = 65_536;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_POLL: Duration = Duration::from_secs(1);
const DEFAULT_WINDOW: usize = 6;
/// How long one read of the port waits, so the reader thread notices a stop.
const READ_TICK: Duration = Duration::from_millis(50);

/// The S commands: python-can's table.
const S_RATES: [(u32, &str); 10] = [
    (10_000, "S0"),
    (20_000, "S1"),
    (50_000, "S2"),
    (100_000, "S3"),
    (125_000, "S4"),
    (250_000, "S5"),
    (500_000, "S6"),
    (750_000, "S7"),
    (1_000_000, "S8"),
    (83_300, "S9"),
];

/// The CAN FD data rates (CANable 2.0 FD firmware, as python-can 4.6 knows them).
const Y_RATES: [(u32, &str); 2] = [(2_000_000, "Y2"), (5_000_000, "Y5")];

/// The slcan line format, both ways, without I/O (fuzzed by `decode_slcan`).
pub mod wire {
    use crate::frame::{dlc_to_len, FdFlags, Frame, Id, EFF_MAX, SFF_MAX};

    /// The longest line an adapter sends, terminator excluded: `D`, 8 id
    /// digits, the DLC, 64 data bytes and a 4-digit timestamp.
    pub const MAX_LINE: usize = 1 + 8 + 1 + 128 + 4;

    /// Adapters count their timestamps in milliseconds modulo this.
    pub const TIMESTAMP_PERIOD_MS: u32 = 60_000;

    /// One line from the adapter.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Reply {
        /// A received frame, with the adapter's timestamp (ms) if it sent one.
        Frame(Frame, Option<u16>),
        /// A command was accepted: an empty line, or `z`/`Z`.
        Ack,
        /// A command was refused: `\a`.
        Nack,
        /// The answer to `F`: the status flags.
        Status(u8),
        /// Another answer (`V1013`, `N4242`).
        Info,
    }

    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'A'..=b'F' => Some(c - b'A' + 10),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }

    fn hex(digits: &[u8]) -> Option<u32> {
        digits
            .iter()
            .try_fold(0u32, |v, &c| Some(v << 4 | nibble(c)? as u32))
    }

    #[derive(Clone, Copy)]
    enum Kind {
        Data,
        Remote,
        Fd { brs: bool },
    }

    fn frame(line: &[u8], extended: bool, kind: Kind) -> Result<Reply, &'static str> {
        let id_len = if extended { 8 } else { 3 };
        if line.len() < 2 + id_len {
            return Err("frame line too short");
        }
        let raw = hex(&line[1..1 + id_len]).ok_or("bad hex digit in the id")?;
        if (!extended && raw > SFF_MAX) || raw > EFF_MAX {
            return Err("id out of range");
        }
        let id = Id::new(raw, extended).map_err(|_| "id out of range")?;
        let d = line[1 + id_len];
        let (dlc, len) = match kind {
            Kind::Data | Kind::Remote => match d {
                b'0'..=b'8' => (d - b'0', (d - b'0') as usize),
                _ => return Err("DLC is not 0-8"),
            },
            Kind::Fd { .. } => {
                let n = nibble(d).ok_or("DLC is not a hex digit")?;
                (n, dlc_to_len(n))
            }
        };
        let data_len = if matches!(kind, Kind::Remote) { 0 } else { len };
        let rest = &line[2 + id_len..];
        let stamp = match rest.len().checked_sub(2 * data_len) {
            Some(0) => None,
            Some(4) => {
                let t = hex(&rest[2 * data_len..]).ok_or("bad hex digit in the timestamp")?;
                if t >= TIMESTAMP_PERIOD_MS {
                    return Err("timestamp above 59999 ms");
                }
                Some(t as u16)
            }
            _ => return Err("data length does not match the DLC"),
        };
        let mut data = [0u8; 64];
        for (i, b) in data[..data_len].iter_mut().enumerate() {
            *b = hex(&rest[2 * i..2 * i + 2]).ok_or("bad hex digit in the data")? as u8;
        }
        let f = match kind {
            Kind::Data => Frame::data(id, &data[..data_len]),
            Kind::Remote => Frame::remote(id, dlc),
            Kind::Fd { brs } => Frame::fd(id, &data[..data_len], FdFlags { brs, esi: false }),
        }
        .map_err(|_| "not a valid frame")?;
        Ok(Reply::Frame(f, stamp))
    }

    /// Decodes one line (its terminator removed; a `\a` terminator is
    /// [`Reply::Nack`] and not passed here).
    pub fn decode(line: &[u8]) -> Result<Reply, &'static str> {
        let Some(&first) = line.first() else {
            return Ok(Reply::Ack);
        };
        match first {
            b't' => frame(line, false, Kind::Data),
            b'T' => frame(line, true, Kind::Data),
            b'r' => frame(line, false, Kind::Remote),
            b'R' => frame(line, true, Kind::Remote),
            b'd' => frame(line, false, Kind::Fd { brs: false }),
            b'D' => frame(line, true, Kind::Fd { brs: false }),
            b'b' => frame(line, false, Kind::Fd { brs: true }),
            b'B' => frame(line, true, Kind::Fd { brs: true }),
            b'z' | b'Z' if line.len() == 1 => Ok(Reply::Ack),
            b'F' if line.len() == 3 => hex(&line[1..])
                .map(|f| Reply::Status(f as u8))
                .ok_or("bad hex digit in the status flags"),
            b'V' | b'v' | b'N' if line[1..].iter().all(u8::is_ascii_alphanumeric) => {
                Ok(Reply::Info)
            }
            _ => Err("not a frame or an answer"),
        }
    }

    /// One piece of the adapter's byte stream, as [`Splitter`] cuts it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Piece<'a> {
        /// A line ended by `\r`, without it.
        Line(&'a [u8]),
        /// `\a`: a refusal. Bytes before it on the same line come first as a
        /// [`Piece::Garbage`].
        Nack,
        /// A line longer than [`MAX_LINE`]: its length (it is dropped whole).
        Overlong(usize),
        /// Text before a `\a`: its length.
        Garbage(usize),
    }

    /// Cuts a byte stream into lines in constant memory: at most
    /// [`MAX_LINE`] bytes are kept.
    pub struct Splitter {
        buf: [u8; MAX_LINE],
        len: usize,
        /// Bytes of an overlong line seen so far (0: none).
        overlong: usize,
    }

    impl Default for Splitter {
        fn default() -> Self {
            Splitter {
                buf: [0; MAX_LINE],
                len: 0,
                overlong: 0,
            }
        }
    }

    impl Splitter {
        /// Feeds `bytes`, calling `each` for every complete piece. A `\n`
        /// at the start of a line (a `\r\n` ending) is skipped.
        pub fn push(&mut self, bytes: &[u8], mut each: impl FnMut(Piece<'_>)) {
            for &c in bytes {
                match c {
                    b'\r' | b'\x07' => {
                        if self.overlong > 0 {
                            each(Piece::Overlong(self.overlong));
                        } else if c == b'\x07' && self.len > 0 {
                            each(Piece::Garbage(self.len));
                        } else if c == b'\r' {
                            each(Piece::Line(&self.buf[..self.len]));
                        }
                        if c == b'\x07' {
                            each(Piece::Nack);
                        }
                        self.len = 0;
                        self.overlong = 0;
                    }
                    b'\n' if self.len == 0 && self.overlong == 0 => {}
                    _ if self.overlong > 0 => self.overlong += 1,
                    _ if self.len == MAX_LINE => self.overlong = MAX_LINE + 1,
                    _ => {
                        self.buf[self.len] = c;
                        self.len += 1;
                    }
                }
            }
        }
    }

    /// The longest line [`encode`] writes, `\r` included.
    pub const MAX_ENCODED: usize = 1 + 8 + 1 + 128 + 1;

    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";

    /// Writes `frame` as the line an adapter sends it on, `\r` included;
    /// returns its length.
    pub fn encode(frame: &Frame, out: &mut [u8; MAX_ENCODED]) -> Result<usize, &'static str> {
        let ext = frame.id().is_extended();
        let pick = |std: u8, ext_c: u8| if ext { ext_c } else { std };
        let (cmd, dlc, data): (u8, u8, &[u8]) = if frame.is_error() {
            return Err("slcan cannot send error frames");
        } else if frame.is_remote() {
            if frame.is_fd() {
                return Err("slcan cannot send FD remote frames");
            }
            if frame.dlc() > 8 {
                return Err("slcan remote frames request at most 8 bytes");
            }
            (pick(b'r', b'R'), frame.dlc(), &[])
        } else if frame.is_fd() {
            let c = if frame.brs() {
                pick(b'b', b'B')
            } else {
                pick(b'd', b'D')
            };
            (c, frame.dlc(), frame.data_bytes())
        } else {
            (pick(b't', b'T'), frame.len() as u8, frame.data_bytes())
        };
        out[0] = cmd;
        let id = frame.id().raw();
        let id_len = if ext { 8 } else { 3 };
        for i in 0..id_len {
            out[id_len - i] = DIGITS[(id >> (4 * i) & 15) as usize];
        }
        let mut n = 1 + id_len;
        out[n] = DIGITS[dlc as usize & 15];
        n += 1;
        for b in data {
            out[n] = DIGITS[(b >> 4) as usize];
            out[n + 1] = DIGITS[(b & 15) as usize];
            n += 2;
        }
        out[n] = b'\r';
        Ok(n + 1)
    }
}

use wire::{Piece, Reply, Splitter};

/// The registry entry.
pub const BACKEND: super::Backend = super::Backend {
    name: "slcan",
    help: "serial-line adapters (CANable, CANtact, USBtin, slcanpty): a serial port, PORT[@BAUD]",
    default_channel: "/dev/ttyACM0",
    options: &[
        (
            "serial_baud",
            "the serial port's baud rate, default 115200; USB adapters ignore it",
        ),
        (
            "btr",
            "custom bit timing: BTR0 and BTR1 of an SJA1000 at 8 MHz, 4 hex digits, sent as s",
        ),
        ("listen_only", "true: open with L, receive only"),
        (
            "timestamps",
            "device: the adapter's millisecond timestamps, Z1, instead of the host's",
        ),
        (
            "timeout",
            "seconds an adapter may stay silent while a command awaits its answer, default 2",
        ),
        (
            "poll",
            "seconds between status-flag polls, default 1; 0 never polls",
        ),
        (
            "window",
            "commands sent ahead of the adapter's answers, default 6; 0 waits for none",
        ),
    ],
    caps: Caps {
        fd: true,
        bitrate: true,
        ..Caps::NONE
    },
    open: |s| Ok(Box::new(SlcanBus::open(s)?)),
};

/// What an answer will be the answer to.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Frame(Frame),
    Command(u64),
    Poll,
}

struct State {
    queue: VecDeque<Record>,
    dropped: u64,
    /// Commands sent and not yet answered, oldest first, with when each went out.
    pending: VecDeque<(Pending, Instant)>,
    /// The last byte received.
    last_rx: Instant,
    /// The first refused frame not yet reported, and how many were refused.
    refused: Option<(Frame, u64)>,
    /// The last command answered: its number and whether it was accepted.
    answered: Option<(u64, bool)>,
    /// Why the adapter is no longer usable.
    dead: Option<String>,
    /// Frames are delivered (the open sequence is over).
    ready: bool,
}

struct Shared {
    name: String,
    record_channel: Channel,
    writer: Mutex<TTYPort>,
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    receivers: AtomicUsize,
    handles: AtomicUsize,
    timeout: Duration,
    window: usize,
    poll: Option<Duration>,
    device_time: bool,
    next_command: std::sync::atomic::AtomicU64,
    reader: Mutex<Option<JoinHandle<()>>>,
}

/// An open slcan adapter (see the module docs).
pub struct SlcanBus {
    shared: Arc<Shared>,
    fd: bool,
    receiving: bool,
    closed: bool,
}

/// The SJA1000 register pair (8 MHz clock) for `bitrate`, if one gives it
/// exactly: the sample point nearest 87.5 % (then the most time quanta).
pub fn btr_for(bitrate: u32) -> Option<(u8, u8)> {
    let mut best: Option<(u32, u32, (u8, u8))> = None;
    for brp in 1..=64u64 {
        for nbt in 8..=25u64 {
            if bitrate == 0 || 8_000_000 != bitrate as u64 * brp * nbt {
                continue;
            }
            let tseg2 = (nbt - (nbt * 7 + 4) / 8).max(nbt.saturating_sub(17)).max(1);
            let tseg1 = nbt - 1 - tseg2;
            if tseg2 > 8 || !(1..=16).contains(&tseg1) {
                continue;
            }
            // distance of the sample point from 87.5 %, in 1/1000
            let off = ((1 + tseg1) * 8000 / nbt).abs_diff(7000) as u32;
            let regs = ((brp - 1) as u8, ((tseg2 - 1) << 4 | (tseg1 - 1)) as u8);
            if best.is_none_or(|(o, n, _)| (off, u32::MAX - nbt as u32) < (o, u32::MAX - n)) {
                best = Some((off, nbt as u32, regs));
            }
        }
    }
    best.map(|(_, _, r)| r)
}

fn flag_names(flags: u8) -> String {
    const NAMES: [&str; 8] = [
        "receive FIFO full",
        "transmit FIFO full",
        "error warning",
        "data overrun",
        "bit 4",
        "error passive",
        "arbitration lost",
        "bus error",
    ];
    (0..8)
        .filter(|b| flags & 1 << b != 0)
        .map(|b| NAMES[b])
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error frame SocketCAN would report for status `flags` (none for 0).
pub fn status_error_frame(flags: u8) -> Option<Frame> {
    let mut id = 0u32;
    let mut data = [0u8; 8];
    if flags & 0x01 != 0 || flags & 0x08 != 0 {
        id |= class::CRTL;
        data[1] |= 0x01; // CAN_ERR_CRTL_RX_OVERFLOW
    }
    if flags & 0x02 != 0 {
        id |= class::CRTL;
        data[1] |= 0x02; // TX_OVERFLOW
    }
    if flags & 0x04 != 0 {
        id |= class::CRTL;
        data[1] |= 0x0C; // RX_WARNING | TX_WARNING
    }
    if flags & 0x20 != 0 {
        id |= class::CRTL;
        data[1] |= 0x30; // RX_PASSIVE | TX_PASSIVE
    }
    if flags & 0x40 != 0 {
        id |= class::LOSTARB;
    }
    if flags & 0x80 != 0 {
        id |= class::PROT | class::BUSERROR;
    }
    if id == 0 {
        return None;
    }
    Frame::error(id, &data).ok()
}

fn parse_bool(s: &BusSettings, key: &str) -> Result<bool> {
    match s.options.get(key).map(String::as_str) {
        None | Some("false") | Some("0") | Some("no") => Ok(false),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some(v) => Err(Error::bad_option_value(
            format!("{} channel '{}'", s.interface, s.channel),
            key,
            v,
            "true or false",
        )),
    }
}

fn seconds(s: &BusSettings, key: &str, default: Duration) -> Result<Duration> {
    match s.option::<f64>(key)? {
        None => Ok(default),
        Some(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => Ok(Duration::from_secs_f64(v)),
        Some(_) => Err(Error::bad_option_value(
            format!("{} channel '{}'", s.interface, s.channel),
            key,
            &s.options[key],
            "seconds from 0 to 3600",
        )),
    }
}

impl SlcanBus {
    /// Opens the adapter and runs the open sequence (module docs).
    pub fn open(s: &BusSettings) -> Result<SlcanBus> {
        let owner = || format!("{} channel '{}'", s.interface, s.channel);
        let (path, at_baud) = match s.channel.rsplit_once('@') {
            Some((p, b)) => (
                p,
                Some(
                    b.parse::<u32>()
                        .map_err(|_| s.error(format!("'{b}' after '@' is not a baud rate")))?,
                ),
            ),
            None => (s.channel.as_str(), None),
        };
        if path.is_empty() {
            return Err(s.error("no serial port given (-c /dev/ttyACM0)"));
        }
        let baud = s
            .option::<u32>("serial_baud")?
            .or(at_baud)
            .unwrap_or(DEFAULT_SERIAL_BAUD);
        let btr = match s.options.get("btr") {
            None => None,
            Some(v) => {
                let ok = v.len() == 4 && v.bytes().all(|c| c.is_ascii_hexdigit());
                if !ok {
                    return Err(Error::bad_option_value(owner(), "btr", v, "4 hex digits"));
                }
                Some(v.to_ascii_uppercase())
            }
        };
        let listen_only = parse_bool(s, "listen_only")?;
        let device_time = match s.options.get("timestamps").map(String::as_str) {
            None | Some("host") => false,
            Some("device") => true,
            Some(v) => {
                return Err(Error::bad_option_value(
                    owner(),
                    "timestamps",
                    v,
                    "device or host",
                ))
            }
        };
        let timeout = seconds(s, "timeout", DEFAULT_TIMEOUT)?.max(Duration::from_millis(100));
        let poll = seconds(s, "poll", DEFAULT_POLL)?;
        let poll = (!poll.is_zero()).then_some(poll.max(Duration::from_millis(100)));
        let window = s.option::<usize>("window")?.unwrap_or(DEFAULT_WINDOW);

        let bitrate_cmd = match (btr, s.bitrate) {
            (Some(b), _) => Some(format!("s{b}")),
            (None, Some(rate)) => match S_RATES.iter().find(|(r, _)| *r == rate) {
                Some((_, c)) => Some(c.to_string()),
                None => match btr_for(rate) {
                    Some((b0, b1)) => Some(format!("s{b0:02X}{b1:02X}")),
                    None => {
                        return Err(s.error(format!(
                            "bitrate {rate} bit/s is none of {} and cannot be made from an \
                             8 MHz clock; give the timing with --bus-opt btr=XXYY",
                            S_RATES.map(|(r, _)| r.to_string()).join(", ")
                        )))
                    }
                },
            },
            (None, None) => None,
        };
        let data_cmd = match s.data_bitrate {
            None => None,
            Some(rate) => match Y_RATES.iter().find(|(r, _)| *r == rate) {
                Some((_, c)) => Some(*c),
                None => {
                    return Err(s.error(format!(
                        "data bitrate {rate} bit/s is not one the adapter takes (2000000, 5000000)"
                    )))
                }
            },
        };

        let mut port = serialport::new(path, baud)
            .timeout(READ_TICK)
            .open_native()
            .map_err(|e| s.error(format!("cannot open the serial port: {e}")))?;
        // End whatever half command the adapter holds, and forget what it
        // sends until it has been quiet for a moment.
        let _ = port.write_all(b"\r\r\r");
        drain(
            &mut port,
            Duration::from_millis(30),
            Duration::from_millis(300),
        );
        let reader = port
            .try_clone_native()
            .map_err(|e| s.error(format!("cannot share the serial port: {e}")))?;

        let shared = Arc::new(Shared {
            name: s.channel.clone(),
            record_channel: Channel::name(&s.channel),
            writer: Mutex::new(port),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                dropped: 0,
                pending: VecDeque::new(),
                last_rx: Instant::now(),
                refused: None,
                answered: None,
                dead: None,
                ready: false,
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            receivers: AtomicUsize::new(1),
            handles: AtomicUsize::new(1),
            timeout,
            window,
            poll,
            device_time,
            next_command: std::sync::atomic::AtomicU64::new(0),
            reader: Mutex::new(None),
        });
        let thread_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("slcan-reader".into())
            .spawn(move || read_loop(thread_shared, reader))
            .map_err(|e| Error::io("starting the slcan reader", e))?;
        *shared.reader.lock().unwrap() = Some(handle);
        let mut bus = SlcanBus {
            shared,
            fd: s.fd || s.data_bitrate.is_some(),
            receiving: true,
            closed: false,
        };

        // `C` is refused by an adapter that is closed already: either answer will do.
        bus.command("C")?;
        let mut cmds: Vec<String> = Vec::new();
        cmds.extend(bitrate_cmd);
        cmds.extend(data_cmd.map(String::from));
        if device_time {
            cmds.push("Z1".into());
        }
        cmds.push(if listen_only { "L" } else { "O" }.into());
        for c in &cmds {
            if c == "O" || c == "L" {
                // frames may come before the answer to O
                bus.shared.state.lock().unwrap().ready = true;
            }
            if !bus.command(c)? {
                let what = match c.as_bytes()[0] {
                    b'S' | b's' => "the bitrate",
                    b'Y' => "the data bitrate",
                    b'Z' => "timestamps (Z1): it offers none",
                    _ => "opening the channel",
                };
                bus.stop_reader();
                bus.closed = true;
                return Err(bus.err(format!("the adapter refused {what} ('{c}')")));
            }
        }
        Ok(bus)
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Bus {
            interface: "slcan".into(),
            channel: self.shared.name.clone(),
            message: message.into(),
        }
    }

    /// Sends a command and waits for its answer: true if accepted.
    fn command(&self, cmd: &str) -> Result<bool> {
        let n = self.shared.next_command.fetch_add(1, Ordering::Relaxed);
        let mut line = cmd.as_bytes().to_vec();
        line.push(b'\r');
        self.shared
            .write(Pending::Command(n), &line, None)
            .map_err(|m| self.err(m))?;
        let st = self.shared.state.lock().unwrap();
        let (st, _) = self
            .shared
            .changed
            .wait_timeout_while(st, self.shared.timeout + Duration::from_millis(200), |st| {
                st.dead.is_none() && !matches!(st.answered, Some((k, _)) if k == n)
            })
            .unwrap();
        if let Some((k, ok)) = st.answered {
            if k == n {
                return Ok(ok);
            }
        }
        if let Some(d) = &st.dead {
            return Err(self.err(format!("the adapter did not answer '{cmd}': {d}")));
        }
        Err(self.err(format!(
            "the adapter did not answer '{cmd}' within {:?}",
            self.shared.timeout
        )))
    }

    fn take_refused(&self, st: &mut State) -> Result<()> {
        match st.refused.take() {
            None => Ok(()),
            Some((f, 1)) => Err(self.err(format!("the adapter refused to send {f}"))),
            Some((f, n)) => Err(self.err(format!(
                "the adapter refused to send {f} and {} more frame(s)",
                n - 1
            ))),
        }
    }

    fn stop_reader(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.shared.reader.lock().unwrap().take() {
            let _ = h.join();
        }
    }

    fn release(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if self.receiving {
            self.receiving = false;
            self.shared.receivers.fetch_sub(1, Ordering::Relaxed);
        }
        // Wait for the answers to what was sent, to report refusals.
        let mut result = Ok(());
        {
            let st = self.shared.state.lock().unwrap();
            let (mut st, _) = self
                .shared
                .changed
                .wait_timeout_while(st, self.shared.timeout, |st| {
                    st.dead.is_none()
                        && st
                            .pending
                            .iter()
                            .any(|(p, _)| matches!(p, Pending::Frame(_)))
                })
                .unwrap();
            if let Err(e) = self.take_refused(&mut st) {
                result = Err(e);
            }
        }
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            let alive = self.shared.state.lock().unwrap().dead.is_none();
            if alive {
                let _ = self.command("C");
            }
            self.stop_reader();
        }
        result
    }
}

/// Reads and discards until the port has been quiet for `quiet` (at most `max`).
fn drain(port: &mut TTYPort, quiet: Duration, max: Duration) {
    let start = Instant::now();
    let _ = port.set_timeout(quiet);
    let mut buf = [0u8; 256];
    while start.elapsed() < max {
        match port.read(&mut buf) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
    let _ = port.set_timeout(READ_TICK);
}

impl Shared {
    /// Writes one line whose answer `what` awaits, in order with every other.
    /// With `window`, first waits until fewer than that many answers are due.
    fn write(
        &self,
        what: Pending,
        line: &[u8],
        window: Option<usize>,
    ) -> std::result::Result<(), String> {
        let mut port = self.writer.lock().unwrap();
        {
            let mut st = self.state.lock().unwrap();
            let deadline = Instant::now() + self.timeout;
            loop {
                if let Some(d) = &st.dead {
                    return Err(d.clone());
                }
                match window {
                    Some(w) if w > 0 && st.pending.len() >= w => {}
                    _ => break,
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(format!(
                        "the adapter stopped answering: {} command(s) unanswered after {:?}",
                        st.pending.len(),
                        self.timeout
                    ));
                }
                st = self.changed.wait_timeout(st, deadline - now).unwrap().0;
            }
            if window != Some(0) {
                st.pending.push_back((what, Instant::now()));
            }
        }
        let deadline = Instant::now() + self.timeout;
        let mut rest = line;
        while !rest.is_empty() {
            match port.write(rest) {
                Ok(0) => return Err(self.kill("the serial port accepts no more bytes")),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::TimedOut && Instant::now() < deadline => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(self.kill(format!(
                        "the adapter stopped reading: a write did not complete in {:?}",
                        self.timeout
                    )))
                }
                Err(e) => return Err(self.kill(format!("writing to the serial port: {e}"))),
            }
        }
        Ok(())
    }

    /// Marks the adapter unusable; returns the message.
    fn kill(&self, why: impl Into<String>) -> String {
        let why = why.into();
        let mut st = self.state.lock().unwrap();
        if st.dead.is_none() {
            st.dead = Some(why.clone());
        }
        self.changed.notify_all();
        why
    }
}

/// Counts and reports (rate-limited) what the adapter sent that is no line.
struct Malformed {
    count: u64,
}

impl Malformed {
    fn note(&mut self, name: &str, why: &str, line: &[u8]) {
        self.count += 1;
        let n = self.count;
        if n <= 10 || n.is_power_of_two() {
            let shown: String = String::from_utf8_lossy(&line[..line.len().min(40)])
                .chars()
                .map(|c| if c.is_control() { '.' } else { c })
                .collect();
            log::warn!("slcan {name}: skipping malformed line #{n} ('{shown}'): {why}");
        }
    }
}

/// Maps adapter timestamps (ms modulo a minute) onto the host clock.
struct DeviceClock {
    anchor: Option<(Timestamp, Instant, u16)>,
}

impl DeviceClock {
    fn at(&mut self, ms: u16, now: Timestamp, mono: Instant) -> Timestamp {
        let Some((t0, m0, ms0)) = self.anchor else {
            self.anchor = Some((now, mono, ms));
            return now;
        };
        let period = wire::TIMESTAMP_PERIOD_MS as i64;
        let elapsed_ms = mono.duration_since(m0).as_millis() as i64;
        let delta = (ms as i64 - ms0 as i64).rem_euclid(period);
        // the number of whole minutes that makes the device's time closest
        // to the host's elapsed time
        let k = (elapsed_ms - delta + period / 2).div_euclid(period).max(0);
        Timestamp::from_nanos(t0.as_nanos() + (delta + k * period) * 1_000_000)
    }
}

fn read_loop(shared: Arc<Shared>, mut port: TTYPort) {
    let mut buf = [0u8; 4096];
    let mut splitter = Splitter::default();
    let mut malformed = Malformed { count: 0 };
    let mut clock = DeviceClock { anchor: None };
    let mut last_poll = Instant::now();
    let mut last_flags = 0u8;
    let name = shared.name.clone();
    while !shared.stop.load(Ordering::Relaxed) {
        let got = match port.read(&mut buf) {
            Ok(0) => {
                shared.kill("the serial port was closed (adapter unplugged?)");
                return;
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                ) =>
            {
                0
            }
            Err(e) => {
                shared.kill(format!("reading the serial port: {e} (adapter unplugged?)"));
                return;
            }
        };
        let now = Timestamp::now();
        let mono = Instant::now();
        let mut st = shared.state.lock().unwrap();
        if got > 0 {
            st.last_rx = mono;
            let deliver = st.ready && shared.receivers.load(Ordering::Relaxed) > 0;
            let st = &mut *st;
            splitter.push(&buf[..got], |piece| {
                let reply = match piece {
                    Piece::Line(l) => match wire::decode(l) {
                        Ok(r) => r,
                        Err(why) => return malformed.note(&name, why, l),
                    },
                    Piece::Nack => Reply::Nack,
                    Piece::Overlong(n) => {
                        return malformed.note(
                            &name,
                            &format!("a line of {n} bytes, longer than any answer"),
                            b"",
                        )
                    }
                    Piece::Garbage(n) => {
                        return malformed.note(&name, &format!("{n} bytes before a \\a"), b"")
                    }
                };
                let answer = match reply {
                    Reply::Frame(frame, stamp) => {
                        if !deliver {
                            return;
                        }
                        let timestamp = match (stamp, shared.device_time) {
                            (Some(ms), true) => clock.at(ms, now, mono),
                            _ => now,
                        };
                        if st.queue.len() >= QUEUE_MAX {
                            st.dropped += 1;
                        } else {
                            st.queue.push_back(Record {
                                timestamp,
                                channel: shared.record_channel.clone(),
                                direction: Direction::Rx,
                                frame,
                            });
                        }
                        return;
                    }
                    Reply::Status(flags) => {
                        if flags != 0 && flags != last_flags {
                            log::warn!(
                                "slcan {name}: adapter status: {} (flags 0x{flags:02X})",
                                flag_names(flags)
                            );
                        }
                        last_flags = flags;
                        if let (Some(f), true) = (status_error_frame(flags), deliver) {
                            if st.queue.len() < QUEUE_MAX {
                                st.queue.push_back(Record {
                                    timestamp: now,
                                    channel: shared.record_channel.clone(),
                                    direction: Direction::Rx,
                                    frame: f,
                                });
                            }
                        }
                        true
                    }
                    Reply::Nack => false,
                    Reply::Ack | Reply::Info => true,
                };
                match st.pending.pop_front() {
                    Some((Pending::Frame(f), _)) if !answer => {
                        st.refused = Some(match st.refused.take() {
                            None => (f, 1),
                            Some((first, n)) => (first, n + 1),
                        });
                    }
                    Some((Pending::Command(n), _)) => st.answered = Some((n, answer)),
                    Some(_) => {}
                    None => log::debug!("slcan {name}: an answer to nothing"),
                }
            });
            shared.changed.notify_all();
        }
        // Liveness: silence while an answer is due.
        if let Some(&(_, sent)) = st.pending.front() {
            if mono.duration_since(sent) > shared.timeout {
                if mono.duration_since(st.last_rx) > shared.timeout {
                    let n = st.pending.len();
                    drop(st);
                    shared.kill(format!(
                        "the adapter stopped answering: nothing received for {:?} with {n} \
                         command(s) unanswered (an adapter that does not answer F: \
                         --bus-opt poll=0)",
                        shared.timeout
                    ));
                    return;
                }
                // It talks but this answer got lost (a garbled line): forget it.
                st.pending.pop_front();
                malformed.note(&name, "an answer was lost", b"");
                shared.changed.notify_all();
            }
        }
        let polling = st.ready
            && shared
                .poll
                .is_some_and(|p| mono.duration_since(last_poll) >= p)
            && !st.pending.iter().any(|(p, _)| matches!(p, Pending::Poll));
        drop(st);
        if polling {
            last_poll = mono;
            // A sender holding the port has its own answers to wait for: poll later.
            if let Ok(mut w) = shared.writer.try_lock() {
                shared
                    .state
                    .lock()
                    .unwrap()
                    .pending
                    .push_back((Pending::Poll, Instant::now()));
                if let Err(e) = w.write_all(b"F\r") {
                    if e.kind() != io::ErrorKind::TimedOut {
                        drop(w);
                        shared.kill(format!("writing to the serial port: {e}"));
                        return;
                    }
                }
            }
        }
    }
}

impl Bus for SlcanBus {
    fn send(&mut self, frame: &Frame) -> Result<()> {
        if frame.is_fd() && !self.fd {
            return Err(Error::NotFd {
                interface: "slcan".into(),
                channel: self.shared.name.clone(),
                frame: frame.to_string(),
            });
        }
        let mut line = [0u8; wire::MAX_ENCODED];
        let n = wire::encode(frame, &mut line)
            .map_err(|why| Error::Unsupported(format!("{why}: {frame}")))?;
        self.take_refused(&mut self.shared.state.lock().unwrap())?;
        self.shared
            .write(Pending::Frame(*frame), &line[..n], Some(self.shared.window))
            .map_err(|m| self.err(m))
    }

    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Record>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.shared.state.lock().unwrap();
        loop {
            if let Some(r) = st.queue.pop_front() {
                return Ok(Some(r));
            }
            if let Some(d) = &st.dead {
                return Err(self.err(d.clone()));
            }
            st = match deadline {
                None => self.shared.changed.wait(st).unwrap(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Ok(None);
                    }
                    self.shared.changed.wait_timeout(st, d - now).unwrap().0
                }
            };
        }
    }

    fn channel(&self) -> &str {
        &self.shared.name
    }

    fn is_fd(&self) -> bool {
        self.fd
    }

    fn try_clone(&self) -> Result<Box<dyn Bus>> {
        if self.closed {
            return Err(self.err("the bus is closed"));
        }
        self.shared.handles.fetch_add(1, Ordering::AcqRel);
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Ok(Box::new(SlcanBus {
            shared: self.shared.clone(),
            fd: self.fd,
            receiving: true,
            closed: false,
        }))
    }

    fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.shared.state.lock().unwrap().dropped)
    }

    fn set_send_only(&mut self) {
        if self.receiving {
            self.receiving = false;
            if self.shared.receivers.fetch_sub(1, Ordering::Relaxed) == 1 {
                self.shared.state.lock().unwrap().queue.clear();
            }
        }
    }

    fn close(&mut self) -> Result<()> {
        self.release()
    }
}

impl Drop for SlcanBus {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::wire::*;
    use super::*;
    use crate::frame::{FdFlags, Id};

    fn line(f: &Frame) -> String {
        let mut b = [0u8; MAX_ENCODED];
        let n = encode(f, &mut b).unwrap();
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn encodes_as_python_can_does() {
        let s = Id::standard(0x123).unwrap();
        let e = Id::extended(0x1ABCDEF).unwrap();
        let cases = [
            (Frame::data(s, &[0xDE, 0xAD]).unwrap(), "t1232DEAD\r"),
            (Frame::data(e, &[]).unwrap(), "T01ABCDEF0\r"),
            (Frame::remote(s, 4).unwrap(), "r1234\r"),
            (Frame::remote(e, 8).unwrap(), "R01ABCDEF8\r"),
            (
                Frame::fd(s, &[1; 12], FdFlags::default()).unwrap(),
                "d1239010101010101010101010101\r",
            ),
            (
                Frame::fd(
                    e,
                    &[0xAB; 64],
                    FdFlags {
                        brs: true,
                        esi: false,
                    },
                )
                .unwrap(),
                &format!("B01ABCDEFF{}\r", "AB".repeat(64)),
            ),
        ];
        for (f, want) in cases {
            assert_eq!(line(&f), want);
            let got = decode(want.trim_end().as_bytes()).unwrap();
            assert_eq!(got, Reply::Frame(f, None), "{want}");
        }
        assert!(encode(&Frame::error(0x40, &[]).unwrap(), &mut [0; MAX_ENCODED]).is_err());
        assert!(encode(&Frame::remote(s, 9).unwrap(), &mut [0; MAX_ENCODED]).is_err());
        // a classic raw DLC 9-15 goes out as 8
        let raw = Frame::data_with_dlc(s, &[7; 8], 12).unwrap();
        assert_eq!(line(&raw), "t12380707070707070707\r");
    }

    #[test]
    fn decodes_answers_timestamps_and_refuses_nonsense() {
        let s = Id::standard(0x7FF).unwrap();
        assert_eq!(
            decode(b"t7FF111EA5F"),
            Ok(Reply::Frame(Frame::data(s, &[0x11]).unwrap(), Some(59999)))
        );
        assert_eq!(
            decode(b"r7FF30001"),
            Ok(Reply::Frame(Frame::remote(s, 3).unwrap(), Some(1)))
        );
        assert_eq!(decode(b""), Ok(Reply::Ack));
        assert_eq!(decode(b"z"), Ok(Reply::Ack));
        assert_eq!(decode(b"Z"), Ok(Reply::Ack));
        assert_eq!(decode(b"FA0"), Ok(Reply::Status(0xA0)));
        assert_eq!(decode(b"V1013"), Ok(Reply::Info));
        for bad in [
            &b"t8001"[..],
            b"t1239",
            b"t12321",
            b"t1231GG",
            b"t12311EA60",
            b"T2000000000",
            b"d123F00",
            b"x",
            b"F0",
            b"t12",
            b"t12311",
            b"t12311111",
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn splitter_bounds_lines_and_reports_garbage() {
        let mut s = Splitter::default();
        let mut got = Vec::new();
        let long = vec![b'x'; MAX_LINE + 10];
        let mut input = b"t1230\r\rjunk\x07\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\rt1\x07");
        for chunk in input.chunks(3) {
            s.push(chunk, |p| {
                got.push(match p {
                    Piece::Line(l) => String::from_utf8_lossy(l).into_owned(),
                    Piece::Nack => "NACK".into(),
                    Piece::Garbage(n) => format!("garbage {n}"),
                    Piece::Overlong(n) => format!("overlong {n}"),
                })
            });
        }
        assert_eq!(
            got,
            [
                "t1230",
                "",
                "garbage 4",
                "NACK",
                &format!("overlong {}", MAX_LINE + 10),
                "garbage 2",
                "NACK"
            ]
        );
    }

    #[test]
    fn btr_values_match_the_sja1000_tables() {
        // 500k and 125k in the usual SJA1000 (16 MHz crystal) tables
        assert_eq!(btr_for(500_000), Some((0x00, 0x1C)));
        assert_eq!(btr_for(125_000), Some((0x03, 0x1C)));
        assert_eq!(btr_for(33_333), None);
        assert_eq!(btr_for(0), None);
        let (b0, b1) = btr_for(40_000).unwrap();
        let brp = (b0 & 63) as u32 + 1;
        let nbt = 3 + (b1 & 15) as u32 + (b1 >> 4 & 7) as u32;
        assert_eq!(8_000_000 / (brp * nbt), 40_000);
    }

    #[test]
    fn device_clock_unwraps_the_minute() {
        let mut c = DeviceClock { anchor: None };
        let t0 = Timestamp::from_nanos(1_000_000_000_000);
        let m0 = Instant::now();
        assert_eq!(c.at(59_000, t0, m0), t0);
        // 2 s later on the host, the device wrapped: 59000 -> 1000
        let t = c.at(1_000, t0, m0 + Duration::from_millis(2_003));
        assert_eq!(t.as_nanos() - t0.as_nanos(), 2_000_000_000);
        // 61 s later: one whole minute plus 1 s
        let t = c.at(0, t0, m0 + Duration::from_millis(61_010));
        assert_eq!(t.as_nanos() - t0.as_nanos(), 61_000_000_000);
    }

    #[test]
    fn status_flags_become_error_frames() {
        assert_eq!(status_error_frame(0), None);
        let f = status_error_frame(0x20).unwrap();
        assert_eq!(f.id().raw(), class::CRTL);
        assert_eq!(f.data_bytes()[1], 0x30);
        let f = status_error_frame(0x80 | 0x40).unwrap();
        assert_eq!(f.id().raw(), class::PROT | class::BUSERROR | class::LOSTARB);
        assert_eq!(flag_names(0xA0), "error passive, bus error");
    }
}
