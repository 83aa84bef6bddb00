//! DBC databases: messages and signals read from Vector's `.dbc` text files,
//! and the decoding of frames into signal values, used by can-convert
//! (`--decode`), can-logger (`--dbc` on stdout) and can-viewer.
//!
//! The parser is our own (`parse.rs`): it reads what real files hold
//! (statements in any order, CRLF, cp1252 text, a missing `;` before the next
//! keyword, multi-line comments) and refuses anything else with the file and
//! line. We read messages (`BO_`), signals (`SG_`, with simple `m0`/`M` and
//! extended `m1M` multiplexing), value tables (`VAL_`), float and double
//! signals (`SIG_VALTYPE_`), extended multiplexing (`SG_MUL_VAL_`), comments
//! (`CM_`) and the `VFrameFormat` attribute (J1939 parameter groups, CAN FD);
//! the other statements are checked for shape and skipped.
//!
//! Signal extraction (`decode.rs`) follows cantools: Intel (little endian)
//! start bits are the least significant bit, Motorola (big endian) start bits
//! the most significant bit in cantools' (and Vector's) sawtooth numbering.
//! Decoding allocates nothing: it appends to a caller's `Vec<Decoded>`.
//!
//! ```
//! use cankit::dbc::Dbc;
//! use cankit::frame::text::parse_frame;
//!
//! let dbc = Dbc::parse(r#"
//! BO_ 291 Engine: 8 ECU
//!  SG_ Speed : 0|16@1+ (0.1,0) [0|6553.5] "km/h" Vector__XXX
//!  SG_ Gear : 16|4@1+ (1,0) [0|15] "" Vector__XXX
//! VAL_ 291 Gear 0 "Neutral" 1 "First" ;
//! "#, "engine.dbc").unwrap();
//! let frame = parse_frame("123#E803010000000000").unwrap();
//! let msg = dbc.message_for(&frame).unwrap();
//! let mut out = Vec::new();
//! msg.decode(frame.data_bytes(), &mut out);
//! assert_eq!(msg.signals[out[0].signal].name, "Speed");
//! assert_eq!(out[0].value, 100.0);
//! assert_eq!(msg.signals[out[1].signal].label_of(&out[1]), Some("First"));
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Position};
use crate::frame::Frame;

mod decode;
pub mod export;
mod parse;

/// One DBC file, or several merged.
#[derive(Debug, Clone, Default)]
pub struct Dbc {
    messages: Vec<Message>,
    /// Exact ids: `id | 1 << 31` for extended ids.
    by_id: HashMap<u32, usize>,
    /// J1939 parameter groups (VFrameFormat J1939PG) by PGN.
    by_pgn: HashMap<u32, usize>,
}

/// A message (`BO_`).
#[derive(Debug, Clone)]
pub struct Message {
    /// Its name.
    pub name: String,
    /// The numeric id, without the DBC's extended flag (bit 31).
    pub id: u32,
    /// A 29-bit id.
    pub extended: bool,
    /// Its length in bytes (above 8 for CAN FD).
    pub size: usize,
    /// The sending node (`Vector__XXX` when none).
    pub sender: String,
    /// Its signals, in the file's order.
    pub signals: Vec<Signal>,
    /// The comment (`CM_ BO_`), if any.
    pub comment: Option<String>,
    /// A J1939 parameter group (`VFrameFormat` J1939PG): frames match it by
    /// PGN, whatever their priority and addresses.
    pub j1939: bool,
    /// Sent as CAN FD (`VFrameFormat` StandardCAN_FD/ExtendedCAN_FD).
    pub fd: bool,
    /// The file it came from.
    pub origin: String,
    /// Signal indexes in decoding order: every multiplexer before the signals
    /// it selects.
    order: Vec<usize>,
    /// Slot of each multiplexer signal in the decoder's small table (`u8::MAX`
    /// for the others).
    slots: Vec<u8>,
}

/// Byte order of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Intel (`@1`): the start bit is the least significant bit.
    LittleEndian,
    /// Motorola (`@0`): the start bit is the most significant bit.
    BigEndian,
}

