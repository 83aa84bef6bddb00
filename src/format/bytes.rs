//! Little helpers the binary formats (BLF, MF4, pcapng) share: reading a
//! buffer full, little-endian fields at an offset, warnings kept to a
//! bounded number, and a reader that ends at its first error.

use std::io::{self, Read};
use std::path::Path;

/// Reads until `buf` is full or the input ends; returns the count read.
pub(crate) fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The little-endian `u16` at `at` (the caller checked the length).
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// The little-endian `u32` at `at` (the caller checked the length).
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The little-endian `u64` at `at` (the caller checked the length).
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// A reader's warnings: the first [`Warnings::MAX`] kept, each naming the
/// file, the rest only counted (a damaged file of a million objects makes
/// fifty lines and a count, not a million).
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    list: Vec<String>,
    suppressed: usize,
}

impl Warnings {
    /// Warnings kept before only counting them.
    pub(crate) const MAX: usize = 50;

    /// Notes `msg` about `path`.
    pub(crate) fn push(&mut self, path: &Path, msg: impl std::fmt::Display) {
        if self.list.len() < Self::MAX {
            self.list.push(format!("{}: {msg}", path.display()));
        } else {
            self.suppressed += 1;
        }
    }

    /// Moves what was noted to `out`, with a line counting those not shown.
    pub(crate) fn take_into(&mut self, path: &Path, out: &mut Vec<String>) {
        out.append(&mut self.list);
        if self.suppressed > 0 {
            out.push(format!(
                "{}: {} more warnings not shown",
                path.display(),
                self.suppressed
            ));
            self.suppressed = 0;
        }
    }

    /// What was noted, taken once.
    pub(crate) fn take(&mut self, path: &Path) -> Vec<String> {
        let mut out = Vec::new();
        self.take_into(path, &mut out);
        out
    }
}

/// A reader that ends at its first error or at its end: the error is
/// returned once, and every later call ends (`Ok(None)`) instead of reading
/// on from a place that was not understood.
pub(crate) trait Fused {
    type Item;
    /// The flag that says the reader has ended.
    fn ended(&mut self) -> &mut bool;
    /// The next item; only called while the reader has not ended.
    fn next_unfused(&mut self) -> crate::error::Result<Option<Self::Item>>;
    /// The next item, or the end once an error or the end was met.
    fn next_fused(&mut self) -> crate::error::Result<Option<Self::Item>> {
        if *self.ended() {
            return Ok(None);
        }
        let out = self.next_unfused();
        if !matches!(out, Ok(Some(_))) {
            *self.ended() = true;
        }
        out
    }
}

/// Implements [`Fused`] for a record reader `$ty` whose end flag is the field
/// `$flag` and whose next record is `$next` (with `$s` the reader).
macro_rules! impl_fused {
    ($ty:ty, $flag:ident, |$s:ident| $next:expr) => {
        impl $crate::format::bytes::Fused for $ty {
            type Item = $crate::frame::Record;
            fn ended(&mut self) -> &mut bool {
                &mut self.$flag
            }
            fn next_unfused(&mut self) -> $crate::Result<Option<$crate::frame::Record>> {
                let $s = self;
                $next
            }
        }
    };
}
pub(crate) use impl_fused;
