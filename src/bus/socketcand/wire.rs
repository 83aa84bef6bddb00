//! The socketcand ASCII protocol, both directions: cutting a TCP byte stream
//! into `< ... >` elements ([`Splitter`], bounded), reading what a server sends
//! ([`parse_server`]) and what a client sends ([`parse_client`]), and writing
//! both ([`write_frame`], [`write_send`], ...).
//!
//! Facts from linux-can/socketcand's `doc/protocol.md` and its daemon:
//!
//! * An element starts at `<` and ends at the next `>`; bytes between elements
//!   are ignored (we count non-blank ones as malformed); elements carry no
//!   newline and may share or span TCP segments.
//! * RAW mode frames: `< frame ID SECS.USECS DATA >`, `ID` 3 (11-bit) or 8
//!   (29-bit) hex digits, `DATA` the bytes as hex without spaces (BCM mode puts
//!   a space after every byte; both are read). Error frames:
//!   `< error CLASS SECS.USECS >` (RAW, the class only) or with the full
//!   `can_id` and eight data bytes (BCM).
//! * Sending: `< send ID LEN B0 B1 ... >`, extended iff `ID` has 8 digits,
//!   `LEN` 0-8, one hex token per byte. No remote frames, no CAN FD.
//! * The proposed CAN FD extension (linux-can/socketcand's `rawmode-canfd`
//!   branch): `< fdframe ID FLAGS SECS.USECS DATA >` received (`FLAGS` the two
//!   hex digits of `canfd_frame.flags`: 1 BRS, 2 ESI) and
//!   `< sendfd ID LEN B0 ... >` sent (no flags: the frame goes out without BRS).
//!
//! Every function here is total: any input gives a value or an error text,
//! never a panic (the `decode_socketcand` fuzz target checks it).

use crate::frame::{FdFlags, Frame, Id, Timestamp, CANFD_MAX_LEN, CAN_MAX_LEN};

/// The longest element accepted between `<` and `>`. The longest valid one,
/// an `fdframe` with 64 bytes, is under 180; the reference daemon's buffer is
/// about 8 KiB.
pub const MAX_ELEMENT: usize = 512;

/// The longest channel name `< open NAME >` takes (the reference daemon's limit).
pub const MAX_BUS_NAME: usize = 16;

/// What [`Splitter::feed`] found in the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// The text between `<` and `>`, trimmed of blanks.
    Element(&'a [u8]),
    /// An element longer than [`MAX_ELEMENT`] (skipped up to its `>`), a `<`
    /// inside an element, or non-blank bytes outside elements.
    Malformed(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between elements.
    Outside,
    /// Between elements after a non-blank byte (reported once per run).
    Junk,
    /// Inside an element.
    Inside,
    /// Inside an element that grew too long: skipping to its `>`.
    Skipping,
}

/// Cuts a byte stream into elements, keeping at most [`MAX_ELEMENT`] bytes.
#[derive(Debug)]
pub struct Splitter {
    buf: Vec<u8>,
    state: State,
}

impl Default for Splitter {
    fn default() -> Self {
        Splitter {
            buf: Vec::with_capacity(MAX_ELEMENT),
            state: State::Outside,
        }
    }
}

impl Splitter {
    /// Feeds `bytes`, calling `each` for every complete element or defect.
    pub fn feed(&mut self, bytes: &[u8], each: &mut dyn FnMut(Piece<'_>)) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.state {
                State::Outside | State::Junk => {
                    let Some(i) = rest.iter().position(|&b| b == b'<') else {
                        if self.state == State::Outside
                            && rest.iter().any(|b| !b.is_ascii_whitespace())
                        {
                            self.state = State::Junk;
                            each(Piece::Malformed("bytes outside an element"));
                        }
                        return;
                    };
                    if self.state == State::Outside
                        && rest[..i].iter().any(|b| !b.is_ascii_whitespace())
                    {
                        each(Piece::Malformed("bytes outside an element"));
                    }
                    self.state = State::Inside;
                    self.buf.clear();
                    rest = &rest[i + 1..];
                }
                State::Inside => {
                    let end = rest.iter().position(|&b| b == b'>' || b == b'<');
                    let take = end.unwrap_or(rest.len());
                    if self.buf.len() + take > MAX_ELEMENT {
                        self.state = State::Skipping;
                        self.buf.clear();
                        each(Piece::Malformed("element too long"));
                        continue;
                    }
                    self.buf.extend_from_slice(&rest[..take]);
                    let Some(end) = end else { return };
                    if rest[end] == b'<' {
                        // A new element starts before this one ended.
                        each(Piece::Malformed("'<' inside an element"));
                        self.buf.clear();
                    } else {
                        self.state = State::Outside;
                        each(Piece::Element(trim(&self.buf)));
                    }
                    rest = &rest[end + 1..];
                }
                State::Skipping => match rest.iter().position(|&b| b == b'>') {
                    Some(i) => {
                        self.state = State::Outside;
                        rest = &rest[i + 1..];
                    }
                    None => return,
                },
            }
        }
    }

    /// True while part of an element is buffered.
    pub fn in_element(&self) -> bool {
        matches!(self.state, State::Inside | State::Skipping)
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn tokens(element: &[u8]) -> impl Iterator<Item = &[u8]> {
    element
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
}

fn text(t: &[u8]) -> String {
    String::from_utf8_lossy(t).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A hex number of 1 to 8 digits.
fn hex_u32(t: &[u8]) -> Option<u32> {
    if t.is_empty() || t.len() > 8 {
        return None;
    }
    t.iter()
        .try_fold(0u32, |acc, &b| Some((acc << 4) | hex_digit(b)? as u32))
}

/// A decimal number of 1 to 18 digits.
fn dec_u64(t: &[u8]) -> Option<u64> {
    if t.is_empty() || t.len() > 18 {
        return None;
    }
    t.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64)
    })
}

