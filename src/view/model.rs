//! The viewer's state: one row per (channel, id), or per (channel, id,
//! length), with a count, the average period and its jitter, the latest data
//! and when each byte last changed; totals, error frames by class and the
//! bits each channel carried (for the bus load).
//!
//! Pure: it takes records and answers queries, and never touches a terminal.
//! Taking a record allocates nothing once its row exists (a row is made the
//! first time its key is seen, up to a cap; frames of ids beyond the cap are
//! counted, not shown).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::dbc::{Dbc, Decoded};

use crate::frame::error_class::class;
use crate::frame::hex;
use crate::frame::{Channel, Frame, Id, Kind, Record, Timestamp, CANFD_MAX_LEN};

/// How many rows a model keeps unless told otherwise.
pub const DEFAULT_MAX_ROWS: usize = 5000;

/// The smoothing of the period and jitter averages (each new interval weighs 1/8).
const SMOOTHING: f64 = 0.125;

/// "Never changed" in [`Row::changed_at`].
pub const NEVER: i64 = i64::MIN;

/// The error classes counted apart (`linux/can/error.h`), with short names.
pub const ERROR_CLASSES: [(u32, &str); 10] = [
    (class::TX_TIMEOUT, "tx-timeout"),
    (class::LOSTARB, "lost-arb"),
    (class::CRTL, "controller"),
    (class::PROT, "protocol"),
    (class::TRX, "transceiver"),
    (class::ACK, "no-ack"),
    (class::BUSOFF, "bus-off"),
    (class::BUSERROR, "bus-error"),
    (class::RESTARTED, "restarted"),
    (class::CNT, "counters"),
];

/// What is known about one id (or one id and length).
#[derive(Clone, Debug)]
pub struct Row {
    /// The channel it was seen on.
    pub channel: Channel,
    /// The id (for error frames, the class bits).
    pub id: Id,
    /// The row's key in the model (stable until a clear).
    pub key: u64,
    /// Frames seen.
    pub count: u64,
    /// Time of the first frame.
    pub first: Timestamp,
    /// Time of the latest frame.
    pub last: Timestamp,
    /// Time between the latest two frames.
    pub period_ns: Option<i64>,
    /// Smoothed period.
    pub avg_period_ns: Option<f64>,
    /// Smoothed absolute deviation of the period from its average.
    pub jitter_ns: f64,
    /// The latest frame.
    pub frame: Frame,
    /// The frame before it (to show which bits changed).
    pub previous: Option<Frame>,
    /// When each byte last changed value (log time in ns; [`NEVER`]).
    pub changed_at: [i64; CANFD_MAX_LEN],
    /// The signals followed while the row is expanded.
    pub watch: Option<Box<Watch>>,
}

/// How many recent values of a signal a sparkline shows.
pub const HISTORY: usize = 40;

/// What is known of one signal of a followed row.
#[derive(Clone, Debug, Default)]
pub struct SignalStats {
    /// The latest value, when the signal was present.
    pub last: Option<Decoded>,
    /// The smallest physical value seen.
    pub min: f64,
    /// The largest physical value seen.
    pub max: f64,
    /// Recent values, oldest first once full (a ring from `next`).
    pub history: Vec<f64>,
    next: usize,
}

impl SignalStats {
    fn take(&mut self, d: Decoded) {
        if self.last.is_none() {
            self.min = d.value;
            self.max = d.value;
        }
        self.min = self.min.min(d.value);
        self.max = self.max.max(d.value);
        self.last = Some(d);
        if self.history.len() < HISTORY {
            self.history.push(d.value);
        } else {
            self.history[self.next] = d.value;
            self.next = (self.next + 1) % HISTORY;
        }
    }

    /// The recent values, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = f64> + '_ {
        self.history[self.next..]
            .iter()
            .chain(&self.history[..self.next])
            .copied()
    }
}

/// The signals of a followed row, by their index in the message.
#[derive(Clone, Debug, Default)]
pub struct Watch {
    /// One per signal of the message.
    pub signals: Vec<SignalStats>,
}

