//! JSON Lines: one object per record, for jq and scripts. The schema (also in
//! the README):
//!
//! ```json
//! {"timestamp":1700000000.123456789,"channel":"can0","id":291,"extended":false,
//!  "remote":false,"error":false,"fd":false,"brs":false,"esi":false,"dlc":4,
//!  "data":"deadbeef","direction":"rx"}
//! ```
//!
//! `timestamp` is Unix seconds with 9 decimals (read back exactly; jq sees a
//! double). `channel` is the 1-based number for Vector and PEAK formats, the
//! interface name for candump logs and buses, `null` where there is none. `dlc`
//! is the code 0-15 as on the wire; `data` lowercase hex (empty for remote frames).
//! Keys may come in any order on input; unknown keys are ignored. A line that
//! does not read is skipped, counted and named ([`crate::format::lines`]).

use std::io::Write;

use serde::Deserialize;

use super::lines::{LineReader, TextSink};
use super::{Input, Output, RecordReader, RecordWriter};
use crate::error::Result;
use crate::frame::hex::{self, Case};
use crate::frame::{dlc_to_len, Channel, Direction, FdFlags, Frame, Id, Record, Timestamp};

/// Reads JSON Lines.
pub struct Reader {
    lines: LineReader,
}

impl Reader {
    /// A reader over an opened input.
    pub fn new(input: Input) -> Reader {
        Reader {
            lines: LineReader::new(input),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonChannel<'a> {
    Number(u32),
    Name(&'a str),
    Owned(String),
}

#[derive(Deserialize)]
struct Line<'a> {
    timestamp: serde_json::Number,
    #[serde(borrow, default)]
    channel: Option<JsonChannel<'a>>,
    id: u32,
    #[serde(default)]
    extended: bool,
    #[serde(default)]
    remote: bool,
    #[serde(default)]
    error: bool,
    #[serde(default)]
    fd: bool,
    #[serde(default)]
    brs: bool,
    #[serde(default)]
    esi: bool,
    dlc: Option<u8>,
    #[serde(default)]
    data: &'a str,
    #[serde(default)]
    direction: Option<&'a str>,
}

/// Parses decimal seconds text (`1700000000.123456789`, `1.5e3`) to nanoseconds.
fn parse_seconds(text: &str) -> Option<Timestamp> {
    let (int, frac) = match text.split_once('.') {
        Some((a, b)) => (a, b),
        None => (text, ""),
    };
    if text.contains(['e', 'E']) || int.starts_with('-') {
        let v: f64 = text.parse().ok()?;
        return (v.is_finite() && v >= 0.0).then(|| Timestamp::from_secs_f64(v));
    }
    let secs: i64 = int.parse().ok()?;
    if frac.len() > 9 && !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = &frac[..frac.len().min(9)];
    let mut ns: u32 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    for _ in digits.len()..9 {
        ns *= 10;
    }
    Some(Timestamp::from_parts(secs, ns))
}

fn to_record(l: Line<'_>) -> std::result::Result<Record, String> {
    let timestamp = parse_seconds(&l.timestamp.to_string())
        .ok_or_else(|| format!("bad timestamp {}", l.timestamp))?;
    let mut buf = [0u8; 64];
    let n = hex::decode(l.data.as_bytes(), &mut buf)
        .ok_or_else(|| format!("bad hex data '{}'", l.data))?;
    let data = &buf[..n];
    let fd = l.fd.then_some(FdFlags {
        brs: l.brs,
        esi: l.esi,
    });
    let frame = if l.error {
        let f = match l.dlc {
            Some(d) if d as usize != n => Frame::error_with_dlc(l.id, data, d),
            _ => Frame::error(l.id, data),
        }
        .map_err(|e| e.to_string())?;
        match fd {
            Some(x) => f.with_fd_flags(x),
            None => f,
        }
    } else {
        let id = Id::new(l.id, l.extended).map_err(|e| e.to_string())?;
        if l.remote {
            let f = Frame::remote(id, l.dlc.unwrap_or(0)).map_err(|e| e.to_string())?;
            match fd {
                Some(x) => f.with_fd_flags(x),
                None => f,
            }
        } else if let Some(flags) = fd {
            if let Some(d) = l.dlc {
                if dlc_to_len(d) != n {
                    return Err(format!("dlc {d} does not match {n} data bytes"));
                }
            }
            Frame::fd(id, data, flags).map_err(|e| e.to_string())?
        } else {
            match l.dlc {
                Some(d) => Frame::data_with_dlc(id, data, d),
                None => Frame::data(id, data),
            }
            .map_err(|e| e.to_string())?
        }
    };
    let channel = match l.channel {
        None => Channel::None,
        Some(JsonChannel::Number(n)) => Channel::Number(n),
        Some(JsonChannel::Name(s)) => Channel::name(s),
        Some(JsonChannel::Owned(s)) => Channel::name(&s),
    };
    let direction = match l.direction {
        None | Some("rx") | Some("Rx") => Direction::Rx,
        Some("tx") | Some("Tx") => Direction::Tx,
        Some(d) => return Err(format!("direction must be \"rx\" or \"tx\", not \"{d}\"")),
    };
    Ok(Record {
        timestamp,
        channel,
        direction,
        frame,
    })
}

impl RecordReader for Reader {
    fn read(&mut self) -> Result<Option<Record>> {
        while self.lines.next_line()? {
            let Ok(text) = std::str::from_utf8(self.lines.line()) else {
                self.lines.skip("not UTF-8 text");
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<Line<'_>>(text)
                .map_err(|e| e.to_string())
                .and_then(to_record);
            if let Some(r) = self.lines.keep(parsed) {
                return Ok(Some(r));
            }
        }
        self.lines.finish()
    }

    crate::line_reader_methods!();
}

/// Writes JSON Lines.
pub struct Writer {
    sink: TextSink,
}

impl Writer {
    /// A writer over an opened output.
    pub fn new(out: Output) -> Writer {
        Writer {
            sink: TextSink::new(out),
        }
    }
}

/// Appends one record as a JSON object and a newline.
pub fn write_json(buf: &mut Vec<u8>, r: &Record) {
    let f = &r.frame;
    let ts = r.timestamp;
    let sign = if ts.as_nanos() < 0 { "-" } else { "" };
    let abs = ts.as_nanos().unsigned_abs();
    let _ = write!(
        buf,
        "{{\"timestamp\":{sign}{}.{:09},\"channel\":",
        abs / 1_000_000_000,
        abs % 1_000_000_000
    );
    match &r.channel {
        Channel::None => buf.extend_from_slice(b"null"),
        Channel::Number(n) => {
            let _ = write!(buf, "{n}");
        }
        Channel::Name(s) => {
            // serde_json escapes whatever the name holds
            let _ = serde_json::to_writer(&mut *buf, &**s);
        }
    }
    let b = |v: bool| if v { "true" } else { "false" };
    let _ = write!(
        buf,
        ",\"id\":{},\"extended\":{},\"remote\":{},\"error\":{},\"fd\":{},\"brs\":{},\"esi\":{},\"dlc\":{},\"data\":\"",
        f.id().raw(),
        b(f.id().is_extended()),
        b(f.is_remote()),
        b(f.is_error()),
        b(f.is_fd()),
        b(f.brs()),
        b(f.esi()),
        f.dlc()
    );
    hex::push_bytes(buf, f.data_bytes(), Case::Lower);
    buf.extend_from_slice(match r.direction {
        Direction::Rx => b"\",\"direction\":\"rx\"}\n",
        Direction::Tx => b"\",\"direction\":\"tx\"}\n",
    });
}

impl Writer {
    fn row(&mut self, r: &Record) {
        write_json(&mut self.sink.buf, r);
    }
}

impl RecordWriter for Writer {
    crate::text_writer_methods!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;

    fn read_all(text: &str) -> Result<Vec<Record>> {
        crate::format::read_in_memory("t.jsonl", text.as_bytes())
    }

    #[test]
    fn round_trip_every_kind() {
        let frames = [
            "123#DEADBEEF",
            "1F334455#11",
            "123#R4",
            "123#1122334455667788_E",
            "20000080#0000000000000000",
            "123##3AABBCCDDEEFF001122334455",
        ];
        let mut buf = Vec::new();
        let mut recs = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let r = Record::new(
                Timestamp::from_parts(1_700_000_000, 123_456_789 + i as u32),
                parse_frame(f).unwrap(),
            )
            .with_channel(if i % 2 == 0 {
                Channel::name("can0")
            } else {
                Channel::Number(2)
            })
            .with_direction(if i == 1 { Direction::Tx } else { Direction::Rx });
            write_json(&mut buf, &r);
            recs.push(r);
        }
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with(
            "{\"timestamp\":1700000000.123456789,\"channel\":\"can0\",\"id\":291,\"extended\":false,\"remote\":false,\"error\":false,\"fd\":false,\"brs\":false,\"esi\":false,\"dlc\":4,\"data\":\"deadbeef\",\"direction\":\"rx\"}\n"
        ));
        assert_eq!(read_all(&text).unwrap(), recs);
    }

    #[test]
    fn errors_name_the_line() {
        let e = read_all("\n{\"timestamp\":1.0,\"id\":4096,\"dlc\":0,\"data\":\"\"}\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.jsonl: line 2") && e.contains("11 bits"),
            "{e}"
        );
        assert!(read_all("{\"timestamp\":1.0,\"id\":1,\"data\":\"abc\"}\n").is_err());
        assert!(read_all("not json\n").is_err());
        // a cut-off last line ends the stream (the reader warns) instead
        assert_eq!(
            read_all("{\"timestamp\":1.0,\"id\":1,\"data\":\"\"}\n{\"timest")
                .unwrap()
                .len(),
            1
        );
    }
}