/// An id token: 3 or fewer digits an 11-bit id, 8 digits a 29-bit one (as the
/// reference daemon writes them and python-can reads them).
fn parse_id(t: &[u8]) -> Result<Id, String> {
    let v = hex_u32(t).ok_or_else(|| format!("id '{}' is not hex", text(t)))?;
    let id = match t.len() {
        1..=3 => Id::standard(v),
        8 => Id::extended(v),
        _ => return Err(format!("id '{}' has neither 3 nor 8 digits", text(t))),
    };
    id.map_err(|e| format!("id '{}': {e}", text(t)))
}

/// `SECS.USECS` (1 to 9 fraction digits) as a timestamp.
fn parse_time(t: &[u8]) -> Option<Timestamp> {
    let dot = t.iter().position(|&b| b == b'.')?;
    let secs = dec_u64(&t[..dot])?;
    let frac = &t[dot + 1..];
    if frac.len() > 9 {
        return None;
    }
    let mut nanos = if frac.is_empty() { 0 } else { dec_u64(frac)? };
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    let secs = i64::try_from(secs).ok().filter(|s| *s < 1 << 33)?;
    Some(Timestamp::from_parts(secs, nanos as u32))
}

/// Data bytes: the remaining tokens joined (one token of 2n digits in RAW
/// mode, n tokens of two digits in BCM mode), at most `max` bytes.
fn parse_joined_hex<'a>(
    rest: impl Iterator<Item = &'a [u8]>,
    max: usize,
    buf: &mut [u8; CANFD_MAX_LEN],
) -> Result<usize, String> {
    let mut n = 0;
    let mut half: Option<u8> = None;
    for t in rest {
        for &b in t {
            let d = hex_digit(b).ok_or_else(|| format!("data '{}' is not hex", text(t)))?;
            match half.take() {
                None => half = Some(d),
                Some(h) => {
                    if n == max {
                        return Err(format!("more than {max} data bytes"));
                    }
                    buf[n] = (h << 4) | d;
                    n += 1;
                }
            }
        }
    }
    if half.is_some() {
        return Err("an odd number of hex digits in the data".into());
    }
    Ok(n)
}

/// What a server sends.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMsg {
    /// `< hi >`, the greeting.
    Hi,
    /// `< ok >`.
    Ok,
    /// `< echo >`.
    Echo,
    /// A frame (`frame`, `error` with a time, or `fdframe`) and the server's
    /// receive time.
    Frame(Frame, Timestamp),
    /// `< error TEXT >` that is not an error frame (`could not open bus`,
    /// `unknown command`).
    Error(String),
    /// Anything else that is well formed (`< stat ... >`, `< pdu ... >`):
    /// its first word.
    Other(String),
}