/// How a signal's bits are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Unsigned integer (`+`).
    Unsigned,
    /// Two's complement integer (`-`).
    Signed,
    /// IEEE 754 single (`SIG_VALTYPE_ 1`, 32 bits).
    Float,
    /// IEEE 754 double (`SIG_VALTYPE_ 2`, 64 bits).
    Double,
}

/// Which multiplexer values select a signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Mux {
    /// The index of the multiplexer signal in [`Message::signals`].
    pub switch: usize,
    /// Inclusive ranges of the multiplexer's raw value.
    pub ranges: Vec<(u64, u64)>,
}

impl Mux {
    /// True when `raw` selects the signal.
    #[inline]
    pub fn selects(&self, raw: u64) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= raw && raw <= hi)
    }
}

/// A signal (`SG_`).
#[derive(Debug, Clone)]
pub struct Signal {
    /// Its name.
    pub name: String,
    /// The unit, empty when none.
    pub unit: String,
    /// The minimum physical value the DBC gives (0 with the maximum 0 means none).
    pub min: f64,
    /// The maximum physical value the DBC gives.
    pub max: f64,
    /// Physical = raw * factor + offset.
    pub factor: f64,
    /// Physical = raw * factor + offset.
    pub offset: f64,
    /// The start bit as the DBC gives it.
    pub start: u16,
    /// The length in bits (1 to 64).
    pub length: u16,
    /// Byte order.
    pub byte_order: ByteOrder,
    /// Integer or float.
    pub value_type: ValueType,
    /// This signal selects others (`M`, or `mNM`).
    pub is_multiplexer: bool,
    /// The multiplexer values that make this signal present.
    pub mux: Option<Mux>,
    /// Value table (`VAL_`): raw value to name, sorted by raw value.
    pub choices: Vec<(i64, String)>,
    /// Receiving nodes.
    pub receivers: Vec<String>,
    /// The comment (`CM_ SG_`), if any.
    pub comment: Option<String>,
    /// Bytes to read, computed once.
    plan: decode::Plan,
}

/// One decoded signal value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decoded {
    /// The signal's index in [`Message::signals`].
    pub signal: usize,
    /// The raw value: the integer as read (sign-extended for signed signals;
    /// an unsigned 64-bit value above `i64::MAX` wraps, `raw as u64` gives it
    /// back); for float and double signals the `f64` bit pattern of the
    /// float read (`f64::from_bits(raw as u64)`).
    pub raw: i64,
    /// The physical value: raw * factor + offset.
    pub value: f64,
}

impl Dbc {
    /// Reads a DBC file (UTF-8, or cp1252 when it is not UTF-8). Errors name
    /// the file and the line.
    pub fn open(path: &Path) -> Result<Dbc, Error> {
        let bytes = std::fs::read(path).map_err(|error| Error::NoInput {
            path: path.to_path_buf(),
            error,
        })?;
        let text = parse::decode_text(&bytes);
        Dbc::parse(&text, &path.display().to_string())
    }

