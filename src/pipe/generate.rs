//! [`GeneratorSource`]: frames made up as can-utils' `cangen` makes them, to
//! load a bus or test a receiver: ids, lengths and payloads random,
//! incrementing or fixed; classic, extended, CAN FD (with bit-rate switch) or
//! remote frames; one every gap, or as fast as the sink takes them.
//!
//! Modes (cangen's letters):
//!
//! | part | `r` | `i` | anything else |
//! | --- | --- | --- | --- |
//! | id | random | 0, 1, 2, ... wrapping at the width's largest id | a fixed hex id |
//! | length | random | 0, 1, ... 8 (FD: the 16 FD lengths), wrapping | a fixed byte count |
//! | data | random | a little-endian frame counter over the payload | fixed hex bytes (repeated to the length) |
//!
//! Random numbers come from a xorshift generator seeded by `seed` (the
//! same seed gives the same frames), not from a cryptographic source.

use std::time::{Duration, Instant};

use super::{Next, Source, Stop, Until};
use crate::error::Result;
use crate::frame::{FdFlags, Frame, Id, Record, Timestamp};

/// How one part of the frame is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode<T> {
    /// Random each frame.
    Random,
    /// Counting up each frame.
    Increment,
    /// Always this.
    Fixed(T),
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSpec {
    /// Ids.
    pub id: Mode<u32>,
    /// Payload lengths in bytes.
    pub len: Mode<u8>,
    /// Payloads.
    pub data: Mode<Vec<u8>>,
    /// 29-bit ids.
    pub extended: bool,
    /// CAN FD frames.
    pub fd: bool,
    /// Bit-rate switch on FD frames.
    pub brs: bool,
    /// Remote frames (classic only).
    pub remote: bool,
    /// Seed of the random numbers.
    pub seed: u64,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            id: Mode::Random,
            len: Mode::Random,
            data: Mode::Random,
            extended: false,
            fd: false,
            brs: false,
            remote: false,
            seed: 1,
        }
    }
}

/// The payload lengths a CAN FD frame can have.
const FD_LENGTHS: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

impl GenSpec {
    /// Parses cangen's mode letters: `r`, `i`, or a fixed value read by `fixed`.
    pub fn mode<T>(
        text: &str,
        fixed: impl Fn(&str) -> Option<T>,
    ) -> std::result::Result<Mode<T>, String> {
        match text {
            "r" => Ok(Mode::Random),
            "i" => Ok(Mode::Increment),
            t => fixed(t)
                .map(Mode::Fixed)
                .ok_or_else(|| format!("'{t}' is not r, i or a fixed value")),
        }
    }

    /// Checks that the fixed parts fit the frame kind.
    pub fn check(&self) -> std::result::Result<(), String> {
        let max_id = if self.extended { 0x1FFF_FFFF } else { 0x7FF };
        if let Mode::Fixed(id) = self.id {
            if id > max_id {
                return Err(format!(
                    "id {id:X} does not fit a {} id",
                    if self.extended { "29-bit" } else { "11-bit" }
                ));
            }
        }
        if let Mode::Fixed(n) = self.len {
            if self.fd && !FD_LENGTHS.contains(&n) {
                return Err(format!(
                    "{n} bytes is not a CAN FD length (0-8, 12, 16, 20, 24, 32, 48, 64)"
                ));
            }
            if !self.fd && n > 8 {
                return Err(format!(
                    "{n} bytes: a classic frame holds at most 8 (add --fd-frames)"
                ));
            }
        }
        if self.remote && self.fd {
            return Err("CAN FD has no remote frames".into());
        }
        if self.brs && !self.fd {
            return Err("--brs goes with --fd-frames".into());
        }
        Ok(())
    }
}

/// Frames made up from a [`GenSpec`], one every `gap` (none: as fast as
/// the sink takes them). Due times count from the start, so the rate does
/// not drift.
pub struct GeneratorSource {
    spec: GenSpec,
    gap: Option<Duration>,
    n: u64,
    rng: u64,
    start: Option<Instant>,
    slot: Option<Record>,
    stop: Stop,
}