/// Reads one element a server sent (the text between `<` and `>`).
pub fn parse_server(element: &[u8]) -> Result<ServerMsg, String> {
    let mut tok = tokens(element);
    let Some(cmd) = tok.next() else {
        return Err("an empty element".into());
    };
    let mut data = [0u8; CANFD_MAX_LEN];
    match cmd {
        b"hi" => Ok(ServerMsg::Hi),
        b"ok" => Ok(ServerMsg::Ok),
        b"echo" => Ok(ServerMsg::Echo),
        b"frame" => {
            let id = parse_id(tok.next().ok_or("a frame without an id")?)?;
            let t = tok.next().ok_or("a frame without a time")?;
            let ts =
                parse_time(t).ok_or_else(|| format!("time '{}' is not SECS.USECS", text(t)))?;
            let n = parse_joined_hex(tok, CAN_MAX_LEN, &mut data)?;
            let f = Frame::data(id, &data[..n]).map_err(|e| e.to_string())?;
            Ok(ServerMsg::Frame(f, ts))
        }
        b"fdframe" => {
            let id = parse_id(tok.next().ok_or("an fdframe without an id")?)?;
            let fl = tok.next().ok_or("an fdframe without flags")?;
            let flags = hex_u32(fl)
                .filter(|v| *v <= 0xFF)
                .ok_or_else(|| format!("fdframe flags '{}' are not hex", text(fl)))?;
            let t = tok.next().ok_or("an fdframe without a time")?;
            let ts =
                parse_time(t).ok_or_else(|| format!("time '{}' is not SECS.USECS", text(t)))?;
            let n = parse_joined_hex(tok, CANFD_MAX_LEN, &mut data)?;
            let flags = FdFlags {
                brs: flags & 1 != 0,
                esi: flags & 2 != 0,
            };
            let f = Frame::fd(id, &data[..n], flags).map_err(|e| e.to_string())?;
            Ok(ServerMsg::Frame(f, ts))
        }
        b"error" => {
            let rest: Vec<&[u8]> = tok.collect();
            let frame_like = rest.len() >= 2
                && hex_u32(rest[0]).is_some()
                && rest[1].contains(&b'.')
                && rest[1].iter().all(|b| b.is_ascii_digit() || *b == b'.');
            if !frame_like {
                let words: Vec<String> = rest.iter().map(|t| text(t)).collect();
                return Ok(ServerMsg::Error(words.join(" ")));
            }
            let class = hex_u32(rest[0]).unwrap_or(0) & crate::frame::EFF_MAX;
            let ts = parse_time(rest[1])
                .ok_or_else(|| format!("time '{}' is not SECS.USECS", text(rest[1])))?;
            let n = parse_joined_hex(rest[2..].iter().copied(), CAN_MAX_LEN, &mut data)?;
            let f = Frame::error(class, &data[..n]).map_err(|e| e.to_string())?;
            Ok(ServerMsg::Frame(f, ts))
        }
        other if other.iter().all(|b| b.is_ascii_graphic()) => Ok(ServerMsg::Other(text(other))),
        other => Err(format!("unknown element '{}'", text(other))),
    }
}

/// What a client sends (the commands a server of ours understands, and the
/// mode switches it answers).
#[derive(Clone, Debug, PartialEq)]
pub enum ClientCmd {
    /// `< open NAME >`.
    Open(String),
    /// `< rawmode >`.
    RawMode,
    /// `< bcmmode >`.
    BcmMode,
    /// `< controlmode >`, `< isotpmode >`: modes we do not serve.
    OtherMode(String),
    /// `< echo >`.
    Echo,
    /// `< send ... >` or `< sendfd ... >`.
    Send(Frame),
    /// `< add SECS USECS ID LEN ... >`: a cyclic send (BCM mode).
    Add {
        /// The period.
        period: std::time::Duration,
        /// The frame.
        frame: Frame,
    },
    /// `< update ID LEN ... >`: new content for a cyclic send (BCM mode).
    Update(Frame),
    /// `< delete ID >` (BCM mode).
    Delete(Id),
    /// Any other well-formed command word (answered `unknown command`).
    Other(String),
}