impl Row {
    /// Frames per second from the smoothed period.
    pub fn rate(&self) -> Option<f64> {
        self.avg_period_ns.filter(|p| *p > 0.0).map(|p| 1e9 / p)
    }

    /// True if no frame came for a while: more than 2 s and more than three
    /// periods.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        let since = now.as_nanos() - self.last.as_nanos();
        let periods = self.avg_period_ns.map_or(0.0, |p| 3.0 * p);
        since > 2_000_000_000 && since as f64 > periods
    }
}

/// Counts of one channel, for its bus load.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelStats {
    /// The channel.
    pub channel: Channel,
    /// Frames seen on it.
    pub frames: u64,
    /// Bits on the wire at the nominal (arbitration) bitrate, bit stuffing
    /// estimated as can-utils' canbusload does by default (worst case).
    pub bits: u64,
    /// Bits of the data phases of CAN FD frames with BRS (at the data bitrate).
    pub data_bits: u64,
}

/// A multiplicative hash for the packed row keys (no per-lookup SipHash).
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 ^= self.0 >> 32;
    }
}

type KeyMap = HashMap<u64, usize, BuildHasherDefault<KeyHasher>>;

/// Every id seen, in order of arrival (the view sorts).
#[derive(Clone, Debug)]
pub struct Model {
    rows: Vec<Row>,
    index: KeyMap,
    channels: Vec<ChannelStats>,
    max_rows: usize,
    by_length: bool,
    /// Frames seen in all.
    pub total: u64,
    /// Error frames seen.
    pub errors: u64,
    /// Error frames by class, in the order of [`ERROR_CLASSES`].
    pub error_classes: [u64; ERROR_CLASSES.len()],
    /// Frames of new ids not shown because the row cap was reached.
    pub over_cap: u64,
    /// The latest timestamp seen.
    pub latest: Option<Timestamp>,
    /// Counts up at each [`Model::clear`] (row keys of an older generation are void).
    pub generation: u64,
    dbc: Option<Arc<Dbc>>,
    scratch: Vec<Decoded>,
}

impl Default for Model {
    fn default() -> Model {
        Model::new()
    }
}

impl crate::pipe::Sink for Model {
    fn write(&mut self, _from: usize, record: &Record) -> crate::Result<bool> {
        self.update(record);
        Ok(true)
    }
}

impl Model {
    /// An empty model with rows per (channel, id), at most
    /// [`DEFAULT_MAX_ROWS`] of them.
    pub fn new() -> Model {
        Model {
            rows: Vec::new(),
            index: KeyMap::default(),
            channels: Vec::new(),
            max_rows: DEFAULT_MAX_ROWS,
            by_length: false,
            total: 0,
            errors: 0,
            error_classes: [0; ERROR_CLASSES.len()],
            over_cap: 0,
            latest: None,
            generation: 0,
            dbc: None,
            scratch: Vec::new(),
        }
    }

    /// Decodes the signals of followed rows with these messages.
    pub fn with_dbc(mut self, dbc: Option<Arc<Dbc>>) -> Model {
        self.dbc = dbc;
        self
    }

    /// The messages, if any.
    pub fn dbc(&self) -> Option<&Dbc> {
        self.dbc.as_deref()
    }

    /// Starts (`on`) or stops following the signals of the row with this
    /// key: each of its frames is decoded from now on (and the latest one at
    /// once), for the values, their range and recent history. Rows not
    /// followed cost no decoding.
    pub fn watch(&mut self, key: u64, on: bool) {
        let Some(&i) = self.index.get(&key) else {
            return;
        };
        let row = &mut self.rows[i];
        if !on {
            row.watch = None;
            return;
        }
        if row.watch.is_some() {
            return;
        }
        let mut w = Box::<Watch>::default();
        if let Some(m) = self.dbc.as_deref().and_then(|d| d.message_for(&row.frame)) {
            w.signals = vec![SignalStats::default(); m.signals.len()];
            self.scratch.clear();
            m.decode(row.frame.data_bytes(), &mut self.scratch);
            for d in &self.scratch {
                if let Some(s) = w.signals.get_mut(d.signal) {
                    s.take(*d);
                }
            }
        }
        row.watch = Some(w);
    }