impl GeneratorSource {
    /// A generator; `spec` must have passed [`GenSpec::check`].
    pub fn new(spec: GenSpec, gap: Option<Duration>, stop: Stop) -> GeneratorSource {
        // xorshift must not start at 0.
        let rng = spec.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        GeneratorSource {
            spec,
            gap: gap.filter(|g| !g.is_zero()),
            n: 0,
            rng,
            start: None,
            slot: None,
            stop,
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The next frame.
    pub fn frame(&mut self) -> Frame {
        let n = self.n;
        self.n += 1;
        let spec = &self.spec;
        let max_id: u32 = if spec.extended { 0x1FFF_FFFF } else { 0x7FF };
        let (id_mode, len_mode, fd, remote, extended, brs) = (
            spec.id.clone(),
            spec.len.clone(),
            spec.fd,
            spec.remote,
            spec.extended,
            spec.brs,
        );
        let raw_id = match id_mode {
            Mode::Random => (self.random() as u32) & max_id,
            Mode::Increment => (n % (max_id as u64 + 1)) as u32,
            Mode::Fixed(v) => v,
        };
        let len = match len_mode {
            Mode::Random if fd => FD_LENGTHS[(self.random() % 16) as usize],
            Mode::Random => (self.random() % 9) as u8,
            Mode::Increment if fd => FD_LENGTHS[(n % 16) as usize],
            Mode::Increment => (n % 9) as u8,
            Mode::Fixed(v) => v,
        };
        let id = if extended {
            Id::extended(raw_id)
        } else {
            Id::standard(raw_id)
        };
        let mut data = [0u8; 64];
        let bytes = &mut data[..len as usize];
        match &self.spec.data {
            Mode::Random => {
                for chunk in bytes.chunks_mut(8) {
                    let r = self.random().to_le_bytes();
                    chunk.copy_from_slice(&r[..chunk.len()]);
                }
            }
            Mode::Increment => {
                let c = n.to_le_bytes();
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = c.get(i).copied().unwrap_or(0);
                }
            }
            Mode::Fixed(v) if !v.is_empty() => {
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = v[i % v.len()];
                }
            }
            Mode::Fixed(_) => {}
        }
        let made = match (id, remote, fd) {
            (Ok(id), true, _) => Frame::remote(id, len),
            (Ok(id), false, true) => Frame::fd(id, bytes, FdFlags { brs, esi: false }),
            (Ok(id), false, false) => Frame::data(id, bytes),
            (Err(e), ..) => Err(e),
        };
        // The spec was checked: every part fits its frame.
        match made {
            Ok(f) => f,
            Err(_) => unreachable!("a checked GenSpec makes valid frames"),
        }
    }
}

impl Source for GeneratorSource {
    fn next(&mut self, until: Until) -> Result<Next<'_>> {
        // A zero gap (`-g 0`): as fast as the bus takes them, no clock read.
        if let Some(gap) = self.gap.filter(|g| !g.is_zero()) {
            let start = *self.start.get_or_insert_with(Instant::now);
            if !super::sources::wait_nth(start, gap, self.n, until, &self.stop) {
                return Ok(Next::Idle);
            }
        }
        let frame = self.frame();
        let rec = Record::new(Timestamp::now(), frame);
        Ok(Next::Record(0, self.slot.insert(rec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(spec: GenSpec) -> GeneratorSource {
        spec.check().unwrap();
        GeneratorSource::new(spec, None, Stop::new())
    }

    #[test]
    fn increments_and_fixed_parts() {
        let mut g = gen(GenSpec {
            id: Mode::Increment,
            len: Mode::Fixed(2),
            data: Mode::Increment,
            ..GenSpec::default()
        });
        let f: Vec<String> = (0..3).map(|_| g.frame().to_string()).collect();
        assert_eq!(f, ["000#0000", "001#0100", "002#0200"]);
        let mut g = gen(GenSpec {
            id: Mode::Fixed(0x123),
            len: Mode::Increment,
            data: Mode::Fixed(vec![0xAA, 0xBB]),
            ..GenSpec::default()
        });
        let f: Vec<String> = (0..4).map(|_| g.frame().to_string()).collect();
        assert_eq!(f, ["123#", "123#AA", "123#AABB", "123#AABBAA"]);
    }

    #[test]
    fn random_frames_fit_and_repeat_with_the_seed() {
        let spec = GenSpec {
            extended: true,
            fd: true,
            brs: true,
            seed: 7,
            ..GenSpec::default()
        };
        let a: Vec<Frame> = {
            let mut g = gen(spec.clone());
            (0..200).map(|_| g.frame()).collect()
        };
        let mut g = gen(spec);
        let b: Vec<Frame> = (0..200).map(|_| g.frame()).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|f| f.is_fd() && f.id().is_extended()));
        let lens: std::collections::BTreeSet<usize> =
            a.iter().map(|f| f.data_bytes().len()).collect();
        assert!(lens.len() > 8, "{lens:?}");
    }

    #[test]
    fn specs_that_cannot_be_frames_are_refused() {
        let bad = [
            GenSpec {
                id: Mode::Fixed(0x800),
                ..GenSpec::default()
            },
            GenSpec {
                len: Mode::Fixed(9),
                ..GenSpec::default()
            },
            GenSpec {
                fd: true,
                len: Mode::Fixed(10),
                ..GenSpec::default()
            },
            GenSpec {
                fd: true,
                remote: true,
                ..GenSpec::default()
            },
            GenSpec {
                brs: true,
                ..GenSpec::default()
            },
        ];
        for s in bad {
            assert!(s.check().is_err(), "{s:?}");
        }
    }
}