    /// Parses DBC text; `origin` (a file name) is named in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Dbc, Error> {
        let messages = parse::parse(text, origin).map_err(|(line, message)| Error::Format {
            path: Some(PathBuf::from(origin)),
            position: Position::Line(line),
            message,
        })?;
        let mut dbc = Dbc::default();
        for m in messages {
            dbc.insert(m);
        }
        Ok(dbc)
    }

    /// Adds `other`'s messages; a message with the same id as one already
    /// here replaces it (the last file given wins).
    pub fn merge(&mut self, other: Dbc) {
        for m in other.messages {
            self.insert(m);
        }
    }

    fn insert(&mut self, m: Message) {
        let key = m.id | if m.extended { 1 << 31 } else { 0 };
        let pgn = (m.j1939 && m.extended).then(|| j1939_pgn(m.id));
        let idx = match self.by_id.get(&key) {
            Some(&i) => {
                self.messages[i] = m;
                i
            }
            None => {
                self.messages.push(m);
                self.by_id.insert(key, self.messages.len() - 1);
                self.messages.len() - 1
            }
        };
        if let Some(pgn) = pgn {
            self.by_pgn.insert(pgn, idx);
        }
    }

    /// The message a data frame carries: by id and width, else (29-bit ids)
    /// the J1939 parameter group of the id's PGN. None for remote and error
    /// frames.
    #[inline]
    pub fn message_for(&self, frame: &Frame) -> Option<&Message> {
        self.message_index_for(frame).map(|i| &self.messages[i])
    }

    /// The index in [`Dbc::messages`] of [`Dbc::message_for`]'s message.
    #[inline]
    pub fn message_index_for(&self, frame: &Frame) -> Option<usize> {
        if !frame.is_data() {
            return None;
        }
        let id = frame.id();
        let key = id.raw() | if id.is_extended() { 1 << 31 } else { 0 };
        if let Some(&i) = self.by_id.get(&key) {
            return Some(i);
        }
        if id.is_extended() && !self.by_pgn.is_empty() {
            return self.by_pgn.get(&j1939_pgn(id.raw())).copied();
        }
        None
    }

    /// Every message, in the order of the files.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// A message by name.
    pub fn message_by_name(&self, name: &str) -> Option<&Message> {
        self.messages.iter().find(|m| m.name == name)
    }

    /// True when no file gave a message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// The J1939 parameter group number of a 29-bit id: data page bits and PDU
/// format, plus the PDU specific byte for PDU2 (PF >= 240); the priority and
/// the source address are not part of it, nor the destination of PDU1.
pub fn j1939_pgn(id: u32) -> u32 {
    let pf = (id >> 16) & 0xFF;
    let dp = (id >> 24) & 0x3;
    let ps = if pf >= 240 { (id >> 8) & 0xFF } else { 0 };
    (dp << 16) | (pf << 8) | ps
}

impl Message {
    /// Appends the signals present in `data` to `out`: multiplexed signals
    /// only when their multiplexer selects them, and only signals whose bits
    /// all lie within `data` (a short frame gives the ones it holds).
    #[inline]
    pub fn decode(&self, data: &[u8], out: &mut Vec<Decoded>) {
        decode::decode(self, data, out)
    }

    /// A signal's index by name.
    pub fn signal_index(&self, name: &str) -> Option<usize> {
        self.signals.iter().position(|s| s.name == name)
    }

    /// True when some signal is multiplexed.
    pub fn is_multiplexed(&self) -> bool {
        self.signals.iter().any(|s| s.mux.is_some())
    }
}

impl Signal {
    /// The value-table name of a raw integer value.
    #[inline]
    pub fn label(&self, raw: i64) -> Option<&str> {
        if self.choices.is_empty() {
            return None;
        }
        self.choices
            .binary_search_by_key(&raw, |c| c.0)
            .ok()
            .map(|i| self.choices[i].1.as_str())
    }

    /// The value-table name of a decoded value (float signals: when the
    /// float read is a whole number in the table, as cantools matches it).
    #[inline]
    pub fn label_of(&self, d: &Decoded) -> Option<&str> {
        if self.choices.is_empty() {
            return None;
        }
        match self.value_type {
            ValueType::Float | ValueType::Double => {
                let f = f64::from_bits(d.raw as u64);
                if f.fract() == 0.0 && f.abs() < 9.2e18 {
                    self.label(f as i64)
                } else {
                    None
                }
            }
            _ => self.label(d.raw),
        }
    }

    /// True for float and double signals.
    pub fn is_float(&self) -> bool {
        matches!(self.value_type, ValueType::Float | ValueType::Double)
    }

    /// True when the physical value is the raw integer itself (factor 1,
    /// offset 0, an integer signal): writers print it exactly.
    pub fn is_identity(&self) -> bool {
        !self.is_float() && self.factor == 1.0 && self.offset == 0.0
    }
}

#[cfg(test)]
mod tests;
