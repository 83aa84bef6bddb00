//! The writer: records to event lines in Vector's column layout.

use super::dates::put_date;
use super::{FLAG_BRS, FLAG_EDL, FLAG_ESI, FLAG_RTR};
use crate::error::{Error, Result};
use crate::format::lines::TextSink;
use crate::format::{ChannelNumbers, Output, RecordWriter, WriterOptions};
use crate::frame::hex::{self, Case};
use crate::frame::{Direction, Record, Timestamp};

/// `"00"` to `"99"`.
static TWO_DIGITS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Room for the longest event line the writer produces (an FD frame with 64
/// bytes, a 10-digit channel and a far-away time stays under 400 bytes).
const LINE_CAP: usize = 512;

/// A line being built in a fixed buffer: no growth checks per byte.
struct LineBuf<'a> {
    b: &'a mut [u8; LINE_CAP],
    n: usize,
}

impl LineBuf<'_> {
    #[inline]
    fn byte(&mut self, c: u8) {
        self.b[self.n] = c;
        self.n += 1;
    }

    #[inline]
    fn bytes(&mut self, s: &[u8]) {
        self.b[self.n..self.n + s.len()].copy_from_slice(s);
        self.n += s.len();
    }

    #[inline]
    fn spaces(&mut self, k: usize) {
        self.b[self.n..self.n + k].fill(b' ');
        self.n += k;
    }

    /// `v` in decimal, padded with spaces to `width` on the left (`right`) or right.
    #[inline]
    fn dec(&mut self, v: u64, width: usize, right: bool) {
        let mut tmp = [0u8; 20];
        let i = dec_digits(v, &mut tmp);
        let n = tmp.len() - i;
        if right && n < width {
            self.spaces(width - n);
        }
        self.bytes(&tmp[i..]);
        if !right && n < width {
            self.spaces(width - n);
        }
    }

    /// `v` (below 1 000 000) as exactly 6 digits.
    #[inline]
    fn six_digits(&mut self, v: u32) {
        let (a, r) = (v / 10_000, v % 10_000);
        let (b, c) = (r / 100, r % 100);
        self.bytes(&TWO_DIGITS[a as usize]);
        self.bytes(&TWO_DIGITS[b as usize]);
        self.bytes(&TWO_DIGITS[c as usize]);
    }

    /// The time field: seconds right-aligned in 4, a dot, 6 decimals, a space.
    #[inline]
    fn time(&mut self, offset_ns: i64) {
        let us = (offset_ns.max(0) as u64 + 500) / 1000;
        let secs = us / 1_000_000;
        if secs < 10 {
            self.bytes(b"   ");
            self.byte(b'0' + secs as u8);
        } else {
            self.dec(secs, 4, true);
        }
        self.byte(b'.');
        self.six_digits((us % 1_000_000) as u32);
        self.byte(b' ');
    }

    /// Data bytes as ` HH` each.
    #[inline]
    fn data(&mut self, data: &[u8]) {
        self.n += hex::put_spaced(&mut self.b[self.n..], data, Case::Upper);
    }
}

/// Decimal digits of `v` into the end of `tmp`; returns the start index.
#[inline]
fn dec_digits(mut v: u64, tmp: &mut [u8; 20]) -> usize {
    let mut i = tmp.len();
    while v >= 100 {
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&TWO_DIGITS[(v % 100) as usize]);
        v /= 100;
    }
    if v >= 10 {
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&TWO_DIGITS[v as usize]);
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    i
}

/// The upper-case hex digits of `v`, plus an `x` when `ext`, into the end of
/// `tmp`; returns the start index.
#[inline]
fn hex_id(v: u32, tmp: &mut [u8; 9], ext: bool) -> usize {
    let end = if ext {
        tmp[8] = b'x';
        8
    } else {
        9
    };
    hex::u32_digits(v, 1, Case::Upper, &mut tmp[..end])
}

/// Writes a Vector ASC log. See the [module docs](super) for the layout.
pub struct Writer {
    sink: TextSink,
    line: Box<[u8; LINE_CAP]>,
    appending: bool,
    /// The measurement start (first record, cut to the millisecond), once known.
    start: Option<i64>,
    /// The number of each record's channel.
    channels: ChannelNumbers,
    finished: bool,
}

impl Writer {
    /// A writer over an opened output. It takes no option; the header is
    /// written with the first record (or by `finish` for an empty log).
    pub fn new(out: Output, opts: &WriterOptions) -> Result<Writer> {
        if let Some(k) = opts.options.keys().next() {
            return Err(Error::unknown_option("the asc format", k, &[]));
        }
        Ok(Writer {
            appending: out.appending,
            sink: TextSink::new(out),
            line: Box::new([0; LINE_CAP]),
            start: None,
            channels: ChannelNumbers::new(),
            finished: false,
        })
    }