    /// At most `n` rows (at least 1).
    pub fn with_max_rows(mut self, n: usize) -> Model {
        self.max_rows = n.max(1);
        self
    }

    /// The row cap.
    pub fn max_rows(&self) -> usize {
        self.max_rows
    }

    /// Rows per (channel, id, length) instead of per (channel, id); changing
    /// it clears the model.
    pub fn set_by_length(&mut self, on: bool) {
        if on != self.by_length {
            self.by_length = on;
            self.clear();
        }
    }

    /// True when rows are per length too.
    pub fn by_length(&self) -> bool {
        self.by_length
    }

    fn channel_index(&mut self, ch: &Channel) -> usize {
        // A handful of channels: a scan, comparing the shared name first.
        for (i, c) in self.channels.iter().enumerate() {
            let same = match (&c.channel, ch) {
                (Channel::Name(a), Channel::Name(b)) => {
                    std::sync::Arc::ptr_eq(a, b) || a.as_ref() == b.as_ref()
                }
                (a, b) => a == b,
            };
            if same {
                return i;
            }
        }
        self.channels.push(ChannelStats {
            channel: ch.clone(),
            ..ChannelStats::default()
        });
        self.channels.len() - 1
    }

    /// Takes one record into account.
    #[inline]
    pub fn update(&mut self, rec: &Record) {
        self.total += 1;
        let f = &rec.frame;
        let ts = rec.timestamp;
        if self.latest.is_none_or(|l| ts > l) {
            self.latest = Some(ts);
        }
        let chan = self.channel_index(&rec.channel);
        let (bits, data_bits) = frame_bits(f);
        let cs = &mut self.channels[chan];
        cs.frames += 1;
        cs.bits += bits as u64;
        cs.data_bits += data_bits as u64;
        if f.kind() == Kind::Error {
            self.errors += 1;
            let c = f.id().raw();
            for (n, (bit, _)) in self.error_classes.iter_mut().zip(ERROR_CLASSES) {
                if c & bit != 0 {
                    *n += 1;
                }
            }
        }
        let key = self.key_of(chan, f);
        match self.index.get(&key) {
            Some(&i) => {
                let row = &mut self.rows[i];
                let p = ts.as_nanos() - row.last.as_nanos();
                row.period_ns = Some(p);
                let pf = p as f64;
                match row.avg_period_ns {
                    None => row.avg_period_ns = Some(pf),
                    Some(a) => {
                        row.jitter_ns += ((pf - a).abs() - row.jitter_ns) * SMOOTHING;
                        row.avg_period_ns = Some(a + (pf - a) * SMOOTHING);
                    }
                }
                row.count += 1;
                row.last = ts;
                let old = row.frame.data_bytes();
                let new = f.data_bytes();
                let n = old.len().max(new.len());
                for b in 0..n {
                    if old.get(b) != new.get(b) {
                        row.changed_at[b] = ts.as_nanos();
                    }
                }
                row.previous = Some(row.frame);
                row.frame = *f;
                if let Some(w) = row.watch.as_deref_mut() {
                    if let Some(m) = self.dbc.as_deref().and_then(|d| d.message_for(f)) {
                        self.scratch.clear();
                        m.decode(f.data_bytes(), &mut self.scratch);
                        for d in &self.scratch {
                            if let Some(s) = w.signals.get_mut(d.signal) {
                                s.take(*d);
                            }
                        }
                    }
                }
            }
            None if self.rows.len() >= self.max_rows => self.over_cap += 1,
            None => {
                self.index.insert(key, self.rows.len());
                self.rows.push(Row {
                    channel: self.channels[chan].channel.clone(),
                    id: f.id(),
                    key,
                    count: 1,
                    first: ts,
                    last: ts,
                    period_ns: None,
                    avg_period_ns: None,
                    jitter_ns: 0.0,
                    frame: *f,
                    previous: None,
                    changed_at: [NEVER; CANFD_MAX_LEN],
                    watch: None,
                });
            }
        }
    }