/// A hex id in a client's command: eight digits make it a 29-bit id, fewer
/// an 11-bit one (more lenient than [`parse_id`] for what the server sends).
fn parse_client_id(idt: &[u8]) -> Result<Id, String> {
    let v = hex_u32(idt).ok_or_else(|| format!("id '{}' is not hex", text(idt)))?;
    if idt.len() == 8 {
        Id::extended(v)
    } else {
        Id::standard(v)
    }
    .map_err(|e| format!("id '{}': {e}", text(idt)))
}

/// `ID LEN B0 ... ` of `send`, `sendfd`, `add`, `update`. LEN is decimal
/// (python-can writes it in hex, which is the same for 0-8; `sendfd` lengths
/// above 9 are decimal as in the reference branch).
fn parse_frame_args<'a>(
    mut tok: impl Iterator<Item = &'a [u8]>,
    fd: bool,
) -> Result<Frame, String> {
    let id = parse_client_id(tok.next().ok_or("no id")?)?;
    let lt = tok.next().ok_or("no length")?;
    let len = dec_u64(lt).ok_or_else(|| format!("length '{}' is not a number", text(lt)))?;
    let max = if fd { CANFD_MAX_LEN } else { CAN_MAX_LEN };
    if len > max as u64 {
        return Err(format!("length {len} above {max}"));
    }
    let mut data = [0u8; CANFD_MAX_LEN];
    let mut n = 0;
    for t in tok {
        if t.len() > 2 {
            return Err(format!("data byte '{}' has more than 2 digits", text(t)));
        }
        let b = hex_u32(t).ok_or_else(|| format!("data byte '{}' is not hex", text(t)))?;
        if n == max {
            return Err(format!("more than {max} data bytes"));
        }
        data[n] = b as u8;
        n += 1;
    }
    if n as u64 != len {
        return Err(format!("length {len} but {n} data bytes"));
    }
    if fd {
        Frame::fd(id, &data[..n], FdFlags::default())
    } else {
        Frame::data(id, &data[..n])
    }
    .map_err(|e| e.to_string())
}

/// Reads one element a client sent.
pub fn parse_client(element: &[u8]) -> Result<ClientCmd, String> {
    let mut tok = tokens(element);
    let Some(cmd) = tok.next() else {
        return Err("an empty element".into());
    };
    let n_args = |rest: &mut dyn Iterator<Item = &[u8]>| rest.count();
    match cmd {
        b"open" => {
            let name = tok.next().ok_or("open without a bus name")?;
            if tok.next().is_some() {
                return Err("open takes one bus name".into());
            }
            if name.len() > MAX_BUS_NAME || !name.iter().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "bus name '{}' is not 1 to {MAX_BUS_NAME} printable characters",
                    text(name)
                ));
            }
            Ok(ClientCmd::Open(text(name)))
        }
        b"rawmode" | b"bcmmode" | b"controlmode" | b"isotpmode" | b"echo" => {
            if n_args(&mut tok) != 0 {
                return Err(format!("'{}' takes no arguments", text(cmd)));
            }
            Ok(match cmd {
                b"rawmode" => ClientCmd::RawMode,
                b"bcmmode" => ClientCmd::BcmMode,
                b"echo" => ClientCmd::Echo,
                _ => ClientCmd::OtherMode(text(cmd)),
            })
        }
        b"send" => parse_frame_args(tok, false).map(ClientCmd::Send),
        b"sendfd" => parse_frame_args(tok, true).map(ClientCmd::Send),
        b"update" => parse_frame_args(tok, false).map(ClientCmd::Update),
        b"add" => {
            let s = tok
                .next()
                .and_then(dec_u64)
                .ok_or("add: SECS is not a number")?;
            let us = tok
                .next()
                .and_then(dec_u64)
                .ok_or("add: USECS is not a number")?;
            let period = std::time::Duration::from_secs(s.min(1 << 32))
                + std::time::Duration::from_micros(us.min(1 << 40));
            let frame = parse_frame_args(tok, false)?;
            Ok(ClientCmd::Add { period, frame })
        }
        b"delete" => {
            let id = parse_client_id(tok.next().ok_or("delete without an id")?)?;
            Ok(ClientCmd::Delete(id))
        }
        other if other.iter().all(|b| b.is_ascii_graphic()) => Ok(ClientCmd::Other(text(other))),
        other => Err(format!("unknown element '{}'", text(other))),
    }
}

const UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn put_hex_id(out: &mut Vec<u8>, id: Id) {
    let (v, digits) = match id {
        Id::Standard(v) => (v as u32, 3),
        Id::Extended(v) => (v, 8),
    };
    for i in (0..digits).rev() {
        out.push(UPPER[((v >> (4 * i)) & 0xF) as usize]);
    }
}

fn put_byte(out: &mut Vec<u8>, b: u8) {
    out.push(UPPER[(b >> 4) as usize]);
    out.push(UPPER[(b & 0xF) as usize]);
}

fn put_time(out: &mut Vec<u8>, ts: Timestamp) {
    use std::io::Write;
    let us = ts.as_nanos().div_euclid(1000);
    let _ = write!(
        out,
        "{}.{:06}",
        us.div_euclid(1_000_000),
        us.rem_euclid(1_000_000)
    );
}

/// Appends what a RAW-mode server sends for `frame` received at `ts`:
/// `< frame ... >`, `< error CLASS ... >`, or with `fd_ext`
/// `< fdframe ... >`. Returns false (appending nothing) for what the protocol
/// cannot carry: remote frames (the reference daemon forwards none either)
/// and CAN FD frames without `fd_ext`.
pub fn write_frame(out: &mut Vec<u8>, frame: &Frame, ts: Timestamp, fd_ext: bool) -> bool {
    if frame.is_error() {
        out.extend_from_slice(b"< error ");
        let class = frame.id().raw();
        let digits = if class > 0xFFF { 8 } else { 3 };
        for i in (0..digits).rev() {
            out.push(UPPER[((class >> (4 * i)) & 0xF) as usize]);
        }
        out.push(b' ');
        put_time(out, ts);
        out.extend_from_slice(b" >");
        return true;
    }
    if frame.is_remote() || (frame.is_fd() && !fd_ext) {
        return false;
    }
    if frame.is_fd() {
        out.extend_from_slice(b"< fdframe ");
        put_hex_id(out, frame.id());
        out.push(b' ');
        let flags = frame
            .fd_flags()
            .map_or(0, |f| f.brs as u8 | (f.esi as u8) << 1);
        put_byte(out, flags);
    } else {
        out.extend_from_slice(b"< frame ");
        put_hex_id(out, frame.id());
    }
    out.push(b' ');
    put_time(out, ts);
    out.push(b' ');
    for &b in frame.data_bytes() {
        put_byte(out, b);
    }
    out.extend_from_slice(b" >");
    true
}

fn put_frame_args(out: &mut Vec<u8>, frame: &Frame) {
    use std::io::Write;
    put_hex_id(out, frame.id());
    let _ = write!(out, " {}", frame.len());
    for &b in frame.data_bytes() {
        out.push(b' ');
        put_byte(out, b);
    }
}

/// Appends `< send ... >` (classic) or `< sendfd ... >` (FD) for a data frame.
pub fn write_send(out: &mut Vec<u8>, frame: &Frame) {
    out.extend_from_slice(if frame.is_fd() {
        b"< sendfd "
    } else {
        b"< send "
    });
    put_frame_args(out, frame);
    out.extend_from_slice(b" >");
}

/// Appends `< add SECS USECS ... >`: the frame every `period` (BCM mode).
pub fn write_add(out: &mut Vec<u8>, period: std::time::Duration, frame: &Frame) {
    use std::io::Write;
    let _ = write!(
        out,
        "< add {} {} ",
        period.as_secs(),
        period.subsec_micros()
    );
    put_frame_args(out, frame);
    out.extend_from_slice(b" >");
}

