//! Signal extraction: where a signal's bits are (computed once per signal)
//! and the per-frame decoding, which allocates nothing.

use super::{ByteOrder, Decoded, Message, Signal, ValueType};

/// Multiplexer values kept on the stack while a frame is decoded; a message
/// with more multiplexers than this looks the others up in the output.
const SLOTS: usize = 32;

/// The bytes a signal spans and how to get its bits out of them.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Plan {
    /// First byte read.
    first: u16,
    /// Bytes read (1 to 9).
    count: u8,
    /// Right shift after reading.
    shift: u8,
    /// Read the bytes most significant first (Motorola).
    big: bool,
    /// `length` low bits set.
    mask: u64,
}

impl Plan {
    /// The plan of a signal; `length` is 1 to 64.
    pub(super) fn new(start: u16, length: u16, order: ByteOrder) -> Plan {
        let (start, length) = (start as u32, length as u32);
        let mask = if length >= 64 {
            u64::MAX
        } else {
            (1u64 << length) - 1
        };
        match order {
            ByteOrder::LittleEndian => {
                let first = start / 8;
                let last = (start + length - 1) / 8;
                Plan {
                    first: first as u16,
                    count: (last - first + 1) as u8,
                    shift: (start % 8) as u8,
                    big: false,
                    mask,
                }
            }
            ByteOrder::BigEndian => {
                // Sawtooth numbering to a linear one where bit 0 is the most
                // significant bit of byte 0.
                let msb = (start / 8) * 8 + 7 - start % 8;
                let lsb = msb + length - 1;
                let (first, last) = (msb / 8, lsb / 8);
                Plan {
                    first: first as u16,
                    count: (last - first + 1) as u8,
                    shift: (7 - lsb % 8) as u8,
                    big: true,
                    mask,
                }
            }
        }
    }

    /// One past the last byte the signal needs.
    pub(super) fn end(&self) -> usize {
        self.first as usize + self.count as usize
    }

    /// The signal's bits, or None when `data` is too short to hold them.
    #[inline]
    fn read(&self, data: &[u8]) -> Option<u64> {
        let bytes = data.get(self.first as usize..self.end())?;
        let mut v: u128 = 0;
        if self.big {
            for &b in bytes {
                v = (v << 8) | b as u128;
            }
        } else {
            for &b in bytes.iter().rev() {
                v = (v << 8) | b as u128;
            }
        }
        Some((v >> self.shift) as u64 & self.mask)
    }
}

/// The raw and physical value of a signal's bits.
#[inline]
fn values(s: &Signal, bits: u64) -> (i64, f64) {
    match s.value_type {
        ValueType::Unsigned => (bits as i64, bits as f64 * s.factor + s.offset),
        ValueType::Signed => {
            let sh = 64 - s.length as u32;
            let raw = ((bits << sh) as i64) >> sh;
            (raw, raw as f64 * s.factor + s.offset)
        }
        ValueType::Float => {
            let f = f32::from_bits(bits as u32) as f64;
            (f.to_bits() as i64, f * s.factor + s.offset)
        }
        ValueType::Double => {
            let f = f64::from_bits(bits);
            (bits as i64, f * s.factor + s.offset)
        }
    }
}

pub(super) fn decode(m: &Message, data: &[u8], out: &mut Vec<Decoded>) {
    let base = out.len();
    let mut switches = [None::<u64>; SLOTS];
    for &i in &m.order {
        let s = &m.signals[i];
        if let Some(mux) = &s.mux {
            let slot = m.slots[mux.switch] as usize;
            let v = if slot < SLOTS {
                switches[slot]
            } else {
                out[base..]
                    .iter()
                    .find(|d| d.signal == mux.switch)
                    .map(|d| d.raw as u64)
            };
            match v {
                Some(v) if mux.selects(v) => {}
                _ => continue,
            }
        }
        let Some(bits) = s.plan.read(data) else {
            continue;
        };
        let (raw, value) = values(s, bits);
        if s.is_multiplexer {
            let slot = m.slots[i] as usize;
            if slot < SLOTS {
                switches[slot] = Some(raw as u64);
            }
        }
        out.push(Decoded {
            signal: i,
            raw,
            value,
        });
    }
}

/// The decoding order (multiplexers before what they select) and the
/// multiplexers' slots, once the signals are known. Signals in a mux cycle
/// (a broken file) are left out of the order.
pub(super) fn prepare(signals: &[Signal]) -> (Vec<usize>, Vec<u8>) {
    let mut slots = vec![u8::MAX; signals.len()];
    let mut next = 0usize;
    for (i, s) in signals.iter().enumerate() {
        if s.is_multiplexer {
            slots[i] = next.min(u8::MAX as usize - 1) as u8;
            next += 1;
        }
    }
    let mut order = Vec::with_capacity(signals.len());
    let mut placed = vec![false; signals.len()];
    // Repeated passes: the first places the unmultiplexed signals and the top
    // multiplexers, each next pass one more level of cascade.
    loop {
        let mut progress = false;
        for (i, s) in signals.iter().enumerate() {
            if placed[i] {
                continue;
            }
            let ready = match &s.mux {
                None => true,
                Some(m) => placed[m.switch] && m.switch != i,
            };
            if ready {
                placed[i] = true;
                order.push(i);
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    (order, slots)
}