    /// The key of a frame: channel, error frame or not, standard or extended, id,
    /// and (with rows per length) the length.
    fn key_of(&self, chan: usize, f: &Frame) -> u64 {
        // The error frames of a channel share one row, whatever their class.
        let id = f.id();
        let raw = if f.is_error() { 0 } else { id.raw() };
        let mut k = (chan as u64) << 40
            | (f.is_error() as u64) << 39
            | (id.is_extended() as u64) << 38
            | (raw as u64) << 8;
        if self.by_length {
            k |= 0x80 | f.len() as u64;
        }
        k
    }

    /// The rows in order of arrival.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The row with this key.
    pub fn row(&self, key: u64) -> Option<&Row> {
        self.index.get(&key).map(|&i| &self.rows[i])
    }

    /// The channels seen, with their counts.
    pub fn channels(&self) -> &[ChannelStats] {
        &self.channels
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True before the first frame.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// True when frames of new ids were left out for the cap.
    pub fn capped(&self) -> bool {
        self.over_cap > 0
    }

    /// Forgets every row and count (keeping the cap and the row keying).
    pub fn clear(&mut self) {
        let generation = self.generation + 1;
        *self = Model {
            generation,
            max_rows: self.max_rows,
            by_length: self.by_length,
            dbc: self.dbc.take(),
            ..Model::new()
        };
    }
}

/// Bits a frame takes on the wire: (total at the nominal bitrate or both,
/// of which in a BRS data phase), stuff bits estimated for the worst case as
/// can-utils' canbusload does by default (`canframelen.c`, CFL_WORSTCASE):
/// classic frames (55 or 80) + 10 per byte; CAN FD frames 5/4 of the unstuffed
/// length, the data phase being the BRS bit to the CRC delimiter.
pub fn frame_bits(f: &Frame) -> (u32, u32) {
    let eff = f.id().is_extended();
    let len = f.len() as u32;
    if f.is_fd() {
        let crc = if len >= 16 { 21 } else { 17 };
        let plain = 1 + if eff { 29 } else { 11 } + crc + 5 + 12 + len * 8;
        let data = if f.brs() {
            (1 + 1 + 4 + crc + len * 8) * 5 / 4
        } else {
            0
        };
        (plain * 5 / 4, data)
    } else {
        // A remote frame carries no data bytes; an error frame is counted as
        // the frame it reports, as canbusload counts whatever it receives.
        let bytes = if f.is_remote() { 0 } else { len };
        (if eff { 80 } else { 55 } + bytes * 10, 0)
    }
}

/// The bus load in percent from bits seen over `secs` seconds, as canbusload
/// computes it: bits of the arbitration phases at `bitrate`, of BRS data
/// phases at `data_bitrate`.
pub fn bus_load(bits: u64, data_bits: u64, secs: f64, bitrate: u32, data_bitrate: u32) -> f64 {
    if secs <= 0.0 || bitrate == 0 {
        return 0.0;
    }
    let nominal = (bits - data_bits.min(bits)) as f64 / bitrate as f64;
    let data = data_bits as f64 / data_bitrate.max(1) as f64;
    (nominal + data) / secs * 100.0
}

/// The data column: hex bytes separated by spaces; for remote frames the
/// requested length; for error frames the decoded cause after the bytes.
pub fn data_text(f: &Frame) -> String {
    if f.is_remote() {
        return format!("remote request, {} bytes", f.requested_len());
    }
    if f.is_error() {
        let mut s = hex_bytes(f.data_bytes());
        if !s.is_empty() {
            s.push_str("  ");
        }
        s.push_str(&crate::frame::error_class::describe_error(f));
        return s;
    }
    hex_bytes(f.data_bytes())
}

/// `DE AD BE EF`.
pub fn hex_bytes(bytes: &[u8]) -> String {
    let mut v = Vec::with_capacity(bytes.len() * 3);
    hex::push_spaced(&mut v, bytes, hex::Case::Upper);
    // ` HH HH`: ASCII, without its first space
    String::from_utf8_lossy(v.get(1..).unwrap_or_default()).into_owned()
}

/// Printable ASCII of the bytes, `.` for the rest.
pub fn ascii_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

/// A period in milliseconds: `12.3`, `-` for none.
pub fn period_text(ns: Option<f64>) -> String {
    match ns {
        None => "-".into(),
        Some(ns) => {
            let ms = ns / 1e6;
            if ms >= 10_000.0 {
                format!("{ms:.0}")
            } else {
                format!("{ms:.1}")
            }
        }
    }
}

/// The error classes seen, named: `bus-off 1, no-ack 3`.
pub fn error_classes_text(model: &Model) -> String {
    let mut parts = Vec::new();
    for (n, (_, name)) in model.error_classes.iter().zip(ERROR_CLASSES) {
        if *n > 0 {
            parts.push(format!("{name} {n}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;

    fn rec(ms: i64, f: &str) -> Record {
        Record::new(Timestamp(ms * 1_000_000), parse_frame(f).unwrap())
            .with_channel(Channel::name("vcan0"))
    }

    #[test]
    fn one_row_per_id_with_count_period_and_jitter() {
        let mut m = Model::new();
        m.update(&rec(0, "123#01"));
        m.update(&rec(5, "456#02"));
        m.update(&rec(10, "123#03"));
        m.update(&rec(30, "123#04"));
        assert_eq!(m.len(), 2);
        let rows = m.rows();
        assert_eq!(rows[0].id.raw(), 0x123);
        assert_eq!(rows[0].count, 3);
        assert_eq!(rows[0].period_ns, Some(20_000_000));
        // 10 ms, then 20 ms weighing 1/8: 11.25 ms; deviation 10 ms / 8.
        assert_eq!(rows[0].avg_period_ns, Some(11_250_000.0));
        assert_eq!(rows[0].jitter_ns, 1_250_000.0);
        assert_eq!(rows[0].frame.data_bytes(), &[4]);
        assert_eq!(rows[0].previous.unwrap().data_bytes(), &[3]);
        assert_eq!(rows[1].count, 1);
        assert_eq!(rows[1].period_ns, None);
        assert_eq!(m.total, 4);
        assert_eq!(m.latest, Some(Timestamp(30_000_000)));
    }

    #[test]
    fn standard_extended_and_errors_are_apart_and_errors_counted_by_class() {
        let mut m = Model::new();
        m.update(&rec(0, "123#01"));
        m.update(&rec(0, "00000123#01"));
        m.update(&rec(0, "20000040#0000000000000000"));
        m.update(&rec(1, "20000060#0000000000000000"));
        assert_eq!(m.len(), 3);
        assert_eq!(m.errors, 2);
        assert_eq!(error_classes_text(&m), "no-ack 1, bus-off 2");
    }

    #[test]
    fn channels_are_apart_and_rows_per_length_on_request() {
        let mut m = Model::new();
        m.update(&rec(0, "123#01"));
        m.update(&rec(0, "123#0102"));
        m.update(
            &Record::new(Timestamp(0), parse_frame("123#01").unwrap())
                .with_channel(Channel::name("239.74.163.2")),
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m.channels().len(), 2);
        m.set_by_length(true);
        assert!(m.is_empty(), "changing the keying clears");
        m.update(&rec(0, "123#01"));
        m.update(&rec(0, "123#0102"));
        m.update(&rec(0, "123##1112233445566778899AABBCC"));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn changed_bytes_carry_their_time() {
        let mut m = Model::new();
        m.update(&rec(0, "123#010203"));
        m.update(&rec(100, "123#01FF03"));
        m.update(&rec(200, "123#01FF0304"));
        let r = &m.rows()[0];
        assert_eq!(r.changed_at[0], NEVER);
        assert_eq!(r.changed_at[1], 100_000_000);
        assert_eq!(r.changed_at[2], NEVER);
        assert_eq!(r.changed_at[3], 200_000_000, "a new byte is a change");
        assert!(!r.is_stale(Timestamp(2_000_000_000)));
        assert!(r.is_stale(Timestamp(2_300_000_000)));
    }

    #[test]
    fn the_cap_counts_what_it_leaves_out() {
        let mut m = Model::new().with_max_rows(2);
        for (i, id) in ["100", "200", "300", "300", "100"].iter().enumerate() {
            m.update(&rec(i as i64, &format!("{id}#00")));
        }
        assert_eq!(m.len(), 2);
        assert_eq!(m.over_cap, 2);
        assert_eq!(m.total, 5);
        assert_eq!(m.rows()[0].count, 2);
        m.clear();
        assert_eq!((m.len(), m.total, m.max_rows(), m.generation), (0, 0, 2, 1));
    }

    #[test]
    fn bits_and_load_as_canbusload() {
        // Classic: 55 + 10 per byte (11-bit), 80 + 10 per byte (29-bit).
        assert_eq!(
            frame_bits(&parse_frame("123#0102030405060708").unwrap()),
            (135, 0)
        );
        assert_eq!(frame_bits(&parse_frame("12345678#").unwrap()), (80, 0));
        assert_eq!(frame_bits(&parse_frame("123#R8").unwrap()), (55, 0));
        // FD, 12 bytes, no BRS: (1+11+17+5+12+96) * 5/4 = 177.
        let fd12 = parse_frame("123##0112233445566778899AABBCC").unwrap();
        assert_eq!(frame_bits(&fd12), (177, 0));
        // FD, 64 bytes, BRS: (1+11+21+5+12+512)*5/4 = 702; data (6+21+512)*5/4 = 673.
        let fd64 = parse_frame(&format!("123##1{}", "00".repeat(64))).unwrap();
        assert_eq!(frame_bits(&fd64), (702, 673));
        // 1000 classic 8-byte frames a second at 500 kbit/s: 27 %.
        assert!((bus_load(135_000, 0, 1.0, 500_000, 500_000) - 27.0).abs() < 1e-9);
        // The data phase at 2 Mbit/s: (702-673)/500k + 673/2M per frame.
        let l = bus_load(702_000, 673_000, 1.0, 500_000, 2_000_000);
        assert!((l - (29_000.0 / 500_000.0 + 673_000.0 / 2_000_000.0) * 100.0).abs() < 1e-9);
    }

    #[test]
    fn followed_rows_decode_each_frame_and_keep_range_and_history() {
        let dbc = Dbc::parse(
            "VERSION \"\"\n\nBO_ 291 Speed: 2 ECU\n SG_ Kmh : 0|16@1+ (0.5,0) [0|300] \"km/h\" ECU\n",
            "t.dbc",
        )
        .unwrap();
        let mut m = Model::new().with_dbc(Some(Arc::new(dbc)));
        m.update(&rec(0, "123#1000"));
        let key = m.rows()[0].key;
        assert!(
            m.rows()[0].watch.is_none(),
            "nothing decoded until followed"
        );
        m.watch(key, true);
        m.update(&rec(10, "123#0400"));
        m.update(&rec(20, "123#0800"));
        let s = &m.rows()[0].watch.as_ref().unwrap().signals[0];
        assert_eq!(s.last.unwrap().value, 4.0);
        assert_eq!((s.min, s.max), (2.0, 8.0));
        assert_eq!(s.recent().collect::<Vec<_>>(), [8.0, 2.0, 4.0]);
        for i in 0..50 {
            m.update(&rec(30 + i, &format!("123#{:02X}00", i)));
        }
        let s = &m.rows()[0].watch.as_ref().unwrap().signals[0];
        assert_eq!(s.history.len(), HISTORY);
        assert_eq!(s.recent().last(), Some(24.5));
        assert_eq!(s.recent().next(), Some(5.0));
        m.watch(key, false);
        assert!(m.rows()[0].watch.is_none());
    }

    #[test]
    fn texts() {
        assert_eq!(
            data_text(&parse_frame("123#DEADBEEF").unwrap()),
            "DE AD BE EF"
        );
        assert_eq!(
            data_text(&parse_frame("123#R4").unwrap()),
            "remote request, 4 bytes"
        );
        assert_eq!(ascii_text(b"AB\x00~\x7f"), "AB.~.");
        assert_eq!(period_text(Some(12_340_000.0)), "12.3");
        assert_eq!(period_text(None), "-");
        assert_eq!(
            data_text(&parse_frame("20000040#0000000000000000").unwrap()),
            "00 00 00 00 00 00 00 00  bus-off"
        );
    }
}