    /// Writes the header and opens the trigger block at `first` (ns since the epoch).
    fn begin(&mut self, first: i64) -> i64 {
        let start = first.saturating_sub(first.rem_euclid(1_000_000));
        let buf = &mut self.sink.buf;
        if !self.appending {
            buf.extend_from_slice(b"date ");
            put_date(buf, start);
            buf.extend_from_slice(
                b"\nbase hex  timestamps absolute\ninternal events logged\n// version 9.0.0\n",
            );
        } else {
            // the file may have switched to `base dec`; say it again
            buf.extend_from_slice(b"base hex  timestamps absolute\n");
        }
        buf.extend_from_slice(b"Begin Triggerblock ");
        put_date(buf, start);
        buf.extend_from_slice(b"\n   0.000000 Start of measurement\n");
        self.start = Some(start);
        start
    }
}

/// One event line for `r` at offset `offset_ns` on channel `ch`; returns its length.
fn put_record(b: &mut [u8; LINE_CAP], offset_ns: i64, ch: u32, r: &Record) -> usize {
    let mut l = LineBuf { b, n: 0 };
    l.time(offset_ns);
    let f = &r.frame;
    let dir: &[u8; 2] = match r.direction {
        Direction::Rx => b"Rx",
        Direction::Tx => b"Tx",
    };
    if f.is_error() {
        l.dec(ch as u64, 2, false);
        l.bytes(b" ErrorFrame\n");
        return l.n;
    }
    let id = f.id();
    let mut tmp = [0u8; 9];
    let i = hex_id(id.raw(), &mut tmp, id.is_extended());
    let id_text = &tmp[i..];
    if let Some(fd) = f.fd_flags() {
        // CANFD <ch:>3> <dir:<4> <id:>8> <34 blanks: no name> brs esi dlc len bytes…
        l.bytes(b"CANFD ");
        l.dec(ch as u64, 3, true);
        l.byte(b' ');
        l.bytes(dir);
        l.bytes(b"   ");
        if id_text.len() < 8 {
            l.spaces(8 - id_text.len());
        }
        l.bytes(id_text);
        l.spaces(35);
        l.bytes(&[
            b'0' + fd.brs as u8,
            b' ',
            b'0' + fd.esi as u8,
            b' ',
            Case::Lower.digit(f.dlc()),
            b' ',
        ]);
        let mut flags = FLAG_EDL;
        if fd.brs {
            flags |= FLAG_BRS;
        }
        if fd.esi {
            flags |= FLAG_ESI;
        }
        if f.is_remote() {
            flags |= FLAG_RTR;
            l.bytes(b" 0");
        } else {
            l.dec(f.len() as u64, 2, true);
            l.data(f.data_bytes());
        }
        // duration, bit count, flags, crc and four bit-timing words
        l.bytes(b"        0    0 ");
        let mut ftmp = [0u8; 8];
        let fi = hex::u32_digits(flags, 1, Case::Upper, &mut ftmp);
        l.spaces(8 - (ftmp.len() - fi));
        l.bytes(&ftmp[fi..]);
        l.bytes(b"        0        0        0        0        0\n");
        return l.n;
    }
    // <ch:<2> <id:<15> <dir:<4> d|r <dlc> bytes…
    l.dec(ch as u64, 2, false);
    l.byte(b' ');
    l.bytes(id_text);
    if id_text.len() < 15 {
        l.spaces(15 - id_text.len());
    }
    l.bytes(&[
        b' ',
        dir[0],
        dir[1],
        b' ',
        b' ',
        b' ',
        if f.is_remote() { b'r' } else { b'd' },
        b' ',
        Case::Upper.digit(f.dlc()),
    ]);
    l.data(f.data_bytes());
    l.byte(b'\n');
    l.n
}

impl RecordWriter for Writer {
    fn write(&mut self, r: &Record) -> Result<()> {
        let ts = r.timestamp.as_nanos();
        let start = match self.start {
            Some(s) => s,
            None => self.begin(ts),
        };
        let ch = self.channels.number(&r.channel);
        let n = put_record(&mut self.line, ts.saturating_sub(start), ch, r);
        self.sink.buf.extend_from_slice(&self.line[..n]);
        self.sink.commit()
    }

    fn flush(&mut self) -> Result<()> {
        self.sink.flush()
    }

    fn finish(&mut self) -> Result<()> {
        if !self.finished {
            self.finished = true;
            if self.start.is_none() {
                self.begin(Timestamp::now().as_nanos());
            }
            self.sink.buf.extend_from_slice(b"End TriggerBlock\n");
        }
        self.flush()
    }