/// Appends `< delete ID >` (BCM mode).
pub fn write_delete(out: &mut Vec<u8>, id: Id) {
    out.extend_from_slice(b"< delete ");
    put_hex_id(out, id);
    out.extend_from_slice(b" >");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::text::parse_frame;

    fn elements(chunks: &[&[u8]]) -> Vec<Result<String, &'static str>> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut |p| {
                out.push(match p {
                    Piece::Element(e) => Ok(String::from_utf8_lossy(e).into_owned()),
                    Piece::Malformed(m) => Err(m),
                })
            });
        }
        out
    }

    #[test]
    fn splits_across_and_within_segments() {
        assert_eq!(
            elements(&[b"< hi >< o", b"k >\n  < frame 123 1.000000 11 >"]),
            vec![
                Ok("hi".into()),
                Ok("ok".into()),
                Ok("frame 123 1.000000 11".into())
            ]
        );
    }

    #[test]
    fn bounds_and_junk() {
        let long = vec![b'a'; MAX_ELEMENT + 1];
        let got = elements(&[b"xx< a <b>", b"<", &long, b"> < ok >"]);
        assert_eq!(
            got,
            vec![
                Err("bytes outside an element"),
                Err("'<' inside an element"),
                Ok("b".into()),
                Err("element too long"),
                Ok("ok".into())
            ]
        );
    }

    #[test]
    fn reads_raw_and_bcm_frames() {
        let t = Timestamp::from_parts(23, 424_242_000);
        let want = parse_frame("123#1A220344").unwrap();
        assert_eq!(
            parse_server(b"frame 123 23.424242 1A220344"),
            Ok(ServerMsg::Frame(want, t))
        );
        assert_eq!(
            parse_server(b"frame 123 23.424242 1A 22 03 44 "),
            Ok(ServerMsg::Frame(want, t))
        );
        let ext = parse_frame("1ABCDEF0#").unwrap();
        assert_eq!(
            parse_server(b"frame 1ABCDEF0 23.424242"),
            Ok(ServerMsg::Frame(ext, t))
        );
        assert!(parse_server(b"frame 800 1.0 11").is_err());
        assert!(parse_server(b"frame 123 1.0 112233445566778899").is_err());
        assert!(parse_server(b"frame 12345 1.0 11").is_err());
        assert!(parse_server(b"frame 123 1.0 1").is_err());
    }

    #[test]
    fn reads_errors_both_ways() {
        let t = Timestamp::from_parts(5, 0);
        assert_eq!(
            parse_server(b"error 004 5.000000"),
            Ok(ServerMsg::Frame(Frame::error(4, &[]).unwrap(), t))
        );
        assert_eq!(
            parse_server(b"error could not open bus"),
            Ok(ServerMsg::Error("could not open bus".into()))
        );
    }

    #[test]
    fn reads_sends() {
        let f = parse_frame("1AAAAAAA#01F1").unwrap();
        assert_eq!(
            parse_client(b"send 1AAAAAAA 2 1 f1"),
            Ok(ClientCmd::Send(f))
        );
        assert!(parse_client(b"send 123 3 1 2").is_err());
        assert!(parse_client(b"send 123 9 1 2 3 4 5 6 7 8 9").is_err());
        assert!(parse_client(b"send 800 0").is_err());
    }

    #[test]
    fn writes_what_it_reads() {
        for text in [
            "123#",
            "7FF#0011223344556677",
            "1ABCDEF0#DEAD",
            "123##1DEADBEEF",
        ] {
            let f = parse_frame(text).unwrap();
            let ts = Timestamp::from_parts(1_700_000_000, 123_456_000);
            let mut out = Vec::new();
            assert!(write_frame(&mut out, &f, ts, true));
            let mut got = None;
            Splitter::default().feed(&out, &mut |p| {
                if let Piece::Element(e) = p {
                    got = Some(parse_server(e));
                }
            });
            let mut want = f;
            if f.is_fd() {
                // fdframe carries the flags.
                want = f;
            }
            assert_eq!(got, Some(Ok(ServerMsg::Frame(want, ts))), "{text}");
            out.clear();
            write_send(&mut out, &f);
            let inner = &out[1..out.len() - 1];
            let cmd = parse_client(inner).unwrap();
            let ClientCmd::Send(sent) = cmd else {
                panic!("{cmd:?}")
            };
            assert_eq!(sent.data_bytes(), f.data_bytes());
            assert_eq!(sent.id(), f.id());
        }
        let mut out = Vec::new();
        assert!(!write_frame(
            &mut out,
            &parse_frame("123##1DEADBEEF").unwrap(),
            Timestamp::default(),
            false
        ));
        assert!(out.is_empty());
    }
}