    fn size_bound(&self) -> Option<u64> {
        // the header comes with the first record (or from finish), the
        // closing line from finish; a header is under 256 bytes
        let header = if self.start.is_none() { 256 } else { 0 };
        let end = if self.finished { 0 } else { 17 };
        Some(self.sink.size_bound() + header + end)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{read_all, utc};
    use super::*;
    use crate::frame::{Channel, FdFlags, Frame, Id};

    fn write_all(records: &[Record]) -> String {
        String::from_utf8(crate::format::written("o.asc", Writer::new, records)).unwrap()
    }

    #[test]
    fn writes_vector_layout() {
        let t0 = utc(2023, 11, 14, 22, 13, 20, 1) + 458_000;
        let fd = FdFlags {
            brs: true,
            esi: false,
        };
        let recs = [
            Record::new(
                Timestamp(t0),
                Frame::data(Id::Standard(0xB6), &[0x7E, 0x83]).unwrap(),
            )
            .with_channel(Channel::name("can0")),
            Record::new(
                Timestamp(t0 + 1_000),
                Frame::fd(Id::Extended(0xCF1F4C1), &[0xAB; 12], fd).unwrap(),
            )
            .with_channel(Channel::name("vcan1"))
            .with_direction(Direction::Tx),
            Record::new(Timestamp(t0 + 2_000_000), Frame::error(0x80, &[]).unwrap())
                .with_channel(Channel::name("demo")),
            Record::new(
                Timestamp(t0 + 3_000_000_000),
                Frame::remote(Id::Standard(0x21A), 4).unwrap(),
            )
            .with_channel(Channel::Number(12)),
            Record::new(
                Timestamp(t0 + 4_000_000_000),
                Frame::data_with_dlc(Id::Standard(0x3FF), &[1; 8], 13).unwrap(),
            ),
        ];
        let text = write_all(&recs);
        let want = "date Tue Nov 14 10:13:20.001 pm 2023\n\
base hex  timestamps absolute\n\
internal events logged\n\
// version 9.0.0\n\
Begin Triggerblock Tue Nov 14 10:13:20.001 pm 2023\n   \
0.000000 Start of measurement\n   \
0.000458 1  B6              Rx   d 2 7E 83\n   \
0.000459 CANFD   2 Tx   CF1F4C1x                                   1 0 9 12 AB AB AB AB AB AB AB AB AB AB AB AB        0    0     3000        0        0        0        0        0\n   \
0.002458 3  ErrorFrame\n   \
3.000458 12 21A             Rx   r 4\n   \
4.000458 1  3FF             Rx   d D 01 01 01 01 01 01 01 01\n\
End TriggerBlock\n";
        assert_eq!(text, want);
    }

    #[test]
    fn longest_lines_fit_the_line_buffer() {
        let fd = FdFlags {
            brs: true,
            esi: true,
        };
        let id = Id::Extended(0x1FFF_FFFF);
        for frame in [
            Frame::fd(id, &[0xFF; 64], fd).unwrap(),
            Frame::remote(id, 15).unwrap().with_fd_flags(fd),
            Frame::data_with_dlc(id, &[0xFF; 8], 15).unwrap(),
            Frame::error(0x1FFF_FFFF, &[0xFF; 8]).unwrap(),
        ] {
            let r = Record {
                timestamp: Timestamp(i64::MAX),
                channel: Channel::Number(u32::MAX),
                direction: Direction::Tx,
                frame,
            };
            let mut b = [0u8; LINE_CAP];
            let n = put_record(&mut b, i64::MAX, u32::MAX, &r);
            assert!(n < 400, "{n}");
            let line = std::str::from_utf8(&b[..n]).unwrap();
            assert!(line.starts_with("9223372036.854776 "), "{line}");
            assert!(
                line.contains(" 4294967295 ") && line.ends_with('\n'),
                "{line}"
            );
        }
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        let f = Frame::data(Id::Standard(1), &[1]).unwrap();
        for ts in [
            [i64::MIN, 0, i64::MAX],
            [i64::MAX, i64::MIN, 0],
            [-1, -1_000_001, 1],
        ] {
            let recs: Vec<_> = ts.iter().map(|&t| Record::new(Timestamp(t), f)).collect();
            let text = write_all(&recs);
            assert!(text.contains("Begin Triggerblock"), "{text}");
            let _ = read_all(text.as_bytes());
        }
        // times before 1970 round trip too
        let recs = [Record::new(Timestamp(-86_400_000_000_000 + 123_456_000), f)];
        let back = read_all(write_all(&recs).as_bytes()).unwrap();
        assert_eq!(back[0].timestamp, recs[0].timestamp);
    }

    #[test]
    fn empty_log_still_has_a_header() {
        let text = write_all(&[]);
        assert!(text.starts_with("date "), "{text}");
        assert!(
            text.ends_with("Start of measurement\nEnd TriggerBlock\n"),
            "{text}"
        );
        assert!(read_all(text.as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn options_are_refused() {
        let bad = WriterOptions {
            options: [("digits".to_string(), "9".to_string())].into(),
            ..Default::default()
        };
        let e = Writer::new(
            Output {
                path: "o.asc".into(),
                appending: false,
                writer: Box::new(std::io::sink()),
            },
            &bad,
        );
        assert!(e.is_err_and(|e| e.to_string().contains("no option 'digits'")));
    }
}
